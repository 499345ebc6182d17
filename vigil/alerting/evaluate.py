"""Rule evaluation: read each rule's metric, decide its severity, step its state, make its alerts.

``evaluate(rules, query, states, now)`` is pure apart from the metric reads (``query.series``); time is the
``now`` argument (seconds), so a scheduler calls it every so often with its clock's time.

Exact semantics, for each rule and each registered model it applies to (``model: "*"``: every model in
``query.registry``; a rule naming an unregistered model is skipped):

* The evaluation window is the last *complete* window: ``[e - W, e)`` with ``W`` the rule's ``window``
  rounded up to a multiple of the model's window resolution and ``e = floor(now / W) * W``. Complete windows
  hold all their events (bar late ones), and their start is aligned as ``Query.series`` aligns steps.
* The value is the metric's value in that one step (None: no data, which never breaches, except that
  ``no_data`` rules read ``events``, 0 for a step without events).
* ``relative`` rules: the baseline statistic is the median (or mean) of the metric's non-None per-step
  values over the ``baseline_window`` before the evaluation window (same step ``W``); with fewer than
  ``min_baseline_points`` values, or a baseline of 0 for ``factor``/``percent`` above, no breach.
* The state (key ``(rule name, model)``) advances with ``vigil.alerting.state.step``; a missing state starts
  inactive with the rule's timing. States of keys not evaluated this time are passed through unchanged.
* Alerts come from ``vigil.alerting.alert.alerts_for`` (a firing alert at every evaluation while firing, one
  resolved alert when it resolves), with the labels and annotations described in :func:`labels_for`.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlencode

from vigil.alerting.alert import Alert, alerts_for
from vigil.alerting.rules import Rule
from vigil.alerting.state import AlertState, Severity, step
from vigil.config import ModelSpec

__all__ = ["Evaluation", "MetricSource", "StateKey", "evaluate", "evaluate_one", "labels_for"]

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
    ) -> dict[str, list[tuple[float, float | None]]]: ...


@dataclass(frozen=True)
class Evaluation:
    """One rule on one model at one time: the window read, the value, the baseline and the verdict."""

    rule: Rule
    model: str
    start: float
    end: float
    value: float | None
    baseline: float | None
    threshold: float | None
    breached: Severity | None


def evaluate_one(rule: Rule, model: str, spec: ModelSpec, query: MetricSource, now: float) -> Evaluation:
    """Read ``rule``'s metric for ``model`` over its last complete window before ``now``, and judge it."""
    res = spec.window.total_seconds()
    width = max(res, math.ceil(rule.window.total_seconds() / res) * res)
    end = math.floor(now / width) * width
    start = end - width
    if rule.kind == "relative":
        back = math.ceil(rule.baseline_window.total_seconds() / width) * width
        points = query.series(model, [rule.metric], start - back, end, width, rule.version)[rule.metric]
        value = points[-1][1] if points and points[-1][0] == start else None
        history = [v for t, v in points if t < start and v is not None and math.isfinite(v)]
        baseline = None
        if len(history) >= rule.min_baseline_points:
            baseline = statistics.median(history) if rule.baseline == "median" else statistics.fmean(history)
        threshold = rule.relative_bound(baseline) if baseline is not None else None
        if baseline is not None and baseline <= 0 and rule.op == ">":
            threshold = None  # nothing is "3x" or "50% above" a zero baseline
        breached = rule.breached(value, baseline) if threshold is not None else None
        return Evaluation(rule, model, start, end, value, baseline, threshold, breached)
    points = query.series(model, [rule.metric], start, end, width, rule.version)[rule.metric]
    value = points[-1][1] if points else None
    if rule.kind == "no_data":
        value = 0.0 if value is None else value
        return Evaluation(rule, model, start, end, value, None, 0.0, rule.breached(value))
    breached = rule.breached(value)
    levels = rule.levels()
    shown = breached or (Severity.WARNING if Severity.WARNING in levels else Severity.CRITICAL)
    threshold = levels[shown]
    return Evaluation(rule, model, start, end, value, None, threshold, breached)


def labels_for(ev: Evaluation, spec: ModelSpec) -> dict[str, str]:
    """An alert's labels (its identity; ``severity`` is added by ``alerts_for``): ``alertname`` (the rule
    name), ``model``, ``model_version`` (when the rule selects one), ``metric``, ``kind``, ``team`` (the
    model owner's team unless the rule's labels set one), ``route`` (when set), then the rule's labels."""
    rule = ev.rule
    labels = {"alertname": rule.name, "model": ev.model, "metric": rule.metric, "kind": rule.kind}
    if rule.version is not None:
        labels["model_version"] = rule.version
    labels["team"] = spec.owner.team
    if rule.route is not None:
        labels["route"] = rule.route
    labels.update({k: v for k, v in rule.labels.items() if k != "severity"})
    return labels


def _fmt(value: float | None) -> str:
    return "none" if value is None else f"{value:.6g}"


def annotations_for(ev: Evaluation, spec: ModelSpec) -> dict[str, str]:
    """``summary``, ``value``, ``threshold`` (and ``baseline`` for relative rules), ``owner``, ``runbook``,
    ``dashboard_url`` (the metric's series around the window, at the rule's step)."""
    rule = ev.rule
    width = ev.end - ev.start
    if rule.kind == "no_data":
        what = f"{ev.model} sent no events in [{ev.start:.0f}, {ev.end:.0f})"
    elif rule.kind == "relative":
        how = f"{rule.factor:g}x" if rule.factor is not None else f"{rule.percent:g}%"
        side = "above" if rule.op == ">" else "below"
        what = (
            f"{rule.metric} of {ev.model} is {_fmt(ev.value)}, {how} {side} its {rule.baseline} "
            f"{_fmt(ev.baseline)} (bound {_fmt(ev.threshold)})"
        )
    else:
        what = f"{rule.metric} of {ev.model} is {_fmt(ev.value)} ({rule.op} {_fmt(ev.threshold)})"
    notes = {
        "summary": rule.summary or what,
        "description": what,
        "value": _fmt(ev.value),
        "threshold": _fmt(ev.threshold),
        "window": f"{width:g}s",
        "owner": rule.owner or (spec.owner.contact or spec.owner.team),
        "dashboard_url": _dashboard(ev, width),
    }
    if ev.baseline is not None:
        notes["baseline"] = _fmt(ev.baseline)
    if rule.runbook:
        notes["runbook"] = rule.runbook
    return notes


def _dashboard(ev: Evaluation, width: float) -> str:
    params: dict[str, str] = {
        "names": ev.rule.metric,
        "from": f"{ev.end - 12 * width:.0f}",
        "to": f"{ev.end:.0f}",
        "step": f"{width:.0f}",
    }
    if ev.rule.version is not None:
        params["version"] = ev.rule.version
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
