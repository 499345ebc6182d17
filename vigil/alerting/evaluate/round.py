"""Rule evaluation: read each rule's metric, decide its severity, step its state, make its alerts.

``evaluate(rules, query, states, now)`` is pure apart from the metric reads (``query.series``, and
``query.windows`` for latency SLOs); time is the ``now`` argument (seconds), so a scheduler calls it every
so often with its clock's time.

Exact semantics, for each rule and each registered model it applies to (``model: "*"``: every model in
``query.registry``; a rule naming an unregistered model is skipped):

* The evaluation window is the last *complete* window: ``[e - W, e)`` with ``W`` the rule's ``window``
  rounded up to a multiple of the model's window resolution ``R`` and ``e = floor(now / W) * W``. Complete
  windows hold all their events (bar late ones), and their start is aligned as ``Query.series`` aligns
  steps. A ``sliding`` rule (every default rule) judges the latest complete model windows instead:
  ``e = floor(now / R) * R``, so a 1-hour rule sees drift that began at 18:42 as soon as the 18:42 window
  closes, not at 19:00. Its value is read with steps starting at ``e`` (``Query.series(origin=e)``); the
  history of a relative or anomaly rule stays on whole multiples of ``W``: the steps before the one that
  holds ``e - W``.
* The value is the metric's value in that one step (None: no data, which never breaches, except that
  ``no_data`` rules read ``events``, 0 for a step without events). A rule with a ``segment`` reads the
  metric of that segment (``Query.series(..., segment=...)``).
* ``relative`` rules: the baseline statistic is the median (or mean) of the metric's non-None per-step
  values over the ``baseline_window`` before the evaluation window (same step ``W``); with fewer than
  ``min_baseline_points`` values, or a baseline of 0 for ``factor``/``percent`` above, no breach.
* ``anomaly`` rules: the history is the non-None per-step values (step ``W``) of the ``baseline_window``
  before the evaluation window, or with ``seasonality`` ``S`` the steps starting within ``W`` of
  ``start - j × S`` for ``j = 1..seasons``; ``z = vigil.alerting.rules.anomaly.robust_z(value, history)``, judged
  by ``Rule.breached_z``; fewer than ``min_baseline_points`` history values (or no value): no breach.
  The evaluation's ``baseline`` is the history's median and its ``threshold`` the metric value at the level
  shown (``median ± level × scale``, on the side of the value for ``direction: both``).
* ``slo`` rules: ``vigil.alerting.rules.error_budget.slo_status`` at ``e = floor(now / R) * R`` (``R``: the model's
  resolution): **critical** while a page tier holds, **warning** while only a ticket tier holds. The value
  is the long-window burn rate of the first tier that holds at that severity (else of the first tier), the
  threshold that tier's factor.
* The state (key ``(rule name, model)``) advances with ``vigil.alerting.state.step``; a missing state starts
  inactive with the rule's timing. States of keys not evaluated this time are passed through unchanged.
* Alerts come from ``vigil.alerting.alert.alerts_for`` (a firing alert at every evaluation while firing, one
  resolved alert when it resolves), with the labels and annotations described in :func:`labels_for` and
  :func:`annotations_for`.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlencode

from vigil.alerting.alert import Alert, alerts_for
from vigil.alerting.rules import Rule
from vigil.alerting.rules.anomaly import robust_z
from vigil.alerting.rules.error_budget import SloStatus, slo_status, span
from vigil.alerting.state import AlertState, Severity, step
from vigil.config import ModelSpec

__all__ = [
    "Evaluation",
    "MetricSource",
    "StateKey",
    "annotations_for",
    "evaluate",
    "evaluate_one",
    "labels_for",
]

StateKey = tuple[str, str]
"""``(rule name, model)``: one alert state per rule and model."""


class _Models(Protocol):
    def get(self, name: str) -> ModelSpec | None: ...

    def names(self) -> list[str]: ...


class MetricSource(Protocol):
    """What evaluation reads: ``vigil.monitoring.query.Query`` is one."""

    @property
    def registry(self) -> _Models: ...

    def series(
        self,
        model: str,
        names: Sequence[str],
        start: float,
        end: float,
        step: float | None = None,
        version: str | None = None,
        segment: Mapping[str, str] | None = None,
        origin: float = 0.0,
    ) -> dict[str, list[tuple[float, float | None]]]: ...

    def windows(self, model: str, start: float, end: float, version: str | None = None) -> Mapping[Any, Any]:
        """Window states of ``model`` starting in ``[start, end)`` (read by latency SLOs only)."""
        ...


@dataclass(frozen=True)
class Evaluation:
    """One rule on one model at one time: the window read, the value, the baseline and the verdict.

    Anomaly rules add ``z``, the history's ``mad`` (unscaled), the ``scale`` z divides by and the number of
    history ``points`` (``baseline`` is the history's median); slo rules add the SLO's ``status``."""

    rule: Rule
    model: str
    start: float
    end: float
    value: float | None
    baseline: float | None
    threshold: float | None
    breached: Severity | None
    z: float | None = None
    mad: float | None = None
    scale: float | None = None
    points: int | None = None
    status: SloStatus | None = None


_Read = Callable[[float, float], list[tuple[float, float | None]]]
"""Reads the rule's metric over ``[start, end)`` at the rule's step."""


def evaluate_one(rule: Rule, model: str, spec: ModelSpec, query: MetricSource, now: float) -> Evaluation:
    """Read ``rule``'s metric for ``model`` over its last complete window before ``now``, and judge it."""
    res = spec.window.total_seconds()
    if rule.kind == "slo":
        return _evaluate_slo(rule, model, query, math.floor(now / res) * res)
    width = max(res, math.ceil(rule.window.total_seconds() / res) * res)
    end = math.floor(now / (res if rule.sliding else width)) * (res if rule.sliding else width)
    start = end - width
    aligned = end % width == 0

    def read(lo: float, hi: float) -> list[tuple[float, float | None]]:
        got = query.series(model, [rule.metric], lo, hi, width, rule.version, segment=rule.segment)
        return got[rule.metric]

    def latest() -> float | None:
        """The value over ``[start, end)``."""
        if aligned:
            points = read(start, end)
        else:
            got = query.series(
                model, [rule.metric], start, end, width, rule.version, segment=rule.segment, origin=end
            )
            points = got[rule.metric]
        return points[-1][1] if points and points[-1][0] == start else None

    if rule.kind == "anomaly":
        return _evaluate_anomaly(rule, model, start, end, read, latest)
    if rule.kind == "relative":
        back = math.ceil(rule.baseline_window.total_seconds() / width) * width
        if aligned:
            points = read(start - back, end)
            value = points[-1][1] if points and points[-1][0] == start else None
        else:
            below = math.floor(start / width) * width  # history on whole steps (see the module docstring)
            points, value = read(below - back, below), latest()
        history = [v for t, v in points if t < start and v is not None and math.isfinite(v)]
        baseline = None
        if len(history) >= rule.min_baseline_points:
            baseline = statistics.median(history) if rule.baseline == "median" else statistics.fmean(history)
        threshold = rule.relative_bound(baseline) if baseline is not None else None
        if baseline is not None and baseline <= 0 and rule.op == ">":
            threshold = None  # nothing is "3x" or "50% above" a zero baseline
        breached = rule.breached(value, baseline) if threshold is not None else None
        return Evaluation(rule, model, start, end, value, baseline, threshold, breached)
    if aligned:
        points = read(start, end)
        value = points[-1][1] if points else None
    else:
        value = latest()
    if rule.kind == "no_data":
        value = 0.0 if value is None else value
        return Evaluation(rule, model, start, end, value, None, 0.0, rule.breached(value))
    breached = rule.breached(value)
    levels = rule.levels()
    shown = breached or (Severity.WARNING if Severity.WARNING in levels else Severity.CRITICAL)
    threshold = levels[shown]
    return Evaluation(rule, model, start, end, value, None, threshold, breached)


def _evaluate_anomaly(
    rule: Rule, model: str, start: float, end: float, read: _Read, latest: Callable[[], float | None]
) -> Evaluation:
    width = end - start
    aligned = start % width == 0
    history: list[float] = []
    if rule.seasonality is None:
        back = math.ceil(rule.baseline_window.total_seconds() / width) * width
        if aligned:
            points = read(start - back, end)
            value = points[-1][1] if points and points[-1][0] == start else None
        else:
            below = math.floor(start / width) * width
            points, value = read(below - back, below), latest()
        history = [v for t, v in points if t < start and v is not None and math.isfinite(v)]
    else:
        if aligned:
            points = read(start, end)
            value = points[-1][1] if points else None
        else:
            value = latest()
        season = rule.seasonality.total_seconds()
        for j in range(1, rule.seasons + 1):
            phase = math.floor((start - j * season) / width) * width  # the whole step holding it
            history.extend(
                v
                for t, v in read(phase - width, phase + 2 * width)
                if abs(t - phase) <= width and v is not None and math.isfinite(v)
            )
    if value is None or not math.isfinite(value) or len(history) < rule.min_baseline_points:
        return Evaluation(rule, model, start, end, value, None, None, None, points=len(history))
    scores = robust_z([value], [history])
    z, median = float(scores.z[0]), float(scores.median[0])
    mad, scale = float(scores.mad[0]), float(scores.scale[0])
    breached = rule.breached_z(z)
    levels = rule.levels()
    shown = breached or (Severity.WARNING if Severity.WARNING in levels else Severity.CRITICAL)
    up = rule.direction == "up" or (rule.direction == "both" and value >= median)
    threshold = median + (1 if up else -1) * levels[shown] * scale
    return Evaluation(
        rule, model, start, end, value, median, threshold, breached, z, mad, scale, len(history)
    )


_SLO_SEVERITY = {"page": Severity.CRITICAL, "ticket": Severity.WARNING}


def _evaluate_slo(rule: Rule, model: str, query: MetricSource, end: float) -> Evaluation:
    slo = rule.slo
    assert slo is not None  # a rule of kind slo always carries one
    status = slo_status(query, slo, end)
    breached = _SLO_SEVERITY[status.severity] if status.severity is not None else None
    tiers = [a.window for a in status.alerts if a.severity == status.severity] or list(slo.burn_windows)
    value = status.burn_rates[tiers[0].long] if tiers else None
    threshold = tiers[0].factor if tiers else None
    return Evaluation(rule, model, end - slo.window, end, value, None, threshold, breached, status=status)


def labels_for(ev: Evaluation, spec: ModelSpec) -> dict[str, str]:
    """An alert's labels (its identity; ``severity`` is added by ``alerts_for``): ``alertname`` (the rule
    name; an SLO's name), ``model``, ``model_version`` (when the rule selects one), ``metric`` (an SLO's:
    its SLI), ``kind``, ``segment`` (``region=eu``, when the rule selects one), ``slo`` and ``sli`` (SLOs),
    ``team`` (the model owner's team unless the rule's labels set one), ``route`` (when set), then the
    rule's labels."""
    rule = ev.rule
    labels = {"alertname": rule.name, "model": ev.model, "metric": rule.metric, "kind": rule.kind}
    if rule.version is not None:
        labels["model_version"] = rule.version
    if rule.segment_text is not None:
        labels["segment"] = rule.segment_text
    if rule.slo is not None:
        labels["slo"] = rule.slo.name
        labels["sli"] = rule.slo.sli.label
    labels["team"] = spec.owner.team
    if rule.route is not None:
        labels["route"] = rule.route
    labels.update({k: v for k, v in rule.labels.items() if k != "severity"})
    return labels


def _fmt(value: float | None) -> str:
    return "none" if value is None else f"{value:.6g}"


def annotations_for(ev: Evaluation, spec: ModelSpec) -> dict[str, str]:
    """``summary``, ``description``, ``value``, ``threshold`` (and ``baseline`` for relative and anomaly
    rules), ``window``, ``owner``, ``runbook``, ``dashboard_url`` (the metric's series around the window, at
    the rule's step). Anomaly rules add ``z``, ``median``, ``mad``, ``scale`` and ``baseline_points`` (and
    ``seasonality``); SLOs add ``burn_rate_<window>`` for every window read, ``error_budget_remaining``
    (share of the SLO window's budget left, negative when overspent), ``target``, ``slo_window`` and
    ``burn_windows`` (the tiers, e.g. ``1h/5m > 14.4 (page)``)."""
    rule = ev.rule
    width = ev.end - ev.start
    where = ev.model if rule.segment_text is None else f"{ev.model} [{rule.segment_text}]"
    extra: dict[str, str] = {}
    if rule.kind == "no_data":
        what = f"{where} sent no {rule.metric} in [{ev.start:.0f}, {ev.end:.0f})"
    elif rule.kind == "relative":
        how = f"{rule.factor:g}x" if rule.factor is not None else f"{rule.percent:g}%"
        side = "above" if rule.op == ">" else "below"
        what = (
            f"{rule.metric} of {where} is {_fmt(ev.value)}, {how} {side} its {rule.baseline} "
            f"{_fmt(ev.baseline)} (bound {_fmt(ev.threshold)})"
        )
    elif rule.kind == "anomaly":
        what, extra = _anomaly_notes(ev, where)
    elif rule.kind == "slo" and ev.status is not None:
        what, extra = _slo_notes(ev.status, where)
    else:
        what = f"{rule.metric} of {where} is {_fmt(ev.value)} ({rule.op} {_fmt(ev.threshold)})"
    notes = {
        "summary": rule.summary or f"{rule.name}: {what}",
        "description": what,
        "value": _fmt(ev.value),
        "threshold": _fmt(ev.threshold),
        "window": f"{width:g}s",
        "owner": rule.owner or (spec.owner.contact or spec.owner.team),
        "dashboard_url": _dashboard(ev, width),
    }
    if ev.baseline is not None:
        notes["baseline"] = _fmt(ev.baseline)
    notes.update(extra)
    if rule.runbook:
        notes["runbook"] = rule.runbook
    return notes


def _anomaly_notes(ev: Evaluation, where: str) -> tuple[str, dict[str, str]]:
    rule = ev.rule
    against = (
        f"the same phase of the last {rule.seasons} seasons of {span(rule.seasonality.total_seconds())}"
        if rule.seasonality is not None
        else f"the last {span(rule.baseline_window.total_seconds())}"
    )
    if ev.z is None:
        what = (
            f"{rule.metric} of {where} is {_fmt(ev.value)}; {ev.points or 0} history windows over {against}"
        )
        return what, {"baseline_points": str(ev.points or 0)}
    what = (
        f"{rule.metric} of {where} is {_fmt(ev.value)}: z = {ev.z:+.3g} against the median "
        f"{_fmt(ev.baseline)} (MAD {_fmt(ev.mad)}, scale {_fmt(ev.scale)}) of {ev.points} windows over "
        f"{against}"
    )
    notes = {
        "z": f"{ev.z:.4g}",
        "median": _fmt(ev.baseline),
        "mad": _fmt(ev.mad),
        "scale": _fmt(ev.scale),
        "baseline_points": str(ev.points),
    }
    if rule.seasonality is not None:
        notes["seasonality"] = span(rule.seasonality.total_seconds())
    return what, notes


def _slo_notes(status: SloStatus, where: str) -> tuple[str, dict[str, str]]:
    slo = status.slo
    tiers = "; ".join(
        f"{span(w.long)}/{span(w.short)} > {w.factor:g} ({w.severity})" for w in slo.burn_windows
    )
    notes = {f"burn_rate_{span(length)}": f"{rate:.4g}" for length, rate in sorted(status.burn_rates.items())}
    notes |= {
        "error_budget_remaining": f"{status.budget_remaining:.4g}",
        "target": f"{slo.target:g}",
        "slo_window": span(slo.window),
        "burn_windows": tiers,
    }
    left = f"{status.budget_remaining:.1%} of the {span(slo.window)} error budget left"
    if status.alerts:
        worst = next(a for a in status.alerts if a.severity == status.severity)
        w = worst.window
        what = (
            f"SLO {slo.name} ({slo.sli.label} {slo.target:g}) of {where} burns its error budget "
            f"{worst.long_rate:.3g}x over {span(w.long)} and {worst.short_rate:.3g}x over {span(w.short)} "
            f"(> {w.factor:g}: {w.severity}); {left}"
        )
    else:
        rates = ", ".join(f"{span(w.long)} {status.burn_rates[w.long]:.3g}x" for w in slo.burn_windows)
        what = f"SLO {slo.name} ({slo.sli.label} {slo.target:g}) of {where}: burn rates {rates}; {left}"
    return what, notes


_SLI_METRICS = {"availability": "events,errors,error_rate", "latency": "latency_p50,latency_p95,latency_p99"}


def _dashboard(ev: Evaluation, width: float) -> str:
    rule = ev.rule
    names, start, step = rule.metric, ev.end - 12 * width, width
    if rule.slo is not None:
        names = _SLI_METRICS.get(rule.slo.sli.kind, rule.metric)
        longest = max((w.long for w in rule.slo.burn_windows), default=rule.slo.window)
        start, step = ev.end - longest, max(60.0, longest / 72)
    params: dict[str, str] = {
        "names": names,
        "from": f"{start:.0f}",
        "to": f"{ev.end:.0f}",
        "step": f"{step:.0f}",
    }
    if rule.version is not None:
        params["version"] = rule.version
    if rule.segment_text is not None:
        params["segment"] = rule.segment_text
    return f"/v1/models/{ev.model}/metrics?{urlencode(params)}"


def evaluate(
    rules: Iterable[Rule], query: MetricSource, states: Mapping[StateKey, AlertState], now: float
) -> tuple[dict[StateKey, AlertState], list[Alert]]:
    """Evaluate every rule on every model it applies to at ``now``; see the module docstring.

    Returns the new states (all given states, updated where evaluated) and the alerts to hand on.
    """
    new_states = dict(states)
    alerts: list[Alert] = []
    models = query.registry.names()
    for rule in rules:
        for model in models if rule.model == "*" else [rule.model]:
            spec = query.registry.get(model)
            if spec is None:
                continue
            ev = evaluate_one(rule, model, spec, query, now)
            key = (rule.name, model)
            prev = states.get(key, AlertState(timing=rule.timing))
            new = step(prev, ev.breached, ev.value, now)
            new_states[key] = new
            alerts.extend(alerts_for(labels_for(ev, spec), prev, new, annotations_for(ev, spec)))
    return new_states, alerts
