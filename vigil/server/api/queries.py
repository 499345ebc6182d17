"""``GET /v1/models/{model}/metrics``, ``/drift`` and ``/events``: a model's numbers over a time range.
Ranges default to the hour before ``to`` (default: now)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from vigil.errors import InputError
from vigil.monitoring.query import METRICS, parse_segment
from vigil.server.api.answers import Answer, errors
from vigil.server.api.deps import VigilDep
from vigil.server.wire import iso, parse_step, time_range

__all__ = ["router"]

router = APIRouter(tags=["monitoring"])

From = Annotated[str | None, Query(alias="from", description="RFC 3339 or epoch seconds")]
To = Annotated[str | None, Query(alias="to", description="RFC 3339 or epoch seconds; default now")]
_ERRORS = errors(404, 422)


class Ranged(Answer):
    model: str
    start: str = Field(alias="from")
    end: str = Field(alias="to")


class Series(Ranged):
    series: dict[str, list[tuple[str, float | int | None]]]
    """Per metric, ``[time, value]`` pairs, one per step (null: no value in that step)."""


class ColumnDriftView(Answer):
    type: str
    method: str
    method_title: str
    statistic: float | None
    p_value: float | None
    p_value_adjusted: float | None
    alpha: float | None
    effect: float | None
    threshold: float | None
    threshold_source: str
    drift: bool
    error_bound: float | None = None
    note: str | None = None
    reference: dict[str, Any]
    current: dict[str, Any]
    distribution: dict[str, Any] | None = None


class CheckView(Answer):
    check: str
    column: str | None
    status: str
    message: str
    values: dict[str, Any]


class Drift(Ranged):
    """The drift report of the range against the model's baseline (as ``vigil report`` writes it)."""

    vigil_version: str
    generated_at: str
    reference: dict[str, Any]
    current: dict[str, Any]
    settings: dict[str, Any]
    dataset_drift: bool
    drift_share: float
    n_drifted: int
    n_tested: int
    columns: dict[str, ColumnDriftView]
    skipped: dict[str, str]
    quality: list[CheckView]


class EventView(Answer):
    """One event as it was sent (redacted as stored)."""

    features: dict[str, Any]
    segments: dict[str, Any]
    timestamp: str | None = None
    version: str | None = None
    request_id: str | None = None
    latency_ms: float | None = None
    error: str | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    cost: float | None = None
    probabilities: Any = None
    score: float | None = None
    prediction: Any = None


class Events(Ranged):
    events: list[EventView]


@router.get(
    "/v1/models/{model}/metrics",
    summary="Metric series over a range",
    responses=_ERRORS,
    response_model_exclude_unset=True,
)
async def metrics(
    model: str,
    vigil: VigilDep,
    names: Annotated[
        str, Query(description="comma-separated: " + ", ".join(METRICS))
    ] = "throughput,error_rate,latency_p95",
    start: From = None,
    end: To = None,
    step: Annotated[str | None, Query(description="seconds, or 1m / 1h / 1d")] = None,
    version: str | None = None,
    segment: Annotated[
        str | None, Query(description="e.g. region=eu (label-based and prediction metrics only)")
    ] = None,
) -> Series:
    a, b = time_range(start, end, vigil.clock())
    try:
        chosen = parse_segment(segment) if segment else None
    except ValueError as exc:
        raise InputError(f"segment: {exc}") from None
    seconds = parse_step(step) if step else None
    vigil.spec(model)
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    series = await run_in_threadpool(vigil.query.series, model, wanted, a, b, seconds, version, chosen)
    points = {n: [(iso(t), v) for t, v in pairs] for n, pairs in series.items()}
    return Series.model_validate({"model": model, "from": iso(a), "to": iso(b), "series": points})


@router.get(
    "/v1/models/{model}/drift",
    summary="Drift against the baseline",
    responses=_ERRORS,
    response_model_exclude_unset=True,
)
async def drift(
    model: str, vigil: VigilDep, start: From = None, end: To = None, version: str | None = None
) -> Drift:
    a, b = time_range(start, end, vigil.clock())
    vigil.spec(model)
    report = await run_in_threadpool(vigil.query.drift, model, a, b, version)
    return Drift.model_validate({"model": model, "from": iso(a), "to": iso(b), **report.to_dict()})


@router.get(
    "/v1/models/{model}/events",
    summary="A sample of raw events",
    responses=_ERRORS,
    response_model_exclude_unset=True,
)
async def sample_events(
    model: str,
    vigil: VigilDep,
    start: From = None,
    end: To = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    version: str | None = None,
) -> Events:
    a, b = time_range(start, end, vigil.clock())
    vigil.spec(model)
    events = await run_in_threadpool(vigil.query.events, model, a, b, limit, version)
    return Events.model_validate({"model": model, "from": iso(a), "to": iso(b), "events": events})
