"""``/v1/silences``: muting alerts by matchers for a time (409 when alerting is off)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from vigil.alerting.mute.silences import Silence, silence_from_dict, silence_to_dict
from vigil.errors import InputError
from vigil.server.api.answers import Answer, errors
from vigil.server.api.deps import EngineDep, VigilDep
from vigil.server.auth import CallerDep, claimed_actor
from vigil.server.errors import NotFound
from vigil.server.wire import duration_seconds, iso, read_object, when

__all__ = ["router"]

router = APIRouter(tags=["silences"])
_ERRORS = errors(404, 409, 422, detail=(404,))


class SilenceView(Answer):
    id: str
    matchers: list[str]
    starts_at: str
    ends_at: str
    created_by: str
    comment: str
    state: str
    """``pending``, ``active`` or ``expired``."""


class Silences(Answer):
    silences: list[SilenceView]


def _view(s: Silence, now: float) -> SilenceView:
    out = silence_to_dict(s, now)
    out["starts_at"], out["ends_at"] = iso(s.starts_at), iso(s.ends_at)
    return SilenceView.model_validate(out)


@router.get("/v1/silences", summary="Silences (pending, active and expired)", responses=_ERRORS)
async def list_silences(vigil: VigilDep, engine: EngineDep) -> Silences:
    now = vigil.clock()
    found = await run_in_threadpool(engine.silences.all)
    return Silences(silences=[_view(s, now) for s in sorted(found, key=lambda s: -s.starts_at)])


@router.post("/v1/silences", status_code=201, summary="Create a silence", responses=_ERRORS)
async def create_silence(
    request: Request, caller: CallerDep, vigil: VigilDep, engine: EngineDep
) -> SilenceView:
    """Body: ``matchers`` (a list like ``["model=\\"credit\\"", "alertname=~\\"Drift.*\\""]``),
    ``starts_at`` (default now), ``ends_at`` or ``duration`` (e.g. ``2h``), ``comment``, ``by``. Audited."""
    body = await read_object(request)
    actor = claimed_actor(caller, request, body)
    now = vigil.clock()
    starts = when(body["starts_at"], "starts_at") if "starts_at" in body else now
    if "ends_at" in body:
        ends = when(body["ends_at"], "ends_at")
    elif "duration" in body:
        seconds = duration_seconds(body["duration"])
        if seconds is None:
            raise InputError(f"'duration' must be like 30m, 2h or 1d (got {body['duration']!r})")
        ends = starts + seconds
    else:
        raise InputError("give 'ends_at' or 'duration' (a silence must end)")
    if not str(body.get("comment", "")).strip():
        raise InputError("give a 'comment': why is this silenced?")
    silence = silence_from_dict(
        {
            "matchers": body.get("matchers", []),
            "starts_at": starts,
            "ends_at": ends,
            "created_by": actor,
            "comment": body["comment"],
        }
    )
    made = await run_in_threadpool(engine.silences.create, silence, now)
    return _view(made, now)


@router.delete("/v1/silences/{id}", summary="Expire a silence now", responses=_ERRORS)
async def expire_silence(
    id: str, request: Request, caller: CallerDep, vigil: VigilDep, engine: EngineDep
) -> SilenceView:
    """Audited."""
    actor = claimed_actor(caller, request)
    if await run_in_threadpool(engine.silences.get, id) is None:
        raise NotFound(f"no silence {id!r}")
    ended = await run_in_threadpool(engine.silences.expire, id, actor, vigil.clock())
    return _view(ended, vigil.clock())
