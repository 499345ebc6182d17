"""``POST /v1/models/{model}/deploys`` and ``GET /v1/annotations``: deploys, which move the live version
and open a grace period for the model's alerts (409 when alerting is off)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from vigil.server.api.answers import Answer, errors
from vigil.server.api.deps import EngineDep, OperationsDep, VigilDep
from vigil.server.auth import CallerDep, claimed_actor
from vigil.server.wire import iso, parse_time, read_object

__all__ = ["router"]

router = APIRouter(tags=["deploys"])


class Annotation(Answer):
    model: str
    version: str
    at: str
    by: str
    note: str
    grace: float | None
    """Seconds its alerts are muted (null: ``alerting.deploy_grace``)."""


class Deployed(Annotation):
    grace_until: str


class Annotations(Answer):
    annotations: list[Annotation]


@router.post(
    "/v1/models/{model}/deploys",
    status_code=201,
    summary="Annotate a deploy (opens a grace period)",
    responses=errors(404, 409, 422),
)
async def deploy(
    model: str, request: Request, caller: CallerDep, vigil: VigilDep, ops: OperationsDep
) -> Deployed:
    """Body: ``version``, ``by``, optional ``note``, ``at`` (default now) and ``grace`` (e.g. ``30m``;
    default ``alerting.deploy_grace``). Records the version as live (the rollback target moves) and
    mutes the model's alerts, bar NoData, for the grace period. Audited."""
    vigil.spec(model)
    body = await read_object(request)
    actor = claimed_actor(caller, request, body)
    annotation, grace = await run_in_threadpool(ops.deploy, model, body, actor)
    return Deployed.model_validate(
        {**annotation.to_dict(), "at": iso(annotation.at), "grace_until": iso(annotation.at + grace)}
    )


@router.get(
    "/v1/annotations",
    summary="Deploy annotations over a range (for dashboards)",
    responses=errors(409, 422),
)
async def list_annotations(
    vigil: VigilDep,
    engine: EngineDep,
    model: str | None = None,
    start: Annotated[str | None, Query(alias="from")] = None,
    end: Annotated[str | None, Query(alias="to")] = None,
) -> Annotations:
    """``from`` defaults to 7 days before ``to`` (default: now)."""
    b = parse_time(end) if end else vigil.clock()
    a = parse_time(start) if start else b - 7 * 86_400
    found = (await run_in_threadpool(engine.deploys)).annotations(model, a, b)
    return Annotations.model_validate({"annotations": [{**x.to_dict(), "at": iso(x.at)} for x in found]})
