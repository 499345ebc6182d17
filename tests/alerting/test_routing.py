"""The routing tree (Alertmanager's route semantics) and the MultiDispatcher, on explicit times (seconds)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

import vigil.alerting.dispatch.routes as routing
from vigil.alerting.alert import Alert, AlertStatus
from vigil.alerting.dispatch.dispatcher import Dispatcher, Notification, Reason, Route
from vigil.alerting.dispatch.routes import (
    ALL_RECEIVERS,
    ROOT_DEFAULTS,
    MultiDispatcher,
    RouteConfig,
    RouteTree,
    receivers_for,
)
from vigil.alerting.matchers import parse_matcher
from vigil.alerting.mute import Muter
from vigil.alerting.mute.silences import Silence, Silences
from vigil.errors import ConfigError

FIRING, RESOLVED = AlertStatus.FIRING, AlertStatus.RESOLVED


def docstring_config() -> dict[str, Any]:
    """The ``alerting:`` example of the module docstring, as YAML reads it."""
    doc = routing.__doc__ or ""
    block = doc.split("parse it)::\n", 1)[1].split("\n\n:class:", 1)[0]
    parsed: dict[str, Any] = yaml.safe_load(block)["alerting"]
    return parsed


def docstring_tree() -> RouteTree:
    config = docstring_config()
    return RouteTree.from_config(config["route"], [r["name"] for r in config["receivers"]])


def receivers(tree: RouteTree, labels: Mapping[str, str]) -> list[str]:
    return [node.receiver for node in tree.match(labels)]


# -- the documented example: severity decides page or ticket ---------------------------------------------


def test_docstring_example_pages_critical_and_tickets_warnings() -> None:
    tree = docstring_tree()
    assert receivers(tree, {"alertname": "ErrorRate", "model": "credit", "severity": "critical"}) == [
        "pager",
        "chat",
    ]
    warning = {"alertname": "Drift", "model": "fraud", "severity": "warning", "team": "fraud-ml"}
    assert receivers(tree, warning) == ["tickets"]
    assert receivers(tree, {**warning, "team": "risk-ml"}) == ["risk-chat"]
    assert receivers(tree, {"alertname": "Odd", "model": "x"}) == ["ops"]  # no child takes it: the root


def test_docstring_example_inherits_and_overrides_settings() -> None:
    pager, chat, risk_chat, tickets = docstring_tree().root.routes
    assert pager.route == Route("pager", ("alertname", "model"), 10.0, 300.0, 14400.0)
    assert chat.route == Route("chat", ("alertname", "model"), 30.0, 300.0, 14400.0)
    assert risk_chat.route == Route("risk-chat", ("alertname", "model"), 30.0, 300.0, 14400.0)
    assert tickets.route == Route("tickets", ("model",), 300.0, 300.0, 86400.0)
    assert (pager.continue_, chat.continue_) == (True, False)
    assert pager.id == '{}/{severity="critical"}/0'
    assert risk_chat.id == '{}/{severity="warning",team="risk-ml"}/2'
    assert risk_chat.path == "alerting.route.routes[2]"


# -- Alertmanager's own routing tests (dispatch/route_test.go, TestRouteMatchers, TestRouteWalk) ---------

AM_TREE = """
receiver: notify-def
group_by: []
routes:
- matchers: ['owner="team-A"', 'level!="critical"']
  receiver: notify-A
  routes:
  - matchers: ['env="testing"', 'baz!~".*quux"']
    receiver: notify-testing
    group_by: ['...']
  - matchers: ['env="production"']
    receiver: notify-productionA
    group_wait: 1m
    continue: true
  - matchers: [ 'env=~"produ.*"', 'job=~".*"']
    receiver: notify-productionB
    group_wait: 30s
    group_interval: 5m
    repeat_interval: 1h
    group_by: ['job']
- matchers: ['owner=~"team-(B|C)"']
  group_by: ['foo', 'bar']
  group_wait: 2m
  receiver: notify-BC
- matchers: ['group_by="role"']
  group_by: ['role']
  routes:
  - matchers: ['env="testing"']
    receiver: notify-testing
    routes:
    - matchers: ['wait="long"']
      group_wait: 2m
"""
AM_RECEIVERS = [
    "notify-def",
    "notify-A",
    "notify-testing",
    "notify-productionA",
    "notify-productionB",
    "notify-BC",
]
TEAM_A = '{}/{level!="critical",owner="team-A"}/0'


def am_tree() -> RouteTree:
    return RouteTree.from_config(yaml.safe_load(AM_TREE), AM_RECEIVERS)


def default(receiver: str, group_by: tuple[str, ...] = (), group_wait: float = 30.0) -> Route:
    return Route(receiver, group_by, group_wait, 300.0, 14400.0)


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ({"owner": "team-A"}, [(TEAM_A, default("notify-A"))]),
        ({"owner": "team-A", "env": "unset"}, [(TEAM_A, default("notify-A"))]),
        (
            {"owner": "team-C"},
            [('{}/{owner=~"team-(B|C)"}/1', default("notify-BC", ("foo", "bar"), 120.0))],
        ),
        (
            {"owner": "team-A", "env": "testing"},
            [(TEAM_A + '/{baz!~".*quux",env="testing"}/0', default("notify-testing", ("...",)))],
        ),
        (
            {"owner": "team-A", "env": "production"},
            [
                (TEAM_A + '/{env="production"}/1', default("notify-productionA", (), 60.0)),
                (
                    TEAM_A + '/{env=~"produ.*",job=~".*"}/2',
                    Route("notify-productionB", ("job",), 30.0, 300.0, 3600.0),
                ),
            ],
        ),
        ({"group_by": "role"}, [('{}/{group_by="role"}/2', default("notify-def", ("role",)))]),
        (
            {"env": "testing", "group_by": "role"},
            [('{}/{group_by="role"}/2/{env="testing"}/0', default("notify-testing", ("role",)))],
        ),
        (
            {"env": "testing", "group_by": "role", "wait": "long"},
            [
                (
                    '{}/{group_by="role"}/2/{env="testing"}/0/{wait="long"}/0',
                    default("notify-testing", ("role",), 120.0),
                )
            ],
        ),
        ({"owner": "team-A", "level": "critical"}, [("{}", default("notify-def"))]),  # fallback to the root
    ],
)
def test_alertmanager_route_matchers(labels: dict[str, str], expected: list[tuple[str, Route]]) -> None:
    assert [(n.id, n.route) for n in am_tree().match(labels)] == expected


def test_alertmanager_route_walk() -> None:
    assert [n.receiver for n in am_tree().nodes()] == [
        "notify-def",
        "notify-A",
        "notify-testing",
        "notify-productionA",
        "notify-productionB",
        "notify-BC",
        "notify-def",
        "notify-testing",
        "notify-testing",
    ]
    assert len({n.id for n in am_tree().nodes()}) == 9


def test_group_by_all_is_inherited_and_can_be_overridden() -> None:
    config = {
        "routes": [
            {
                "matchers": ['env="parent"'],
                "group_by": ["..."],
                "routes": [
                    {"matchers": ['env="child1"']},
                    {"matchers": ['env="child2"'], "group_by": ["foo"]},
                ],
            }
        ]
    }
    parent = RouteTree.from_config(config, []).root.routes[0]
    child1, child2 = parent.routes
    assert (parent.route.group_by, child1.route.group_by, child2.route.group_by) == (
        ("...",),
        ("...",),
        ("foo",),
    )


# -- continue, fallback, depth first ---------------------------------------------------------------------


def tree(*children: dict[str, Any], **root: Any) -> RouteTree:
    return RouteTree.from_config(
        {"receiver": "root", **root, "routes": list(children)}, ["root", "a", "b", "c", "d"]
    )


def test_first_match_wins_without_continue() -> None:
    t = tree(
        {"matchers": ['severity="critical"'], "receiver": "a"},
        {"matchers": ['model="credit"'], "receiver": "b"},
    )
    assert receivers(t, {"severity": "critical", "model": "credit"}) == ["a"]
    assert receivers(t, {"severity": "warning", "model": "credit"}) == ["b"]
    assert receivers(t, {"severity": "warning", "model": "fraud"}) == ["root"]


def test_continue_tries_later_siblings_only_after_a_match() -> None:
    t = tree(
        {"matchers": ['severity="critical"'], "receiver": "a", "continue": True},
        {"matchers": ['model="credit"'], "receiver": "b", "continue": True},
        {"matchers": ['team="risk"'], "receiver": "c"},
        {"matchers": ['team="risk"'], "receiver": "d"},
    )
    assert receivers(t, {"severity": "critical", "model": "credit", "team": "risk"}) == ["a", "b", "c"]
    assert receivers(t, {"severity": "critical", "team": "risk"}) == ["a", "c"]
    assert receivers(t, {"severity": "critical"}) == ["a"]  # continue, but nothing else matched


def test_a_matching_child_whose_children_do_not_match_takes_the_alert_itself() -> None:
    t = tree(
        {
            "matchers": ['team="risk"'],
            "receiver": "a",
            "routes": [{"matchers": ['env="prod"'], "receiver": "b"}],
        }
    )
    assert receivers(t, {"team": "risk", "env": "prod"}) == ["b"]
    assert receivers(t, {"team": "risk", "env": "dev"}) == ["a"]
    assert receivers(t, {"team": "fraud", "env": "prod"}) == [
        "root"
    ]  # children only see what the parent took


def test_continue_on_a_nested_match_is_the_childs_own_flag() -> None:
    t = tree(
        {
            "matchers": ['team="risk"'],
            "receiver": "a",
            "routes": [{"matchers": ['env="prod"'], "receiver": "b", "continue": True}],
        },
        {"matchers": ['env="prod"'], "receiver": "c"},
    )
    # The first child took it (through its child); that first child has no continue, so the search stops.
    assert receivers(t, {"team": "risk", "env": "prod"}) == ["b"]


def test_children_inherit_from_their_parent_not_the_root() -> None:
    t = tree(
        {
            "matchers": ['team="risk"'],
            "receiver": "a",
            "group_by": ["model"],
            "group_wait": "1m",
            "routes": [{"matchers": ['env="prod"'], "repeat_interval": "1h"}],
        },
        group_interval="10m",
    )
    (leaf,) = t.match({"team": "risk", "env": "prod"})
    assert leaf.route == Route("a", ("model",), 60.0, 600.0, 3600.0)


# -- the flat form and defaults --------------------------------------------------------------------------


def test_flat_route_is_a_root_sending_to_every_receiver_with_the_old_defaults() -> None:
    flat = {
        "group_by": ["alertname", "model"],
        "group_wait": "30s",
        "group_interval": "5m",
        "repeat_interval": "4h",
    }
    for config in (flat, None, RouteConfig()):
        t = RouteTree.from_config(config, ["ops", "chat"])
        assert t.root.route == ROOT_DEFAULTS == Route("all", ("alertname", "model"), 30.0, 300.0, 14400.0)
        assert (t.root.routes, t.root.id, t.receivers()) == ((), "{}", {ALL_RECEIVERS})
    custom = RouteTree.from_config({"group_by": ["model"], "group_wait": 0, "repeat_interval": 7200}, [])
    assert custom.root.route == Route("all", ("model",), 0.0, 300.0, 7200.0)


def test_the_root_notifies_with_the_single_route_dispatchers_group_keys() -> None:
    alerts = [Alert({"alertname": "Drift", "model": m, "severity": "warning"}) for m in ("a", "b")]
    single, multi = Dispatcher(ROOT_DEFAULTS), MultiDispatcher(RouteTree.from_config(None, []))
    single.receive(alerts, 0)
    multi.receive(alerts, 0)
    assert multi.flush(30) == single.flush(30)
    assert multi.dispatcher("{}").route == ROOT_DEFAULTS


@dataclass
class _Named:
    name: str


def test_receivers_for_picks_by_name_and_all_means_every_receiver() -> None:
    ops, chat = _Named("ops"), _Named("chat")
    assert receivers_for("chat", [ops, chat]) == [chat]
    assert receivers_for(ALL_RECEIVERS, [ops, chat]) == [ops, chat]
    assert receivers_for("pager", [ops, chat]) == []
    named_all = _Named("all")
    assert receivers_for(ALL_RECEIVERS, [ops, named_all]) == [named_all]


# -- validation ------------------------------------------------------------------------------------------


def problems(config: Mapping[str, Any], known: Sequence[str] = ("ops", "pager", "chat")) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        RouteTree.from_config(config, known, filename="vigil.yaml")
    return [str(p) for p in caught.value.problems]


def test_unknown_receiver_names_the_route_path_the_name_and_the_known_ones() -> None:
    (text,) = problems(
        {"receiver": "ops", "routes": [{"matchers": ['severity="critical"'], "receiver": "pagr"}]}
    )
    assert text.startswith("vigil.yaml: alerting.route.routes[0].receiver: ")
    assert "'pagr'" in text and "chat, ops, pager" in text and "did you mean 'pager'?" in text


def test_every_problem_is_reported_at_once_with_its_path() -> None:
    found = problems(
        {
            "receiver": "nobody",
            "routes": [
                {"matchers": ["severity=critical!"], "receiver": "chat"},
                {"matchers": ['team="x"'], "group_wait": "soon", "group_interval": 0},
                {"matchers": ['team="y"'], "group_by": ["...", "model"], "routes": [{"receiver": "nope"}]},
            ],
        }
    )
    paths = [re.sub(r"^vigil\.yaml: ([^:]+): .*$", r"\1", p, flags=re.S) for p in found]
    assert paths == [
        "alerting.route.receiver",
        "alerting.route.routes[0].matchers[0]",
        "alerting.route.routes[1].group_wait",
        "alerting.route.routes[1].group_interval",
        "alerting.route.routes[2].group_by",
        "alerting.route.routes[2].routes[0].receiver",
    ]
    assert "not a duration: 'soon'" in found[2]
    assert "not a duration: 0" in found[3]


def test_the_root_can_have_neither_matchers_nor_continue() -> None:
    found = problems({"receiver": "ops", "matchers": ['team="x"'], "continue": True})
    assert [p.split(": ")[1] for p in found] == ["alerting.route.matchers", "alerting.route.continue"]


def test_unknown_keys_and_wrong_types_are_reported_with_their_path() -> None:
    (unknown,) = problems({"routes": [{"recever": "ops"}]})
    assert unknown.startswith("vigil.yaml: alerting.route.routes[0].recever: unknown key 'recever'")
    assert "continue" in unknown  # the allowed keys are listed
    (wrong,) = problems({"routes": [{"continue": "yes please"}]})
    assert wrong.startswith("vigil.yaml: alerting.route.routes[0].continue: ")


def test_a_receiver_named_all_needs_the_root_to_name_its_receiver() -> None:
    (text,) = problems({}, known=("all", "ops"))
    assert "alerting.route.receiver" in text and "'all'" in text
    assert RouteTree.from_config({"receiver": "all"}, ["all", "ops"]).root.receiver == "all"
    assert RouteTree.from_config({"routes": [{"receiver": "all"}]}, ["ops"]).root.routes[0].receiver == "all"


def test_tree_refuses_a_root_with_matchers() -> None:
    root = routing.RouteNode("{}", "alerting.route", (parse_matcher('a="b"'),), ROOT_DEFAULTS)
    with pytest.raises(ValueError, match="root route"):
        RouteTree(root)


# -- MultiDispatcher: a timeline -------------------------------------------------------------------------


def drive(
    dispatcher: MultiDispatcher,
    events: Mapping[float, Sequence[Alert]],
    until: float,
    muter: Muter | None = None,
) -> list[Notification]:
    """Receive each event at its time and flush whenever something is due (a perfect scheduler)."""
    pending = sorted(events)
    sent: list[Notification] = []
    while True:
        due = dispatcher.next_flush_at()
        candidates = [t for t in (pending[0] if pending else None, due) if t is not None]
        if not candidates or min(candidates) > until:
            return sent
        now = min(candidates)
        if pending and pending[0] == now:
            dispatcher.receive(events[pending.pop(0)], now)
        sent.extend(dispatcher.flush(now, muter))


CRITICAL = {"alertname": "ErrorRate", "model": "credit", "severity": "critical", "team": "risk-ml"}
WARNING = {"alertname": "Drift", "model": "fraud", "severity": "warning", "team": "fraud-ml"}


def test_critical_pages_and_chats_warning_tickets_each_on_its_own_group_wait() -> None:
    d = MultiDispatcher(docstring_tree())
    crit, warn = Alert(CRITICAL, starts_at=0), Alert(WARNING, starts_at=0)
    resolved = Alert(CRITICAL, RESOLVED, starts_at=0, ends_at=100)
    sent = drive(d, {0: [crit, warn], 100: [resolved]}, until=700)
    assert [(n.at, n.receiver, n.reason, len(n.firing), len(n.resolved)) for n in sent] == [
        (10, "pager", Reason.FIRST, 1, 0),  # group_wait 10s
        (30, "chat", Reason.FIRST, 1, 0),  # inherits 30s from the root
        (300, "tickets", Reason.FIRST, 1, 0),  # group_wait 5m
        (310, "pager", Reason.ALL_RESOLVED, 0, 1),  # next group_interval of each route
        (330, "chat", Reason.ALL_RESOLVED, 0, 1),
    ]
    assert sent[0].group_key == '{}/{severity="critical"}/0:pager:{alertname="ErrorRate",model="credit"}'
    assert sent[2].group_key == '{}/{severity="warning"}/3:tickets:{model="fraud"}'
    assert d.alerts() == [warn]  # the resolved critical is gone once both of its routes sent it


def test_alerts_held_by_two_routes_are_listed_once_and_next_flush_is_the_earliest() -> None:
    d = MultiDispatcher(docstring_tree())
    crit, warn = Alert(CRITICAL), Alert(WARNING)
    assert d.next_flush_at() is None
    d.receive([crit, warn], 5)
    assert d.alerts() == sorted([crit, warn], key=lambda a: a.fingerprint)
    assert d.next_flush_at() == 15
    assert len(d.dispatcher('{}/{severity="critical"}/1').alerts()) == 1


def test_two_routes_to_one_receiver_keep_separate_groups() -> None:
    t = RouteTree.from_config(
        {
            "receiver": "ops",
            "routes": [
                {"matchers": ['severity="critical"'], "receiver": "chat", "continue": True},
                {"matchers": ['team="risk-ml"'], "receiver": "chat"},
            ],
        },
        ["ops", "chat"],
    )
    sent = drive(MultiDispatcher(t), {0: [Alert(CRITICAL)]}, until=60)
    assert [n.receiver for n in sent] == ["chat", "chat"]
    assert len({n.group_key for n in sent}) == 2


def test_flush_passes_the_muter_to_every_route() -> None:
    muter = Silences([Silence((parse_matcher('severity="critical"'),), 0, 1000, "ana", "incident drill")])
    sent = drive(
        MultiDispatcher(docstring_tree()), {0: [Alert(CRITICAL), Alert(WARNING)]}, until=400, muter=muter
    )
    assert [(n.at, n.receiver) for n in sent] == [(300, "tickets")]
