"""``/v1/incidents``: alerts grouped for people, with a timeline (409 when alerting is off)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from vigil.alerting.response.episodes import Episode
from vigil.alerting.response.incidents import Incident, response_times
from vigil.server.api.answers import Answer, errors
from vigil.server.api.deps import EngineDep, OperationsDep
from vigil.server.auth import CallerDep, claimed_actor
from vigil.server.wire import iso, parse_time, read_object

__all__ = ["EpisodeView", "IncidentView", "episode_view", "incident_view", "router"]

router = APIRouter(tags=["incidents"])
_ERRORS = errors(404, 409, 422, detail=(404,))


class TimelineEntryView(Answer):
    at: str
    kind: str
    """``opened``, ``fired``, ``resolved``, ``acknowledged``, ``note``, ``deploy``, ``action``..."""
    actor: str
    text: str
    data: dict[str, Any]


class IncidentView(Answer):
    id: str
    model: str
    title: str
    severity: str
    opened_at: str
    status: str
    """``open``, ``acknowledged`` or ``resolved``."""
    acked_at: str | None
    acked_by: str | None
    resolved_at: str | None
    resolved_by: str | None
    episodes: list[str]
    """The ids of its alert episodes."""
    timeline: list[TimelineEntryView]
    mtta: float | None
    """Seconds from opened to acknowledged."""
    mttr: float | None
    """Seconds from opened to resolved."""


class EpisodeView(Answer):
    """One firing period of one rule on one model (times in seconds since the epoch)."""

    id: str | None = None
    acked_at: float | None
    acked_by: str | None
    fired_at: float
    incident: str | None
    labels: dict[str, str]
    model: str
    notified_at: float | None
    peak: float | None
    resolved_at: float | None
    rule: str
    severity: str
    summary: str
    verdict: str | None
    verdict_by: str | None


class IncidentDetail(IncidentView):
    alerts: list[EpisodeView]
    """Its episodes."""


class ResponseTimes(Answer):
    incidents: int
    acknowledged: int
    resolved: int
    mtta_mean: float | None
    mtta_median: float | None
    mttr_mean: float | None
    mttr_median: float | None


class Incidents(Answer):
    incidents: list[IncidentView]
    response_times: ResponseTimes


def incident_view(incident: Incident) -> dict[str, Any]:
    """An incident with its times in RFC 3339."""
    out = incident.to_dict()
    for key in ("opened_at", "acked_at", "resolved_at"):
        out[key] = iso(out[key]) if out[key] is not None else None
    for entry in out["timeline"]:
        entry["at"] = iso(entry["at"])
    return out


def episode_view(episode: Episode) -> dict[str, Any]:
    """An episode as stored (keys sorted)."""
    body: dict[str, Any] = json.loads(episode.to_json())
    return body


@router.get(
    "/v1/incidents",
    summary="Incidents, newest first, with MTTA and MTTR",
    responses=_ERRORS,
    response_model_exclude_unset=True,
)
async def list_incidents(engine: EngineDep, status: str | None = None, since: str | None = None) -> Incidents:
    """``status``: comma-separated (``open,acknowledged``); ``since``: updated at or after."""
    start = parse_time(since) if since else None
    found = await run_in_threadpool(engine.incidents.all, start)
    if status is not None:
        wanted = {s.strip() for s in status.split(",")}
        found = [i for i in found if i.status in wanted]
    return Incidents.model_validate(
        {"incidents": [incident_view(i) for i in found], "response_times": response_times(found)}
    )


@router.get(
    "/v1/incidents/{id}",
    summary="One incident with its timeline",
    responses=_ERRORS,
    response_model_exclude_unset=True,
)
async def show_incident(id: str, ops: OperationsDep) -> IncidentDetail:
    incident, episodes = await run_in_threadpool(ops.incident, id)
    return IncidentDetail.model_validate(
        {**incident_view(incident), "alerts": [episode_view(e) for e in episodes]}
    )


async def _change(
    id: str, what: str, request: Request, caller: CallerDep, ops: OperationsDep
) -> IncidentView:
    body = await read_object(request)
    actor = claimed_actor(caller, request, body)
    note = str(body.get("note", body.get("text", "")))
    incident = await run_in_threadpool(ops.change_incident, id, what, actor, note)
    return IncidentView.model_validate(incident_view(incident))


@router.post(
    "/v1/incidents/{id}/ack",
    summary="Acknowledge an incident",
    responses=_ERRORS,
    response_model_exclude_unset=True,
)
async def ack_incident(id: str, request: Request, caller: CallerDep, ops: OperationsDep) -> IncidentView:
    """Body (optional): ``note``."""
    return await _change(id, "ack", request, caller, ops)


@router.post(
    "/v1/incidents/{id}/notes",
    summary="Add a note to an incident's timeline",
    responses=_ERRORS,
    response_model_exclude_unset=True,
)
async def note_incident(id: str, request: Request, caller: CallerDep, ops: OperationsDep) -> IncidentView:
    """Body: ``text``."""
    return await _change(id, "note", request, caller, ops)


@router.post(
    "/v1/incidents/{id}/resolve",
    summary="Resolve an incident",
    responses=_ERRORS,
    response_model_exclude_unset=True,
)
async def resolve_incident(id: str, request: Request, caller: CallerDep, ops: OperationsDep) -> IncidentView:
    """Body (optional): ``note``."""
    return await _change(id, "resolve", request, caller, ops)
