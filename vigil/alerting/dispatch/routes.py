"""The routing tree: which receivers an alert goes to, grouped and timed how (Alertmanager's ``route:``).

A route has an optional list of ``matchers`` (``vigil.alerting.matchers`` syntax, all must match), a
``receiver``, ``group_by``, ``group_wait``, ``group_interval``, ``repeat_interval``, ``continue`` and
child ``routes``. Exact semantics, as Alertmanager's ``dispatch/route.go``:

* **Inheritance**: a child leaves out what it shares with its parent; ``receiver``, ``group_by`` and the
  three timings are then the parent's (after the parent's own inheritance). ``matchers``, ``continue``
  and ``routes`` are never inherited. The root's defaults are the single-route engine's: ``group_by:
  [alertname, model]``, ``group_wait: 30s``, ``group_interval: 5m``, ``repeat_interval: 4h``, and the
  receiver :data:`ALL_RECEIVERS` (``"all"``: every configured receiver; a route may also name it, unless a
  receiver is itself called ``all``). So the flat form
  ``route: {group_by: [...], group_wait: ...}`` is a root without children and behaves as before.
* **Matching** (:meth:`RouteTree.match`): the root takes every alert (it has no matchers). A route whose
  matchers match tries its children in order, depth first: the first child that takes the alert ends
  the search unless that child has ``continue: true``, in which case the next siblings are tried too.
  When no child takes it, the route takes it itself. The result is the list of routes that take the
  alert, in tree order; never empty.
* **Identity**: each route has an ``id``: ``{}`` for the root, then ``<parent id>/{<matchers sorted by
  name, value, operator>}/<position among its siblings>``, e.g. ``{}/{severity="critical"}/0`` (the
  first-level ids are Alertmanager's route ``ID()``; deeper ones stay unique because they extend the
  parent's id, not its key). ``path`` is where the route is written in the config
  (``alerting.route.routes[0]``), for messages.

**Severity decides page or ticket** by routing on the ``severity`` label (``critical`` or ``warning``, set on
every alert): critical alerts go to the pager, warnings to the ticket queue, anything else (and an alert
that matches no child) to the root's receiver. Rules can also name a receiver with ``route:`` (the alert's
``route`` label) and models' owners give the ``team`` label, so both can be routed on. Example (the tests
parse it)::

    alerting:
      receivers:
        - {name: ops, webhook: http://alerts.example.com/hook}
        - {name: pager, pagerduty: "${PAGERDUTY_ROUTING_KEY}"}
        - {name: chat, slack: "${SLACK_WEBHOOK_URL}"}
        - {name: tickets, webhook: http://tickets.example.com/hook}
        - {name: risk-chat, slack: "${RISK_SLACK_WEBHOOK_URL}"}
      route:
        receiver: ops                       # what no child takes
        group_by: [alertname, model]
        group_wait: 30s
        group_interval: 5m
        repeat_interval: 4h
        routes:
          - matchers: ['severity="critical"']
            receiver: pager
            group_wait: 10s                 # page fast
            continue: true                  # ... and also tell the chat
          - matchers: ['severity="critical"']
            receiver: chat
          - matchers: ['severity="warning"', 'team="risk-ml"']
            receiver: risk-chat
          - matchers: ['severity="warning"']
            receiver: tickets
            group_by: [model]               # one ticket per model
            group_wait: 5m
            repeat_interval: 1d

:class:`MultiDispatcher` runs one :class:`~vigil.alerting.dispatch.dispatcher.Dispatcher` per route, so each
route groups and times its alerts on its own; a notification's ``receiver`` is its route's receiver. Its
``group_key`` is the dispatcher's (``<receiver>:{<group labels>}``) for the root, so keys and dedup keys
(PagerDuty's is derived from it) are unchanged from the single-route engine, and ``<route id>:`` followed
by the dispatcher's for every other route, so two routes to one receiver never share a group.

:meth:`RouteTree.from_config` checks a ``route:`` mapping and raises one ``ConfigError`` naming every
problem (unknown keys, matcher syntax, durations, receivers that are not configured) with its path.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError

from vigil.alerting.alert import Alert
from vigil.alerting.dispatch.dispatcher import Dispatcher, Notification, Route
from vigil.alerting.fingerprint import Labels
from vigil.alerting.matchers import Matcher, MatcherError, MatchType, matches_all, parse_matcher
from vigil.alerting.mute import Muter
from vigil.errors import ConfigError, ConfigProblem
from vigil.timefmt import parse_duration

__all__ = [
    "ALL_RECEIVERS",
    "ROOT_DEFAULTS",
    "MultiDispatcher",
    "RouteConfig",
    "RouteNode",
    "RouteTree",
    "receivers_for",
]

ALL_RECEIVERS = "all"
"""The root's receiver when the config names none: every configured receiver (see :func:`receivers_for`)."""

ROOT_DEFAULTS = Route(ALL_RECEIVERS, ("alertname", "model"), 30.0, 300.0, 4 * 3600.0)
"""What the root route uses for what it leaves out."""

_OPERATOR_ORDER = {MatchType.EQUAL: 0, MatchType.NOT_EQUAL: 1, MatchType.REGEX: 2, MatchType.NOT_REGEX: 3}


class RouteConfig(BaseModel):
    """One route as written in YAML (``alerting.route`` and its ``routes``); see the module docstring."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    receiver: str | None = None
    group_by: list[str] | None = None
    # Any: checked by _seconds, so that YAML's false or a list is reported as "not a duration".
    group_wait: Any = None
    group_interval: Any = None
    repeat_interval: Any = None
    matchers: list[str] = Field(default_factory=list)
    continue_: StrictBool = Field(default=False, alias="continue")
    routes: list[RouteConfig] = Field(default_factory=list)


@dataclass(frozen=True, eq=False)
class RouteNode:
    """One route of the tree with its inherited settings resolved; ``route`` is its receiver and timings."""

    id: str
    path: str
    matchers: tuple[Matcher, ...]
    route: Route
    continue_: bool = False
    routes: tuple[RouteNode, ...] = ()

    @property
    def receiver(self) -> str:
        return self.route.receiver

    def match(self, labels: Labels) -> list[RouteNode]:
        """The routes under (and including) this one that take ``labels``; empty when its matchers fail."""
        if not matches_all(self.matchers, labels):
            return []
        taken: list[RouteNode] = []
        for child in self.routes:
            found = child.match(labels)
            taken.extend(found)
            if found and not child.continue_:
                break
        return taken or [self]

    def walk(self) -> Iterator[RouteNode]:
        """This route and every route below it, depth first, in config order."""
        yield self
        for child in self.routes:
            yield from child.walk()


class RouteTree:
    """A checked routing tree; :meth:`match` says which routes take an alert."""

    def __init__(self, root: RouteNode) -> None:
        if root.matchers or root.continue_:
            raise ValueError("the root route takes every alert: it can have neither matchers nor continue")
        self.root = root
        self._nodes = tuple(root.walk())
        ids = [n.id for n in self._nodes]
        if len(set(ids)) != len(ids):
            raise ValueError(f"route ids must be unique, got {ids!r}")

    def match(self, labels: Labels) -> list[RouteNode]:
        """The routes that take an alert with ``labels``, in tree order (at least the root)."""
        return self.root.match(labels)

    def nodes(self) -> tuple[RouteNode, ...]:
        """Every route, depth first in config order (the root first)."""
        return self._nodes

    def receivers(self) -> set[str]:
        """The receiver names some route sends to."""
        return {n.receiver for n in self._nodes}

    @classmethod
    def from_config(
        cls,
        config: RouteConfig | Mapping[str, Any] | None,
        receivers: Collection[str] | None,
        *,
        filename: str = "vigil.yaml",
        path: str = "alerting.route",
    ) -> RouteTree:
        """Check ``config`` (the ``route:`` mapping; None: all defaults) against the receiver names (None:
        unknown, so not checked).

        Raises ``ConfigError`` listing every problem, each with its path under ``path``.
        """
        problems: list[ConfigProblem] = []
        if config is None:
            config = RouteConfig()
        if not isinstance(config, RouteConfig):
            try:
                config = RouteConfig.model_validate(config)
            except ValidationError as exc:
                raise ConfigError(_validation_problems(exc, filename, path)) from None
        known = None if receivers is None else sorted(set(receivers))
        if config.receiver is None and known is not None and ALL_RECEIVERS in known:
            problems.append(
                ConfigProblem(
                    filename,
                    None,
                    None,
                    f"{path}.receiver",
                    f"the root route names no receiver, which means every receiver, but one receiver is "
                    f"itself named {ALL_RECEIVERS!r}",
                    f"give the root a receiver: (e.g. receiver: {ALL_RECEIVERS}), or rename that receiver",
                )
            )
        if config.matchers:
            problems.append(
                ConfigProblem(
                    filename,
                    None,
                    None,
                    f"{path}.matchers",
                    "the root route takes every alert, so it cannot have matchers",
                    "move the matchers into a child under routes:",
                )
            )
        if config.continue_:
            problems.append(
                ConfigProblem(
                    filename,
                    None,
                    None,
                    f"{path}.continue",
                    "the root route has no siblings, so continue means nothing there",
                    "remove continue from the root",
                )
            )
        root = _build(config, ROOT_DEFAULTS, "{}", path, (), known, filename, problems)
        if problems or root is None:
            raise ConfigError(problems)
        return cls(root)


def _build(
    config: RouteConfig,
    parent: Route,
    node_id: str,
    path: str,
    matchers: tuple[Matcher, ...],
    known: Sequence[str] | None,
    filename: str,
    problems: list[ConfigProblem],
) -> RouteNode | None:
    """The node for ``config`` under a parent with settings ``parent``; problems are appended."""

    def problem(key: str, message: str, hint: str) -> None:
        problems.append(ConfigProblem(filename, None, None, f"{path}.{key}" if key else path, message, hint))

    receiver = parent.receiver if config.receiver is None else config.receiver
    if known is not None and config.receiver is not None and config.receiver not in (*known, ALL_RECEIVERS):
        listed = ", ".join(known) if known else "none are configured"
        close = difflib.get_close_matches(config.receiver, known, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        problem(
            "receiver",
            f"route sends to receiver {config.receiver!r}, which is not configured (receivers: {listed})",
            f"{hint}add it under alerting.receivers or name one of those",
        )
    group_by = parent.group_by if config.group_by is None else tuple(config.group_by)
    if config.group_by is not None and "..." in group_by and len(group_by) > 1:
        problem(
            "group_by",
            f"'...' groups by all labels and cannot be combined with other labels (got {list(group_by)!r})",
            "write group_by: ['...'] alone, or list the labels",
        )
    timings: dict[str, float] = {}
    for name in ("group_wait", "group_interval", "repeat_interval"):
        value = getattr(config, name)
        inherited: float = getattr(parent, name)
        timings[name] = inherited
        if value is not None:
            seconds = _seconds(value, allow_zero=name == "group_wait")
            if seconds is None:
                zero = " (0 for none)" if name == "group_wait" else ""
                problem(
                    name, f"{name} is not a duration: {value!r}", f"write it like 30s, 5m, 4h or 1d{zero}"
                )
            else:
                timings[name] = seconds
    route = Route(
        receiver, group_by, timings["group_wait"], timings["group_interval"], timings["repeat_interval"]
    )
    children: list[RouteNode] = []
    for index, child in enumerate(config.routes):
        child_path = f"{path}.routes[{index}]"
        parsed: list[Matcher] = []
        for m_index, text in enumerate(child.matchers):
            try:
                parsed.append(parse_matcher(text))
            except MatcherError as exc:
                problems.append(
                    ConfigProblem(
                        filename, None, None, f"{child_path}.matchers[{m_index}]", str(exc), "fix the matcher"
                    )
                )
        child_matchers = tuple(sorted(parsed, key=lambda m: (m.name, m.value, _OPERATOR_ORDER[m.type])))
        child_id = f"{node_id}/{{{','.join(str(m) for m in child_matchers)}}}/{index}"
        node = _build(child, route, child_id, child_path, child_matchers, known, filename, problems)
        if node is not None:
            children.append(node)
    if len(children) != len(config.routes):
        return None
    return RouteNode(node_id, path, matchers, route, config.continue_, tuple(children))


def _seconds(value: object, *, allow_zero: bool) -> float | None:
    if allow_zero and (
        (isinstance(value, int | float) and not isinstance(value, bool) and value == 0)
        or (isinstance(value, str) and value.strip() in ("0", "0s"))
    ):
        return 0.0
    try:
        return parse_duration(value).total_seconds()
    except (ValueError, OverflowError):
        return None


def _validation_problems(exc: ValidationError, filename: str, path: str) -> list[ConfigProblem]:
    out: list[ConfigProblem] = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        where = path + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)
        if error["type"] == "extra_forbidden":
            allowed = ", ".join(f.alias or n for n, f in RouteConfig.model_fields.items())
            out.append(
                ConfigProblem(
                    filename, None, None, where, f"unknown key {loc[-1]!r}", f"allowed keys: {allowed}"
                )
            )
        else:
            out.append(
                ConfigProblem(
                    filename,
                    None,
                    None,
                    where,
                    f"{error['msg']} (got {error['input']!r})",
                    "see vigil.alerting.dispatch.routes",
                )
            )
    return out


class _Named(Protocol):
    @property
    def name(self) -> str: ...


_R = TypeVar("_R", bound=_Named)


def receivers_for(receiver: str, receivers: Sequence[_R]) -> list[_R]:
    """The receivers a notification for ``receiver`` goes to: the one of that name, or all for ``"all"``."""
    if receiver == ALL_RECEIVERS and all(r.name != ALL_RECEIVERS for r in receivers):
        return list(receivers)
    return [r for r in receivers if r.name == receiver]


class MultiDispatcher:
    """One :class:`~vigil.alerting.dispatch.dispatcher.Dispatcher` per route of a tree; holds no clock.

    Each alert received goes to the dispatchers of the routes that take it (:meth:`RouteTree.match`), so
    an alert routed twice is grouped, waited for and repeated by each route on its own timings.
    """

    def __init__(self, tree: RouteTree) -> None:
        self.tree = tree
        self._dispatchers = {node.id: Dispatcher(node.route) for node in tree.nodes()}

    def dispatcher(self, route_id: str) -> Dispatcher:
        """The dispatcher of the route with ``route_id`` (KeyError for an unknown id)."""
        return self._dispatchers[route_id]

    def receive(self, alerts: Iterable[Alert], now: float) -> None:
        """File each alert with every route that takes it; it replaces the one with the same fingerprint."""
        routed: dict[str, list[Alert]] = {}
        for alert in alerts:
            for node in self.tree.match(alert.labels):
                routed.setdefault(node.id, []).append(alert)
        for route_id, batch in routed.items():
            self._dispatchers[route_id].receive(batch, now)

    def next_flush_at(self) -> float | None:
        """When the next group of any route is due, or None with no groups."""
        return min(
            (t for d in self._dispatchers.values() if (t := d.next_flush_at()) is not None), default=None
        )

    def alerts(self) -> list[Alert]:
        """Every alert held by some route, once (by fingerprint), sorted by fingerprint.

        Every route taking an alert received the same (latest) version of it, so any copy is that version.
        """
        seen: dict[str, Alert] = {}
        for dispatcher in self._dispatchers.values():
            for alert in dispatcher.alerts():
                seen.setdefault(alert.fingerprint, alert)
        return [seen[fp] for fp in sorted(seen)]

    def flush(
        self, now: float, muter: Muter | None = None, notified: Callable[[Alert], bool] | None = None
    ) -> list[Notification]:
        """The notifications due at ``now``: by route in tree order, then by group key (``notified``: see
        :meth:`Dispatcher.flush <vigil.alerting.dispatch.dispatcher.Dispatcher.flush>`)."""
        out: list[Notification] = []
        for node in self.tree.nodes():
            for notification in self._dispatchers[node.id].flush(now, muter, notified):
                if node is not self.tree.root:
                    notification = replace(notification, group_key=f"{node.id}:{notification.group_key}")
                out.append(notification)
        return out
