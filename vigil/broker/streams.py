"""The JetStream stream's configuration: made when missing, checked, and brought to the limits given.

A stream that exists keeps what JetStream cannot change (retention, storage) and must be vigil's (a work
queue on file storage taking ``<stream>.batches``): any other stops the start with one line saying why, as
does a stream JetStream will not make (the limits past its resources).
Its limits are brought to those given (``StreamLimits``), with one log line saying what changed (old → new),
whichever process starts last: a server or a worker. Two cases leave the stream as it is, with one warning
line, and the process goes on (the stream still works, and a worker or server that stops over a tuning
value would stop ingest): the server refusing the update (a duplicate window longer than a ``max_age``
set by hand, storage the server does not have), and a lowered ``max_bytes`` or ``max_messages`` that the
stream's content is not well within (JetStream drops the oldest messages past a lowered limit, whatever
the discard policy: acknowledged batches lost; the limit is lowered at a start when the stream holds at
most half of it).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import nats.js.errors
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig, StreamInfo

from vigil.errors import VigilError

__all__ = ["StreamLimits", "reconcile"]

log = logging.getLogger("vigil.broker")


class StreamLimits:
    """The stream's bounds (JetStream refuses new messages past them) and its duplicate window.

    Each one given is set when the stream is made and applied to an existing stream whose value differs
    (``JetStream`` says what changed); one left None takes its default when the stream is made and leaves
    an existing stream's value as it is. ``ack_wait`` is the consumer's, set when the consumer is made."""

    DEFAULT_MAX_BYTES = 1 << 30
    DEFAULT_MAX_MESSAGES = 100_000
    DEFAULT_DUPLICATE_WINDOW = timedelta(minutes=10)

    def __init__(
        self,
        max_bytes: int | None = None,
        max_messages: int | None = None,
        duplicate_window: timedelta | None = None,
        ack_wait: timedelta = timedelta(seconds=30),
    ) -> None:
        self.max_bytes = max_bytes
        self.max_messages = max_messages
        self.duplicate_window = duplicate_window
        self.ack_wait = ack_wait

    def given(self) -> dict[str, float]:
        """The limits given, as JetStream's ``StreamConfig`` fields (the window in seconds)."""
        out: dict[str, float] = {}
        if self.max_bytes is not None:
            out["max_bytes"] = self.max_bytes
        if self.max_messages is not None:
            out["max_msgs"] = self.max_messages
        if self.duplicate_window is not None:
            out["duplicate_window"] = self.duplicate_window.total_seconds()
        return out

    def at_creation(self) -> dict[str, Any]:
        """Every limit, the defaults for those not given."""
        return {
            "max_bytes": self.DEFAULT_MAX_BYTES,
            "max_msgs": self.DEFAULT_MAX_MESSAGES,
            "duplicate_window": self.DEFAULT_DUPLICATE_WINDOW.total_seconds(),
            **self.given(),
        }


async def reconcile(js: JetStreamContext, stream: str, subject: str, limits: StreamLimits) -> None:
    """Make the stream when missing, else check it is vigil's and bring its limits to those given."""
    try:
        info = await js.stream_info(stream)
    except nats.js.errors.NotFoundError:
        config = StreamConfig(
            name=stream,
            subjects=[subject],
            retention=RetentionPolicy.WORK_QUEUE,
            storage=StorageType.FILE,
            discard=DiscardPolicy.NEW,
            **limits.at_creation(),
        )
        try:
            await js.add_stream(config)
            return
        except nats.js.errors.APIError as exc:
            try:  # made meanwhile by another process, with other limits: checked and updated as any
                info = await js.stream_info(stream)
            except nats.js.errors.NotFoundError:
                raise VigilError(
                    f"JetStream refused to make the stream {stream}: {exc.description or exc} (its limits: "
                    f"{', '.join(_limit(k, v) for k, v in limits.at_creation().items())})"
                ) from None
    _check(info, stream, subject)
    await _update(js, info, stream, limits)


def _check(info: StreamInfo, stream: str, subject: str) -> None:
    cfg = info.config
    wrong = []
    if cfg.retention != RetentionPolicy.WORK_QUEUE:
        wrong.append(f"retention {_text(cfg.retention)} (vigil needs workqueue)")
    if cfg.storage != StorageType.FILE:
        wrong.append(f"storage {_text(cfg.storage)} (vigil needs file)")
    if subject not in (cfg.subjects or []):
        wrong.append(f"subjects {', '.join(cfg.subjects or []) or 'none'} (vigil publishes to {subject})")
    if wrong:
        raise VigilError(
            f"the JetStream stream {stream} exists and is not one vigil can use: {'; '.join(wrong)}. "
            "JetStream cannot change retention or storage on a stream: name another one (--broker-stream) "
            f"or delete this one (nats stream rm {stream}) once nothing in it is needed"
        )


async def _update(js: JetStreamContext, info: StreamInfo, stream: str, limits: StreamLimits) -> None:
    cfg, state = info.config, info.state
    changes: dict[str, Any] = {}
    said: list[str] = []
    kept: list[str] = []
    if cfg.discard != DiscardPolicy.NEW:  # past a limit, refuse a publish rather than drop an old batch
        changes["discard"] = DiscardPolicy.NEW
        said.append(f"discard {_text(cfg.discard)} → new")
    held = {"max_bytes": state.bytes, "max_msgs": state.messages}
    for field, new in limits.given().items():
        old = getattr(cfg, field)
        if field == "duplicate_window":
            if round(float(old or 0) * 1e9) != round(new * 1e9):
                changes[field] = new
                said.append(f"{_limit(field, float(old or 0))} → {new:g} s")
            continue
        new, old = int(new), int(old if old is not None else -1)
        if new == old:
            continue
        lowered = new >= 0 and (old < 0 or new < old)
        if lowered and held[field] * 2 > new:
            kept.append(
                f"{field} stays {old} (asked {new}): the stream holds {held[field]}, more than half of it, "
                "and JetStream would drop the oldest messages past a lowered limit"
            )
            continue
        changes[field] = new
        said.append(f"{field} {old} → {new}")
    if kept:
        log.warning("JetStream stream %s: %s", stream, "; ".join(kept))
    if not changes:
        return
    try:
        await js.update_stream(cfg.evolve(**changes))
    except nats.js.errors.APIError as exc:
        log.warning(
            "JetStream stream %s: the server refused to change %s (%s); going on with the stream as it is",
            stream,
            ", ".join(said),
            exc.description or exc,
        )
        return
    log.info("JetStream stream %s updated to this process's settings: %s", stream, ", ".join(said))


def _limit(field: str, value: float) -> str:
    return f"{field} {value:g} s" if field == "duplicate_window" else f"{field} {int(value)}"


def _text(value: Any) -> str:
    return str(getattr(value, "value", value))
