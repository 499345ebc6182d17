"""One model over a range, for its page: the charts (service, performance, cost, hosts), the drift heatmap
(features × time), the drift and quality report of the range, its alert episodes, firing alerts and the
history of its live version.

Everything comes from ``Query`` (``series``, ``drift``) and the store's records, as the JSON API reads
them; a chart at step ``s`` plots what ``GET /v1/models/{m}/metrics?step=s`` answers for the same range.
The page reads through one ``Query.snapshot``: its charts, heatmap, report and null rates share the
windows they read.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from vigil.actions.deployments import KIND as DEPLOYMENT_KIND
from vigil.actions.deployments import Change, Deployment
from vigil.alerting.mute.deploys import DEPLOY_KIND, DeployAnnotation
from vigil.alerting.response.episodes import Episode, History
from vigil.comparison.report import Report
from vigil.errors import InputError
from vigil.events import PREDICTION, SCORE
from vigil.monitoring.query import Query
from vigil.monitoring.window import WindowState
from vigil.server.ui.charts import Band, Chart, Mark
from vigil.server.ui.health import Firing, quality_metric
from vigil.server.ui.realised import RealisedPanel, realised_panel
from vigil.server.ui.timerange import TimeRange, nice_step
from vigil.spec import ModelSpec
from vigil.store.base import Store

__all__ = ["HEAT_POINTS", "ModelDetail", "Panel", "changes", "deploy_marks", "heat_colour", "model_detail"]

HEAT_POINTS = 30
"""Most columns of the drift heatmap."""
EPISODES_BEFORE = 7 * 86_400.0
"""How far before a range episodes are looked for (one that started then may still be firing)."""


@dataclass(frozen=True)
class Panel:
    """A chart and the metrics it plots: (metric name, label)."""

    id: str
    title: str
    unit: str
    metrics: Sequence[tuple[str, str]]
    percent: bool = False


SERVICE = (
    Panel("throughput", "Throughput", "events/s", [("throughput", "throughput")]),
    Panel("errors", "Error rate", "%", [("error_rate", "error rate")], percent=True),
    Panel(
        "latency",
        "Latency",
        "ms",
        [("latency_p50", "p50"), ("latency_p95", "p95"), ("latency_p99", "p99")],
    ),
)
QUALITY = (Panel("nulls", "Null rate, all features", "%", [("null_rate", "null rate")], percent=True),)
COST = (
    Panel("cost", "Cost", "USD", [("cost", "cost")]),
    Panel("tokens", "Tokens", "tokens", [("tokens_in", "in"), ("tokens_out", "out")]),
)
HOSTS = (
    Panel(
        "hosts",
        "Hosts",
        "percent",
        [
            ("host_cpu_percent", "CPU"),
            ("host_memory_percent", "memory"),
            ("host_gpu_percent", "GPU"),
            ("host_gpu_memory_percent", "GPU memory"),
        ],
    ),
)


def _performance(spec: ModelSpec) -> tuple[Panel, ...]:
    main = quality_metric(spec)
    panels = []
    if main is not None and main[0] == "accuracy":
        metrics = [("accuracy", "accuracy")]
        if spec.task == "binary":
            metrics += [("precision", "precision"), ("recall", "recall"), ("f1", "F1")]
        panels.append(Panel("performance", "Performance", "ratio", metrics))
        if spec.task == "binary":  # from the scores, before labels (needs a baseline of labelled scores)
            estimated = [("estimated_accuracy", "estimated"), ("accuracy", "realised")]
            panels.append(Panel("estimated", "Accuracy, estimated and realised", "ratio", estimated))
    elif main is not None:
        metrics = [("mae", "MAE"), ("rmse", "RMSE")]
        panels.append(Panel("performance", "Error of the predictions", "", metrics))
    panels.append(Panel("coverage", "Label coverage", "%", [("label_coverage", "coverage")], percent=True))
    panels.append(Panel("lag", "Label lag (median)", "s", [("label_lag_p50", "lag p50")]))
    return tuple(panels)


@dataclass
class HeatRow:
    feature: str
    threshold: float | None
    cells: list[tuple[float, float | None]]
    """(step start, effect size) per column."""


@dataclass
class ModelDetail:
    name: str
    spec: ModelSpec
    step: float
    sections: dict[str, list[Chart]]
    """Charts by section: ``service``, ``quality``, ``performance``, ``cost``, ``hosts``."""
    heat_step: float
    heat: list[HeatRow]
    report: Report | None
    report_problem: str | None
    episodes: list[Episode]
    deployment: Deployment | None
    previous: str | None
    firing: list[Firing]
    events: float
    null_rates: dict[str, float | None] = field(default_factory=dict)
    realised: RealisedPanel | None = None
    """The label figures over the whole range, their support and the reliability diagram."""

    @property
    def heat_times(self) -> list[float]:
        return [t for t, _ in self.heat[0].cells] if self.heat else []


def heat_colour(effect: float | None, threshold: float | None) -> str:
    """A cell's colour: white for no effect through amber at the threshold to dark red at three times it;
    grey for no value. The cell's text alternative says the number."""
    if effect is None or not math.isfinite(effect):
        return "#eaeef2"
    ratio = effect / threshold if threshold else effect
    if ratio < 1:
        # white -> light amber
        k = max(0.0, ratio)
        return _mix((255, 255, 255), (250, 205, 120), k)
    k = min(1.0, (ratio - 1) / 2)
    return _mix((232, 120, 40), (140, 10, 30), k)


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], k: float) -> str:
    r, g, bl = (round(x + (y - x) * k) for x, y in zip(a, b, strict=True))
    return f"#{r:02x}{g:02x}{bl:02x}"


def model_detail(
    query: Query,
    store: Store,
    name: str,
    spec: ModelSpec,
    span: TimeRange,
    firing: Sequence[Firing],
    previous: str | None,
    extra_marks: Sequence[Mark] = (),
) -> ModelDetail:
    """The model page's content over ``span``; ``extra_marks`` (a change point an alert links to) are drawn
    beside the deploys."""
    window = spec.window.total_seconds()
    step = nice_step(span.span, window)
    deployment = _deployment(store, name)
    marks = sorted([*deploy_marks(store, name, span, deployment), *extra_marks], key=lambda m: m.t)
    episodes = _episodes(store, name, span)
    bands = [
        Band(e.fired_at, e.resolved_at, f"{e.rule} ({e.severity})", e.severity)
        for e in episodes
        if e.fired_at < span.end
    ]
    groups = {
        "service": SERVICE,
        "quality": QUALITY,
        "performance": _performance(spec),
        "cost": COST,
        "hosts": HOSTS,
    }
    wanted = [m for panels in groups.values() for p in panels for m, _ in p.metrics]
    features = [f for f in spec.features if spec.features[f].role not in ("pii", "id")]
    read = query.series(name, [*wanted, "events"], span.start, span.end, step)
    sections: dict[str, list[Chart]] = {}
    for section, panels in groups.items():
        charts = []
        for p in panels:
            series = {label: read[m] for m, label in p.metrics}
            if section in ("cost", "hosts") and not any(v for pts in series.values() for _, v in pts):
                continue  # a model without tokens or hosts reported: no empty chart
            if section == "hosts":
                series = {k: v for k, v in series.items() if any(x is not None for _, x in v)}
            charts.append(Chart(f"{p.id}", p.title, "%" if p.percent else p.unit, series, marks, bands))
        sections[section] = charts
    events = sum(v or 0 for _, v in read["events"])
    merged = query.merged(name, span.start, span.end)  # for the report and the null rates
    report, problem = _report(query, name, merged)
    if report is not None:
        features = [*report.columns] or features
    heat_step = nice_step(span.span, window, HEAT_POINTS)
    heat: list[HeatRow] = []
    if spec.baseline is not None and report is not None and report.columns:
        cols = list(report.columns)
        inner = {c: _inner(c) for c in cols}
        drift = query.series(name, [f"drift:{inner[c]}" for c in cols], span.start, span.end, heat_step)
        for c in cols:
            heat.append(HeatRow(c, report.columns[c].threshold, drift[f"drift:{inner[c]}"]))
    nulls = {}
    if events:
        nulls = {f: _finite(merged.null_rate(f)) for f in spec.features if f in merged.profile.columns}
    return ModelDetail(
        name=name,
        spec=spec,
        step=step,
        sections=sections,
        heat_step=heat_step,
        heat=heat,
        report=report,
        report_problem=problem,
        episodes=episodes,
        deployment=deployment,
        previous=previous,
        firing=list(firing),
        events=events,
        null_rates=nulls,
        realised=realised_panel(query, name, spec, span.start, span.end) if events else None,
    )


def _inner(column: str) -> str:
    """A report column's name as metrics know it (the report calls the outputs by their own names)."""
    inner = {"prediction": PREDICTION, "score": SCORE}
    return inner.get(column.removesuffix(" (model output)"), column)


def _finite(v: float) -> float | None:
    return v if math.isfinite(v) else None


def _report(query: Query, name: str, merged: WindowState) -> tuple[Report | None, str | None]:
    try:
        return query.report(name, merged), None
    except InputError as exc:
        return None, str(exc)


def deploy_marks(
    store: Store, name: str, span: TimeRange, deployment: Deployment | None = None
) -> list[Mark]:
    """Deploys (``POST /v1/models/{m}/deploys``) and the changes of the live version (rollbacks,
    fallbacks, config edits) in the range, oldest first."""
    found = deployment if deployment is not None else _deployment(store, name)
    seen: dict[tuple[float, str], Mark] = {}
    for record in store.records(DEPLOY_KIND, since=span.start - EPISODES_BEFORE):
        a = DeployAnnotation.from_json(record.body)
        if a.model == name and span.start <= a.at <= span.end:
            seen[(round(a.at), a.version)] = Mark(a.at, f"deploy {a.version}")
    for c in found.history if found else ():
        if span.start <= c.at <= span.end:
            seen.setdefault((round(c.at), c.version), Mark(c.at, f"{c.kind} {c.version}"))
    return sorted(seen.values(), key=lambda m: m.t)


def _deployment(store: Store, name: str) -> Deployment | None:
    record = store.record(DEPLOYMENT_KIND, name)
    return Deployment.from_json(record.body) if record is not None else None


def _episodes(store: Store, name: str, span: TimeRange) -> list[Episode]:
    """The model's alert episodes that overlap the range, newest first."""
    found = History(store).episodes(since=span.start - EPISODES_BEFORE)
    mine = [
        e
        for e in found
        if e.model == name and e.fired_at < span.end and (e.resolved_at is None or e.resolved_at > span.start)
    ]
    return sorted(mine, key=lambda e: -e.fired_at)


def changes(store: Store, name: str, deployment: Deployment | None) -> list[Change]:
    """The live version's changes and the deploys recorded for ``name`` (a deploy of the version already
    live moves nothing but is still a deploy), newest first."""
    found = {(round(c.at), c.version): c for c in (deployment.history if deployment else ())}
    for record in store.records(DEPLOY_KIND):
        a = DeployAnnotation.from_json(record.body)
        if a.model == name:
            found.setdefault((round(a.at), a.version), Change(a.version, None, a.at, a.by, "deploy", a.note))
    return sorted(found.values(), key=lambda c: -c.at)
