"""``/v1/maintenance``: windows that mute matching alerts, once or every week (409 when
alerting is off). The config's windows are listed but changed only in the config."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from vigil.server.api.answers import Answer, Deleted, errors
from vigil.server.api.deps import EngineDep, OperationsDep, VigilDep
from vigil.server.auth import CallerDep, claimed_actor
from vigil.server.wire import read_object

__all__ = ["router"]

router = APIRouter(tags=["maintenance"])
_ERRORS = errors(404, 409, 422, detail=(404,))


class Weekly(Answer):
    days: list[str]
    start: str
    """Local time of day, ``HH:MM``."""
    duration: float
    """Seconds."""
    timezone: str


class Window(Answer):
    """A window: ``starts_at``/``ends_at`` (seconds since the epoch) or ``weekly``."""

    name: str
    matchers: list[str]
    comment: str
    created_by: str
    weekly: Weekly | None = None
    starts_at: float | None = None
    ends_at: float | None = None
    active: bool
    """Whether it mutes now."""
    source: Literal["config", "api"] | None = None
    """Where it comes from (in lists)."""


class Windows(Answer):
    maintenance: list[Window]


@router.get(
    "/v1/maintenance",
    summary="Maintenance windows (the config's and the API's)",
    responses=_ERRORS,
    response_model_exclude_unset=True,
)
async def list_maintenance(vigil: VigilDep, engine: EngineDep) -> Windows:
    now = vigil.clock()
    windows = await run_in_threadpool(engine.maintenance)
    config = {w.name for w in engine.config_maintenance}
    listed = [
        {**w.to_dict(), "active": w.active(now), "source": "config" if w.name in config else "api"}
        for w in windows
    ]
    return Windows.model_validate({"maintenance": listed})


@router.put(
    "/v1/maintenance/{name}",
    summary="Add or replace a maintenance window (audited)",
    responses=_ERRORS,
    response_model_exclude_unset=True,
)
async def put_maintenance(
    name: str, request: Request, caller: CallerDep, vigil: VigilDep, ops: OperationsDep
) -> Window:
    """Body as an ``alerting.maintenance`` entry: ``matchers`` and ``starts_at``/``ends_at`` or
    ``weekly: {days, start, end|duration, timezone}``, with ``comment`` and ``by``."""
    body = await read_object(request)
    actor = claimed_actor(caller, request, body)
    window = await run_in_threadpool(ops.put_maintenance, name, body, actor)
    return Window.model_validate({**window.to_dict(), "active": window.active(vigil.clock())})


@router.delete(
    "/v1/maintenance/{name}",
    summary="Remove a maintenance window added through the API",
    responses=_ERRORS,
)
async def delete_maintenance(name: str, request: Request, caller: CallerDep, ops: OperationsDep) -> Deleted:
    """Audited."""
    await run_in_threadpool(ops.delete_maintenance, name, claimed_actor(caller, request))
    return Deleted(deleted=name)
