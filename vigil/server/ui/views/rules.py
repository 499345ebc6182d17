"""``/rules``: the rules in force (what is watched on which model, by whom, at what levels, ``for``, kind
and source) and the SLOs with their error budget left and burn rates; ``/rules/replay``: one rule replayed
over the page's range on one model (``?rule=CreditErrors&model=credit&range=7d``), drawn on the chart of
what it saw, with when it would have fired."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from vigil.alerting.rules.error_budget import SloStatus, slo_statuses
from vigil.server.ui.deps import MaybeEngine, UiCaller, UiVigil
from vigil.server.ui.render import Page, render
from vigil.server.ui.rule_pages import RuleRow, replay_view, rule_rows
from vigil.server.ui.views.common import time_range
from vigil.server.wire import duration_seconds

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get("/rules", response_class=HTMLResponse)
async def rules(request: Request, vigil: UiVigil, engine: MaybeEngine, _: UiCaller) -> HTMLResponse:
    now = vigil.clock()
    span = time_range(request, now, default="24h")
    page = Page("Rules and SLOs", "rules", span)
    if engine is None:
        return render(request, "rules.html", page, alerting=False)

    def gather() -> tuple[list[RuleRow], list[SloStatus]]:
        rows = rule_rows(engine, vigil.registry, engine.alerts())
        defined = [r.rule.slo for r in rows if r.rule.slo is not None]
        return rows, slo_statuses(vigil.query, defined, now)

    rows, slos = await run_in_threadpool(gather)
    kinds = sorted({r.rule.kind for r in rows})
    chosen = {"kind": request.query_params.get("kind", ""), "model": request.query_params.get("model", "")}
    shown = [
        r
        for r in rows
        if (not chosen["kind"] or r.rule.kind == chosen["kind"])
        and (not chosen["model"] or chosen["model"] in r.models)
    ]
    return render(
        request,
        "rules.html",
        page,
        alerting=True,
        rows=shown,
        total=len(rows),
        slos=slos,
        kinds=kinds,
        models=vigil.registry.names(),
        chosen=chosen,
        sources={s: sum(r.source == s for r in rows) for s in ("config", "default", "api")},
    )


@router.get("/rules/replay", response_class=HTMLResponse)
async def replay(
    request: Request,
    vigil: UiVigil,
    engine: MaybeEngine,
    _: UiCaller,
    rule: str = "",
    model: str = "",
    every: str = "",
) -> HTMLResponse:
    now = vigil.clock()
    span = time_range(request, now, default="24h")
    page = Page(f"Replay {rule}" if rule else "Replay a rule", "rules", span, live=False)
    if engine is None:
        return render(request, "rules.html", page, alerting=False)
    names = sorted({r.name for r in engine.rules})
    found = next((r for r in engine.rules if r.name == rule and (not model or r.applies_to(model))), None)
    models = vigil.registry.names()
    if found is not None and not model:
        model = found.model if found.model != "*" else (models[0] if models else "")
    problem, view = None, None
    seconds = None
    if every.strip():
        seconds = duration_seconds(every.strip())
        if seconds is None:
            try:
                seconds = float(every)
            except ValueError:
                problem = f"'every' must be seconds or a duration like 1m (got {every!r})"
    if rule and found is None:
        problem = f"no rule {rule!r} applies to model {model!r}" if model else f"no rule named {rule!r}"
    elif found is not None and problem is None:
        try:
            view = await run_in_threadpool(replay_view, found, vigil.query, model, span, seconds)
        except ValueError as exc:
            problem = str(exc)
    return render(
        request,
        "replay.html",
        page,
        names=names,
        models=models,
        rule=rule,
        model=model,
        every=every,
        found=found,
        view=view,
        problem=problem,
    )
