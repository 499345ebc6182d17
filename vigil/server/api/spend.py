"""``GET /v1/models/{model}/spenders``: who spends, per user or feature (a tag of the model's
``spend.by``), over a range: the costliest values with cost, tokens and share, the rest as "other"."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from vigil.errors import InputError
from vigil.monitoring.spend import spenders
from vigil.server.api.answers import Answer, errors
from vigil.server.api.deps import VigilDep
from vigil.server.api.queries import From, Ranged, To
from vigil.server.wire import duration_seconds, iso, time_range

__all__ = ["router"]

router = APIRouter(tags=["monitoring"])


class Spender(Answer):
    value: str
    cost: float
    """USD; exact while ``exact``, else low by at most ``other.cost``."""
    tokens: int
    share: float | None
    """Of the range's whole cost (null: no cost)."""


class Rest(Answer):
    cost: float
    tokens: int = 0
    share: float | None


class Spenders(Ranged):
    tag: str
    cost: float
    """The range's whole cost, USD."""
    tokens: int
    """Tokens of the calls that carried the tag."""
    exact: bool
    """Every value's spend kept exactly (nothing folded into ``other``)."""
    top: list[Spender]
    other: Rest
    """The values not kept exactly, summed."""
    unattributed: Rest
    """Cost of calls without the tag."""


@router.get(
    "/v1/models/{model}/spenders",
    summary="Top spenders by user or feature",
    responses=errors(404, 422),
)
async def top_spenders(
    model: str,
    vigil: VigilDep,
    by: Annotated[str, Query(description="a tag of the model's spend.by, e.g. user or feature")] = "user",
    start: From = None,
    end: To = None,
    range_: Annotated[
        str | None, Query(alias="range", description="e.g. 15m, 1h, 1d (instead of from)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 20,
    version: str | None = None,
) -> Spenders:
    spec = vigil.spec(model)
    if by not in spec.spend.by:
        raise InputError(
            f"model {model!r} does not keep spend by {by!r}; it keeps {list(spec.spend.by)} "
            "(add the tag to models.<name>.spend.by in vigil.yaml)"
        )
    span = 3600.0
    if range_ is not None:
        found = duration_seconds(range_)
        if found is None:
            raise InputError(f"range {range_!r} is not a duration; use e.g. 15m, 1h or 1d")
        if start is not None:
            raise InputError("give either range or from, not both")
        span = found
    a, b = time_range(start, end, vigil.clock(), span)
    states = await run_in_threadpool(vigil.query.windows, model, a, b, version)
    found_ = spenders(states.values(), by, limit)
    del found_["tracked"]
    return Spenders.model_validate({"model": model, "from": iso(a), "to": iso(b), **found_})
