"""``/models``: the registered models; ``/models/{name}``: one model over the page's range (live service
metrics, drift heatmap, data quality, performance, fairness and worst slices, cost, hosts, its alerts and
versions)."""

from __future__ import annotations

import math
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from vigil.monitoring.query import Query
from vigil.monitoring.spend import spenders
from vigil.server.ui.charts import Mark
from vigil.server.ui.deps import MaybeEngine, UiCaller, UiVigil
from vigil.server.ui.detail import ModelDetail, changes, heat_colour, model_detail
from vigil.server.ui.fairness import WhoFaresWorse, who_fares_worse
from vigil.server.ui.health import firing_now
from vigil.server.ui.render import Page, render
from vigil.server.ui.timerange import TimeRange
from vigil.server.ui.views.common import base_url, time_range, unknown_model
from vigil.spec import ModelSpec
from vigil.timefmt import format_time

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get("/models", response_class=HTMLResponse)
async def models(request: Request, vigil: UiVigil, engine: MaybeEngine, _: UiCaller) -> HTMLResponse:
    now = vigil.clock()
    span = time_range(request, now)
    firing = await run_in_threadpool(firing_now, engine, now)
    items = [
        (name, spec, vigil.registry.source(name), [f for f in firing if f.model == name])
        for name, spec in sorted(vigil.registry.items())
    ]
    return render(
        request, "models.html", Page("Models", "models", span), items=items, base=base_url(request), now=now
    )


def change_mark(request: Request) -> list[Mark]:
    """The change point an alert of a change rule links to (``?change_at=<epoch seconds>``), as a mark."""
    try:
        t = float(request.query_params.get("change_at", ""))
    except ValueError:
        return []
    return [Mark(t, f"change from {format_time(t)}")] if math.isfinite(t) else []


@router.get("/models/{name}", response_class=HTMLResponse)
async def model(
    name: str, request: Request, vigil: UiVigil, engine: MaybeEngine, _: UiCaller
) -> HTMLResponse:
    now = vigil.clock()
    span = time_range(request, now)
    spec = vigil.registry.get(name)
    if spec is None:
        return unknown_model(request, vigil.registry, name, span)

    def gather() -> tuple[ModelDetail, WhoFaresWorse | None, list[dict[str, Any]]]:
        firing = [f for f in firing_now(engine, now) if f.model == name]
        previous = vigil.registry.previous(name)
        query = vigil.query.snapshot()
        detail = model_detail(query, vigil.store, name, spec, span, firing, previous, change_mark(request))
        return detail, who_fares_worse(query, name, spec, span), who_spends(query, name, spec, span)

    detail, who, spend = await run_in_threadpool(gather)
    return render(
        request,
        "model.html",
        Page(name, "models", span),
        m=detail,
        who=who,
        spend=spend,
        changes=changes(vigil.store, name, detail.deployment),
        heat_colour=heat_colour,
        base=base_url(request),
        now=now,
    )


def who_spends(query: Query, name: str, spec: ModelSpec, span: TimeRange) -> list[dict[str, Any]]:
    """The ten costliest values of each tag of the model's ``spend.by`` over the range (as
    ``GET /v1/models/NAME/spenders`` answers), for the tags that hold cost in it."""
    if not spec.spend.by:
        return []
    merged = [query.merged(name, span.start, span.end)]  # through the page's snapshot: read once
    found = [spenders(merged, tag, 10) for tag in spec.spend.by]
    return [f for f in found if f["tracked"] and f["cost"] > 0]
