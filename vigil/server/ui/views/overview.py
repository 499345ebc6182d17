"""``/``: every model's health at a glance, its firing alerts and its SLOs; sortable and filterable by team,
environment and task through the query string (``?team=risk-ml&sort=error_rate&dir=desc``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from vigil.alerting.rules.error_budget import SloStatus
from vigil.server.ui.deps import MaybeEngine, UiCaller, UiVigil, rollups
from vigil.server.ui.health import COLUMNS, firing_now, health
from vigil.server.ui.render import Page, render
from vigil.server.ui.views.common import base_url, time_range

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

FILTERS = (("team", "Team"), ("environment", "Environment"), ("task", "Task"))


@router.get("/", response_class=HTMLResponse)
async def overview(request: Request, vigil: UiVigil, engine: MaybeEngine, _: UiCaller) -> HTMLResponse:
    now = vigil.clock()
    span = time_range(request, now, default="24h")
    params = request.query_params
    specs = dict(vigil.registry.items())
    facets = {
        "team": sorted({s.owner.team for s in specs.values()}),
        "environment": sorted({s.environment for s in specs.values()}),
        "task": sorted({s.task for s in specs.values()}),
    }
    chosen = {k: params.get(k, "") for k, _ in FILTERS}
    names = [
        n
        for n, s in sorted(specs.items())
        if (not chosen["team"] or s.owner.team == chosen["team"])
        and (not chosen["environment"] or s.environment == chosen["environment"])
        and (not chosen["task"] or s.task == chosen["task"])
    ]
    sort = params.get("sort", "status")
    sort = sort if sort in COLUMNS else "status"
    descending = params.get("dir", "desc" if sort == "status" else "asc") == "desc"

    def gather() -> tuple[list[Any], list[Any], list[SloStatus]]:
        # one snapshot of the store for the page: the windows the rows and the SLOs share are read once
        kept = rollups(request).through(vigil.query.snapshot())
        firing = firing_now(engine, now)
        rows = health(kept, vigil.registry, names, span, firing)
        slos: list[SloStatus] = []
        if engine is not None:
            defined = [r.slo for r in engine.rules if r.slo is not None and r.slo.model in names]
            slos = kept.slo_statuses(defined, now)
        return rows, firing, slos

    rows, firing, slos = await run_in_threadpool(gather)
    rows.sort(key=lambda r: r.name)
    rows.sort(key=lambda r: r.sort_key(sort), reverse=descending)
    if descending:  # models without a value stay last
        rows.sort(key=lambda r: r.sort_key(sort)[0])
    shown = set(names)
    return render(
        request,
        "overview.html",
        Page("Overview", "overview", span),
        rows=rows,
        firing=[f for f in firing if f.model in shown],
        slos=slos,
        facets=facets,
        filters=FILTERS,
        chosen=chosen,
        sort=sort,
        descending=descending,
        columns=COLUMNS,
        total_models=len(specs),
        alerting=engine is not None,
        base=base_url(request),
        now=now,
    )
