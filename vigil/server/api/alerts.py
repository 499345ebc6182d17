"""``/v1/alerts`` and ``/v1/episodes``: what fires now, acknowledging it, and judging it."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from vigil.errors import InputError
from vigil.server.api.answers import Answer, errors
from vigil.server.api.deps import EngineDep, MaybeEngineDep, OperationsDep, VigilDep
from vigil.server.api.incidents import EpisodeView, IncidentView, episode_view, incident_view
from vigil.server.auth import CallerDep, claimed_actor
from vigil.server.wire import iso, parse_time, read_object

__all__ = ["router"]

router = APIRouter(tags=["alerts"])
_ERRORS = errors(404, 409, 422, detail=(404,))


class AlertView(Answer):
    labels: dict[str, str]
    annotations: dict[str, str]
    status: str
    starts_at: str = Field(alias="startsAt")
    ends_at: str | None = Field(alias="endsAt")
    fingerprint: str
    silenced_by: list[str] = Field(alias="silencedBy")
    """The ids of the silences that mute it."""
    inhibited: bool
    state: Literal["active", "suppressed"]


class Alerts(Answer):
    alerts: list[AlertView]
    note: str | None = None
    """Set when alerting is off."""


class Verdict(Answer):
    episode: str
    verdict: Literal["true", "false"]
    by: str


class Episodes(Answer):
    episodes: list[EpisodeView]


@router.get(
    "/v1/alerts",
    summary="Current alerts (firing, and resolved not yet sent)",
    response_model_exclude_unset=True,
)
async def list_alerts(vigil: VigilDep, engine: MaybeEngineDep) -> Alerts:
    """Alertmanager's shape, with ``status.state`` ``active`` or ``suppressed`` and the ids of the
    silences that mute each alert (``silencedBy``) and whether an inhibition does (``inhibited``)."""
    if engine is None:
        return Alerts(alerts=[], note="alerting is off: add an alerting: section to vigil.yaml")
    now = vigil.clock()
    alerts = engine.alerts()
    silences = await run_in_threadpool(engine.silences.all)
    inhibitor = engine.inhibitor()
    out = []
    for a in alerts:
        silenced = [s.id for s in silences if s.mutes(a.labels, now)]
        inhibited = inhibitor.mutes(a.labels, now)
        view = {
            "labels": dict(a.labels),
            "annotations": dict(a.annotations),
            "status": str(a.status.value),
            "startsAt": iso(a.starts_at),
            "endsAt": iso(a.ends_at) if a.ends_at else None,
            "fingerprint": a.fingerprint,
            "silencedBy": silenced,
            "inhibited": inhibited,
            "state": "suppressed" if silenced or inhibited else "active",
        }
        out.append(AlertView.model_validate(view))
    return Alerts(alerts=out)


@router.post(
    "/v1/alerts/{fingerprint}/ack",
    summary="Acknowledge the incident of a firing alert",
    responses=_ERRORS,
    response_model_exclude_unset=True,
)
async def ack_alert(
    fingerprint: str, request: Request, caller: CallerDep, ops: OperationsDep
) -> IncidentView:
    """Body (optional): ``note``."""
    body = await read_object(request)
    actor = claimed_actor(caller, request, body)
    incident = await run_in_threadpool(ops.acknowledge_alert, fingerprint, actor, str(body.get("note", "")))
    return IncidentView.model_validate(incident_view(incident))


@router.post(
    "/v1/alerts/{fingerprint}/verdict",
    summary="Mark an alert as a real problem or a false alarm",
    responses=_ERRORS,
)
async def verdict(fingerprint: str, request: Request, caller: CallerDep, ops: OperationsDep) -> Verdict:
    """Body: ``verdict`` (true: a real problem; false: it should not have fired) and, for an alert no
    longer current, its ``episode``. Audited."""
    body = await read_object(request)
    actor = claimed_actor(caller, request, body)
    value = body.get("verdict")
    if value not in ("true", "false", True, False):
        raise InputError("'verdict' must be true (a real problem) or false (should not have fired)")
    text: Literal["true", "false"] = "true" if value in ("true", True) else "false"
    which = await run_in_threadpool(ops.verdict, fingerprint, body.get("episode"), text, actor)
    return Verdict(episode=which, verdict=text, by=actor)


@router.get(
    "/v1/episodes",
    summary="Alert episodes (one per firing period of a rule on a model)",
    responses=_ERRORS,
    response_model_exclude_unset=True,
)
async def episodes(vigil: VigilDep, engine: EngineDep, since: str | None = None) -> Episodes:
    """``since``: fired at or after (default: the last 7 days)."""
    start = parse_time(since) if since else vigil.clock() - 7 * 86_400
    found = await run_in_threadpool(engine.history.episodes, start)
    return Episodes.model_validate({"episodes": [{"id": e.id, **episode_view(e)} for e in found]})
