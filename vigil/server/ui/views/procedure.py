"""``/procedure``: the monitoring procedure drawn from the server's config (``vigil sop``), with the path of
one alert highlighted: type its labels (``alertname=ErrorRateHigh model=credit``) and the page shows where
it goes, in words and on the diagram (the SVG of ``GET /v1/procedure``, laid out by Graphviz)."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from vigil.errors import ConfigError, InputError
from vigil.procedure import check_sections
from vigil.procedure import render as draw
from vigil.server.ui.deps import UiCaller, UiVigil
from vigil.server.ui.render import Page, render
from vigil.server.ui.views.common import time_range

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

EXAMPLE = "alertname=ErrorRateHigh model=credit severity=critical"


@router.get("/procedure", response_class=HTMLResponse)
async def procedure(request: Request, vigil: UiVigil, _: UiCaller) -> HTMLResponse:
    span = time_range(request, vigil.clock())
    given = " ".join(request.query_params.get("alert", "").split())
    labels = given.split() if given else []
    page = Page("Procedure", "procedure", span, live=False)
    problem = ""
    path_text = ""
    if not vigil.config.models:
        problem = "No model is declared in vigil.yaml yet: declare one under models: to see its procedure."
    else:
        try:
            sections = check_sections(vigil.config)
        except ConfigError as exc:
            sections, problem = None, f"The server's config cannot be drawn: {exc}"
        if sections is not None and labels:
            try:
                path_text = await run_in_threadpool(draw, sections, "text", labels)
            except InputError as exc:
                problem = f"Those labels cannot be traced: {exc}"
    query = urlencode([("alert", label) for label in labels])
    downloads = {
        f: f"/v1/procedure?format={f}" + (f"&{query}" if query else "")
        for f in ("svg", "mermaid", "markdown", "json")
    }
    return render(
        request,
        "procedure.html",
        page,
        given=given,
        example=EXAMPLE,
        path_text=path_text,
        problem=problem,
        downloads=downloads,
    )
