"""Every model's health over a range, for the overview: its status from its firing alerts, the numbers
that matter (throughput, error rate, p95 latency, drift share, accuracy or MAE, cost) and their trends.

Throughput, errors, p95 and cost are over the range rounded out to whole trend steps (``trend_step``: at
most ``TREND_POINTS`` of them), from cached rollups (``rollups.Rollups``, read by the metric catalogue as
``Query.series`` reads it). Drift share and accuracy (or MAE) need the feature profiles and the prediction
log: they are read with ``Query.series`` for the last complete hour only (whatever the range: drift of a few
minutes of traffic says little), and kept; the hour's drift is kept in the store by the server once the
hour is complete, so a cold page reads a record per model (``monitoring.drifts``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from vigil.alerting.alert import Alert, AlertStatus
from vigil.alerting.engine import AlertEngine
from vigil.monitoring.retention import DAY, GRACE, HOUR
from vigil.registry import Registry
from vigil.server.ui.charts import Chart, spark
from vigil.server.ui.rollups import Rollups
from vigil.server.ui.timerange import TimeRange, nice_step
from vigil.spec import ModelSpec

__all__ = [
    "COLUMNS",
    "Firing",
    "ModelHealth",
    "firing_alerts",
    "firing_now",
    "health",
    "quality_metric",
    "status_of",
    "trend_step",
]

TREND_POINTS = 24
TRENDS = ("throughput", "error_rate", "latency_p95")
TOTALS = ("events", "throughput", "error_rate", "latency_p95", "cost")

COLUMNS = {
    "name": ("Model", ""),
    "status": ("Status", ""),
    "throughput": ("Throughput", "/s"),
    "error_rate": ("Errors", "%"),
    "latency_p95": ("p95", "ms"),
    "drift_share": ("Drift", "%"),
    "quality": ("Accuracy / MAE", ""),
    "cost": ("Cost", "$"),
}
"""Sortable columns of the overview: key -> (heading, unit)."""

_RANK = {"critical": 2, "warning": 1, "ok": 0}


@dataclass(frozen=True)
class Firing:
    """A firing alert as the dashboard lists it."""

    alertname: str
    model: str
    severity: str
    starts_at: float
    summary: str
    runbook: str
    silenced: bool
    fingerprint: str
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class ModelHealth:
    name: str
    spec: ModelSpec
    status: str
    """``ok``, ``warning`` or ``critical``: the worst severity among its firing alerts not muted."""
    firing: list[Firing]
    values: dict[str, float | None]
    """Over the whole range: events, throughput, error_rate, latency_p95, drift_share, quality, cost."""
    quality: tuple[str, str] | None
    """The metric in the ``quality`` column and its unit (``accuracy``, ``%``), None for LLMs."""
    trends: dict[str, list[tuple[float, float | None]]]
    latest_at: float = math.nan
    """Start of the hour drift share and accuracy are read for (the last complete hour)."""
    latest_step: float = math.nan

    @property
    def trend_charts(self) -> dict[str, Chart]:
        """The trends as sparklines."""
        units = {"throughput": "/s", "error_rate": "%", "latency_p95": "ms"}
        return {
            n: spark(f"{self.name}-{n}", f"{self.name} {n}", units[n], pts) for n, pts in self.trends.items()
        }

    def sort_key(self, column: str) -> tuple[int, float | str]:
        if column == "name":
            return (0, self.name)
        if column == "status":
            return (0, _RANK[self.status])
        value = self.values.get(column)
        if value is None or not math.isfinite(value):
            return (1, 0.0)  # no value: last, whichever way
        return (0, value)


def trend_step(span: float, window: float) -> float:
    """The overview's trend step over ``span`` seconds: the finest giving at most ``TREND_POINTS`` steps,
    but a whole day rather than 6 or 12 hours (from a week up: each step is then one day rollup to read,
    not 6 or 12 hour rollups).

    >>> trend_step(3600, 60), trend_step(86_400, 60), trend_step(7 * 86_400, 60), trend_step(3 * 86_400, 60)
    (300.0, 3600.0, 86400.0, 10800.0)
    """
    step = nice_step(span, window, TREND_POINTS)
    return float(max(step, DAY)) if 6 * HOUR <= step < DAY else step


def quality_metric(spec: ModelSpec) -> tuple[str, str] | None:
    """The label-based metric an overview shows for a model of this task: accuracy or MAE."""
    if spec.task in ("binary", "multiclass"):
        return ("accuracy", "%")
    if spec.task == "regression":
        return ("mae", "")
    return None


def firing_alerts(alerts: Iterable[Alert], muted: Iterable[str] = ()) -> list[Firing]:
    """The firing alerts, worst first; ``muted``: fingerprints of those silenced or inhibited."""
    quiet = set(muted)
    out = [
        Firing(
            alertname=a.labels.get("alertname", ""),
            model=a.labels.get("model", ""),
            severity=a.labels.get("severity", "warning"),
            starts_at=a.starts_at,
            summary=a.annotations.get("summary", ""),
            runbook=a.annotations.get("runbook", ""),
            silenced=a.fingerprint in quiet,
            fingerprint=a.fingerprint,
            labels=dict(a.labels),
        )
        for a in alerts
        if a.status is AlertStatus.FIRING
    ]
    out.sort(key=lambda f: (f.silenced, -_RANK.get(f.severity, 0), f.starts_at))
    return out


def firing_now(engine: AlertEngine | None, now: float) -> list[Firing]:
    """What fires now (none when alerting is off), each marked silenced when a silence or an inhibition
    mutes it, as ``GET /v1/alerts`` says."""
    if engine is None:
        return []
    alerts = engine.alerts()
    silences = engine.silences.all()
    inhibitor = engine.inhibitor()
    muted = [
        a.fingerprint
        for a in alerts
        if inhibitor.mutes(a.labels, now) or any(s.mutes(a.labels, now) for s in silences)
    ]
    return firing_alerts(alerts, muted)


def status_of(firing: Sequence[Firing]) -> str:
    """The worst severity among the alerts not silenced, ``ok`` when none."""
    worst = max((_RANK.get(f.severity, 1) for f in firing if not f.silenced), default=0)
    return {2: "critical", 1: "warning", 0: "ok"}[worst]


def health(
    rollups: Rollups, registry: Registry, names: Sequence[str], span: TimeRange, firing: Sequence[Firing]
) -> list[ModelHealth]:
    """The health of each model of ``names`` over ``span``."""
    out = []
    for name in names:
        spec = registry.get(name)
        if spec is None:
            continue
        mine = [f for f in firing if f.model == name]
        out.append(_one(rollups, name, spec, span, mine))
    return out


def _one(rollups: Rollups, name: str, spec: ModelSpec, span: TimeRange, firing: list[Firing]) -> ModelHealth:
    window = spec.window.total_seconds()
    step = trend_step(span.span, window)
    quality = quality_metric(spec)
    trends, values = rollups.read(name, TRENDS, TOTALS, span.start, span.end, step)
    # drift and labels need the profiles and the prediction log: read for the last complete hour only (its
    # drift is kept in the store once worked out, by the server after its hourly rollup)
    latest = [n for n in ("drift_share", quality[0] if quality else None) if n is not None]
    if spec.baseline is None:
        latest = [n for n in latest if n != "drift_share"]
    recent = float(HOUR)
    last = math.floor((span.end - GRACE) / recent) * recent - recent
    read = rollups.latest(name, latest, last, recent) if latest else {}
    values["drift_share"] = read.get("drift_share")
    values["quality"] = read.get(quality[0]) if quality else None
    return ModelHealth(name, spec, status_of(firing), firing, values, quality, trends, last, recent)
