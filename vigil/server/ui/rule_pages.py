"""The rules page's content: every rule in force (from the config, the defaults and the API, as
``GET /v1/rules`` lists them) in words: what it watches on which models, its levels, window and ``for``,
its owner and runbook, and how many alerts it has firing now; and a rule's replay over a range
(``vigil.alerting.analysis.replay``, as ``POST /v1/rules/test`` runs it) drawn on a chart of the value
each evaluation saw, with the firing periods shaded and the levels as dashed lines.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from vigil.alerting.alert import Alert, AlertStatus
from vigil.alerting.analysis.replay import Replay, default_every, replay
from vigil.alerting.engine import AlertEngine
from vigil.alerting.evaluate.window import Window
from vigil.alerting.rules import (
    ANOMALY_LEVELS,
    AnomalyRule,
    ChangeRule,
    NoDataRule,
    RelativeRule,
    Rule,
    ThresholdRule,
)
from vigil.alerting.state import Phase
from vigil.monitoring.query import Query
from vigil.registry import Registry
from vigil.server.ui.charts import Band, Chart, Mark
from vigil.server.ui.timerange import TimeRange
from vigil.spec import ModelSpec
from vigil.timefmt import format_span, format_time

__all__ = ["MAX_POINTS", "ReplayView", "RuleRow", "condition", "replay_view", "rule_rows"]

MAX_POINTS = 600
"""Most points the replay chart draws (evaluations are bucketed beyond, keeping each bucket's worst)."""


@dataclass(frozen=True)
class RuleRow:
    rule: Rule
    source: str
    """``config``, ``default`` or ``api``."""
    models: list[str]
    """The registered models it applies to."""
    condition: str
    levels: list[tuple[str, str]]
    """(severity, condition at that level)."""
    window: str
    hold: str
    """``for``, in words."""
    keep: str
    owner: str
    firing: int
    pending: int

    @property
    def watches(self) -> str:
        metric = self.rule.metric
        if self.rule.segment_text:
            metric += f" [{self.rule.segment_text}]"
        if self.rule.version:
            metric += f" of {self.rule.version}"
        return metric


def _num(x: float) -> str:
    return f"{x:.6g}"


def condition(rule: Rule) -> tuple[str, list[tuple[str, str]]]:
    """The rule's condition in words, and per severity its level (what breaches it)."""
    if isinstance(rule, ThresholdRule):
        levels = [(s, f"{rule.op} {_num(v)}") for s, v in _levels(rule.warning, rule.critical)]
        return f"value {rule.op} level", levels
    if isinstance(rule, RelativeRule):
        parts = []
        if rule.factor is not None:
            parts.append(f"{'×' if rule.op == '>' else '÷'} {_num(rule.factor)}")
        if rule.percent is not None:
            parts.append(f"{'+' if rule.op == '>' else '−'}{_num(rule.percent)}%")
        previous = span_w(rule.baseline_window)
        text = f"{rule.op} {' and '.join(parts)} its {rule.baseline} of the previous {previous}"
        return text, [(rule.severity.value, text)]
    if isinstance(rule, AnomalyRule):
        where = f", same time of each {span_w(rule.seasonality)}" if rule.seasonality is not None else ""
        sign = {"up": "z >", "down": "z < −", "both": "|z| >"}[rule.direction]
        levels = [(s, f"{sign} {_num(v)}") for s, v in _levels(rule.warning, rule.critical)]
        if not levels:
            levels = [(s.value, f"{sign} {_num(v)}") for s, v in ANOMALY_LEVELS.items()]
        return f"robust z-score against its own {span_w(rule.baseline_window)} history{where}", levels
    if isinstance(rule, NoDataRule):
        return f"no {rule.metric} in the window", [(rule.severity.value, "none sent")]
    if isinstance(rule, ChangeRule):
        text = f"a change in its level ({rule.detector}, one false alarm per {_num(rule.arl)} windows)"
        return text, [(rule.severity.value, f"detected within {span_w(rule.hold)}")]
    slo = rule.slo
    if slo is not None:
        text = f"{slo.sli.label} ≥ {slo.target * 100:g}% over {format_span(slo.window)}"
        tiers = [
            (
                "critical" if w.severity == "page" else "warning",
                f"burn {_num(w.factor)}× over {format_span(w.long)}",
            )
            for w in slo.burn_windows
        ]
        return text, tiers
    return rule.kind, []


def _levels(warning: float | None, critical: float | None) -> list[tuple[str, float]]:
    return [(s, v) for s, v in (("warning", warning), ("critical", critical)) if v is not None]


def rule_rows(engine: AlertEngine, registry: Registry, alerts: Sequence[Alert]) -> list[RuleRow]:
    """Every rule in force, config first, then the API's, then the defaults, each by name; with how many
    of its alerts fire (of ``alerts``) and how many are pending now."""
    book = engine.rulebook
    api = {r.name for r, _ in book.api_rules()}
    names = registry.names()
    firing: dict[str, int] = {}
    for a in alerts:
        if a.status is AlertStatus.FIRING:
            firing[a.labels.get("alertname", "")] = firing.get(a.labels.get("alertname", ""), 0) + 1
    pending: dict[str, int] = {}
    for (name, _), state in engine.current_states().items():
        if state.phase is Phase.PENDING:
            pending[name] = pending.get(name, 0) + 1
    rows = []
    for rule in book.rules():
        models = sorted(names) if rule.model == "*" else [rule.model]
        spec = registry.get(rule.model) if rule.model != "*" else None
        owner = rule.owner or (
            (spec.owner.contact or spec.owner.team) if spec is not None else "each model's owner"
        )
        text, levels = condition(rule)
        timing = rule.timing
        rows.append(
            RuleRow(
                rule=rule,
                source=book.source(rule, api),
                models=models,
                condition=text,
                levels=levels,
                window=span_w(rule.window) + (" sliding" if rule.sliding else ""),
                hold=format_span(timing.for_warning) if timing.for_warning else "at once",
                keep=format_span(timing.keep_firing_for) if timing.keep_firing_for else "",
                owner=owner,
                firing=firing.get(rule.name, 0),
                pending=pending.get(rule.name, 0),
            )
        )
    order = {"config": 0, "api": 1, "default": 2}
    rows.sort(key=lambda r: (order.get(r.source, 3), r.rule.name, r.rule.model))
    return rows


@dataclass
class ReplayView:
    result: Replay
    chart: Chart
    bucketed: bool
    """Whether the chart shows bucketed evaluations (more than :data:`MAX_POINTS`)."""


def replay_view(rule: Rule, query: Query, model: str, range_: TimeRange, every: float | None) -> ReplayView:
    """Replay ``rule`` on ``model`` over the range (``every``: seconds between evaluations; the replay's
    default when None) and draw it. Raises ValueError for a range or ``every`` the replay refuses."""
    spec = query.registry.get(model)
    if spec is None:
        raise ValueError(f"model {model!r} is not registered")
    step = every if every is not None else default_every(rule, spec.window.total_seconds())
    result = replay(rule, query, model, range_.start, range_.end, step, trace=True)
    points, thresholds, bucketed = _bucket(result, rule.lower_is_worse)
    static: list[tuple[float, str]] = []
    if isinstance(rule, ThresholdRule):
        static = [(v, s) for s, v in _levels(rule.warning, rule.critical)]
    series: dict[str, list[tuple[float, float | None]]] = {"value": points}
    if not static and any(v is not None for _, v in thresholds):
        series["threshold"] = thresholds
    bands = [
        Band(f.fired_at, f.resolved_at, f"fired ({f.severity.value})", f.severity.value)
        for f in result.firings
    ]
    chart = Chart(
        "replay",
        f"{rule.metric} of {model}, as each evaluation saw it",
        "",
        series,
        marks=change_marks(rule, query, model, spec, range_) if isinstance(rule, ChangeRule) else (),
        bands=bands,
        thresholds=static,
        ymin=None,
    )
    return ReplayView(result, chart, bucketed)


def change_marks(
    rule: ChangeRule, query: Query, model: str, spec: ModelSpec, range_: TimeRange
) -> list[Mark]:
    """The estimated change points a change rule finds in the range (its replay as of the range's end),
    each marked with when it was detected."""
    window = Window.at(
        range_.end, model, spec, query, metric=rule.metric, window=rule.window, version=rule.version
    )
    _, found = rule.changes(window)
    return [
        Mark(c.change_at, f"change (detected {format_time(c.detected_at)})")
        for c in found
        if range_.start <= c.change_at <= range_.end
    ]


def _bucket(
    result: Replay, lowest: bool
) -> tuple[list[tuple[float, float | None]], list[tuple[float, float | None]], bool]:
    """The trace as (time, value) and (time, threshold) points, at most :data:`MAX_POINTS`: beyond, each
    bucket keeps its worst value (the lowest where lower is worse) and its last threshold."""
    trace = result.trace
    if len(trace) <= MAX_POINTS:
        return [(t, _finite(v)) for t, v, _ in trace], [(t, _finite(th)) for t, _, th in trace], False
    size = math.ceil(len(trace) / MAX_POINTS)
    values, levels = [], []
    for i in range(0, len(trace), size):
        chunk = trace[i : i + size]
        seen = [x for _, v, _ in chunk if (x := _finite(v)) is not None]
        worst = (min(seen) if lowest else max(seen)) if seen else None
        values.append((chunk[0][0], worst))
        levels.append((chunk[0][0], _finite(chunk[-1][2])))
    return values, levels, True


def _finite(v: float | None) -> float | None:
    return v if v is not None and math.isfinite(v) else None


def span_w(length: timedelta) -> str:
    """A rule's duration as rules are written (``2w``, ``1d``, ``5m``)."""
    return format_span(length, weeks=True)
