"""The path one alert takes through the procedure: ``amtool config routes test``, drawn.

:func:`trace` routes a label set with the dispatcher's own code (:meth:`RouteTree.match
<vigil.alerting.dispatch.routes.RouteTree.match>`, ``continue`` included), sends it to the receivers the
notifier would (:func:`~vigil.alerting.dispatch.routes.receivers_for`), and counts it towards the actions'
triggers as the remediator does (:func:`~vigil.actions.triggers.check_trigger`).

When the labels name a rule and a declared model (``alertname`` and ``model``), the labels that rule's alerts
carry (``team``, ``metric``, ``kind``, the rule's own...) are added under the given ones first, as the
engine sets them, so a route on ``team`` is taken as it would be; ``complete=False`` routes the labels
exactly as given.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from vigil.actions.triggers import check_trigger
from vigil.alerting.alert import Alert
from vigil.alerting.dispatch.routes import ALL_RECEIVERS, RouteNode, receivers_for
from vigil.alerting.matchers import matches_all
from vigil.alerting.mute.deploys import DEFAULT_GRACE_EXEMPT
from vigil.alerting.mute.inhibit import BUILT_IN_INHIBITIONS
from vigil.alerting.rules.base import span
from vigil.errors import InputError
from vigil.procedure.graph import EdgeKind
from vigil.procedure.placed import PlacedRule, alert_labels, duration, placed_rules, route_id, runbook_id
from vigil.procedure.sections import Sections

__all__ = ["Path", "parse_labels", "trace"]

_LABEL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

EdgeKey = tuple[str, str, EdgeKind]


def parse_labels(items: Iterable[str]) -> dict[str, str]:
    """Labels from ``name=value`` items; an item may hold several, separated by spaces, and a value may be
    quoted (``summary="two words"``). Raises ``InputError`` saying which item is wrong.

    >>> parse_labels(["alertname=HighLatency model=churn", 'severity="critical"'])
    {'alertname': 'HighLatency', 'model': 'churn', 'severity': 'critical'}
    """
    out: dict[str, str] = {}
    for item in items:
        try:
            words = shlex.split(item)
        except ValueError as exc:
            raise InputError(f"alert labels {item!r}: {exc}; write them as name=value") from None
        for word in words:
            name, sep, value = word.partition("=")
            if not sep or not _LABEL.fullmatch(name):
                raise InputError(
                    f"alert label {word!r} is not name=value; write e.g. severity=critical (a name is "
                    "letters, digits and _, not starting with a digit)"
                )
            out[name] = value
    return out


@dataclass(frozen=True)
class Path:
    """Where an alert with ``labels`` goes; ``nodes`` and ``edges`` are what a diagram highlights."""

    given: Mapping[str, str]
    labels: Mapping[str, str]
    """The labels routed: the given ones, over the rule's own when ``completed_from`` names it."""
    completed_from: str | None
    rules: tuple[str, ...]
    """The nodes of the rules whose alerts these are (several when ``model`` is not given)."""
    routes: tuple[RouteNode, ...]
    """The routes that take it (the dispatcher's answer), in tree order; empty without alerting."""
    receivers: tuple[str, ...]
    runbooks: tuple[tuple[str, str], ...]
    """``(runbook node, the rule's runbook: a URL or Markdown)``."""
    actions: tuple[tuple[str, str], ...]
    """``(action node, what the alert does to it)`` for each action whose trigger names its rule."""
    mutes: tuple[tuple[str, str], ...]
    """``(mute node, when it mutes this alert)``."""
    notes: tuple[str, ...]
    nodes: frozenset[str] = field(default_factory=frozenset)
    edges: frozenset[EdgeKey] = field(default_factory=frozenset)

    def text(self) -> str:
        """The answer in words, first line as ``amtool config routes test`` prints it: the receivers."""
        shown = ", ".join(f'{k}="{v}"' for k, v in sorted(self.labels.items()))
        lines = [",".join(self.receivers) if self.receivers else "(no receiver)", f"labels: {{{shown}}}"]
        if self.completed_from:
            lines.append(f"  (the given labels over those of {self.completed_from.removeprefix('rule:')})")
        lines.append("rules: " + (", ".join(r.removeprefix("rule:") for r in self.rules) or "none"))
        for route in self.routes:
            matchers = ", ".join(map(str, route.matchers)) or "root"
            r = route.route
            extra = " (continue)" if route.continue_ else ""
            target = "every receiver" if route.receiver == ALL_RECEIVERS else route.receiver
            timing = f"wait {duration(r.group_wait)}, every {duration(r.group_interval)}"
            lines.append(
                f"route {route.path} {{{matchers}}} -> {target}{extra}: group by {', '.join(r.group_by)}, "
                f"{timing}, repeat {duration(r.repeat_interval)}"
            )
        for _, text in self.runbooks:
            first = text.strip().splitlines()[0] if text.strip() else ""
            lines.append(f"runbook: {first if len(first) <= 100 else first[:99] + '…'}")
        for node, why in self.actions:
            lines.append(f"action {node.removeprefix('action:')}: {why}")
        for node, why in self.mutes:
            lines.append(f"may be muted by {node.removeprefix('mute:')}: {why}")
        lines.extend(self.notes)
        return "\n".join(lines) + "\n"

    def as_dict(self) -> dict[str, Any]:
        """The path as JSON values."""
        return {
            "given": dict(self.given),
            "labels": dict(self.labels),
            "completed_from": self.completed_from,
            "rules": list(self.rules),
            "routes": [{"id": route_id(r), "path": r.path, "receiver": r.receiver} for r in self.routes],
            "receivers": list(self.receivers),
            "runbooks": [{"id": b, "runbook": text} for b, text in self.runbooks],
            "actions": [{"id": a, "why": why} for a, why in self.actions],
            "mutes": [{"id": m, "why": why} for m, why in self.mutes],
            "notes": list(self.notes),
            "nodes": sorted(self.nodes),
            "edges": [{"source": s, "target": t, "kind": k.value} for s, t, k in sorted(self.edges)],
            "text": self.text(),
        }


def trace(sections: Sections, given: Mapping[str, str], *, complete: bool = True) -> Path:
    """The path of an alert with ``given`` labels (see the module docstring)."""
    placed = placed_rules(sections)
    name, model = given.get("alertname"), given.get("model")
    rules = [p for p in placed if p.rule.name == name and (model is None or p.model == model)]
    notes: list[str] = []
    labels = dict(given)
    completed: str | None = None
    if complete and model is not None and len(rules) == 1:
        own = alert_labels(rules[0], rules[0].rule.severities[0])
        own.pop("severity")
        labels = {**own, **given}
        completed = rules[0].id
    if name is not None and not rules:
        where = f" on {model}" if model else ""
        notes.append(f"No rule of the config is named {name}{where}: routed with the labels as given.")
    severity = labels.get("severity")
    if severity is None:
        notes.append("No severity given: every alert has one (warning or critical), and routes may read it.")
    for p in rules:
        allowed = [s.value for s in p.rule.severities]
        if severity is not None and severity not in allowed:
            notes.append(f"{p.rule.name} on {p.model} fires at {', '.join(allowed)} only, not {severity}.")
    nodes: set[str] = set()
    edges: set[EdgeKey] = set()
    for p in rules:
        _upstream(p, nodes, edges)
    if model is not None and model in sections.config.models:
        nodes.add(f"model:{model}")
    alerting = sections.alerting
    taken: list[RouteNode] = []
    receivers: list[str] = []
    if alerting is None:
        notes.append("There is no alerting: section: nothing is evaluated or sent.")
    else:
        tree = alerting.route_tree(sections.filename)
        parent = {child.id: node for node in tree.nodes() for child in node.routes}
        taken = tree.match(labels)
        for route in taken:
            rid = route_id(route)
            nodes.add(rid)
            edges.update((p.id, rid, EdgeKind.ROUTES) for p in rules)
            walk = route
            while walk.id in parent:
                up = parent[walk.id]
                nodes.add(route_id(up))
                edges.add((route_id(up), route_id(walk), EdgeKind.CHILD))
                walk = up
            for r in receivers_for(route.receiver, alerting.receivers):
                nodes.add(f"receiver:{r.name}")
                edges.add((rid, f"receiver:{r.name}", EdgeKind.NOTIFIES))
                if r.name not in receivers:
                    receivers.append(r.name)
        if model is not None and model in sections.config.models:
            nodes.add(f"incident:{model}")
            edges.update((p.id, f"incident:{model}", EdgeKind.OPENS) for p in rules)
    books: dict[str, str] = {}
    for p in rules:
        book = runbook_id(p)
        if book is not None and p.rule.runbook:
            books.setdefault(book, p.rule.runbook)
            nodes.add(book)
            edges.add((p.id, book, EdgeKind.RUNBOOK))
    actions = _actions(sections, labels, rules, nodes, edges) if alerting is not None else []
    mutes = _mutes(sections, labels, nodes) if alerting is not None else []
    return Path(
        dict(given),
        labels,
        completed,
        tuple(p.id for p in rules),
        tuple(taken),
        tuple(receivers),
        tuple(books.items()),
        tuple(actions),
        tuple(mutes),
        tuple(notes),
        frozenset(nodes),
        frozenset(edges),
    )


def _upstream(p: PlacedRule, nodes: set[str], edges: set[EdgeKey]) -> None:
    """The model, telemetry and metric a rule reads, into ``nodes`` and ``edges``."""
    model = f"model:{p.model}"
    nodes.update((model, p.metric_id, p.id))
    edges.add((p.metric_id, p.id, EdgeKind.WATCHES))
    for source in p.telemetry:
        telemetry = f"telemetry:{source}"
        nodes.add(telemetry)
        edges.update(((model, telemetry, EdgeKind.SENDS), (telemetry, p.metric_id, EdgeKind.FEEDS)))


def _actions(
    sections: Sections,
    labels: Mapping[str, str],
    rules: list[PlacedRule],
    nodes: set[str],
    edges: set[EdgeKey],
) -> list[tuple[str, str]]:
    model = labels.get("model")
    out = []
    models = sections.config.models
    for spec in sections.actions:
        when = spec.when
        node = f"action:{spec.name}"
        if model is None or not spec.applies_to(model):
            continue
        if when is None:
            out.append((node, "not triggered by alerts: a person runs it (vigil actions run)"))
            continue
        if labels.get("alertname") not in when.alerts:
            continue
        check = check_trigger(when, model, [Alert(labels)])
        if not check.signals:
            floor = when.severity.value if when.severity is not None else ""
            out.append((node, f"does not count: the trigger takes {floor} or above"))
            continue
        nodes.add(node)
        edges.update((p.id, node, EdgeKind.SIGNALS) for p in rules)
        if not check.fires:
            out.append((node, f"counts as a signal; alone it does not trigger ({check.why})"))
            continue
        spec_model = models.get(model)
        gate = "waits for a person's approval" if spec.needs_approval(spec_model) else "runs"
        cooldown = f", unless it ran on {model} in the last {span(spec.cooldown)}" if spec.cooldown else ""
        out.append((node, f"triggers ({check.why}): {gate}{cooldown}"))
    return out


def _mutes(sections: Sections, labels: Mapping[str, str], nodes: set[str]) -> list[tuple[str, str]]:
    settings = sections.alerting
    assert settings is not None
    out = []
    for rule in BUILT_IN_INHIBITIONS:
        if matches_all(rule.target_matchers, labels):
            source = ", ".join(map(str, rule.source_matchers))
            out.append(
                (
                    f"mute:inhibit/{rule.name}",
                    f"while an alert {{{source}}} with the same {', '.join(rule.equal)} fires",
                )
            )
    for window in settings.maintenance_windows(sections.filename):
        if matches_all(window.matchers, labels):
            when = str(window.weekly) if window.weekly is not None else "its one-off window"
            out.append((f"mute:maintenance/{window.name}", f"during {when}"))
    grace = settings.seconds(settings.deploy_grace)
    model = labels.get("model")
    if grace > 0 and model and not any(matches_all(ms, labels) for ms in DEFAULT_GRACE_EXEMPT):
        out.append(("mute:deploy-grace", f"for {duration(grace)} after a deploy of {model}"))
    nodes.update(node for node, _ in out)
    return out
