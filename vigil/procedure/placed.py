"""Where each rule in force sits: on which declared models, with which alert labels (the engine's), and the
ids of the nodes it meets on the way (its metric, its routes, its runbook).

Each rule in force (the ``rules:`` and ``slos:`` sections, and the default rules) is placed on every
declared model it applies to. Its alerts' labels are the engine's
(:func:`~vigil.alerting.evaluate.annotate.labels_for`, with each ``severity`` the rule can fire at), so
routing them through the dispatcher's tree routes exactly as the server does.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from vigil.alerting.dispatch.routes import RouteNode
from vigil.alerting.evaluate.annotate import labels_for
from vigil.alerting.rules import DEFAULT_RUNBOOKS, Evaluation, Rule
from vigil.alerting.rules.base import span
from vigil.alerting.state import Severity
from vigil.monitoring.catalogue import lookup
from vigil.procedure.sections import Sections
from vigil.spec import ModelSpec

__all__ = ["PlacedRule", "alert_labels", "duration", "is_url", "placed_rules", "route_id", "runbook_id"]


@dataclass(frozen=True)
class PlacedRule:
    """A rule in force on one declared model; ``source`` is ``config``, ``slo`` or ``default``."""

    rule: Rule
    model: str
    spec: ModelSpec
    source: str

    @property
    def id(self) -> str:
        return f"rule:{self.model}/{self.rule.name}"

    @property
    def metric_id(self) -> str:
        """The node id of the metric it reads: ``metric:<model>/<metric>[@<version>][[<segment>]]``."""
        rule = self.rule
        key = f"{self.model}/{rule.metric}"
        if rule.version is not None:
            key += f"@{rule.version}"
        if rule.segment_text is not None:
            key += f"[{rule.segment_text}]"
        return f"metric:{key}"

    @property
    def telemetry(self) -> tuple[str, ...]:
        """What its metric is computed from: ``events``, ``labels``, ``hosts``."""
        rule = self.rule
        if rule.kind == "slo":
            slo = rule.slo
            if slo is None or slo.sli.kind != "quality":
                return ("events",)
        try:
            metric, _ = lookup(rule.metric)
        except KeyError:
            return ("events",)
        if metric.source == "hosts":
            return ("hosts",)
        return ("events", "labels") if metric.labels else ("events",)


def placed_rules(sections: Sections) -> list[PlacedRule]:
    """Each rule in force on each declared model it applies to: by model, then in the rule book's order."""
    sources = [*(("config", r) for r in sections.rules), *(("slo", r) for r in sections.slos)]
    sources += [("default", r) for r in sections.defaults]
    return [
        PlacedRule(rule, name, spec, source)
        for name, spec in sections.config.models.items()
        for source, rule in sources
        if rule.applies_to(name)
    ]


def alert_labels(placed: PlacedRule, severity: Severity) -> dict[str, str]:
    """The labels of the rule's alert on its model at ``severity``: the engine's own (``labels_for``)."""
    ev = Evaluation(placed.rule, placed.model, 0.0, 0.0, None, None, None, None)
    return {**labels_for(ev, placed.spec), "severity": severity.value}


def route_id(route: RouteNode) -> str:
    """The node id of a route: where it is written (``route:alerting.route.routes[0]``)."""
    return f"route:{route.path}"


def runbook_id(placed: PlacedRule) -> str | None:
    """The node id of the rule's runbook: shared by the default rules of one name, by URL, or by text."""
    text = placed.rule.runbook
    if not text:
        return None
    template = DEFAULT_RUNBOOKS.get(placed.rule.name)
    if placed.source == "default" and template is not None and text == template.format(model=placed.model):
        return f"runbook:default/{placed.rule.name}"
    if is_url(text):
        return f"runbook:{text}"
    return f"runbook:inline/{hashlib.sha1(text.encode()).hexdigest()[:10]}"


def is_url(text: str) -> bool:
    return text.startswith(("http://", "https://")) and not any(c.isspace() for c in text)


def duration(seconds: float) -> str:
    """Seconds as a rule writes them: ``300`` → ``5m``."""
    return span(timedelta(seconds=seconds))
