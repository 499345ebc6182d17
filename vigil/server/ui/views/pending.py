"""Pages of the navigation whose views are not built yet: each says what it will show and where the same
information is today (the JSON API and the CLI), so the navigation never leads to a dead end."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from vigil.server.ui.deps import UiCaller, UiVigil
from vigil.server.ui.render import NAV, Page, render
from vigil.server.ui.views.common import time_range

__all__ = ["PENDING", "router"]

router = APIRouter(include_in_schema=False)

PENDING: dict[str, tuple[str, list[tuple[str, str]]]] = {}
"""Navigation key -> (what the page will show, [(where it is today, link or "")])."""


def _page(key: str) -> Callable[..., Awaitable[HTMLResponse]]:
    label = next(lbl for k, lbl, _ in NAV if k == key)

    async def page(request: Request, vigil: UiVigil, _: UiCaller) -> HTMLResponse:
        what, where = PENDING[key]
        span = time_range(request, vigil.clock())
        return render(request, "pending.html", Page(label, key, span, live=False), what=what, where=where)

    return page


for _key, _label, _path in NAV:
    if _key in PENDING:
        router.add_api_route(_path, _page(_key), methods=["GET"], response_class=HTMLResponse)
