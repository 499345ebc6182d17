"""Monitoring a prediction in place: ``with client.monitor("m") as call:`` or ``@client.monitor("m")``.

A :class:`Monitor` times the block or call (``time.perf_counter``), records an exception as the event's
``error`` (and re-raises it unchanged), and logs one event through its client. Inside, the
:class:`Call` being filled is reachable with :func:`current_call` (a context variable: per thread, per
asyncio task).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any, ParamSpec, TypeVar, cast

from vigil.sdk.records import new_request_id

__all__ = ["Call", "Monitor", "current_call"]

_log = logging.getLogger("vigil.sdk")

P = ParamSpec("P")
R = TypeVar("R")

_MAX_ERROR = 65_536
_time = time.time

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
    """Times one prediction and logs it with ``log`` (a client's ``log``); see :meth:`Client.monitor`.

    As a context manager it yields a :class:`Call` to fill in (one ``with`` at a time per Monitor
    object). As a decorator it wraps a sync or async function; each invocation gets its own Call
    (reachable inside through :func:`current_call`) and any number may run concurrently.
    """

    def __init__(
        self,
        log: Callable[..., None],
        model: str,
        *,
        version: str | None,
        features: Mapping[str, Any] | None,
        features_from: int | str | Callable[..., Mapping[str, Any] | None] | None,
        prediction_from: Callable[[Any], Any] | None,
        request_id: str | None,
        segments: Mapping[str, Any] | None,
    ) -> None:
        self._log_event = log
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
        self._log_event(
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
