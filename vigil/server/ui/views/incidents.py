"""``/incidents``: the incidents updated in the page's range with MTTA and MTTR (filtered through the query
string: ``?status=open&model=credit``); ``/incidents/{id}``: one incident's timeline, notes, alerts and
remediation runs, with its forms: acknowledge, add a note, resolve, request an action, approve or reject a
run (four eyes: the remediator refuses an approval by the requester, and one without a named key, and the
page says why)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from vigil.alerting.response.incidents import response_times
from vigil.errors import InputError
from vigil.server.errors import AlertingOff, NotFound
from vigil.server.ui.deps import MaybeEngine, UiCaller, UiVigil
from vigil.server.ui.forms import Form, acted, need_engine, operations, read_form
from vigil.server.ui.incident_page import IncidentPage, incident_page
from vigil.server.ui.render import Page, render
from vigil.server.ui.views.common import time_range

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

STATUSES = ("open", "acknowledged", "resolved")


@router.get("/incidents", response_class=HTMLResponse)
async def incidents(request: Request, vigil: UiVigil, engine: MaybeEngine, _: UiCaller) -> HTMLResponse:
    now = vigil.clock()
    span = time_range(request, now, default="7d")
    page = Page("Incidents", "incidents", span)
    if engine is None:
        return render(request, "incidents.html", page, alerting=False, now=now)
    found = await run_in_threadpool(engine.incidents.all, span.start)
    params = request.query_params
    chosen = {"status": params.get("status", ""), "model": params.get("model", "")}
    shown = [
        i
        for i in found
        if (not chosen["status"] or i.status == chosen["status"])
        and (not chosen["model"] or i.model == chosen["model"])
    ]
    return render(
        request,
        "incidents.html",
        page,
        alerting=True,
        incidents=shown,
        total=len(found),
        times=response_times(shown),
        models=sorted({i.model for i in found}),
        statuses=STATUSES,
        chosen=chosen,
        now=now,
    )


@router.get("/incidents/{id}", response_class=HTMLResponse)
async def incident(
    id: str, request: Request, vigil: UiVigil, engine: MaybeEngine, caller: UiCaller
) -> HTMLResponse:
    now = vigil.clock()
    span = time_range(request, now, default="7d")
    if engine is None:
        page = Page("Incident", "incidents", span, live=False)
        return render(request, "incidents.html", page, alerting=False, now=now)
    try:
        found: IncidentPage = await run_in_threadpool(incident_page, vigil, engine, id)
    except NotFound as exc:
        page = Page("Unknown incident", "incidents", span, live=False)
        return render(request, "refused.html", page, status=404, why=str(exc), back="/incidents")
    return render(request, "incident.html", Page(id, "incidents", span), p=found, caller=caller, now=now)


def _back(id: str) -> str:
    return f"/incidents/{id}"


async def _change(
    id: str, what: str, title: str, request: Request, vigil: UiVigil, engine: MaybeEngine, caller: UiCaller
) -> Response:
    form = await read_form(request, caller, _back(id))

    def change() -> None:
        text = form.get("text") if what == "note" else form.get("note")
        operations(vigil, engine).change_incident(id, what, form.actor, text)

    return await acted(request, form, title, "incidents", change, anchor="timeline")


@router.post("/incidents/{id}/notes")
async def note(id: str, request: Request, vigil: UiVigil, engine: MaybeEngine, caller: UiCaller) -> Response:
    return await _change(id, "note", "Note not added", request, vigil, engine, caller)


@router.post("/incidents/{id}/ack")
async def ack(id: str, request: Request, vigil: UiVigil, engine: MaybeEngine, caller: UiCaller) -> Response:
    return await _change(id, "ack", "Not acknowledged", request, vigil, engine, caller)


@router.post("/incidents/{id}/resolve")
async def resolve(
    id: str, request: Request, vigil: UiVigil, engine: MaybeEngine, caller: UiCaller
) -> Response:
    return await _change(id, "resolve", "Not resolved", request, vigil, engine, caller)


@router.post("/incidents/{id}/actions")
async def request_action(
    id: str, request: Request, vigil: UiVigil, engine: MaybeEngine, caller: UiCaller
) -> Response:
    """Ask for an action on the incident's model (``action``, ``reason``, optional ``to_version`` and
    ``force``); guards and approval apply, and the run is listed on the page whatever came of it."""
    form = await read_form(request, caller, _back(id))

    def ask() -> None:
        found = operations(vigil, engine).incident(id)[0]
        remediator = vigil.remediator
        if remediator is None:
            raise AlertingOff()
        action = form.need("action", "the action to run")
        reason = form.need("reason", "a reason: it is kept with the run and in the audit log")
        to_version = form.get("to_version") or None
        remediator.request(
            action,
            found.model,
            form.actor,
            reason,
            vigil.clock(),
            force=form.get("force") == "yes",
            to_version=to_version,
        )

    return await acted(request, form, "Action not requested", "incidents", ask, anchor="actions")


def _decide(form: Form, run_id: str, vigil: UiVigil, engine: MaybeEngine, approve: bool) -> None:
    need_engine(engine)
    remediator = vigil.remediator
    if remediator is None:
        raise AlertingOff()
    if approve:
        remediator.approve(run_id, form.actor, vigil.clock())
    else:
        reason = form.get("reason") or "rejected"
        if len(reason) > 500:
            raise InputError("the reason is over 500 characters")
        remediator.reject(run_id, form.actor, reason, vigil.clock())


@router.post("/actions/runs/{run_id}/approve")
async def approve(
    run_id: str, request: Request, vigil: UiVigil, engine: MaybeEngine, caller: UiCaller
) -> Response:
    form = await read_form(request, caller, "/incidents")
    return await acted(
        request,
        form,
        "Not approved",
        "incidents",
        lambda: _decide(form, run_id, vigil, engine, True),
        "actions",
    )


@router.post("/actions/runs/{run_id}/reject")
async def reject(
    run_id: str, request: Request, vigil: UiVigil, engine: MaybeEngine, caller: UiCaller
) -> Response:
    form = await read_form(request, caller, "/incidents")
    return await acted(
        request,
        form,
        "Not rejected",
        "incidents",
        lambda: _decide(form, run_id, vigil, engine, False),
        "actions",
    )
