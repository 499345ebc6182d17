"""``GET /v1/audit``: who changed what, when, with the state before and after."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from vigil.server.api.answers import Answer, errors
from vigil.server.api.deps import VigilDep
from vigil.server.wire import iso, parse_time

__all__ = ["router"]

router = APIRouter(tags=["audit"])


class Entry(Answer):
    seq: int
    at: str
    actor: str
    """The holder of the API key, or the name the client gave marked ``(unverified)``."""
    action: str
    """Like ``silence.create``, ``incident.ack``, ``action.approve``."""
    target: str
    """Like ``silence/ID``, ``incident/ID``, ``model/NAME/run/ID``."""
    before: Any
    """The state before (null: it did not exist)."""
    after: Any
    """The state after (null: it was removed)."""


class Audit(Answer):
    entries: list[Entry]
    """Oldest first."""


@router.get("/v1/audit", summary="The audit log: who did what, when, before and after", responses=errors(422))
async def audit(
    vigil: VigilDep, since: str | None = None, target: str | None = None, limit: int = 1000
) -> Audit:
    """``target``: one target's entries, or those under it when it ends in ``/``; ``limit``: the newest
    ``limit`` (at most 10,000)."""
    start = parse_time(since) if since else 0.0
    rows = await run_in_threadpool(vigil.audit, start, target, limit)
    return Audit(
        entries=[
            Entry(
                seq=e.seq,
                at=iso(e.at),
                actor=e.actor,
                action=e.action,
                target=e.target,
                before=json.loads(e.before) if e.before else None,
                after=json.loads(e.after) if e.after else None,
            )
            for e in rows
        ]
    )
