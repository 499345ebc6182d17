"""``/alerts``: the alerts console (firing, pending, silenced and inhibited; grouped and filtered through
the query string: ``?model=credit&state=firing&group=severity``) with the silences, and its forms:
acknowledge, mark a real problem or a false alarm, comment (a note on the alert's incident), silence (the
form at ``/alerts/silences/new``, prefilled from an alert) and expire a silence. Each form calls the
service the JSON route calls, so the audit log names the caller."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from vigil.alerting.matchers import MatcherError, matches_all, parse_matcher
from vigil.alerting.mute.silences import silence_from_dict
from vigil.alerting.response.episodes import episode_of
from vigil.errors import InputError
from vigil.server.errors import NotFound
from vigil.server.ui.alert_console import (
    FILTERS,
    GROUPS,
    STATES,
    console,
    facets,
    filter_rows,
    group_rows,
    prefill,
)
from vigil.server.ui.deps import MaybeEngine, UiCaller, UiVigil
from vigil.server.ui.forms import acted, need_engine, operations, read_form
from vigil.server.ui.render import Page, render
from vigil.server.ui.views.common import time_range
from vigil.server.wire import duration_seconds

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

DURATIONS = ("30m", "1h", "2h", "4h", "8h", "1d", "3d", "7d")
"""Durations offered for a silence (any duration may be typed)."""


@router.get("/alerts", response_class=HTMLResponse)
async def alerts(request: Request, vigil: UiVigil, engine: MaybeEngine, caller: UiCaller) -> HTMLResponse:
    now = vigil.clock()
    span = time_range(request, now)
    page = Page("Alerts", "alerts", span)
    if engine is None:
        return render(request, "alerts.html", page, alerting=False, caller=caller, now=now)
    found = await run_in_threadpool(console, engine, vigil.registry, now)
    params = request.query_params
    chosen = {k: params.get(k, "") for k, _ in FILTERS}
    group = params.get("group", "model")
    shown = filter_rows(found.rows, chosen)
    return render(
        request,
        "alerts.html",
        page,
        alerting=True,
        console=found,
        groups=group_rows(shown, group),
        shown=len(shown),
        facets=facets(found.rows),
        filters=FILTERS,
        chosen=chosen,
        group=group if group in GROUPS else "model",
        group_options=GROUPS,
        states=STATES,
        caller=caller,
        now=now,
    )


@router.get("/alerts/silences/new", response_class=HTMLResponse)
async def new_silence(
    request: Request,
    vigil: UiVigil,
    engine: MaybeEngine,
    caller: UiCaller,
    fingerprint: str = "",
    matchers: str = "",
    duration: str = "2h",
    comment: str = "",
) -> HTMLResponse:
    """The silence form: prefilled from the alert ``fingerprint`` (its rule and model), or with the
    ``matchers`` given (one per line); it lists the current alerts those matchers mute."""
    page = Page("New silence", "alerts", live=False)
    if engine is None:
        return render(request, "silence.html", page, alerting=False, caller=caller)
    current = await run_in_threadpool(engine.alerts)
    alert = next((a for a in current if a.fingerprint == fingerprint), None) if fingerprint else None
    lines = [line.strip() for line in matchers.splitlines() if line.strip()]
    if not lines and alert is not None:
        lines = prefill(alert.labels)
    problem, muted = None, []
    try:
        parsed = [parse_matcher(line) for line in lines]
        muted = [a for a in current if parsed and matches_all(parsed, a.labels)]
    except MatcherError as exc:
        problem = str(exc)
    return render(
        request,
        "silence.html",
        page,
        alerting=True,
        alert=alert,
        matchers="\n".join(lines),
        duration=duration,
        comment=comment,
        durations=DURATIONS,
        muted=muted,
        problem=problem,
        caller=caller,
    )


@router.post("/alerts/silences")
async def create_silence(request: Request, vigil: UiVigil, engine: MaybeEngine, caller: UiCaller) -> Response:
    form = await read_form(request, caller, "/alerts")

    def create() -> None:
        found = need_engine(engine)
        now = vigil.clock()
        lines = [line.strip() for line in form.get("matchers").splitlines() if line.strip()]
        if not lines:
            raise InputError('give at least one matcher, one per line, e.g. alertname="CreditErrors"')
        seconds = duration_seconds(form.need("duration", "the silence's duration, e.g. 2h"))
        if seconds is None or seconds <= 0:
            raise InputError(f"the duration must be like 30m, 2h or 1d (got {form.get('duration')!r})")
        comment = form.need("comment", "a comment: why is this silenced?")
        silence = silence_from_dict(
            {
                "matchers": lines,
                "starts_at": now,
                "ends_at": now + seconds,
                "created_by": form.actor,
                "comment": comment,
            }
        )
        found.silences.create(silence, now)

    return await acted(request, form, "Silence not created", "alerts", create, anchor="silences")


@router.post("/alerts/silences/{id}/expire")
async def expire_silence(
    id: str, request: Request, vigil: UiVigil, engine: MaybeEngine, caller: UiCaller
) -> Response:
    form = await read_form(request, caller, "/alerts")

    def expire() -> None:
        found = need_engine(engine)
        if found.silences.get(id) is None:
            raise NotFound(f"no silence {id!r}")
        found.silences.expire(id, form.actor, vigil.clock())

    return await acted(request, form, "Silence not expired", "alerts", expire, anchor="silences")


@router.post("/alerts/{fingerprint}/ack")
async def acknowledge(
    fingerprint: str, request: Request, vigil: UiVigil, engine: MaybeEngine, caller: UiCaller
) -> Response:
    form = await read_form(request, caller, "/alerts")

    def ack() -> None:
        operations(vigil, engine).acknowledge_alert(fingerprint, form.actor, form.get("note"))

    return await acted(request, form, "Not acknowledged", "alerts", ack, anchor=f"alert-{fingerprint}")


@router.post("/alerts/{fingerprint}/verdict")
async def verdict(
    fingerprint: str, request: Request, vigil: UiVigil, engine: MaybeEngine, caller: UiCaller
) -> Response:
    """``verdict``: ``true`` (a real problem) or ``false`` (a false alarm); ``episode`` for an alert no
    longer current."""
    form = await read_form(request, caller, "/alerts")

    def judge() -> None:
        value = form.get("verdict")
        if value not in ("true", "false"):
            raise InputError("the verdict must be true (a real problem) or false (a false alarm)")
        text: Literal["true", "false"] = "true" if value == "true" else "false"
        operations(vigil, engine).verdict(fingerprint, form.get("episode") or None, text, form.actor)

    anchor = "alerts" if fingerprint == "-" else f"alert-{fingerprint}"  # "-": a past episode's
    return await acted(request, form, "Not judged", "alerts", judge, anchor=anchor)


@router.post("/alerts/{fingerprint}/comment")
async def comment(
    fingerprint: str, request: Request, vigil: UiVigil, engine: MaybeEngine, caller: UiCaller
) -> Response:
    """A comment on a firing alert: a note on its incident's timeline, naming the alert."""
    form = await read_form(request, caller, "/alerts")

    def note() -> None:
        found = need_engine(engine)
        text = form.need("text", "the comment's text")
        alert = next((a for a in found.alerts() if a.fingerprint == fingerprint), None)
        if alert is None:
            raise NotFound(f"no current alert with fingerprint {fingerprint!r}")
        episode = found.history.get(episode_of(alert))
        if episode is None or episode.incident is None:
            raise NotFound("that alert belongs to no incident yet (it is noted at the next evaluation)")
        name = alert.labels.get("alertname", "")
        operations(vigil, engine).change_incident(episode.incident, "note", form.actor, f"{name}: {text}")

    return await acted(request, form, "Comment not added", "alerts", note, anchor=f"alert-{fingerprint}")
