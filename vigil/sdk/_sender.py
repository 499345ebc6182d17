"""The sending side of a client: bounded queues of serialised records, one daemon thread that ships them
in gzip'd batches, retries with backoff, and the counters ``Client.stats`` reports.

Nothing here raises into the caller: the caller's side only appends to a deque (atomic, no lock); every
failure of delivery is counted and logged (each distinct cause once) on the ``vigil.sdk`` logger.
"""

from __future__ import annotations

import contextlib
import email.utils
import logging
import random
import threading
import time
import uuid
import zlib
from collections import deque
from collections.abc import Mapping
from typing import Any, cast

import httpx

from vigil.sdk.host import HostSampler
from vigil.sdk.records import dump, model_of

__all__ = ["Sender"]

_log = logging.getLogger("vigil.sdk")

_USER_AGENT = "vigil-sdk/0.1.0"
_RETRY_FOREVER = frozenset({429, 502, 503, 504})
_MAX_RETRY_AFTER = 300.0
_MAX_WARNED = 200

_time = time.time
_monotonic = time.monotonic


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date); None when absent/bad."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - _time())
    except Exception:
        return None


def _take(q: deque[bytes], n: int) -> list[bytes]:
    """Pops up to ``n`` items from the left of ``q`` (other threads may pop concurrently)."""
    out: list[bytes] = []
    pop = q.popleft
    append = out.append
    try:
        for _ in range(n):
            append(pop())
    except IndexError:
        pass
    return out


class Sender:
    """Queues, thread and counters of one client (see :class:`vigil.sdk.client.Client` for the policy).

    The caller's side appends serialised records to ``events`` / ``labels`` (``deque.append`` is atomic)
    and calls :meth:`overflow` when a queue passed ``capacity`` and :meth:`nudge` when a batch is full.
    """

    def __init__(
        self,
        url: str,
        api_key: str | None,
        *,
        capacity: int,
        batch_size: int,
        flush_interval: float,
        timeout: float,
        max_retries: int,
        backoff: float,
        max_backoff: float,
        host_every: float | None,
        close_timeout: float,
        transport: httpx.BaseTransport | None,
    ) -> None:
        self.url = url
        self.capacity = capacity
        self.batch_size = batch_size
        self._flush_interval = flush_interval
        self._timeout = timeout
        self._max_retries = max_retries
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._host_every = host_every
        self.close_timeout = close_timeout
        # Records wait as their JSON bytes: serialising in log() costs ~1 µs but keeps the queue compact,
        # invisible to the garbage collector, immune to later mutation of the caller's dicts, and leaves
        # the sender thread (which competes for the GIL) only a join and a gzip.
        self.events: deque[bytes] = deque()
        self.labels: deque[bytes] = deque()
        self.feedback: deque[bytes] = deque()
        self._host: deque[bytes] = deque(maxlen=1_000)
        self._inflight = 0
        self.closed = False  # the caller's side refuses records
        self._closing = False  # the thread drains within _deadline, then exits
        self._deadline = float("inf")
        self.wake = threading.Event()  # a full batch waits, a flush was asked, or closing
        self._cut = threading.Event()  # interrupts a backoff sleep when closing starts
        self.lock = threading.Lock()  # counters the caller's side changes, and closing
        self._idle = threading.Condition()
        self._flush_asked = False
        self._warned: set[str] = set()
        self.models: set[str] = set()
        self._send_size = batch_size  # lowered after a 413
        self._sent = 0
        self._labels_sent = 0
        self._feedback_sent = 0
        self._host_sent = 0
        self.dropped = 0
        self.invalid = 0
        self._failed_batches = 0
        self._failed_records = 0
        self._rejected = 0
        self._retries = 0
        self._sampler: HostSampler | None = None
        headers = {"User-Agent": _USER_AGENT}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._http = httpx.Client(
            base_url=url,
            headers=headers,
            timeout=httpx.Timeout(timeout),
            transport=transport,
            follow_redirects=False,
        )
        self._thread = threading.Thread(target=self._run, name="vigil-sdk-sender", daemon=True)

    def start(self) -> None:
        self._thread.start()

    # -- the caller's side ----------------------------------------------------------------------------
    def see(self, model: str) -> None:
        """Remembers a model for host metrics (at most 100 names)."""
        if len(self.models) < 100:
            self.models.add(model)

    def refuse(self, model: Any, count: int = 1) -> None:
        """Counts ``count`` records refused on the caller's side: dropped after close, else invalid."""
        try:
            with self.lock:
                if self.closed:
                    self.dropped += count
                    _log.debug("vigil: record for %r dropped: the client is closed", model)
                else:
                    self.invalid += count
                    _log.debug("vigil: invalid record for model %r not queued", model, exc_info=True)
        except Exception:
            pass

    def overflow(self, q: deque[bytes]) -> None:
        """Drops the oldest records until ``q`` fits; exact count, one warning per client."""
        with self.lock:
            dropped = 0
            try:
                while len(q) > self.capacity:
                    q.popleft()
                    dropped += 1
            except IndexError:
                pass
            self.dropped += dropped
            if dropped and "queue-full" not in self._warned:
                self._warned.add("queue-full")
                _log.warning(
                    "vigil: queue full (%d records): dropping the oldest records; is the server at %s "
                    "reachable? (counted in Client.stats()['dropped'], warned once)",
                    self.capacity,
                    self.url,
                )

    # -- observing and stopping -----------------------------------------------------------------------
    def pending(self) -> int:
        return len(self.events) + len(self.labels) + len(self.feedback) + len(self._host) + self._inflight

    def stats(self) -> dict[str, int]:
        """The counters of :meth:`Client.stats`."""
        return {
            "queued": self.pending(),
            "sent": self._sent,
            "labels_sent": self._labels_sent,
            "feedback_sent": self._feedback_sent,
            "host_metrics_sent": self._host_sent,
            "dropped": self.dropped,
            "invalid": self.invalid,
            "rejected_records": self._rejected,
            "failed_batches": self._failed_batches,
            "failed_records": self._failed_records,
            "retries": self._retries,
        }

    def flush(self, timeout: float | None = None) -> bool:
        """See :meth:`Client.flush`."""
        deadline = None if timeout is None else _monotonic() + timeout
        while self.pending() > 0:
            if not self._thread.is_alive():
                return False
            remaining = 0.05 if deadline is None else min(0.05, deadline - _monotonic())
            if remaining <= 0:
                return False
            self._flush_asked = True
            self.wake.set()
            with self._idle:
                self._idle.wait(remaining)
        return True

    def close(self, timeout: float | None = None) -> None:
        """See :meth:`Client.close`."""
        limit = self.close_timeout if timeout is None else max(0.0, timeout)
        with self.lock:
            if self.closed:
                return
            self.closed = True
        self._deadline = _monotonic() + limit
        self._closing = True
        self._cut.set()
        self.wake.set()
        if self._thread.is_alive():
            self._thread.join(max(0.0, self._deadline - _monotonic()))
        if self._thread.is_alive():
            _log.warning("vigil: close() timed out after %.1f s; %d records unsent", limit, self.pending())
            return
        with contextlib.suppress(Exception):
            self._http.close()
        if self._sampler is not None:
            self._sampler.close()
        left = self.pending()
        if left:
            _log.warning("vigil: closed with %d records unsent (server at %s unreachable?)", left, self.url)

    # -- the sender thread ----------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._loop()
        except Exception:  # a bug here must not kill the process; it stops delivery, loudly
            _log.exception("vigil: the sender thread failed; no more records will be sent")
        finally:
            with self._idle:
                self._idle.notify_all()

    def _loop(self) -> None:
        now = _monotonic()
        last_flush = now
        next_host = now + self._host_every if self._host_every is not None else float("inf")
        if self._host_every is not None:
            self._sampler = HostSampler()
        while not self._closing:
            wait = min(last_flush + self._flush_interval, next_host) - _monotonic()
            if wait > 0:
                self.wake.wait(wait)
            self.wake.clear()
            if self._closing:
                break
            now = _monotonic()
            if now >= next_host:
                self._sample_host()
                next_host = now + cast(float, self._host_every)
            due = self._flush_asked or now - last_flush >= self._flush_interval
            self._flush_asked = False
            self._send_queued(everything=due)
            if due:
                last_flush = _monotonic()
            with self._idle:
                self._idle.notify_all()
        self._send_queued(everything=True)

    def _send_queued(self, *, everything: bool) -> None:
        """Sends full event batches, and when ``everything`` also the remainder, labels, host metrics.
        Stops early when closing runs out of time."""
        q = self.events
        while q and (everything or len(q) >= self._send_size):
            if not self._send_batch("events", q):
                return
        if everything:
            queues = (("labels", self.labels), ("feedback", self.feedback), ("host metrics", self._host))
            for kind, queue in queues:
                while queue:
                    if not self._send_batch(kind, queue):
                        return

    def _out_of_time(self) -> bool:
        return self._closing and _monotonic() >= self._deadline

    def _send_batch(self, kind: str, q: deque[bytes]) -> bool:
        """Sends one batch from ``q``; False when closing ran out of time (the batch goes back)."""
        if self._out_of_time():
            return False
        self._inflight = min(len(q), self._send_size)
        batch = _take(q, self._send_size)
        self._inflight = len(batch)
        try:
            left = self._deliver(kind, batch)
            if left:  # keep them visible as queued
                q.extendleft(reversed(left))
                return False
            return True
        finally:
            self._inflight = 0

    def _sample_host(self) -> None:
        if self._sampler is None or not self.models:
            return
        try:
            reading = self._sampler.sample()
            now = _time()
            for model in sorted(self.models):
                self._host.append(dump({"model": model, "timestamp": now, **reading}))
        except Exception:
            _log.debug("vigil: host metrics sample failed", exc_info=True)

    # -- HTTP -----------------------------------------------------------------------------------------
    @staticmethod
    def _encode(records: list[bytes]) -> bytes:
        """The gzip-compressed (level 1) NDJSON of ``records`` (each already JSON, on one line): the
        server reads NDJSON with Arrow's JSON reader, on every core, where a JSON array is parsed in
        Python."""
        return zlib.compress(b"\n".join(records), 1, 31)

    def _warn_once(self, key: str, message: str, *args: Any) -> None:
        if key in self._warned or len(self._warned) >= _MAX_WARNED:
            return
        self._warned.add(key)
        _log.warning(message, *args)

    def _give_up(self, kind: str, records: list[bytes], why: str) -> None:
        self._failed_batches += 1
        self._failed_records += len(records)
        _log.debug("vigil: gave up a batch of %d %s: %s", len(records), kind, why)

    def _deliver(self, kind: str, records: list[bytes]) -> list[bytes]:
        """Sends one batch with retries; returns the records left unsent because close() ran out of time."""
        path = {
            "events": "/v1/events",
            "labels": "/v1/labels",
            "feedback": "/v1/feedback",
            "host metrics": "/v1/host-metrics",
        }[kind]
        if not records:
            return []
        body = self._encode(records)
        headers = {
            "Content-Type": "application/x-ndjson",
            "Content-Encoding": "gzip",
            "Idempotency-Key": uuid.uuid4().hex,  # the same on every retry of this batch
        }
        failures = 0  # consecutive, for the backoff
        limited = 0  # failures that count against max_retries
        while True:
            timeout = self._timeout
            if self._closing:
                remaining = self._deadline - _monotonic()
                if remaining <= 0:
                    return records
                timeout = min(timeout, remaining)
            retry_after: float | None = None
            forever = False
            try:
                resp = self._http.post(path, content=body, headers=headers, timeout=timeout)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                forever = True
                reason = f"cannot connect: {exc}"
            except httpx.HTTPError as exc:
                reason = f"{type(exc).__name__}: {exc}"
            else:
                status = resp.status_code
                if status < 300:
                    self._count_accepted(kind, records, resp)
                    return []
                if status in _RETRY_FOREVER or "Retry-After" in resp.headers:
                    forever = True  # the server says it will take the batch later
                    retry_after = _retry_after(resp.headers.get("Retry-After"))
                    reason = f"HTTP {status}"
                elif status >= 500:
                    reason = f"HTTP {status}"
                else:
                    return self._client_error(kind, records, resp)
            failures += 1
            if not forever:
                limited += 1
                if limited > self._max_retries:
                    self._warn_once(
                        f"gave-up:{reason[:60]}",
                        "vigil: gave up a batch of %d %s after %d retries (%s)",
                        len(records),
                        kind,
                        self._max_retries,
                        reason,
                    )
                    self._give_up(kind, records, reason)
                    return []
            self._retries += 1
            if retry_after is not None:
                delay = min(max(retry_after, self._backoff / 2), _MAX_RETRY_AFTER)
            else:
                step = min(self._max_backoff, self._backoff * 2.0 ** min(failures - 1, 30))
                delay = step / 2 + random.uniform(0.0, step / 2)
            _log.debug("vigil: %s batch failed (%s); retry in %.2f s", kind, reason, delay)
            if failures == 3:
                self._warn_once(
                    f"retrying:{kind}",
                    "vigil: cannot deliver %s to %s yet (%s); retrying",
                    kind,
                    self.url,
                    reason,
                )
            if self._closing:
                if _monotonic() + delay >= self._deadline:
                    return records
                time.sleep(delay)
            else:
                self._cut.wait(delay)

    def _count_accepted(self, kind: str, records: list[bytes], resp: httpx.Response) -> None:
        accepted = len(records)
        rejected: list[Any] = []
        with contextlib.suppress(Exception):
            answer = resp.json()
            accepted = int(answer.get("accepted", accepted))
            rejected = list(answer.get("rejected") or [])
        if kind == "events":
            self._sent += accepted
        elif kind == "labels":
            self._labels_sent += accepted
        elif kind == "feedback":
            self._feedback_sent += accepted
        else:
            self._host_sent += accepted
        self._count_rejected(kind, rejected)

    def _count_rejected(self, kind: str, rejected: list[Any]) -> None:
        self._rejected += len(rejected)
        for item in rejected:
            if not isinstance(item, Mapping):
                continue
            field = str(item.get("field", "?"))
            reason = str(item.get("reason", "?"))
            self._warn_once(
                f"rejected:{kind}:{field}:{reason[:100]}",
                "vigil: the server rejected %s (field %r: %s); such records are counted, not retried",
                kind,
                field,
                reason,
            )

    def _client_error(self, kind: str, records: list[bytes], resp: httpx.Response) -> list[bytes]:
        status = resp.status_code
        answer: Any = None
        with contextlib.suppress(Exception):
            answer = resp.json()
        info = answer if isinstance(answer, Mapping) else {}
        if status == 422:
            self._count_rejected(kind, list(info.get("rejected") or []))
            return []
        if status == 413 and len(records) > 1:
            half = len(records) // 2
            if kind == "events":
                self._send_size = max(1, min(self._send_size, half))
            self._warn_once(f"413:{kind}", "vigil: the server refused a batch as too large; sending smaller")
            return self._deliver(kind, records[:half]) + self._deliver(kind, records[half:])
        if (
            status == 404
            and kind in ("events", "host metrics")
            and isinstance(info.get("known_models"), list)
        ):
            known = {str(m) for m in info["known_models"]}
            models = [model_of(r) for r in records]
            keep = [r for r, m in zip(records, models, strict=True) if m in known]
            lost = [r for r, m in zip(records, models, strict=True) if m not in known]
            unknown = sorted({str(m) for m in models if m not in known})
            self._warn_once(
                f"404:{','.join(unknown)[:200]}",
                "vigil: the server does not know model(s) %s; their records are dropped",
                ", ".join(unknown),
            )
            self._give_up(kind, lost, "unknown model")
            if keep and len(keep) < len(records):
                return self._deliver(kind, keep)
            if keep:  # a 404 that is not about these models: give them up too
                self._give_up(kind, keep, "HTTP 404")
            return []
        error = str(info.get("error", resp.text[:200] if resp.text else ""))
        self._warn_once(
            f"http:{status}:{kind}",
            "vigil: the server answered HTTP %d to %s (%s); those records are dropped",
            status,
            kind,
            error,
        )
        self._give_up(kind, records, f"HTTP {status}")
        return []
