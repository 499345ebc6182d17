"""What each box of the diagram says: its title, its lines (wrapped to a width) and its facts (JSON values).

Nothing here reads a secret: receivers and webhooks are shown by their kind and origin (a URL's scheme, host
and port), an e-mail receiver by its addresses, a command by its program's name.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from typing import Any

from vigil.actions.config import ActionSpec
from vigil.actions.secrets import shown_url
from vigil.alerting.dispatch.routes import ALL_RECEIVERS, RouteNode, RouteTree
from vigil.alerting.notify.channel import ChannelConfig
from vigil.alerting.rules import DEFAULT_RUNBOOKS
from vigil.alerting.rules.base import span
from vigil.procedure.graph import Node, Stage
from vigil.procedure.placed import PlacedRule, alert_labels, duration, is_url, route_id, runbook_id
from vigil.spec import ModelSpec

__all__ = [
    "TELEMETRY",
    "action_box",
    "model_box",
    "receiver_box",
    "route_box",
    "rule_box",
    "runbook_box",
    "wrap",
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


def wrap(text: str) -> list[str]:
    return textwrap.wrap(text, _WRAP, break_on_hyphens=False, break_long_words=False) or [""]


def model_box(name: str, spec: ModelSpec) -> Node:
    lines = [f"{spec.task} · {spec.environment}"]
    versions = list(spec.versions)
    if versions:
        live = spec.live_version
        shown = ", ".join(f"{v} (live)" if v == live else v for v in versions)
        lines += wrap(f"versions {shown}")
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


def rule_box(p: PlacedRule, tree: RouteTree | None) -> Node:
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
    shown = "none" if book is None or not rule.runbook else runbook_box(book, rule.name, rule.runbook).title
    lines = [kind, *wrap(rule.condition()), *([timing] if timing else []), f"runbook: {shown}"]
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


def route_box(route: RouteNode, root: bool) -> Node:
    title = "root route" if root else ", ".join(map(str, route.matchers)) or "(no matchers)"
    target = "every receiver" if route.receiver == ALL_RECEIVERS else route.receiver
    r = route.route
    lines = [
        f"to {target}",
        *wrap(f"group by {', '.join(r.group_by)}"),
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


def receiver_box(entry: ChannelConfig) -> Node:
    kind = entry.CHANNEL
    where = _where(entry)
    return Node(
        f"receiver:{entry.name}",
        Stage.RECEIVERS,
        entry.name,
        (kind, *wrap(where)),
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


def runbook_box(node_id: str, rule: str, text: str) -> Node:
    if node_id.startswith("runbook:default/"):
        return Node(
            node_id,
            Stage.RUNBOOKS,
            f"{rule} (built in)",
            tuple(wrap(text.split(". ")[0].strip(".") + ".")[:3]),
            {"kind": "built-in", "text": DEFAULT_RUNBOOKS[rule]},
        )
    if is_url(text):
        return Node(node_id, Stage.RUNBOOKS, text, (), {"kind": "url", "url": text})
    first = text.strip().splitlines()[0]
    return Node(
        node_id, Stage.RUNBOOKS, f"{rule} (inline)", tuple(wrap(first)[:3]), {"kind": "inline", "text": text}
    )


def action_box(spec: ActionSpec, on: Iterable[str], approval: list[str]) -> Node:
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
        lines += wrap(f"when {which}{at}")
    else:
        lines.append("by hand only: vigil actions run")
    lines.append(f"cooldown {span(spec.cooldown)}" if spec.cooldown else "no cooldown")
    if approval and len(approval) == len(on):
        lines.append(f"approval required (timeout {span(spec.approval_timeout)})")
    elif approval:
        lines += wrap(f"approval required on {', '.join(approval)}")
    else:
        lines.append("no approval needed")
    executor = spec.executor
    if spec.webhook is not None:
        lines.append(f"webhook {shown_url(spec.webhook)}")
    elif spec.mlflow is not None:
        lines += wrap(f"mlflow alias {spec.mlflow.alias} of {spec.mlflow.registered_model}")
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
