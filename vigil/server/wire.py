"""The API's side of the wire: times and ranges as requests give them, bodies as they arrive, times as
answers show them, and every domain error turned into its HTTP answer (``install``), in one table.

Error answers: ``{"error": ...}`` for bad input (422), unknown models (404, with ``known_models``),
refused requests (their own status, with their details) and an unavailable store (503 with
``Retry-After``); ``{"detail": ...}``, as FastAPI's own, for what the response routes run into (404 not
found, 403 not identified, 409 conflict). Anything else is a bug: a 500 whose traceback goes to the log.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from vigil.actions import ActionDenied, NotIdentified, UnknownAction
from vigil.errors import InputError, StoreError
from vigil.ingest.validate import BadRequest
from vigil.registry import Conflict as RegistryConflict
from vigil.server.errors import Conflict, NotFound, UnknownModel
from vigil.timefmt import format_time, parse_duration

__all__ = [
    "STORE_RETRY_AFTER",
    "duration_seconds",
    "install",
    "iso",
    "parse_step",
    "parse_time",
    "read_body",
    "read_object",
    "time_range",
    "when",
]

log = logging.getLogger("vigil.server")

STORE_RETRY_AFTER = 2
"""Seconds a client is asked to wait (``Retry-After``) when the store cannot take its request."""

_FIRST = datetime(1970, 1, 1, tzinfo=UTC).timestamp()
_LAST = datetime(9999, 12, 30, tzinfo=UTC).timestamp()


# -- times ---------------------------------------------------------------------------------------------------


def parse_time(text: str) -> float:
    """RFC 3339 (UTC unless it says otherwise) or epoch seconds, as epoch seconds (else ``InputError``)."""
    try:
        t = float(text)
    except ValueError:
        try:
            when = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise InputError(
                f"not a time: {text!r}; use RFC 3339 (2026-11-21T10:00:00Z) or epoch seconds"
            ) from None
        t = (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()
    if not _FIRST <= t <= _LAST:  # NaN included
        raise InputError(f"time out of range: {text!r}; give a time between 1970 and 9999")
    return t


def when(value: Any, name: str) -> float:
    """A time given in a JSON body under ``name``: a number of epoch seconds or RFC 3339 text."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return parse_time(str(value))
    if isinstance(value, str):
        return parse_time(value)
    raise InputError(f"{name!r} must be a time (RFC 3339 or epoch seconds)")


def time_range(start: str | None, end: str | None, now: float, span: float = 3600.0) -> tuple[float, float]:
    """``from`` and ``to`` of a query: ``to`` defaults to ``now``, ``from`` to ``span`` seconds before it."""
    b = parse_time(end) if end else now
    a = parse_time(start) if start else b - span
    if not a < b:
        raise InputError("'from' must be before 'to'")
    return a, b


def duration_seconds(value: object) -> float | None:
    """Seconds of ``30m``, ``2h``, ``1d`` (or a positive number); None when it is not a duration."""
    try:
        return parse_duration(value).total_seconds()
    except ValueError:
        return None


def parse_step(step: str) -> float:
    """A series step: seconds or a duration (``1m``, ``1h``, ``1d``), at most 400 days."""
    try:
        seconds = float(step)
    except ValueError:
        parsed = duration_seconds(step)
        if parsed is None:
            raise InputError(f"not a step: {step!r}; use seconds or 1m, 1h, 1d") from None
        seconds = parsed
    if not 0 < seconds <= 400 * 86_400:  # NaN included
        raise InputError(f"not a step: {step!r}; give a positive duration of at most 400 days")
    return seconds


def iso(t: float) -> str:
    """A time as answers show it: RFC 3339 in UTC to the second (``""`` for no time)."""
    return format_time(t) if math.isfinite(t) else ""


# -- bodies --------------------------------------------------------------------------------------------------


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused (413) as soon as it is known to be over ``limit``, before it is all read."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BadRequest(413, f"body of {declared} bytes is over the limit", limit=limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BadRequest(413, "body is over the limit", limit=limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def read_object(request: Request) -> dict[str, Any]:
    """The body as a JSON object; an empty body is ``{}``."""
    if not (await request.body()).strip():
        return {}
    try:
        data = await request.json()
    except ValueError:
        raise InputError("the body must be a JSON object") from None
    if not isinstance(data, dict):
        raise InputError("the body must be a JSON object")
    return data


# -- errors --------------------------------------------------------------------------------------------------


_Answer = Callable[[Request, Exception], Awaitable[JSONResponse]]


def _detail(status: int) -> _Answer:
    async def answer(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status)

    return answer


async def _refused(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BadRequest)
    retry = exc.details.get("retry_after")
    headers = {"Retry-After": str(retry)} if retry is not None else None
    return JSONResponse({"error": str(exc), **exc.details}, status_code=exc.status, headers=headers)


async def _bad_input(_: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"error": str(exc)}, status_code=422)


async def _unknown_model(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, UnknownModel)
    return JSONResponse({"error": str(exc), "known_models": exc.known}, status_code=404)


async def _registered_elsewhere(_: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"error": str(exc)}, status_code=409)


async def _store_down(_: Request, exc: Exception) -> JSONResponse:
    # nothing was acknowledged: the client keeps the request and sends it again
    return JSONResponse(
        {"error": f"the store is unavailable, retry shortly: {exc}", "retry_after": STORE_RETRY_AFTER},
        status_code=503,
        headers={"Retry-After": str(STORE_RETRY_AFTER)},
    )


async def _bug(request: Request, exc: Exception) -> JSONResponse:
    log.error("%s %s failed: %r", request.method, request.url.path, exc, exc_info=exc)
    return JSONResponse(
        {"error": "the server failed to answer this request; its log says why"}, status_code=500
    )


_ANSWERS: dict[type[Exception], _Answer] = {
    BadRequest: _refused,  # too large (413), unreadable (400, 415), unknown model (404), catching up (503)
    InputError: _bad_input,
    UnknownModel: _unknown_model,
    NotFound: _detail(404),
    UnknownAction: _detail(404),
    NotIdentified: _detail(403),
    ActionDenied: _detail(409),
    Conflict: _detail(409),
    RegistryConflict: _registered_elsewhere,
    StoreError: _store_down,
    Exception: _bug,  # Starlette answers it, then re-raises it to the server
}
"""Each domain error and its answer; the most specific class that matches an error wins."""


def install(app: FastAPI) -> None:
    """Answer every error of ``_ANSWERS`` on ``app`` as that table says."""
    for kind, answer in _ANSWERS.items():
        app.add_exception_handler(kind, answer)
