"""``/v1/actions``: remediation actions, asking for one, and approving or rejecting a run (409 when
alerting is off). Guards, approval and the audit log are the remediator's (``vigil.actions``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from vigil.actions import Run
from vigil.errors import InputError
from vigil.server.api.answers import Answer, errors
from vigil.server.api.deps import RemediatorDep, VigilDep
from vigil.server.auth import CallerDep, claimed_actor
from vigil.server.wire import iso, parse_time, read_object

__all__ = ["router"]

router = APIRouter(tags=["actions"])
_ERRORS = errors(403, 404, 409, 422, detail=(404, 409))


class ActionView(Answer):
    """An action as configured, secrets hidden: URLs by their origin, header values and tokens by the
    environment variable they come from."""

    name: str
    model: str
    kind: str
    when: dict[str, Any] | None = None
    cooldown: str | None = None
    approval: str | None = None
    approval_timeout: str | None = None
    webhook: str | None = None
    headers: dict[str, str] | None = None
    mlflow: dict[str, Any] | None = None
    command: list[str] | None = None
    timeout: str | None = None
    fallback: str | None = None


class RunView(Answer):
    """One run of an action (times in RFC 3339)."""

    id: str
    action: str
    kind: str
    model: str
    state: str
    """``awaiting_approval``, ``running``, ``succeeded``, ``failed``, ``rejected`` or ``refused``."""
    requested_by: str
    requested_at: str
    reason: str
    from_version: str | None
    to_version: str | None
    fallback: str | None
    trigger: str
    forced: bool
    signals: list[dict[str, Any]]
    approval_required: bool
    approved_by: str | None
    approved_at: str | None
    rejected_by: str | None
    rejected_at: str | None
    started_at: str | None
    finished_at: str | None
    result: str | None
    error: str | None
    """Why it was refused, rejected or failed."""
    response: dict[str, Any] | None
    """What the executor saw."""
    updated_at: str


class Actions(Answer):
    actions: list[ActionView]
    runs: list[RunView]
    """Newest first."""


def _view(run: Run) -> RunView:
    out: dict[str, Any] = run.to_dict()
    for key, value in list(out.items()):
        if key.endswith("_at") and isinstance(value, int | float):
            out[key] = iso(value)
    return RunView.model_validate(out)


async def _acting(work: Callable[[], Run]) -> RunView:
    return _view(await run_in_threadpool(work))


@router.get(
    "/v1/actions",
    summary="Remediation actions and their runs",
    responses=_ERRORS,
    response_model_exclude_unset=True,
)
async def list_actions(
    remediator: RemediatorDep, model: str | None = None, since: str | None = None
) -> Actions:
    start = parse_time(since) if since else None
    runs = await run_in_threadpool(lambda: remediator.runs(model=model, since=start))
    specs = [s.public() for s in remediator.specs]  # never a secret: a header, a token, a URL's
    return Actions.model_validate({"actions": specs, "runs": [_view(r) for r in reversed(runs)]})


@router.post(
    "/v1/actions/{name}/run",
    summary="Ask for an action on a model (guards and approval apply)",
    responses=_ERRORS,
    response_model_exclude_unset=True,
)
async def run_action(
    name: str, request: Request, caller: CallerDep, vigil: VigilDep, remediator: RemediatorDep
) -> RunView:
    """Body: ``model``, ``reason``, ``by``, optional ``force`` (override the cooldown; audited) and
    ``to_version`` (a rollback's target). The run comes back executed, awaiting approval, or refused
    with why."""
    body = await read_object(request)
    actor = claimed_actor(caller, request, body)
    model, reason = body.get("model"), str(body.get("reason", "")).strip()
    if not isinstance(model, str) or not reason:
        raise InputError("give the 'model' and a 'reason'")
    force, to_version = bool(body.get("force")), body.get("to_version")
    return await _acting(
        lambda: remediator.request(
            name, model, actor, reason, vigil.clock(), force=force, to_version=to_version
        )
    )


@router.post(
    "/v1/actions/runs/{id}/approve",
    summary="Approve a run awaiting approval (four eyes)",
    responses=_ERRORS,
    response_model_exclude_unset=True,
)
async def approve_run(
    id: str, request: Request, caller: CallerDep, vigil: VigilDep, remediator: RemediatorDep
) -> RunView:
    """Needs a named API key other than the requester's."""
    actor = claimed_actor(caller, request, await read_object(request))
    return await _acting(lambda: remediator.approve(id, actor, vigil.clock()))


@router.post(
    "/v1/actions/runs/{id}/reject",
    summary="Reject a run awaiting approval",
    responses=_ERRORS,
    response_model_exclude_unset=True,
)
async def reject_run(
    id: str, request: Request, caller: CallerDep, vigil: VigilDep, remediator: RemediatorDep
) -> RunView:
    """Body (optional): ``reason``."""
    body = await read_object(request)
    actor = claimed_actor(caller, request, body)
    reason = str(body.get("reason", "")).strip() or "rejected"
    return await _acting(lambda: remediator.reject(id, actor, reason, vigil.clock()))
