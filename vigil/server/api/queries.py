"""``GET /v1/models/{model}/metrics``, ``/drift`` and ``/events``: a model's numbers over a time range.
Ranges default to the hour before ``to`` (default: now). Label metrics come with ``support`` beside
``series``: per step, the labels behind the value, their coverage and, for a proportion, its Wilson
interval."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from vigil.errors import InputError
from vigil.monitoring.query import METRICS, Reading, parse_segment
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


class SupportView(Answer):
    """What a label metric's value of one step rests on."""

    time: str
    labelled: int
    """Predictions of the step whose label has arrived."""
    label_coverage: float | None
    """Their share of the step's predictions (null: no predictions)."""
    lower: float | None = None
    """A proportion's 95% Wilson interval (accuracy, precision, recall, positive_rate...), where the step
    has labels for it; absent for other metrics."""
    upper: float | None = None


class Series(Ranged):
    series: dict[str, list[tuple[str, float | int | None]]]
    """Per metric, ``[time, value]`` pairs, one per step (null: no value in that step)."""
    support: dict[str, list[SupportView]] | None = None
    """Per label metric asked for, one entry per step beside ``series``: its labels, label coverage and,
    for a proportion, its Wilson interval; absent when no label metric was asked for."""


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
    multivariate: dict[str, Any] | None = None
    """Joint drift over the features (``vigil report``'s section; the live report has none: read the
    ``multivariate_drift`` metric)."""
    importance: dict[str, Any] | None = None
    """Which drifted columns matter to the model's output (files with the model's output only)."""


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
    read = partial(vigil.query.readings, model, wanted, a, b, seconds, version, chosen, support=True)
    readings = await run_in_threadpool(read)
    body: dict[str, Any] = {
        "model": model,
        "from": iso(a),
        "to": iso(b),
        "series": {n: [(iso(r.start), r.value) for r in got] for n, got in readings.items()},
    }
    support = {
        n: [_support(r) for r in got]
        for n, got in readings.items()
        if any(r.support is not None for r in got)
    }
    if support:
        body["support"] = support
    return Series.model_validate(body)


def _support(reading: Reading) -> dict[str, Any]:
    s = reading.support
    if s is None:
        return {"time": iso(reading.start), "labelled": 0, "label_coverage": None}
    out: dict[str, Any] = {
        "time": iso(reading.start),
        "labelled": s.labelled,
        "label_coverage": s.label_coverage,
    }
    if s.lower is not None and s.upper is not None:
        out |= {"lower": s.lower, "upper": s.upper}
    return out


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
