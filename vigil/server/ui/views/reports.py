"""``/reports``: the drift report of one model for any range against its baseline or against another range,
shown in the page (``?model=credit&against=range&ref_from=...&ref_to=...&range=24h``) and downloadable
as the self-contained HTML report ``vigil report`` writes (``/reports/drift.html``) and as JSON
(``/reports/drift.json``, the shape of ``GET /v1/models/{m}/drift``)."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from vigil.comparison.report import Report
from vigil.errors import InputError
from vigil.server.ui.deps import UiCaller, UiVigil
from vigil.server.ui.drift_report import ReportAsk, ask_of, build
from vigil.server.ui.render import Page, render
from vigil.server.ui.views.common import base_url, time_range

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get("/reports", response_class=HTMLResponse)
async def reports(request: Request, vigil: UiVigil, _: UiCaller) -> HTMLResponse:
    now = vigil.clock()
    span = time_range(request, now, default="24h")
    page = Page("Reports", "reports", span, live=False)
    ask = ask_of(request.query_params, vigil.registry, span)
    report, problem = None, None
    if ask is not None:
        try:
            report = await run_in_threadpool(build, vigil.query, ask)
        except InputError as exc:
            problem = str(exc)
    return render(
        request,
        "reports.html",
        page,
        ask=ask,
        report=report,
        problem=problem,
        models=[(n, vigil.registry.get(n)) for n in vigil.registry.names()],
        base=base_url(request),
    )


async def _download(request: Request, vigil: UiVigil) -> tuple[ReportAsk, Report] | Response:
    """The report a download link asks for, or the page saying why there is none."""
    span = time_range(request, vigil.clock(), default="24h")
    ask = ask_of(request.query_params, vigil.registry, span)
    page = Page("No report", "reports", span, live=False)
    if ask is None:
        why = "no model is registered yet"
        return render(request, "refused.html", page, status=404, why=why, back="/reports")
    try:
        return ask, await run_in_threadpool(build, vigil.query, ask)
    except InputError as exc:
        return render(request, "refused.html", page, status=422, why=str(exc), back=ask.link("/reports"))


def _attachment(ask: ReportAsk, ext: str) -> dict[str, str]:
    return {
        "Content-Disposition": f'attachment; filename="{ask.file_name(ext)}"',
        "Cache-Control": "no-store",
    }


@router.get("/reports/drift.html", response_class=HTMLResponse)
async def report_html(request: Request, vigil: UiVigil, _: UiCaller) -> Response:
    found = await _download(request, vigil)
    if isinstance(found, Response):
        return found
    ask, report = found
    return HTMLResponse(await run_in_threadpool(report.to_html), headers=_attachment(ask, "html"))


@router.get("/reports/drift.json")
async def report_json(request: Request, vigil: UiVigil, _: UiCaller) -> Response:
    """The report as ``GET /v1/models/{m}/drift`` answers it (plus the reference range, when one)."""
    found = await _download(request, vigil)
    if isinstance(found, Response):
        return found
    ask, report = found
    params = ask.params()
    body = {"model": ask.model, "from": params["from"], "to": params["to"]}
    if ask.against == "range":
        body |= {"reference_from": params["ref_from"], "reference_to": params["ref_to"]}
    text = json.dumps({**body, **report.to_dict()}, indent=2, allow_nan=False)
    return Response(text, media_type="application/json", headers=_attachment(ask, "json"))
