"""What an alert says: its labels (its identity) and annotations, from a rule's evaluation on one model."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote, urlencode

from vigil.alerting.rules.base import Evaluation, MetricRule, RuleBase, fmt
from vigil.monitoring.catalogue import lookup
from vigil.spec import ModelSpec

__all__ = ["annotations_for", "labels_for", "on_drift", "with_drift_matters"]


def labels_for(ev: Evaluation, spec: ModelSpec) -> dict[str, str]:
    """An alert's labels (its identity; ``severity`` is added by ``alerts_for``): ``alertname`` (the rule
    name; an SLO's name), ``model``, ``model_version`` (when the rule selects one), ``metric`` (an SLO's:
    its SLI), ``kind``, ``segment`` (``region=eu``, when the rule selects one), the kind's own (``slo`` and
    ``sli`` for SLOs), ``team`` (the model owner's team unless the rule's labels set one), ``route`` (when
    set), then the rule's labels."""
    rule = ev.rule
    labels = {"alertname": rule.name, "model": ev.model, "metric": rule.metric, "kind": rule.kind}
    if rule.version is not None:
        labels["model_version"] = rule.version
    if rule.segment_text is not None:
        labels["segment"] = rule.segment_text
    labels.update(rule.extra_labels())
    labels["team"] = spec.owner.team
    if rule.route is not None:
        labels["route"] = rule.route
    labels.update({k: v for k, v in rule.labels.items() if k != "severity"})
    return labels


def annotations_for(ev: Evaluation, spec: ModelSpec) -> dict[str, str]:
    """``summary``, ``description`` (the kind's sentence), ``value``, ``threshold`` (and ``baseline`` for
    relative and anomaly rules), ``window``, ``owner``, ``runbook``, ``dashboard_url`` (the dashboard's
    page of the model over the time before the window: ``/models/<model>?metric=...&from=...&to=...``,
    with the rule's ``step``, ``version``, ``segment`` and a change rule's ``change_at``; made absolute
    with ``alerting.external_url``). Anomaly rules add ``z``, ``median``, ``mad``, ``scale`` and
    ``baseline_points`` (and ``seasonality``); change rules ``change_at``, ``detected_at``, ``detector``
    and ``level_before``; SLOs add ``burn_rate_<window>`` for every window read,
    ``error_budget_remaining`` (share of the SLO window's budget left, negative when overspent),
    ``target``, ``slo_window`` and ``burn_windows`` (the tiers, e.g. ``1h/5m > 14.4 (page)``)."""
    rule = ev.rule
    where = ev.model if rule.segment_text is None else f"{ev.model} [{rule.segment_text}]"
    what, extra = rule.describe(ev, where)
    notes = {
        "summary": rule.summary or f"{rule.name}: {what}",
        "description": what,
        "value": fmt(ev.value),
        "threshold": fmt(ev.threshold),
        "window": f"{ev.end - ev.start:g}s",
        "owner": rule.owner or (spec.owner.contact or spec.owner.team),
        "dashboard_url": _dashboard(ev),
    }
    if ev.baseline is not None:
        notes["baseline"] = fmt(ev.baseline)
    notes.update(extra)
    if rule.runbook:
        notes["runbook"] = rule.runbook
    return notes


def on_drift(rule: RuleBase) -> bool:
    """Whether ``rule`` watches a drift metric (one compared with the baseline: ``drift_share``,
    ``drift:<feature>``, ``multivariate_drift``, ``text_drift:<feature>``...)."""
    if not isinstance(rule, MetricRule):
        return False
    try:
        return lookup(rule.metric)[0].source == "drift"
    except KeyError:
        return False


def with_drift_matters(notes: dict[str, str], rule: RuleBase, sentences: Sequence[str]) -> dict[str, str]:
    """``notes`` saying which drifted features matter most: ``drift_matters`` (the sentences, one a line),
    the first sentence added to ``description`` and (unless the rule sets its own) ``summary``."""
    if not sentences:
        return notes
    out = dict(notes)
    out["drift_matters"] = "\n".join(sentences)
    out["description"] = f"{notes['description']}; {sentences[0]}"
    if not rule.summary:
        out["summary"] = f"{rule.name}: {out['description']}"
    return out


def _dashboard(ev: Evaluation) -> str:
    rule = ev.rule
    names, start, step = rule.dashboard(ev)
    params: dict[str, str] = {
        "metric": names,
        "from": f"{start:.0f}",
        "to": f"{ev.end:.0f}",
        "step": f"{step:.0f}",
    }
    if rule.version is not None:
        params["version"] = rule.version
    if rule.segment_text is not None:
        params["segment"] = rule.segment_text
    if ev.change_at is not None:
        params["change_at"] = f"{ev.change_at:.0f}"  # the model page marks it on its charts
    return f"/models/{quote(ev.model, safe='')}?{urlencode(params)}"
