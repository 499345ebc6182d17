"""The procedure of a checked config, as a :class:`~vigil.procedure.graph.Procedure`.

Each rule in force (the ``rules:`` and ``slos:`` sections, and the default rules) is placed on every declared
model it applies to: a rule node per (model, rule). Its alerts' labels are the engine's
(:func:`~vigil.alerting.evaluate.annotate.labels_for`, with each ``severity`` the rule can fire at), and the
routes that take them are the dispatcher's (:meth:`RouteTree.match
<vigil.alerting.dispatch.routes.RouteTree.match>`): the diagram routes exactly as the server does, rule by
rule. Nothing here reads a secret: receivers and webhooks are shown by their kind and origin.
"""

from __future__ import annotations

import hashlib
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from vigil.actions.config import ActionSpec
from vigil.actions.secrets import shown_url
from vigil.alerting.dispatch.routes import ALL_RECEIVERS, RouteNode, RouteTree, receivers_for
from vigil.alerting.evaluate.annotate import labels_for
from vigil.alerting.mute.deploys import DEFAULT_GRACE_EXEMPT
from vigil.alerting.mute.inhibit import BUILT_IN_INHIBITIONS
from vigil.alerting.notify.channel import ChannelConfig
from vigil.alerting.rules import DEFAULT_RUNBOOKS, Evaluation, Rule
from vigil.alerting.rules.base import span
from vigil.alerting.state import Severity
from vigil.monitoring.catalogue import lookup
from vigil.procedure.graph import Edge, EdgeKind, Node, Procedure, Stage
from vigil.procedure.sections import Sections
from vigil.spec import ModelSpec

__all__ = [
    "PlacedRule",
    "alert_labels",
    "build",
    "duration",
    "placed_rules",
    "route_id",
    "runbook_id",
]

_WRAP = 46
"""Characters per line of a box's text."""

TELEMETRY: dict[str, tuple[str, tuple[str, ...]]] = {
    "events": (
        "Events",
        ("SDK client.log · POST /v1/events", "inputs, outputs, latency, errors, tokens, cost"),
    ),
    "labels": ("Labels", ("SDK client.log_label · POST /v1/labels", "ground truth, joined by request id")),
    "hosts": ("Host metrics", ("SDK host reporter · POST /v1/host-metrics", "CPU, memory, GPU every 10 s")),
}


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
    if _is_url(text):
        return f"runbook:{text}"
    return f"runbook:inline/{hashlib.sha1(text.encode()).hexdigest()[:10]}"


def _is_url(text: str) -> bool:
    return text.startswith(("http://", "https://")) and not any(c.isspace() for c in text)


def _wrap(text: str) -> list[str]:
    return textwrap.wrap(text, _WRAP, break_on_hyphens=False, break_long_words=False) or [""]


def duration(seconds: float) -> str:
    """Seconds as a rule writes them: ``300`` → ``5m``."""
    return span(timedelta(seconds=seconds))


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
            self.add(_model(name, spec))
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
        rule_id = self.add(_rule_node(p, tree))
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
            self.add(_runbook(book, rule.name, rule.runbook))
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
            self.add(_receiver(r))
        for route in tree.nodes():
            self.add(_route(route, route is tree.root))
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
        action_id = self.add(_action(spec, on, approval))
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
                    (*_wrap(matchers), when),
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


# nodes ----------------------------------------------------------------------------------------------------


def _model(name: str, spec: ModelSpec) -> Node:
    lines = [f"{spec.task} · {spec.environment}"]
    versions = list(spec.versions)
    if versions:
        live = spec.live_version
        shown = ", ".join(f"{v} (live)" if v == live else v for v in versions)
        lines += _wrap(f"versions {shown}")
    owner = spec.owner.team + (f" · {spec.owner.contact}" if spec.owner.contact else "")
    lines.append(f"owner {owner}")
    if spec.high_impact:
        lines.append("high impact: actions need approval")
    baseline = _baseline(spec)
    lines.append(f"baseline {baseline}" if baseline else "no baseline: drift rules stay quiet")
    facts: dict[str, Any] = {
        "task": spec.task,
        "environment": spec.environment,
        "versions": versions,
        "live": spec.live_version,
        "rollback": spec.previous_version,
        "owner": {"team": spec.owner.team, "contact": spec.owner.contact},
        "high_impact": spec.high_impact,
        "window": span(spec.window),
        "sampling_rate": spec.sampling_rate,
        "segments": list(spec.segments),
        "features": list(spec.features),
        "baseline": baseline,
    }
    return Node(f"model:{name}", Stage.MODELS, name, tuple(lines), facts)


def _baseline(spec: ModelSpec) -> str | None:
    b = spec.baseline
    if b is None:
        return None
    if b.file is not None:
        return b.file
    if b.start is not None and b.end is not None:
        return f"{b.start.isoformat()} to {b.end.isoformat()}"
    return None


def _rule_node(p: PlacedRule, tree: RouteTree | None) -> Node:
    rule = p.rule
    kind = {"default": f"{rule.kind} · default", "slo": "SLO"}.get(p.source, rule.kind)
    timing = f"over {span(rule.window)}" + (" sliding" if rule.sliding else "")
    if rule.kind == "slo":
        timing = ""
    if rule.for_ is not None:
        timing += f"{' · ' if timing else ''}for {span(rule.for_)}"
    if rule.keep_firing_for is not None:
        timing += f" · keep firing {span(rule.keep_firing_for)}"
    book = runbook_id(p)
    shown = "none" if book is None or not rule.runbook else _runbook(book, rule.name, rule.runbook).title
    lines = [kind, *_wrap(rule.condition()), *([timing] if timing else []), f"runbook: {shown}"]
    routes: dict[str, list[str]] = {}
    if tree is not None:
        for severity in rule.severities:
            routes[severity.value] = [r.path for r in tree.match(alert_labels(p, severity))]
    facts: dict[str, Any] = {
        "name": rule.name,
        "model": p.model,
        "kind": rule.kind,
        "source": p.source,
        "metric": rule.metric,
        "condition": rule.condition(),
        "window": span(rule.window),
        "for": span(rule.for_) if rule.for_ is not None else None,
        "keep_firing_for": span(rule.keep_firing_for) if rule.keep_firing_for is not None else None,
        "severities": [s.value for s in rule.severities],
        "segment": rule.segment_text,
        "version": rule.version,
        "owner": rule.owner or p.spec.owner.contact or p.spec.owner.team,
        "runbook": rule.runbook,
        "routes": routes,
    }
    return Node(p.id, Stage.RULES, rule.name, tuple(lines), facts, p.model)


def _route(route: RouteNode, root: bool) -> Node:
    title = "root route" if root else ", ".join(map(str, route.matchers)) or "(no matchers)"
    target = "every receiver" if route.receiver == ALL_RECEIVERS else route.receiver
    r = route.route
    lines = [
        f"to {target}",
        *_wrap(f"group by {', '.join(r.group_by)}"),
        f"wait {duration(r.group_wait)} · every {duration(r.group_interval)} · repeat "
        f"{duration(r.repeat_interval)}",
    ]
    if route.continue_:
        lines.append("continue: siblings tried too")
    facts: dict[str, Any] = {
        "id": route.id,
        "path": route.path,
        "matchers": [str(m) for m in route.matchers],
        "receiver": route.receiver,
        "group_by": list(r.group_by),
        "group_wait": r.group_wait,
        "group_interval": r.group_interval,
        "repeat_interval": r.repeat_interval,
        "continue": route.continue_,
    }
    return Node(route_id(route), Stage.ROUTES, title, tuple(lines), facts)


def _receiver(entry: ChannelConfig) -> Node:
    kind = entry.CHANNEL
    where = _where(entry)
    return Node(
        f"receiver:{entry.name}",
        Stage.RECEIVERS,
        entry.name,
        (kind, *_wrap(where)),
        {"kind": kind, "where": where},
    )


def _where(entry: ChannelConfig) -> str:
    """Where a receiver sends, without secrets: a URL's origin, e-mail addresses; never a key or a path."""
    kind = entry.CHANNEL
    if kind in ("webhook", "alertmanager"):
        return shown_url(str(getattr(entry, kind)))
    if kind == "slack":
        return "Slack incoming webhook"
    if kind == "pagerduty":
        return "PagerDuty Events v2"
    email = getattr(entry, "email", None)
    if email is not None:
        return f"e-mail to {', '.join(email.to)} via {email.host}:{email.port}"
    return kind


def _runbook(node_id: str, rule: str, text: str) -> Node:
    if node_id.startswith("runbook:default/"):
        return Node(
            node_id,
            Stage.RUNBOOKS,
            f"{rule} (built in)",
            tuple(_wrap(text.split(". ")[0].strip(".") + ".")[:3]),
            {"kind": "built-in", "text": DEFAULT_RUNBOOKS[rule]},
        )
    if _is_url(text):
        return Node(node_id, Stage.RUNBOOKS, text, (), {"kind": "url", "url": text})
    first = text.strip().splitlines()[0]
    return Node(
        node_id, Stage.RUNBOOKS, f"{rule} (inline)", tuple(_wrap(first)[:3]), {"kind": "inline", "text": text}
    )


def _action(spec: ActionSpec, on: Iterable[str], approval: list[str]) -> Node:
    on = list(on)
    what = spec.kind + (f" to {spec.fallback}" if spec.fallback else "")
    lines = [f"{what} · {'every model' if spec.model == '*' else spec.model}"]
    when = spec.when
    if when is not None:
        at = f" at {when.severity.value} or above" if when.severity is not None else ""
        which = (
            when.alerts[0] + " fires"
            if len(when.alerts) == 1
            else f"{when.needed} of {', '.join(when.alerts)} fire"
        )
        lines += _wrap(f"when {which}{at}")
    else:
        lines.append("by hand only: vigil actions run")
    lines.append(f"cooldown {span(spec.cooldown)}" if spec.cooldown else "no cooldown")
    if approval and len(approval) == len(on):
        lines.append(f"approval required (timeout {span(spec.approval_timeout)})")
    elif approval:
        lines += _wrap(f"approval required on {', '.join(approval)}")
    else:
        lines.append("no approval needed")
    executor = spec.executor
    if spec.webhook is not None:
        lines.append(f"webhook {shown_url(spec.webhook)}")
    elif spec.mlflow is not None:
        lines += _wrap(f"mlflow alias {spec.mlflow.alias} of {spec.mlflow.registered_model}")
    elif spec.command:
        lines.append(f"command {spec.command[0].rsplit('/', 1)[-1]} …")
    facts: dict[str, Any] = {
        "kind": spec.kind,
        "model": spec.model,
        "models": on,
        "when": None
        if when is None
        else {
            "alerts": list(when.alerts),
            "min_signals": when.needed,
            "severity": when.severity.value if when.severity is not None else None,
        },
        "cooldown": span(spec.cooldown) if spec.cooldown else None,
        "approval": approval,
        "approval_timeout": span(spec.approval_timeout),
        "executor": executor,
        "fallback": spec.fallback,
    }
    return Node(f"action:{spec.name}", Stage.ACTIONS, spec.name, tuple(lines), facts)
