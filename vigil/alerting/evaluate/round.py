"""One evaluation round: every rule on every model it applies to at ``now``, its state stepped, its alerts.

``evaluate(rules, source, states, now)`` is pure apart from the metric reads (through one
:class:`~vigil.alerting.evaluate.source.MetricSource`); time is the ``now`` argument (seconds), so a scheduler
calls it every so often with its clock's time. Exact semantics, for each rule and each registered model it
applies to (``model: "*"``: every model in ``source.registry``; a rule naming an unregistered model is
skipped):

* The rule judges its window (:mod:`vigil.alerting.evaluate.window`: the last complete window, or the
  latest complete model windows for a ``sliding`` rule) as its kind says (:mod:`vigil.alerting.rules`):
  the value is the metric's value in that one step (None: no data, which never breaches, except that
  ``no_data`` rules read ``events``, 0 for a step without events); a rule with a ``segment`` reads the
  metric of that segment.
* The state (key ``(rule name, model)``) advances with ``vigil.alerting.state.step``; a missing state starts
  inactive with the rule's timing. States of keys not evaluated this time are passed through unchanged.
* Alerts come from ``vigil.alerting.alert.alerts_for`` (a firing alert at every evaluation while firing,
  one resolved alert when it resolves), with the labels and annotations of
  :mod:`vigil.alerting.evaluate.annotate` (a firing alert on a spend metric also names the costliest user
  and feature: :mod:`vigil.alerting.evaluate.spend`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from vigil.alerting.alert import Alert, alerts_for
from vigil.alerting.evaluate.annotate import annotations_for, labels_for
from vigil.alerting.evaluate.source import MetricSource
from vigil.alerting.evaluate.spend import spend_notes
from vigil.alerting.rules.base import Evaluation, RuleBase
from vigil.alerting.state import AlertState, step
from vigil.spec import ModelSpec

__all__ = ["StateKey", "evaluate", "evaluate_one"]

StateKey = tuple[str, str]
"""``(rule name, model)``: one alert state per rule and model."""


def evaluate_one(rule: RuleBase, model: str, spec: ModelSpec, source: MetricSource, now: float) -> Evaluation:
    """Read ``rule``'s metric for ``model`` over its last complete window before ``now``, and judge it."""
    return rule.evaluate(model, spec, source, now)


def evaluate(
    rules: Iterable[RuleBase], source: MetricSource, states: Mapping[StateKey, AlertState], now: float
) -> tuple[dict[StateKey, AlertState], list[Alert]]:
    """Evaluate every rule on every model it applies to at ``now``; see the module docstring.

    Returns the new states (all given states, updated where evaluated) and the alerts to hand on.
    """
    new_states = dict(states)
    alerts: list[Alert] = []
    models = source.registry.names()
    for rule in rules:
        for model in models if rule.model == "*" else [rule.model]:
            spec = source.registry.get(model)
            if spec is None:
                continue
            ev = rule.evaluate(model, spec, source, now)
            key = (rule.name, model)
            prev = states.get(key, AlertState(timing=rule.timing))
            new = step(prev, ev.breached, ev.value, now)
            new_states[key] = new
            notes = annotations_for(ev, spec)
            notes.update(spend_notes(ev, spec, source, notes["summary"]))
            alerts.extend(alerts_for(labels_for(ev, spec), prev, new, notes))
    return new_states, alerts
