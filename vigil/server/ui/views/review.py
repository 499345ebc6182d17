"""``/review``: the alert-quality review of the page's range (``Operations.review``, as ``GET /v1/review``):
per rule, how often it fired and for how long, acknowledged or ignored, flapping, judged a false alarm, a
verdict with advice, the levels suggested for each noisy rule from its metric's history, and the episodes
people judged; ``/review/report.html``: the same review as one self-contained page to keep or send."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from vigil.alerting.analysis.alert_quality import Review
from vigil.alerting.analysis.render import review_html
from vigil.alerting.analysis.tuning import Suggestion
from vigil.alerting.response.episodes import Episode
from vigil.server.services import Operations
from vigil.server.ui.deps import MaybeEngine, UiCaller, UiVigil
from vigil.server.ui.render import Page, render
from vigil.server.ui.views.common import time_range

__all__ = ["TONES", "router"]

router = APIRouter(include_in_schema=False)

TONES = {
    "false alarms": "critical",
    "noisy": "critical",
    "flapping": "critical",
    "stuck": "critical",
    "slow": "warning",
    "muted": "warning",
    "ok": "ok",
    "quiet": "none",
}
"""Each verdict and the badge it is shown with."""


@router.get("/review", response_class=HTMLResponse)
async def review(request: Request, vigil: UiVigil, engine: MaybeEngine, _: UiCaller) -> HTMLResponse:
    now = vigil.clock()
    span = time_range(request, now, default="7d")
    page = Page("Alert review", "review", span, live=False)
    if engine is None:
        return render(request, "review.html", page, alerting=False)
    ops = Operations(vigil, engine)

    def gather() -> tuple[Review, list[Suggestion], list[Episode]]:
        result, suggestions = ops.review(span.start, span.end, now, True)
        judged = [
            e
            for e in engine.history.episodes(since=span.start)
            if e.verdict is not None and span.start <= e.fired_at < span.end
        ]
        return result, suggestions, sorted(judged, key=lambda e: -e.fired_at)

    result, suggestions, judged = await run_in_threadpool(gather)
    return render(
        request,
        "review.html",
        page,
        alerting=True,
        review=result,
        suggestions=suggestions,
        judged=judged,
        tones=TONES,
        download=span.link("/review/report.html"),
    )


@router.get("/review/report.html", response_class=HTMLResponse)
async def review_report(request: Request, vigil: UiVigil, engine: MaybeEngine, _: UiCaller) -> HTMLResponse:
    now = vigil.clock()
    span = time_range(request, now, default="7d")
    if engine is None:
        page = Page("Alert review", "review", span, live=False)
        return render(request, "review.html", page, alerting=False, status=409)
    result, suggestions = await run_in_threadpool(
        Operations(vigil, engine).review, span.start, span.end, now, True
    )
    name = f"vigil-review-{int(span.start)}-{int(span.end)}.html"
    return HTMLResponse(
        review_html(result, suggestions), headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )
