"""NATS JetStream behind ``Publisher`` and ``Consumer`` (nats-py, on an event loop thread of its own).

The stream is a work queue (a message is deleted once a worker acknowledges it) on file storage with a
duplicate window, so its limits bound the backlog: past ``max_bytes`` or ``max_messages`` JetStream refuses
new messages (discard new), and ``publish`` raises ``Refused``. Workers share one durable pull consumer
with explicit acks: a message not acknowledged within ``ack_wait`` is delivered again, to any worker.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar
from urllib.parse import quote, unquote

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    StreamInfo,
)

from vigil.broker import Keyed, Lag, Message, Refused
from vigil.broker.streams import StreamLimits, reconcile
from vigil.errors import VigilError

__all__ = ["JetStream", "JetStreamConsumer", "JetStreamPublisher", "StreamLimits"]

log = logging.getLogger("vigil.broker")

_T = TypeVar("_T")
MODEL_HEADER = "Vigil-Model"
KEY_HEADER = "Vigil-Idempotency-Key"
"""The client's key, percent-encoded."""
DIGEST_HEADER = "Vigil-Digest"
"""The request body's digest, in hex."""
RECEIVED_HEADER = "Vigil-Received"
"""When the server accepted the request, in seconds since the epoch."""


class JetStream:
    """A connection to NATS with JetStream, the stream ``stream`` (made when missing) and its durable
    consumer; synchronous calls run on the connection's own event loop thread."""

    def __init__(self, url: str, stream: str = "vigil", limits: StreamLimits | None = None) -> None:
        self.url = url
        self.stream = stream
        self.subject = f"{stream}.batches"
        self.durable = f"{stream}-workers"
        self.limits = limits or StreamLimits()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="vigil-nats", daemon=True)
        self._thread.start()
        try:
            self._nc, self._js = self.call(self._connect(), 15)
        except BaseException:
            self._stop_loop()
            raise

    def call(self, coro: Coroutine[Any, Any, _T], timeout: float = 10.0) -> _T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    async def _connect(self) -> tuple[Client, JetStreamContext]:
        try:
            connecting = nats.connect(
                self.url, connect_timeout=2, max_reconnect_attempts=-1, error_cb=self._errored
            )
            nc = await asyncio.wait_for(connecting, 6)
        except (OSError, nats.errors.Error, TimeoutError) as exc:
            raise VigilError(
                f"cannot connect to NATS at {self.url}: {str(exc) or 'no answer within 6 s'} — check "
                "--broker and that nats-server runs with JetStream (-js)"
            ) from None
        js = nc.jetstream(timeout=5)
        try:
            await reconcile(js, self.stream, self.subject, self.limits)
        except BaseException:
            await nc.close()
            raise
        try:
            await js.consumer_info(self.stream, self.durable)
        except nats.js.errors.NotFoundError:
            await js.add_consumer(
                self.stream,
                ConsumerConfig(
                    durable_name=self.durable,
                    ack_policy=AckPolicy.EXPLICIT,
                    ack_wait=self.limits.ack_wait.total_seconds(),
                    max_ack_pending=-1,
                    filter_subject=self.subject,
                ),
            )
        return nc, js

    async def _errored(self, exc: Exception) -> None:
        log.warning("NATS at %s: %s", self.url, str(exc) or type(exc).__name__)  # one line, not a traceback

    async def _lag(self) -> Lag:
        consumer = await self._js.consumer_info(self.stream, self.durable)
        state = (await self._js.stream_info(self.stream)).state
        return Lag(
            pending=consumer.num_pending or 0,
            ack_pending=consumer.num_ack_pending or 0,
            redelivered=consumer.num_redelivered or 0,
            stream_messages=state.messages,
            stream_bytes=state.bytes,
        )

    def stream_info(self) -> StreamInfo:
        """The stream's configuration and state, as JetStream has them now."""
        return self.call(self._js.stream_info(self.stream))

    def lag_now(self) -> Lag:
        return self.call(self._lag())

    def delete_stream(self) -> None:
        """Delete the stream and its consumer (tests, benchmarks)."""
        self.call(self._js.delete_stream(self.stream))

    def close(self) -> None:
        try:
            self.call(self._nc.close(), 10)  # acks were flushed when sent; publishes answered
        except Exception as exc:  # closing anyway
            log.warning("closing the NATS connection: %r", exc)
        self._stop_loop()

    def _stop_loop(self) -> None:
        async def cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            self.call(cancel_all(), 5)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)


class JetStreamPublisher(JetStream):
    """``Publisher``: reads the consumer's lag every ``lag_every`` seconds in the background."""

    def __init__(
        self,
        url: str,
        stream: str = "vigil",
        limits: StreamLimits | None = None,
        *,
        lag_every: float = 1.0,
    ) -> None:
        super().__init__(url, stream, limits)
        self._lag_value: Lag | None = None
        self._lag_task = self.call(self._start_polling(lag_every))

    async def _start_polling(self, every: float) -> asyncio.Task[None]:
        return asyncio.create_task(self._poll(every))

    async def _poll(self, every: float) -> None:
        while True:
            try:
                self._lag_value = await self._lag()
            except Exception as exc:  # NATS down: the lag stays as last read; publishing says so
                log.debug("cannot read the consumer's lag: %s", exc)
            await asyncio.sleep(every)

    def publish(self, model: str, payload: bytes, keyed: Keyed | None = None) -> int:
        headers = {MODEL_HEADER: model}
        if keyed is not None:
            headers["Nats-Msg-Id"] = keyed.msg_id(model)
            headers[KEY_HEADER] = quote(keyed.key, safe="")  # exact: NATS strips a header's ends
            headers[RECEIVED_HEADER] = repr(float(keyed.received_at))
            if keyed.digest is not None:
                headers[DIGEST_HEADER] = keyed.digest.hex()
        try:
            ack = self.call(
                self._js.publish(self.subject, payload, timeout=5, stream=self.stream, headers=headers)
            )
        except nats.js.errors.APIError as exc:
            raise Refused(f"the broker refused the batch: {exc.description or exc}", 1.0) from None
        except (nats.errors.Error, TimeoutError, OSError) as exc:
            raise Refused(f"the broker did not answer: {str(exc) or type(exc).__name__}", 2.0) from None
        return int(ack.seq)

    def lag(self) -> Lag | None:
        return self._lag_value

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._lag_task.cancel)
        super().close()


class JetStreamConsumer(JetStream):
    """``Consumer``: one member of the stream's durable pull consumer."""

    def __init__(self, url: str, stream: str = "vigil", limits: StreamLimits | None = None) -> None:
        super().__init__(url, stream, limits)
        self._sub = self.call(self._subscribe())

    async def _subscribe(self) -> JetStreamContext.PullSubscription:
        return await self._js.pull_subscribe(self.subject, durable=self.durable, stream=self.stream)

    async def _fetch(self, batch: int, timeout: float) -> list[Msg]:
        try:
            return await self._sub.fetch(batch, timeout=timeout)
        except (nats.errors.TimeoutError, TimeoutError):  # nothing came within the timeout
            return []

    def fetch(self, batch: int, timeout: float) -> list[Message]:
        msgs = self.call(self._fetch(batch, timeout), timeout + 10)
        out = []
        for m in msgs:
            meta = m.metadata
            headers = m.headers or {}
            model = headers.get(MODEL_HEADER, "")
            seq = meta.sequence.stream
            out.append(Message(seq, meta.num_delivered, model, m.data, m, _keyed(seq, headers)))
        return out

    async def _settle(self, messages: Sequence[Message], delay: float | None) -> None:
        for m in messages:
            msg = m.handle
            assert isinstance(msg, Msg)
            if delay is None:
                await msg.ack()
            else:
                await msg.nak(delay=delay)
        await self._nc.flush()

    def ack(self, messages: Sequence[Message]) -> None:
        if messages:
            self.call(self._settle(messages, None))

    def nak(self, messages: Sequence[Message], delay: float) -> None:
        if messages:
            self.call(self._settle(messages, delay))

    def first_seq(self) -> int:
        async def read() -> int:
            return int((await self._js.stream_info(self.stream)).state.first_seq)

        return self.call(read())


def _keyed(seq: int, headers: dict[str, str]) -> Keyed | None:
    """The idempotency key a message was published with (None without one, or one that cannot be read:
    folded as a batch without a key)."""
    if KEY_HEADER not in headers:
        return None
    try:
        digest = headers.get(DIGEST_HEADER)
        return Keyed(
            unquote(headers[KEY_HEADER]),
            None if digest is None else bytes.fromhex(digest),
            float(headers[RECEIVED_HEADER]),
        )
    except (KeyError, ValueError) as exc:
        log.warning("message %d: its idempotency key cannot be read (%r); folded as one without", seq, exc)
        return None
