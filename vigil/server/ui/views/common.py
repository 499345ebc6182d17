"""What several views share: the time range of a request and the address it was reached at."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from vigil.registry import Registry
from vigil.server.ui.render import Page, render
from vigil.server.ui.timerange import DEFAULT, TimeRange

__all__ = ["base_url", "time_range", "unknown_model"]


def time_range(request: Request, now: float, default: str = DEFAULT) -> TimeRange:
    """The range the request's URL asks for (``range``, or ``from`` and ``to``)."""
    return TimeRange.parse(request.query_params, now, default)


def base_url(request: Request) -> str:
    """The server's address as the browser reached it (for the ``curl`` lines of empty states)."""
    return str(request.base_url).rstrip("/")


def unknown_model(request: Request, registry: Registry, name: str, span: TimeRange) -> HTMLResponse:
    """The 404 page of a model nobody declared, listing those that are."""
    return render(
        request,
        "missing.html",
        Page("Unknown model", "models", span),
        status=404,
        what=f"No model named {name!r}.",
        known=registry.names(),
    )
