"""The procedure as a graph: nodes in stages, typed edges, and the ids renderers give them.

A node's ``id`` is its identity in words, stable while the config says the same thing about it:
``model:credit-risk``, ``telemetry:events``, ``metric:credit-risk/error_rate``,
``rule:credit-risk/ErrorRateHigh``, ``route:alerting.route.routes[0]``, ``receiver:pager``,
``runbook:https://…``, ``incident:credit-risk``, ``action:rollback-credit``,
``mute:inhibit/critical mutes warning``. Renderers need ids made of letters,
digits and ``_``: :func:`safe_ids` derives them from these (``rule_credit_risk_ErrorRateHigh``), so a diagram
keeps its ids when another part of the config changes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

__all__ = [
    "STAGE_TITLES",
    "Drawn",
    "Edge",
    "EdgeKind",
    "Node",
    "Procedure",
    "Stage",
    "drawn_edges",
    "safe_ids",
]


class Stage(StrEnum):
    """The columns of the diagram, in the order an inference travels through them."""

    MODELS = "models"
    TELEMETRY = "telemetry"
    METRICS = "metrics"
    RULES = "rules"
    ROUTES = "routes"
    MUTES = "mutes"
    RECEIVERS = "receivers"
    RUNBOOKS = "runbooks"
    INCIDENTS = "incidents"
    ACTIONS = "actions"


STAGE_TITLES: Mapping[Stage, str] = MappingProxyType(
    {
        Stage.MODELS: "Inference points",
        Stage.TELEMETRY: "Telemetry",
        Stage.METRICS: "Metrics",
        Stage.RULES: "Rules",
        Stage.ROUTES: "Routes",
        Stage.MUTES: "Muting",
        Stage.RECEIVERS: "Receivers",
        Stage.RUNBOOKS: "Runbooks",
        Stage.INCIDENTS: "Incidents",
        Stage.ACTIONS: "Remediation",
    }
)


class EdgeKind(StrEnum):
    """What an edge means."""

    SENDS = "sends"
    """model → telemetry: what the model's service sends."""
    FEEDS = "feeds"
    """telemetry → metric: what the metric is computed from."""
    WATCHES = "watches"
    """metric → rule."""
    ROUTES = "routes"
    """rule → route: the routes that take its alerts (the label says at which severities)."""
    CHILD = "child"
    """route → route: the tree (a child is tried only when its parent matches)."""
    NOTIFIES = "notifies"
    """route → receiver."""
    RUNBOOK = "runbook"
    """rule → runbook: what its alerts link to."""
    OPENS = "opens"
    """rule → incident: a firing alert joins its model's open incident, or opens one."""
    SIGNALS = "signals"
    """rule → action: a firing alert of the rule counts towards the action's trigger."""
    BY_HAND = "by hand"
    """incident → action: an action without a trigger, run by a person."""


@dataclass(frozen=True)
class Node:
    """One box: ``title`` and ``lines`` are what it shows; ``facts`` the same as data (JSON values)."""

    id: str
    stage: Stage
    title: str
    lines: tuple[str, ...] = ()
    facts: Mapping[str, Any] = field(default_factory=dict)
    group: str = ""
    """The model a metric or rule belongs to: diagrams box each model's together."""


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    kind: EdgeKind
    label: str = ""

    @property
    def key(self) -> tuple[str, str, EdgeKind]:
        """Its identity: at most one edge of a kind joins two nodes."""
        return (self.source, self.target, self.kind)


@dataclass(frozen=True)
class Procedure:
    """The whole procedure. Nodes are in stage order, then in config order; edges in the order built."""

    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    notes: tuple[str, ...] = ()
    """What the diagram cannot show, in sentences (no alerting section, a rule for no declared model...)."""
    source: str = "vigil.yaml"
    """The config file it was drawn from."""
    _by_id: Mapping[str, Node] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_id = {n.id: n for n in self.nodes}
        if len(by_id) != len(self.nodes):
            raise ValueError("node ids must be unique")
        for e in self.edges:
            if e.source not in by_id or e.target not in by_id:
                raise ValueError(f"edge {e.key} joins a node that is not in the graph")
        object.__setattr__(self, "_by_id", MappingProxyType(by_id))

    def node(self, node_id: str) -> Node:
        """The node with ``node_id`` (KeyError when there is none)."""
        return self._by_id[node_id]

    def __contains__(self, node_id: object) -> bool:
        return node_id in self._by_id

    def stage(self, stage: Stage) -> list[Node]:
        """The nodes of ``stage``, in order."""
        return [n for n in self.nodes if n.stage is stage]

    def out(self, node_id: str, kind: EdgeKind | None = None) -> list[Edge]:
        """The edges leaving ``node_id`` (of ``kind``, when given), in order."""
        return [e for e in self.edges if e.source == node_id and (kind is None or e.kind is kind)]

    def into(self, node_id: str, kind: EdgeKind | None = None) -> list[Edge]:
        """The edges reaching ``node_id`` (of ``kind``, when given), in order."""
        return [e for e in self.edges if e.target == node_id and (kind is None or e.kind is kind)]

    def stages(self) -> Iterator[tuple[Stage, list[Node]]]:
        """Each stage that has nodes, with them, in stage order."""
        for stage in Stage:
            nodes = self.stage(stage)
            if nodes:
                yield stage, nodes


_UNSAFE = re.compile(r"[^A-Za-z0-9]+")


def safe_ids(ids: Iterable[str]) -> dict[str, str]:
    """An id of letters, digits and ``_`` for each id: its words joined by ``_``; where two would be the same,
    each of those gets the first 6 hex digits of the SHA-1 of its id added.

    >>> safe_ids(["rule:credit-risk/ErrorRateHigh", "model:a.b", "model:a-b"])
    {'rule:credit-risk/ErrorRateHigh': 'rule_credit_risk_ErrorRateHigh', 'model:a.b': 'model_a_b_703e2d', \
'model:a-b': 'model_a_b_168f8e'}
    """
    ids = list(dict.fromkeys(ids))
    plain = {i: _UNSAFE.sub("_", i).strip("_") or "n" for i in ids}
    seen: dict[str, int] = {}
    for value in plain.values():
        seen[value] = seen.get(value, 0) + 1
    return {
        i: f"{p}_{hashlib.sha1(i.encode()).hexdigest()[:6]}" if seen[p] > 1 else p for i, p in plain.items()
    }


@dataclass(frozen=True)
class Drawn:
    """An arrow of a diagram: one edge, or the edges of a kind from every node of a group to one target
    (``group`` is then the group box's id and ``source`` one of its nodes)."""

    source: str
    target: str
    kind: EdgeKind
    label: str
    stands_for: frozenset[tuple[str, str, EdgeKind]]
    group: str = ""


_GATHERED = (EdgeKind.OPENS,)
"""Kinds drawn once per group: every rule of a model opens that model's incident."""
_ON_PATH_ONLY = (EdgeKind.RUNBOOK,)
"""Kinds drawn only where a path goes: each rule box names its runbook, and an arrow from every rule to a
column far to its right would cross the whole diagram (and cost Graphviz most of its time)."""


def group_id(node: Node) -> str:
    """The id of the box around the node's group: ``group:rules/credit-risk``; empty without a group."""
    return f"group:{node.stage.value}/{node.group}" if node.group else ""


def diagram_ids(procedure: Procedure) -> dict[str, str]:
    """:func:`safe_ids` of every node and group box (the ids a diagram uses)."""
    groups = [g for n in procedure.nodes if (g := group_id(n))]
    return safe_ids([*(n.id for n in procedure.nodes), *groups])


def drawn_edges(procedure: Procedure, extra: Iterable[tuple[str, str, EdgeKind]] = ()) -> list[Drawn]:
    """The arrows to draw, in the order of the edges: an edge of a kind in ``_GATHERED`` that every node of
    its source's group has, to the same target, is drawn once, from the group; one of a kind in
    ``_ON_PATH_ONLY`` only when it is among ``extra`` (a path's edges). Then each of ``extra`` that the
    graph lacks: an alert with labels of its own can take a route no rule's own alerts take."""
    groups: dict[tuple[Stage, str], set[str]] = {}
    for node in procedure.nodes:
        if node.group:
            groups.setdefault((node.stage, node.group), set()).add(node.id)
    out: list[Drawn] = []
    done: set[tuple[str, str, EdgeKind]] = set()
    present = {e.key for e in procedure.edges}
    shown = set(extra)
    for edge in procedure.edges:
        source = procedure.node(edge.source)
        if edge.kind in _ON_PATH_ONLY and edge.key not in shown:
            continue
        if edge.kind in _GATHERED and source.group:
            members = groups[(source.stage, source.group)]
            keys = frozenset((m, edge.target, edge.kind) for m in members)
            if keys <= present:
                gathered = (group_id(source), edge.target, edge.kind)
                if gathered not in done:
                    done.add(gathered)
                    out.append(Drawn(edge.source, edge.target, edge.kind, edge.label, keys, group_id(source)))
                continue
        out.append(Drawn(edge.source, edge.target, edge.kind, edge.label, frozenset({edge.key})))
    for key in sorted(shown - present):
        if key[0] in procedure and key[1] in procedure:
            out.append(Drawn(key[0], key[1], key[2], "", frozenset({key})))
    return out
