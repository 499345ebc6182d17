"""``/models/{name}/features/{feature}``: one feature's drill-down over the page's range."""

from __future__ import annotations

from dataclasses import replace

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from vigil.server.roles import ROUTES
from vigil.server.ui.deps import UiCaller, UiVigil
from vigil.server.ui.detail import deploy_marks
from vigil.server.ui.feature import MIN_SEGMENT, FeatureDetail, feature_detail
from vigil.server.ui.render import Page, render
from vigil.server.ui.views.common import time_range, unknown_model

__all__ = ["router"]

RAW_EVENTS = ROUTES["GET /v1/models/{model}/events"]

router = APIRouter(include_in_schema=False)


@router.get("/models/{name}/features/{feature}", response_class=HTMLResponse)
async def feature(
    name: str, feature: str, request: Request, vigil: UiVigil, caller: UiCaller
) -> HTMLResponse:
    now = vigil.clock()
    span = time_range(request, now)
    spec = vigil.registry.get(name)
    if spec is None:
        return unknown_model(request, vigil.registry, name, span)

    def gather() -> FeatureDetail:
        marks = deploy_marks(vigil.store, name, span)
        return feature_detail(vigil.query.snapshot(), name, spec, feature, span, marks)

    detail = await run_in_threadpool(gather)
    hidden = not caller.may(RAW_EVENTS)  # raw events: the role GET /v1/models/{model}/events needs
    if hidden:
        detail = replace(detail, examples=[])
    return render(
        request,
        "feature.html",
        Page(f"{feature} · {name}", "models", span),
        f=detail,
        spec=spec,
        min_segment=MIN_SEGMENT,
        now=now,
        examples_hidden=hidden,
    )
