"""The Vigil client: log predictions from a serving process and ship them to a Vigil server.

``Client.log`` only builds a dict, serialises it and appends it to an in-memory queue; the client's
:class:`~vigil.sdk._sender.Sender` drains the queue from one daemon thread in batches, POSTs them
gzip-compressed to the server, retries transient failures with exponential backoff, and (optionally)
reports host metrics. Nothing the client does raises into the code that logs: problems are counted
(``Client.stats``) and reported through the ``vigil.sdk`` logger.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import time
import weakref
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

import httpx

import vigil.sdk.records as records
from vigil.sdk._sender import Sender
from vigil.sdk.monitor import Monitor
from vigil.sdk.records import JSON_OPTS, dump, dumps, exact, json_default, request_ids, rows_of

__all__ = ["Client"]

_log = logging.getLogger("vigil.sdk")

_time = time.time


class Client:
    """Logs predictions, labels and host metrics to a Vigil server, in the background.

    ``url`` is the server's base URL (``http://host:port``); ``api_key``, when given, is sent as
    ``Authorization: Bearer <api_key>``.

    Buffering: each of events and labels has its own queue of at most ``queue_size`` records; when a
    queue is full the OLDEST record is dropped and counted (``stats()["dropped"]``), and one warning is
    logged on ``logging.getLogger("vigil.sdk")``. A daemon thread sends a batch as soon as
    ``batch_size`` records wait, and whatever waits every ``flush_interval`` seconds.

    Delivery: each batch is one POST of gzip-compressed JSON with ``timeout`` seconds per attempt.
    Connection failures, 429/502/503/504 answers and any answer carrying ``Retry-After`` (the server is
    down, or asks to slow down or to come back; the header is honoured, up to 300 s) are retried until
    they succeed, however long that takes, with exponential backoff from ``backoff`` seconds up to
    ``max_backoff`` seconds, with jitter; meanwhile new records keep queueing (bounded, drop-oldest). Other
    5xx answers and timeouts are retried at most ``max_retries`` times, then the batch is given up
    (``failed_batches``). 4xx answers are not retried: records the
    server rejects (200 or 422 with ``rejected``) are counted in ``rejected_records`` with one warning
    per distinct field and reason; 401/403/404/400 give the batch up with one warning per cause (on 404
    the records of known models are re-sent); on 413 the batch is split in halves and re-sent.

    Host metrics: with ``host_metrics_every`` seconds (None turns them off), a ``HostMetrics`` reading
    (see :class:`vigil.sdk.host.HostSampler`) is sent for every model whose events were sent so far.

    ``close()`` (also at interpreter exit, and on leaving ``with Client(...)``) sends what it can within
    its timeout and never blocks longer. A client is safe to use from any number of threads, and a
    forked child process starts with empty queues and its own sender thread.
    """

    def __init__(
        self,
        url: str,
        api_key: str | None = None,
        *,
        queue_size: int = 100_000,
        batch_size: int = 1_000,
        flush_interval: float = 1.0,
        timeout: float = 5.0,
        max_retries: int = 8,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        host_metrics_every: float | None = 10.0,
        close_timeout: float = 5.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if queue_size < 1 or batch_size < 1:
            raise ValueError("queue_size and batch_size must be at least 1")
        if flush_interval <= 0 or timeout <= 0 or backoff <= 0 or max_backoff < backoff:
            raise ValueError("flush_interval, timeout and backoff must be positive, max_backoff >= backoff")
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        if host_metrics_every is not None and host_metrics_every <= 0:
            raise ValueError("host_metrics_every must be positive or None")
        self.url = url.rstrip("/")
        self._settings: dict[str, Any] = {
            "url": self.url,
            "api_key": api_key,
            "capacity": queue_size,
            "batch_size": batch_size,
            "flush_interval": flush_interval,
            "timeout": timeout,
            "max_retries": max_retries,
            "backoff": backoff,
            "max_backoff": max_backoff,
            "host_every": host_metrics_every,
            "close_timeout": close_timeout,
            "transport": transport,
        }
        self._sender: Sender
        self._start()
        _live.add(self)

    def _start(self) -> None:
        """(Re)creates the sender and starts its thread; used at construction and in a forked child."""
        self._sender = Sender(**self._settings)
        self._sender.start()

    # -- logging (the caller's side) ------------------------------------------------------------------
    def log(
        self,
        model: str,
        *,
        features: Mapping[str, Any] | None = None,
        prediction: Any = None,
        score: float | None = None,
        probabilities: Mapping[str, float] | None = None,
        version: str | None = None,
        request_id: str | None = None,
        timestamp: float | str | None = None,
        latency_ms: float | None = None,
        error: str | None = None,
        tokens_in: int | None = None,
        tokens_out: int | None = None,
        cost: float | None = None,
        segments: Mapping[str, Any] | None = None,
    ) -> None:
        """Queues one prediction of ``model``; returns at once (a few µs) and never raises.

        ``timestamp`` is seconds since the epoch (UTC), an RFC 3339 string or a datetime (naive = UTC);
        default: now. ``request_id`` defaults to :func:`new_request_id` (pass yours to join labels
        later). ``latency_ms`` in milliseconds, ``cost`` in US dollars. None arguments are left out of
        the record. The record is serialised to JSON during the call, so the caller may reuse or mutate
        its dicts afterwards; numpy and pandas scalars, datetimes and NaN (sent as null) are accepted.
        A call that cannot be recorded (``model`` not a string, a value JSON cannot carry, or after
        ``close()``) is counted in ``stats()`` (``invalid`` or ``dropped``) and logged at DEBUG level,
        never raised; values the server refuses are counted in ``rejected_records``.
        """
        s = self._sender
        try:
            if s.closed or type(model) is not str:
                s.refuse(model)
                return
            ev: dict[str, Any] = {
                "model": model,
                "request_id": request_ids.next() if request_id is None else request_id,
                "timestamp": _time() if timestamp is None else timestamp,
            }
            if features is not None:
                ev["features"] = features
            if prediction is not None:
                ev["prediction"] = prediction
            if score is not None:
                ev["score"] = score
            if probabilities is not None:
                ev["probabilities"] = probabilities
            if version is not None:
                ev["version"] = version
            if latency_ms is not None:
                ev["latency_ms"] = latency_ms
            if error is not None:
                ev["error"] = error
            if tokens_in is not None:
                ev["tokens_in"] = tokens_in
            if tokens_out is not None:
                ev["tokens_out"] = tokens_out
            if cost is not None:
                ev["cost"] = cost
            if segments is not None:
                ev["segments"] = segments
            try:
                data = dumps(ev)
            except TypeError:  # numpy/pandas scalars, datetimes, non-str keys: the slower options
                data = dumps(ev, default=json_default, option=JSON_OPTS)
            data = exact(memoryview(data))  # an exact-size copy: see records.dump
            if model not in s.models:
                s.see(model)
            q = s.events
            q.append(data)  # deque.append is atomic: no lock on the hot path
            n = len(q)
            if n > s.capacity:
                s.overflow(q)
            elif n >= s.batch_size and not s.wake.is_set():
                s.wake.set()
        except Exception:
            s.refuse(model)

    def log_batch(self, data: Any, *, model: str | None = None, version: str | None = None) -> int:
        """Queues many predictions at once; returns how many records were queued (0 on bad input).

        ``data`` is a pandas or polars DataFrame, or an iterable of dicts. Columns (keys) named like
        ``Event`` fields fill those fields; features come from a ``features`` column of dicts when there
        is one, else every other column is a feature. ``model``/``version`` fill rows that lack them
        (a row without a model is refused); ``request_id`` and ``timestamp`` default as in :meth:`log`.
        Missing values (NaN, None, pd.NA) are sent as null. Never raises; see :meth:`log`.
        """
        s = self._sender
        try:
            if s.closed:
                s.refuse(model)
                return 0
            rows = rows_of(data)
            now = _time()
            out: list[bytes] = []
            append = out.append
            bad = 0
            for row in rows:
                if row.get("model") is None:
                    if model is None:
                        bad += 1
                        continue
                    row["model"] = model
                if version is not None and row.get("version") is None:
                    row["version"] = version
                if row.get("request_id") is None:
                    row["request_id"] = request_ids.next()
                if row.get("timestamp") is None:
                    row["timestamp"] = now
                try:
                    append(dump(row))
                except TypeError:
                    bad += 1
                    continue
                if row["model"] not in s.models:
                    s.see(str(row["model"]))
            if bad:
                with s.lock:
                    s.invalid += bad
                _log.debug("vigil: log_batch refused %d rows (no model, or not serialisable)", bad)
            q = s.events
            q.extend(out)
            n = len(q)
            if n > s.capacity:
                s.overflow(q)
            if n >= s.batch_size:
                s.wake.set()
            return len(out)
        except Exception:
            s.refuse(model)
            return 0

    def log_label(
        self, model: str, request_id: str, label: Any, timestamp: float | str | None = None
    ) -> None:
        """Queues the ground truth ``label`` of the prediction ``request_id`` of ``model``.

        ``timestamp`` (when the truth became known) is epoch seconds or RFC 3339; default: now.
        Non-blocking and never raises, like :meth:`log`.
        """
        s = self._sender
        try:
            if s.closed or type(model) is not str:
                s.refuse(model)
                return
            q = s.labels
            q.append(
                dump(
                    {
                        "model": model,
                        "request_id": request_id,
                        "label": label,
                        "timestamp": _time() if timestamp is None else timestamp,
                    }
                )
            )
            if len(q) > s.capacity:
                s.overflow(q)
        except Exception:
            s.refuse(model)

    def log_feedback(
        self,
        model: str,
        request_id: str,
        *,
        thumb: str | None = None,
        rating: float | None = None,
        scores: dict[str, float] | None = None,
        comment: str | None = None,
        timestamp: float | str | None = None,
    ) -> None:
        """Queues what a user (``thumb`` ``"up"``/``"down"``, a ``rating``, a ``comment``) or an evaluator
        (``scores`` by evaluator name) said of the prediction ``request_id`` of ``model`` (for spans sent
        over OpenTelemetry: the trace id). Non-blocking and never raises, like :meth:`log`."""
        s = self._sender
        try:
            if s.closed or type(model) is not str:
                s.refuse(model)
                return
            record: dict[str, Any] = {"model": model, "request_id": request_id}
            record |= {"timestamp": _time() if timestamp is None else timestamp}
            for key, value in (
                ("thumb", thumb),
                ("rating", rating),
                ("scores", scores),
                ("comment", comment),
            ):
                if value is not None:
                    record[key] = value
            q = s.feedback
            q.append(dump(record))
            if len(q) > s.capacity:
                s.overflow(q)
        except Exception:
            s.refuse(model)

    def monitor(
        self,
        model: str,
        *,
        version: str | None = None,
        features: Mapping[str, Any] | None = None,
        features_from: int | str | Callable[..., Mapping[str, Any] | None] | None = None,
        prediction_from: Callable[[Any], Any] | None = None,
        request_id: str | None = None,
        segments: Mapping[str, Any] | None = None,
    ) -> Monitor:
        """Times a prediction and logs it, as a context manager or a decorator.

        ``with client.monitor("m", features=x) as call: call.prediction = model.predict(x)`` logs one
        event with ``latency_ms`` (``time.perf_counter``, in ms) of the block. ``@client.monitor("m")``
        on ``def predict(features): ...`` logs each call: features are the first positional argument
        that is a mapping (or the ``features`` keyword); ``features_from`` overrides that with a
        positional index, a parameter name, or a function of the same arguments returning the mapping.
        The prediction is the return value (through ``prediction_from`` when given) unless the function
        set ``current_call().prediction``. An exception is recorded as ``error = "ExcType: message"``
        and re-raised unchanged. Async functions are supported.
        """
        return Monitor(
            self.log,
            model,
            version=version,
            features=features,
            features_from=features_from,
            prediction_from=prediction_from,
            request_id=request_id,
            segments=segments,
        )

    # -- observing and stopping -----------------------------------------------------------------------
    def stats(self) -> dict[str, int]:
        """Counters since the client started (records unless named batches).

        ``queued``: waiting or being sent (events, labels, feedback, host metrics); ``sent``: events the
        server accepted; ``labels_sent``, ``feedback_sent``, ``host_metrics_sent``: the same for those;
        ``dropped``: records discarded unsent because a queue was full (the oldest go) or the client was
        closed; ``invalid``: calls refused locally (bad arguments, unserialisable values);
        ``rejected_records``: records the server refused (200/422 ``rejected``); ``failed_batches`` /
        ``failed_records``: batches given up (non-retryable answer or retries exhausted) and their
        records; ``retries``: HTTP attempts repeated after a failure.
        """
        return self._sender.stats()

    def flush(self, timeout: float | None = None) -> bool:
        """Blocks until every record queued so far has been handled (sent, rejected or given up), or
        ``timeout`` seconds (None: no limit) have passed; True when the queues are empty."""
        return self._sender.flush(timeout)

    def close(self, timeout: float | None = None) -> None:
        """Stops logging and sends what is queued, for at most ``timeout`` seconds (default: the
        client's ``close_timeout``); never blocks longer, even if the server hangs. Records not sent by
        then stay counted in ``stats()["queued"]`` and are lost. Idempotent."""
        self._sender.close(timeout)

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        s = self._sender
        return f"Client(url={self.url!r}, queued={s.pending()}, closed={s.closed})"

    def _after_fork_in_child(self) -> None:
        """The parent's queue and connections belong to the parent: start empty with a new thread."""
        closed = self._sender.closed
        if closed:
            self._sender = Sender(**self._settings)
            self._sender.closed = True
            return
        self._start()


# -- process-wide hooks -------------------------------------------------------------------------------
_live: weakref.WeakSet[Client] = weakref.WeakSet()


def _close_all() -> None:
    """At interpreter exit: close every live client, each within its own ``close_timeout``."""
    for client in list(_live):
        with contextlib.suppress(Exception):
            client.close()


def _after_fork_in_child() -> None:
    records.reseed()
    for client in list(_live):
        with contextlib.suppress(Exception):
            client._after_fork_in_child()


atexit.register(_close_all)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
