"""The procedure of a checked config, as a :class:`~vigil.procedure.graph.Procedure`.

Each rule is placed on every declared model it applies to (:mod:`vigil.procedure.placed`): a rule box per
(model, rule), reading its model's metric, fed by the telemetry the metric is computed from. Its alerts go,
severity by severity, to the routes the dispatcher's tree picks for their labels (:meth:`RouteTree.match
<vigil.alerting.dispatch.routes.RouteTree.match>`): the diagram routes exactly as the server does. Then the
receivers of each route, the runbooks, each model's incident, the actions a rule counts for, what can mute
an alert, and notes on what an audit should look at.
"""

from __future__ import annotations

from typing import Any

from vigil.actions.config import ActionSpec
from vigil.alerting.dispatch.routes import RouteTree, receivers_for
from vigil.alerting.mute.deploys import DEFAULT_GRACE_EXEMPT
from vigil.alerting.mute.inhibit import BUILT_IN_INHIBITIONS
from vigil.monitoring.catalogue import lookup
from vigil.procedure.boxes import (
    TELEMETRY,
    action_box,
    model_box,
    receiver_box,
    route_box,
    rule_box,
    runbook_box,
    wrap,
)
from vigil.procedure.graph import Edge, EdgeKind, Node, Procedure, Stage
from vigil.procedure.placed import PlacedRule, alert_labels, duration, placed_rules, route_id, runbook_id
from vigil.procedure.sections import Sections

__all__ = ["build"]


class _Builder:
    def __init__(self, sections: Sections) -> None:
        self.sections = sections
        self.nodes: dict[Stage, dict[str, Node]] = {stage: {} for stage in Stage}
        self.edges: dict[tuple[str, str, EdgeKind], Edge] = {}
        self.notes: list[str] = []

    def add(self, node: Node) -> str:
        self.nodes[node.stage].setdefault(node.id, node)
        return node.id

    def edge(self, source: str, target: str, kind: EdgeKind, label: str = "") -> None:
        key = (source, target, kind)
        held = self.edges.get(key)
        if held is None:
            self.edges[key] = Edge(source, target, kind, label)
        elif label and label not in held.label.split(", "):
            self.edges[key] = Edge(source, target, kind, f"{held.label}, {label}" if held.label else label)

    def procedure(self) -> Procedure:
        s = self.sections
        for name, spec in s.config.models.items():
            self.add(model_box(name, spec))
        tree = s.alerting.route_tree(s.filename) if s.alerting is not None else None
        if tree is not None:
            self.routes(tree)
        placed = placed_rules(s)
        for p in placed:
            self.rule(p, tree)
        self.unplaced()
        for action in s.actions:
            self.action(action, placed, tree is not None)
        if s.alerting is None:
            self.notes.append(
                "There is no alerting: section, so no rule is evaluated, nothing is sent and no action runs: "
                "add alerting: (even empty) to turn alerting on."
            )
        else:
            self.mutes()
            self.audit(placed, tree)
        nodes = tuple(n for stage in Stage for n in self.nodes[stage].values())
        return Procedure(nodes, tuple(self.edges.values()), tuple(self.notes), s.filename)

    # stages -------------------------------------------------------------------------------------------------

    def rule(self, p: PlacedRule, tree: RouteTree | None) -> None:
        rule = p.rule
        metric_id = self.metric(p)
        rule_id = self.add(rule_box(p, tree))
        self.edge(metric_id, rule_id, EdgeKind.WATCHES)
        if tree is not None:
            for severity in rule.severities:
                for route in tree.match(alert_labels(p, severity)):
                    self.edge(rule_id, route_id(route), EdgeKind.ROUTES, severity.value)
            incident = self.add(
                Node(
                    f"incident:{p.model}",
                    Stage.INCIDENTS,
                    f"{p.model} incident",
                    ("firing alerts join the open one", "ack · notes · actions · resolve", "MTTA, MTTR"),
                    {"model": p.model},
                )
            )
            self.edge(rule_id, incident, EdgeKind.OPENS)
        book = runbook_id(p)
        if book is not None and rule.runbook:
            self.add(runbook_box(book, rule.name, rule.runbook))
            self.edge(rule_id, book, EdgeKind.RUNBOOK)

    def metric(self, p: PlacedRule) -> str:
        rule = p.rule
        where = p.model + (f" {rule.version}" if rule.version is not None else "")
        title = rule.metric if rule.kind != "slo" else f"{rule.metric} (SLI)"
        if rule.segment_text is not None:
            title += f" [{rule.segment_text}]"
        try:
            found, _ = lookup(rule.metric)
            unit, help_ = found.unit, found.help
        except KeyError:
            unit, help_ = "", f"the SLI of SLO {rule.name}" if rule.kind == "slo" else ""
        facts = {"model": p.model, "metric": rule.metric, "version": rule.version}
        facts |= {"segment": rule.segment_text, "unit": unit, "help": help_}
        metric_id = self.add(
            Node(p.metric_id, Stage.METRICS, title, (where, *([unit] if unit else [])), facts, p.model)
        )
        for source in p.telemetry:
            title, lines = TELEMETRY[source]
            telemetry = self.add(Node(f"telemetry:{source}", Stage.TELEMETRY, title, lines, {"kind": source}))
            self.edge(f"model:{p.model}", telemetry, EdgeKind.SENDS)
            self.edge(telemetry, metric_id, EdgeKind.FEEDS)
        return metric_id

    def routes(self, tree: RouteTree) -> None:
        settings = self.sections.alerting
        assert settings is not None
        receivers = settings.receivers
        for r in receivers:
            self.add(receiver_box(r))
        for route in tree.nodes():
            self.add(route_box(route, route is tree.root))
            for child in route.routes:
                self.edge(route_id(route), route_id(child), EdgeKind.CHILD)
            for r in receivers_for(route.receiver, receivers):
                self.edge(route_id(route), f"receiver:{r.name}", EdgeKind.NOTIFIES)
        if not receivers:
            self.notes.append("No receiver is configured: alerts are evaluated but no notification is sent.")

    def action(self, spec: ActionSpec, placed: list[PlacedRule], alerting: bool) -> None:
        models = self.sections.config.models
        on = [m for m in models if spec.applies_to(m)]
        approval = [m for m in on if spec.needs_approval(models[m])]
        action_id = self.add(action_box(spec, on, approval))
        when = spec.when
        if not alerting:
            return
        if when is None:
            for m in on:
                if f"incident:{m}" in self.nodes[Stage.INCIDENTS]:
                    self.edge(f"incident:{m}", action_id, EdgeKind.BY_HAND)
            return
        floor = when.severity.rank if when.severity is not None else 0
        for p in placed:
            if p.rule.name not in when.alerts or not spec.applies_to(p.model):
                continue
            if all(s.rank < floor for s in p.rule.severities):
                self.notes.append(
                    f"Rule {p.rule.name} on {p.model} never counts for action {spec.name}: it fires at "
                    f"{', '.join(s.value for s in p.rule.severities)} only, and the trigger needs "
                    f"{when.severity.value if when.severity else ''} or above."
                )
                continue
            label = f"1 of {when.needed} signals" if when.needed > 1 else "triggers"
            self.edge(p.id, action_id, EdgeKind.SIGNALS, label)

    def mutes(self) -> None:
        settings = self.sections.alerting
        assert settings is not None
        for rule in BUILT_IN_INHIBITIONS:
            lines = (
                f"while {', '.join(map(str, rule.source_matchers))} fires",
                f"mutes {', '.join(map(str, rule.target_matchers))}",
                f"with the same {', '.join(rule.equal)}",
            )
            facts = {
                "source": [str(m) for m in rule.source_matchers],
                "target": [str(m) for m in rule.target_matchers],
                "equal": list(rule.equal),
            }
            self.add(Node(f"mute:inhibit/{rule.name}", Stage.MUTES, f"inhibition: {rule.name}", lines, facts))
        for window in settings.maintenance_windows(self.sections.filename):
            when = str(window.weekly) if window.weekly is not None else "one-off"
            matchers = ", ".join(map(str, window.matchers))
            known: dict[str, Any] = {"matchers": [str(m) for m in window.matchers], "when": when}
            self.add(
                Node(
                    f"mute:maintenance/{window.name}",
                    Stage.MUTES,
                    f"maintenance: {window.name}",
                    (*wrap(matchers), when),
                    known,
                )
            )
        grace = settings.seconds(settings.deploy_grace)
        if grace > 0:
            exempt = " or ".join(",".join(map(str, ms)) for ms in DEFAULT_GRACE_EXEMPT)
            self.add(
                Node(
                    "mute:deploy-grace",
                    Stage.MUTES,
                    "deploy grace",
                    (f"a model's alerts, {duration(grace)} after its deploy", f"except {exempt}"),
                    {"seconds": grace, "exempt": exempt},
                )
            )
        self.add(
            Node(
                "mute:silences",
                Stage.MUTES,
                "silences",
                ("set at run time by people", "vigil alerts silence · POST /v1/silences"),
                {},
            )
        )

    # audit notes --------------------------------------------------------------------------------------------

    def unplaced(self) -> None:
        models = self.sections.config.models
        for rule in self.sections.in_force:
            if rule.model != "*" and rule.model not in models:
                self.notes.append(
                    f"Rule {rule.name} is for model {rule.model}, which is not declared: it watches "
                    f"nothing until a model of that name is registered."
                )
        if not models:
            self.notes.append("No model is declared (models:), so no rule is placed.")

    def audit(self, placed: list[PlacedRule], tree: RouteTree | None) -> None:
        bare = [f"{p.rule.name} on {p.model}" for p in placed if not p.rule.runbook]
        if bare:
            self.notes.append(f"Without a runbook: {', '.join(bare)}.")
        if tree is None:
            return
        reached = {e.target for e in self.edges.values() if e.kind is EdgeKind.ROUTES}
        idle = [r.path for r in tree.nodes() if route_id(r) not in reached and not r.routes]
        if idle and placed:
            self.notes.append(f"No rule of the config reaches {', '.join(idle)}.")
        notified = {e.target for e in self.edges.values() if e.kind is EdgeKind.NOTIFIES}
        unused = [n.title for n in self.nodes[Stage.RECEIVERS].values() if n.id not in notified]
        if unused:
            self.notes.append(f"No route sends to receiver {', '.join(unused)}.")


def build(sections: Sections) -> Procedure:
    """The procedure ``sections`` describe (see the module docstring)."""
    return _Builder(sections).procedure()
