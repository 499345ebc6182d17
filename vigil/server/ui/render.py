"""Pages from templates: the Jinja2 environment of the dashboard, the navigation, the formatters the
templates use, and the response (gzip'd when the browser accepts it: pages are mostly repeated markup).

Every page extends ``base.html`` and is given a :class:`Page`: its title, which navigation entry it is,
its time range, and what its template shows.
"""

from __future__ import annotations

import gzip
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import orjson
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, pass_context, select_autoescape
from jinja2.runtime import Context
from markupsafe import Markup

from vigil._version import __version__
from vigil.server.roles import allows, need_of
from vigil.server.ui.csrf import csrf_token
from vigil.server.ui.timerange import PRESETS, TimeRange
from vigil.timefmt import format_duration

__all__ = ["NAV", "Page", "fmt_number", "fmt_time", "render"]

NAV = (
    ("overview", "Overview", "/"),
    ("models", "Models", "/models"),
    ("alerts", "Alerts", "/alerts"),
    ("incidents", "Incidents", "/incidents"),
    ("rules", "Rules", "/rules"),
    ("review", "Review", "/review"),
    ("reports", "Reports", "/reports"),
    ("procedure", "Procedure", "/procedure"),
)
"""The navigation: (key, label, path), in the order the bar shows them."""

STATIC = "/ui/static"
_GZIP_OVER = 1024
"""Bytes of a page over which it is sent gzip'd (when the browser accepts it)."""


@dataclass(frozen=True)
class Page:
    """What every page gives ``base.html``."""

    title: str
    nav: str
    """The key of the navigation entry this page is under."""
    range: TimeRange | None = None
    """The page's time range; None for pages without one (no range control shown)."""
    live: bool = True
    """Whether the page follows the present (live refresh offered) when its range is relative."""


def fmt_number(value: Any, unit: str = "", digits: int = 3) -> str:
    """A number for people: ``1.23k``, ``0.0412``, ``12.5 ms``, ``4.1%`` (unit ``%`` for a ratio);
    ``—`` for no value.

    >>> fmt_number(1234.5), fmt_number(0.04123), fmt_number(0.25, "%"), fmt_number(None), fmt_number(12, "ms")
    ('1.23k', '0.0412', '25%', '—', '12 ms')
    """
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    x = float(value)
    if unit == "%":
        return f"{_short(x * 100, digits)}%"
    if unit == "percent":  # already a percentage
        return f"{_short(x, digits)}%"
    if unit == "$":
        return f"${x:,.2f}" if abs(x) >= 0.01 or x == 0 else f"${x:.2g}"
    text = _short(x, digits)
    return f"{text} {unit}" if unit else text


def _short(x: float, digits: int) -> str:
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= size:
            return f"{x / size:.{digits}g}{suffix}"
    if x == 0:
        return "0"
    return f"{x:.{digits}g}"


def fmt_time(t: float | None, seconds: bool = False) -> str:
    """An epoch time as ``2026-11-21 10:00 UTC`` (``—`` for none)."""
    if t is None or not math.isfinite(t):
        return "—"
    shape = "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
    return datetime.fromtimestamp(t, tz=UTC).strftime(shape) + " UTC"


def fmt_ago(t: float | None, now: float) -> str:
    """How long ago, ``5m ago``, ``2h 10m ago``; ``—`` for none."""
    if t is None or not math.isfinite(t):
        return "—"
    s = max(0, int(now - t))
    if s < 60:
        return f"{s}s ago"
    if s < 3600:
        return f"{s // 60}m ago"
    if s < 86_400:
        return f"{s // 3600}h {s % 3600 // 60}m ago"
    return f"{s // 86_400}d {s % 86_400 // 3600}h ago"


def fmt_span(seconds: float | None) -> str:
    """A duration in its two largest units, ``4m10s``, ``1h05m``, ``2d03h``; ``—`` for none."""
    return "—" if seconds is None or not math.isfinite(seconds) else format_duration(seconds)


def time_input(t: float) -> str:
    """An epoch time as an ``<input type="datetime-local">`` value, in UTC (``2026-11-21T10:00``)."""
    return datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m-%dT%H:%M")


def as_json(value: Any) -> Markup:
    """``value`` as JSON safe inside ``<script type="application/json">`` (``<`` escaped)."""
    text = orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY).decode().replace("<", "\\u003c")
    return Markup(text)


@pass_context
def may(context: Context, method: str, path: str) -> bool:
    """Whether the page's caller may send ``method path``: the dashboard shows a form only to those it
    would not refuse (the server checks again when the form is sent). Without a gate (no caller), yes."""
    caller = context.get("caller")
    if caller is None:
        return True
    need = need_of(method, path)
    return need is not None and allows(caller.roles, need)


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("vigil.server.ui", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(num=fmt_number, time=fmt_time, json=as_json, time_input=time_input, span=fmt_span)
    env.globals.update(NAV=NAV, PRESETS=PRESETS, STATIC=STATIC, version=__version__, ago=fmt_ago)
    env.globals["csrf_token"] = csrf_token  # the one CSRF seam (vigil.server.ui.csrf)
    env.globals["may"] = may
    return env


ENV = _environment()


def render(request: Request, template: str, page: Page, status: int = 200, **context: Any) -> HTMLResponse:
    """``template`` rendered for ``request`` with ``page`` and ``context``. Templates also get ``query``
    (the request's parameters other than the range), ``here(**changes)`` (this page's URL with parameters
    changed; None removes one) and ``range_links`` (this page at each preset range)."""
    query = _query(request)
    path = request.url.path

    def here(**changes: str | None) -> str:
        params = {**request.query_params, **changes}
        kept = {k: v for k, v in params.items() if v is not None and v != ""}
        return f"{path}?{urlencode(kept)}" if kept else path

    links = {p: f"{path}?{urlencode({**query, 'range': p})}" for p in PRESETS}
    context.setdefault("caller", getattr(request.state, "caller", None))  # who the role gate let in
    html = ENV.get_template(template).render(
        page=page, request=request, query=query, here=here, range_links=links, **context
    )
    body = html.encode()
    headers = {"Cache-Control": "no-store", "Vary": "Accept-Encoding"}
    if len(body) > _GZIP_OVER and "gzip" in request.headers.get("accept-encoding", ""):
        body = gzip.compress(body, compresslevel=6)
        headers["Content-Encoding"] = "gzip"
    return HTMLResponse(body, status_code=status, headers=headers)


def _query(request: Request) -> Mapping[str, str]:
    """The request's query parameters other than the time range (kept by the range control's links)."""
    return {k: v for k, v in request.query_params.items() if k not in ("range", "from", "to")}
