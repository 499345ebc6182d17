"""The Vigil client: log predictions from a serving process and ship them to a Vigil server.

``Client.log`` only builds a dict and appends it to an in-memory queue; one daemon thread per client
drains the queue in batches, POSTs them gzip-compressed to the server, retries transient failures with
exponential backoff, and (optionally) reports host metrics. Nothing the client does raises into the
code that logs: problems are counted (``Client.stats``) and reported through the ``vigil.sdk`` logger.
"""

from __future__ import annotations

import atexit
import contextlib
import contextvars
import email.utils
import functools
import inspect
import itertools
import logging
import os
import random
import sys
import threading
import time
import uuid
import weakref
import zlib
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from types import TracebackType
from typing import Any, Final, ParamSpec, TypeVar, cast

import httpx
import orjson

from vigil.sdk.host import HostSampler

__all__ = ["EVENT_FIELDS", "Call", "Client", "Monitor", "current_call", "new_request_id"]

_log = logging.getLogger("vigil.sdk")

P = ParamSpec("P")
R = TypeVar("R")

EVENT_FIELDS: Final = frozenset(
    {
        "model",
        "version",
        "request_id",
        "timestamp",
        "features",
        "prediction",
        "score",
        "probabilities",
        "latency_ms",
        "error",
        "tokens_in",
        "tokens_out",
        "cost",
        "segments",
    }
)
"""The fields of a wire ``Event`` (``vigil.schema.Event``)."""

_MAX_ERROR = 65_536
_USER_AGENT = "vigil-sdk/0.1.0"
_JSON_OPTS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NAIVE_UTC | orjson.OPT_NON_STR_KEYS
_RETRY_FOREVER = frozenset({429, 502, 503, 504})
_MAX_RETRY_AFTER = 300.0
_MAX_WARNED = 200

# Request ids: a random per-process prefix and a counter, about 0.2 µs each (uuid4 costs about 3 µs).
# A forked child draws a new prefix, so ids stay unique across processes.
_rid_prefix = os.urandom(8).hex()
_rid_seq = itertools.count()


def new_request_id() -> str:
    """A fresh id, unique across processes and machines with overwhelming probability (64 random bits
    per process plus a counter): 17 to 32 lowercase hex characters."""
    return f"{_rid_prefix}{next(_rid_seq):x}"


_time = time.time
_monotonic = time.monotonic
_dumps = orjson.dumps
_exact = bytes


def _json_default(obj: Any) -> Any:
    """orjson fallback: numpy/pandas scalars, pandas missing values, datetimes, sets, decimals."""
    name = type(obj).__name__
    if name in ("NAType", "NaTType"):
        return None
    iso = getattr(obj, "isoformat", None)
    if callable(iso):
        text = iso()
        if getattr(obj, "tzinfo", "") is None and "T" in str(text):
            text = f"{text}+00:00"  # a naive datetime is taken as UTC
        return text
    item = getattr(obj, "item", None)
    if callable(item):
        return item()
    if isinstance(obj, set | frozenset):
        return list(obj)
    if name == "Decimal":
        return float(obj)
    raise TypeError(f"cannot serialise {name}")


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


def _dump(record: Mapping[str, Any]) -> bytes:
    """One record as JSON: the plain (fastest) orjson call, then with numpy/pandas/datetime support;
    copied to an exact-size object (see ``Client.log``)."""
    try:
        data = _dumps(record)
    except TypeError:
        data = _dumps(record, default=_json_default, option=_JSON_OPTS)
    return _exact(memoryview(data))


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


_current: contextvars.ContextVar[Call | None] = contextvars.ContextVar("vigil_current_call", default=None)


def current_call() -> Call | None:
    """The :class:`Call` of the innermost ``Client.monitor`` block or decorated call running in this
    context (thread or task), or None. Lets a decorated function set ``score``, ``tokens_in``, ... ."""
    return _current.get()


class Call:
    """The fields of one monitored prediction, settable inside a ``monitor`` block.

    ``latency_ms`` and ``error`` are filled in when the block ends (an explicit value is kept);
    ``request_id`` is generated up front so it can be returned to whoever will later send the label.
    """

    __slots__ = (
        "cost",
        "error",
        "features",
        "latency_ms",
        "prediction",
        "probabilities",
        "request_id",
        "score",
        "segments",
        "timestamp",
        "tokens_in",
        "tokens_out",
        "version",
    )

    def __init__(
        self,
        *,
        features: Mapping[str, Any] | None = None,
        version: str | None = None,
        request_id: str | None = None,
        segments: Mapping[str, Any] | None = None,
    ) -> None:
        self.features: Mapping[str, Any] | None = features
        self.prediction: Any = None
        self.score: float | None = None
        self.probabilities: Mapping[str, float] | None = None
        self.version: str | None = version
        self.request_id: str = request_id if request_id is not None else new_request_id()
        self.timestamp: float = _time()
        self.latency_ms: float | None = None
        self.error: str | None = None
        self.tokens_in: int | None = None
        self.tokens_out: int | None = None
        self.cost: float | None = None
        self.segments: Mapping[str, Any] | None = segments


def _error_text(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text[:_MAX_ERROR]


class Monitor:
    """Times one prediction and logs it; returned by :meth:`Client.monitor`.

    As a context manager it yields a :class:`Call` to fill in (one ``with`` at a time per Monitor
    object). As a decorator it wraps a sync or async function; each invocation gets its own Call
    (reachable inside through :func:`current_call`) and any number may run concurrently.
    """

    def __init__(
        self,
        client: Client,
        model: str,
        *,
        version: str | None,
        features: Mapping[str, Any] | None,
        features_from: int | str | Callable[..., Mapping[str, Any] | None] | None,
        prediction_from: Callable[[Any], Any] | None,
        request_id: str | None,
        segments: Mapping[str, Any] | None,
    ) -> None:
        self._client = client
        self._model = model
        self._version = version
        self._features = features
        self._features_from = features_from
        self._prediction_from = prediction_from
        self._request_id = request_id
        self._segments = segments
        self._stack: list[tuple[Call, float, contextvars.Token[Call | None]]] = []

    # -- context manager ------------------------------------------------------------------------------
    def __enter__(self) -> Call:
        call = Call(
            features=self._features,
            version=self._version,
            request_id=self._request_id,
            segments=self._segments,
        )
        token = _current.set(call)
        self._stack.append((call, time.perf_counter(), token))
        return call

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        end = time.perf_counter()
        try:
            call, start, token = self._stack.pop()
            with contextlib.suppress(ValueError):
                _current.reset(token)
            self._finish(call, start, end, exc)
        except Exception:
            _log.debug("vigil: monitor exit failed", exc_info=True)
        # returning None: the block's own exception propagates unchanged

    def _finish(self, call: Call, start: float, end: float, exc: BaseException | None) -> None:
        if call.latency_ms is None:
            call.latency_ms = (end - start) * 1000.0
        if exc is not None and call.error is None:
            call.error = _error_text(exc)
        self._client.log(
            self._model,
            features=call.features,
            prediction=call.prediction,
            score=call.score,
            probabilities=call.probabilities,
            version=call.version,
            request_id=call.request_id,
            timestamp=call.timestamp,
            latency_ms=call.latency_ms,
            error=call.error,
            tokens_in=call.tokens_in,
            tokens_out=call.tokens_out,
            cost=call.cost,
            segments=call.segments,
        )

    # -- decorator ------------------------------------------------------------------------------------
    def _features_getter(self, fn: Callable[..., Any]) -> Callable[[tuple[Any, ...], dict[str, Any]], Any]:
        spec = self._features_from
        if spec is None:

            def default(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
                for arg in args:
                    if isinstance(arg, Mapping):
                        return arg
                return kwargs.get("features")

            return default
        if isinstance(spec, int):
            index = spec
            return lambda args, kwargs: args[index] if len(args) > index else None
        if isinstance(spec, str):
            name = spec
            position: int | None = None
            with contextlib.suppress(Exception):
                params = list(inspect.signature(fn).parameters.values())
                names = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
                if name in names:
                    position = names.index(name)

            def by_name(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
                if name in kwargs:
                    return kwargs[name]
                if position is not None and len(args) > position:
                    return args[position]
                return None

            return by_name
        func = spec
        return lambda args, kwargs: func(*args, **kwargs)

    def _begin(
        self, getter: Callable[[tuple[Any, ...], dict[str, Any]], Any], args: tuple[Any, ...], kwargs: Any
    ) -> tuple[Call, contextvars.Token[Call | None]]:
        features: Any = self._features
        try:
            found = getter(args, kwargs)
            if isinstance(found, Mapping):
                features = found
        except Exception:
            _log.debug("vigil: features_from failed", exc_info=True)
        call = Call(
            features=features, version=self._version, request_id=self._request_id, segments=self._segments
        )
        return call, _current.set(call)

    def _end(
        self,
        call: Call,
        token: contextvars.Token[Call | None],
        start: float,
        result: Any,
        exc: BaseException | None,
    ) -> None:
        end = time.perf_counter()
        try:
            with contextlib.suppress(ValueError):
                _current.reset(token)
            if exc is None and call.prediction is None:
                call.prediction = self._prediction_from(result) if self._prediction_from else result
            self._finish(call, start, end, exc)
        except Exception:
            _log.debug("vigil: monitor could not log the call", exc_info=True)

    def __call__(self, fn: Callable[P, R]) -> Callable[P, R]:
        getter = self._features_getter(fn)
        if inspect.iscoroutinefunction(fn):
            afn = cast(Callable[..., Awaitable[Any]], fn)

            @functools.wraps(fn)
            async def awrapper(*args: Any, **kwargs: Any) -> Any:
                call, token = self._begin(getter, args, kwargs)
                start = time.perf_counter()
                try:
                    result = await afn(*args, **kwargs)
                except BaseException as exc:
                    self._end(call, token, start, None, exc)
                    raise
                self._end(call, token, start, result, None)
                return result

            return cast(Callable[P, R], awrapper)

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            call, token = self._begin(getter, args, kwargs)
            start = time.perf_counter()
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                self._end(call, token, start, None, exc)
                raise
            self._end(call, token, start, result, None)
            return result

        return wrapper


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
        self._api_key = api_key
        self._capacity = queue_size
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._timeout = timeout
        self._max_retries = max_retries
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._host_every = host_metrics_every
        self._close_timeout = close_timeout
        self._transport = transport
        self._setup()
        _live.add(self)
        self._thread.start()

    def _setup(self) -> None:
        """(Re)creates every piece of runtime state; used at construction and in a forked child."""
        # Records wait as their JSON bytes: serialising in log() costs ~1 µs but keeps the queue compact,
        # invisible to the garbage collector, immune to later mutation of the caller's dicts, and leaves
        # the sender thread (which competes for the GIL) only a join and a gzip.
        self._events: deque[bytes] = deque()
        self._labels: deque[bytes] = deque()
        self._host: deque[bytes] = deque(maxlen=1_000)
        self._inflight = 0
        self._closed = False  # log() refuses records
        self._closing = False  # the sender drains within _deadline, then exits
        self._deadline = float("inf")
        self._wake = threading.Event()  # a full batch waits, a flush was asked, or closing
        self._cut = threading.Event()  # interrupts a backoff sleep when closing starts
        self._drop_lock = threading.Lock()
        self._idle = threading.Condition()
        self._flush_asked = False
        self._warned: set[str] = set()
        self._models: set[str] = set()
        self._send_size = self._batch_size  # lowered after a 413
        self._sent = 0
        self._labels_sent = 0
        self._host_sent = 0
        self._dropped = 0
        self._invalid = 0
        self._failed_batches = 0
        self._failed_records = 0
        self._rejected = 0
        self._retries = 0
        self._sampler: HostSampler | None = None
        headers = {"User-Agent": _USER_AGENT}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        self._http = httpx.Client(
            base_url=self.url,
            headers=headers,
            timeout=httpx.Timeout(self._timeout),
            transport=self._transport,
            follow_redirects=False,
        )
        self._thread = threading.Thread(target=self._run, name="vigil-sdk-sender", daemon=True)

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
        try:
            if self._closed or type(model) is not str:
                self._refuse(model)
                return
            ev: dict[str, Any] = {
                "model": model,
                "request_id": f"{_rid_prefix}{next(_rid_seq):x}" if request_id is None else request_id,
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
                data = _dumps(ev)
            except TypeError:  # numpy/pandas scalars, datetimes, non-str keys: the slower options
                data = _dumps(ev, default=_json_default, option=_JSON_OPTS)
            # orjson returns a shrunk over-allocated buffer; a long-lived one costs ~6 µs more per call in
            # allocator work than an exact-size copy (measured, 20 features): keep the copy.
            data = _exact(memoryview(data))
            if model not in self._models:
                self._see(model)
            q = self._events
            q.append(data)  # deque.append is atomic: no lock on the hot path
            n = len(q)
            if n > self._capacity:
                self._overflow(q)
            elif n >= self._batch_size and not self._wake.is_set():
                self._wake.set()
        except Exception:
            self._refuse(model)

    def _refuse(self, model: Any) -> None:
        try:
            with self._drop_lock:
                if self._closed:
                    self._dropped += 1
                    _log.debug("vigil: record for %r dropped: the client is closed", model)
                else:
                    self._invalid += 1
                    _log.debug("vigil: invalid record for model %r not queued", model, exc_info=True)
        except Exception:
            pass

    def _see(self, model: str) -> None:
        """Remembers a model for host metrics (at most 100 names)."""
        if len(self._models) < 100:
            self._models.add(model)

    def _overflow(self, q: deque[bytes]) -> None:
        """Drops the oldest records until ``q`` fits; exact count, one warning per client."""
        with self._drop_lock:
            dropped = 0
            try:
                while len(q) > self._capacity:
                    q.popleft()
                    dropped += 1
            except IndexError:
                pass
            self._dropped += dropped
            if dropped and "queue-full" not in self._warned:
                self._warned.add("queue-full")
                _log.warning(
                    "vigil: queue full (%d records): dropping the oldest records; is the server at %s "
                    "reachable? (counted in Client.stats()['dropped'], warned once)",
                    self._capacity,
                    self.url,
                )

    def log_batch(self, data: Any, *, model: str | None = None, version: str | None = None) -> int:
        """Queues many predictions at once; returns how many records were queued (0 on bad input).

        ``data`` is a pandas or polars DataFrame, or an iterable of dicts. Columns (keys) named like
        ``Event`` fields fill those fields; features come from a ``features`` column of dicts when there
        is one, else every other column is a feature. ``model``/``version`` fill rows that lack them
        (a row without a model is refused); ``request_id`` and ``timestamp`` default as in :meth:`log`.
        Missing values (NaN, None, pd.NA) are sent as null. Never raises; see :meth:`log`.
        """
        try:
            if self._closed:
                self._refuse(model)
                return 0
            rows = _rows_of(data)
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
                    row["request_id"] = f"{_rid_prefix}{next(_rid_seq):x}"
                if row.get("timestamp") is None:
                    row["timestamp"] = now
                try:
                    append(_dump(row))
                except TypeError:
                    bad += 1
                    continue
                if row["model"] not in self._models:
                    self._see(str(row["model"]))
            if bad:
                with self._drop_lock:
                    self._invalid += bad
                _log.debug("vigil: log_batch refused %d rows (no model, or not serialisable)", bad)
            q = self._events
            q.extend(out)
            n = len(q)
            if n > self._capacity:
                self._overflow(q)
            if n >= self._batch_size:
                self._wake.set()
            return len(out)
        except Exception:
            self._refuse(model)
            return 0

    def log_label(
        self, model: str, request_id: str, label: Any, timestamp: float | str | None = None
    ) -> None:
        """Queues the ground truth ``label`` of the prediction ``request_id`` of ``model``.

        ``timestamp`` (when the truth became known) is epoch seconds or RFC 3339; default: now.
        Non-blocking and never raises, like :meth:`log`.
        """
        try:
            if self._closed or type(model) is not str:
                self._refuse(model)
                return
            q = self._labels
            q.append(
                _dump(
                    {
                        "model": model,
                        "request_id": request_id,
                        "label": label,
                        "timestamp": _time() if timestamp is None else timestamp,
                    }
                )
            )
            if len(q) > self._capacity:
                self._overflow(q)
        except Exception:
            self._refuse(model)

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
            self,
            model,
            version=version,
            features=features,
            features_from=features_from,
            prediction_from=prediction_from,
            request_id=request_id,
            segments=segments,
        )

    # -- observing and stopping -----------------------------------------------------------------------
    def _pending(self) -> int:
        return len(self._events) + len(self._labels) + len(self._host) + self._inflight

    def stats(self) -> dict[str, int]:
        """Counters since the client started (records unless named batches).

        ``queued``: waiting or being sent (events, labels, host metrics); ``sent``: events the server
        accepted; ``labels_sent``, ``host_metrics_sent``: the same for those; ``dropped``: records
        discarded unsent because a queue was full (the oldest go) or the client was closed;
        ``invalid``: calls refused locally (bad arguments, unserialisable values); ``rejected_records``:
        records the server refused (200/422 ``rejected``); ``failed_batches`` / ``failed_records``:
        batches given up (non-retryable answer or retries exhausted) and their records; ``retries``:
        HTTP attempts repeated after a failure.
        """
        return {
            "queued": self._pending(),
            "sent": self._sent,
            "labels_sent": self._labels_sent,
            "host_metrics_sent": self._host_sent,
            "dropped": self._dropped,
            "invalid": self._invalid,
            "rejected_records": self._rejected,
            "failed_batches": self._failed_batches,
            "failed_records": self._failed_records,
            "retries": self._retries,
        }

    def flush(self, timeout: float | None = None) -> bool:
        """Blocks until every record queued so far has been handled (sent, rejected or given up), or
        ``timeout`` seconds (None: no limit) have passed; True when the queues are empty."""
        deadline = None if timeout is None else _monotonic() + timeout
        while self._pending() > 0:
            if not self._thread.is_alive():
                return False
            remaining = 0.05 if deadline is None else min(0.05, deadline - _monotonic())
            if remaining <= 0:
                return False
            self._flush_asked = True
            self._wake.set()
            with self._idle:
                self._idle.wait(remaining)
        return True

    def close(self, timeout: float | None = None) -> None:
        """Stops logging and sends what is queued, for at most ``timeout`` seconds (default: the
        client's ``close_timeout``); never blocks longer, even if the server hangs. Records not sent by
        then stay counted in ``stats()["queued"]`` and are lost. Idempotent."""
        limit = self._close_timeout if timeout is None else max(0.0, timeout)
        with self._drop_lock:
            if self._closed:
                return
            self._closed = True
        self._deadline = _monotonic() + limit
        self._closing = True
        self._cut.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(max(0.0, self._deadline - _monotonic()))
        if self._thread.is_alive():
            _log.warning("vigil: close() timed out after %.1f s; %d records unsent", limit, self._pending())
            return
        with contextlib.suppress(Exception):
            self._http.close()
        if self._sampler is not None:
            self._sampler.close()
        left = self._pending()
        if left:
            _log.warning("vigil: closed with %d records unsent (server at %s unreachable?)", left, self.url)

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client(url={self.url!r}, queued={self._pending()}, closed={self._closed})"

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
                self._wake.wait(wait)
            self._wake.clear()
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
        q = self._events
        while q and (everything or len(q) >= self._send_size):
            if not self._send_batch("events", q):
                return
        if everything:
            for kind, queue in (("labels", self._labels), ("host metrics", self._host)):
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
        if self._sampler is None or not self._models:
            return
        try:
            reading = self._sampler.sample()
            now = _time()
            for model in sorted(self._models):
                self._host.append(_dump({"model": model, "timestamp": now, **reading}))
        except Exception:
            _log.debug("vigil: host metrics sample failed", exc_info=True)

    # -- HTTP -----------------------------------------------------------------------------------------
    @staticmethod
    def _encode(records: list[bytes]) -> bytes:
        """The gzip-compressed (level 1) JSON array of ``records`` (each already JSON)."""
        return zlib.compress(b"[" + b",".join(records) + b"]", 1, 31)

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
        path = {"events": "/v1/events", "labels": "/v1/labels", "host metrics": "/v1/host-metrics"}[kind]
        if not records:
            return []
        body = self._encode(records)
        headers = {
            "Content-Type": "application/json",
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
            models = [_model_of(r) for r in records]
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

    # -- fork -----------------------------------------------------------------------------------------
    def _after_fork_in_child(self) -> None:
        """The parent's queue and connections belong to the parent: start empty with a new thread."""
        closed = self._closed
        self._setup()
        if closed:
            self._closed = True
            return
        self._thread.start()


def _model_of(record: bytes) -> Any:
    """The ``model`` of one serialised record (None when unreadable)."""
    try:
        return orjson.loads(record).get("model")
    except Exception:
        return None


def _rows_of(data: Any) -> list[dict[str, Any]]:
    """Rows of a pandas/polars DataFrame or an iterable of mappings, split into Event fields + features."""
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(data, pd.DataFrame):
        columns = [str(c) for c in data.columns]
        frame = data.set_axis(columns, axis=1)
        fields = [c for c in columns if c in EVENT_FIELDS]
        feats = [] if "features" in fields else [c for c in columns if c not in EVENT_FIELDS]
        rows: list[dict[str, Any]] = (
            frame[fields].to_dict("records") if fields else [{} for _ in range(len(frame))]
        )
        if feats:
            for row, f in zip(rows, frame[feats].to_dict("records"), strict=True):
                row["features"] = f
        return rows
    pl = sys.modules.get("polars")
    if pl is not None and isinstance(data, pl.DataFrame):
        columns = list(data.columns)
        fields = [c for c in columns if c in EVENT_FIELDS]
        feats = [] if "features" in fields else [c for c in columns if c not in EVENT_FIELDS]
        rows = data.select(fields).to_dicts() if fields else [{} for _ in range(data.height)]
        if feats:
            for row, f in zip(rows, data.select(feats).to_dicts(), strict=True):
                row["features"] = f
        return rows
    if isinstance(data, Mapping | str | bytes):
        raise TypeError("log_batch wants a DataFrame or an iterable of dicts")
    out: list[dict[str, Any]] = []
    for item in cast(Iterable[Mapping[str, Any]], data):
        if "features" in item or all(k in EVENT_FIELDS for k in item):
            out.append(dict(item))
        else:
            row = {k: v for k, v in item.items() if k in EVENT_FIELDS}
            row["features"] = {k: v for k, v in item.items() if k not in EVENT_FIELDS}
            out.append(row)
    return out


# -- process-wide hooks -------------------------------------------------------------------------------
_live: weakref.WeakSet[Client] = weakref.WeakSet()


def _close_all() -> None:
    """At interpreter exit: close every live client, each within its own ``close_timeout``."""
    for client in list(_live):
        with contextlib.suppress(Exception):
            client.close()


def _after_fork_in_child() -> None:
    global _rid_prefix, _rid_seq
    _rid_prefix = os.urandom(8).hex()
    _rid_seq = itertools.count()
    for client in list(_live):
        with contextlib.suppress(Exception):
            client._after_fork_in_child()


atexit.register(_close_all)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
