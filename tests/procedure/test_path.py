"""The path of an alert: the routes and receivers are the dispatcher's, for any labels; the runbook, incident,
actions and mutes are the ones the engine and the remediator would meet; and a real engine's notifications
reach the receivers the path names."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.procedure.conftest import EXAMPLE, NESTED, checked
from vigil.alerting.alert import Alert
from vigil.alerting.dispatch.routes import MultiDispatcher, RouteTree, receivers_for
from vigil.config import parse_config
from vigil.errors import InputError
from vigil.procedure import EdgeKind, Sections, build, load_sections, parse_labels, trace
from vigil.procedure.graph import drawn_edges
from vigil.server.app import create_app
from vigil.store.sqlite import SQLiteStore

EXAMPLE_SECTIONS = load_sections(EXAMPLE)
NESTED_SECTIONS = checked(NESTED)

NAMES = ["alertname", "model", "severity", "team", "route", "tier", "service", "metric", "kind"]
VALUES = [
    *("HighLatency", "IncomeDrift", "NoData", "Slow", "FraudScoreShift", "EtaCost", "DriftShareHigh"),
    *("credit-risk", "churn", "support-assistant", "fraud", "eta", "nobody"),
    *("critical", "warning", "info", "risk-ml", "growth-ml", "logistics", "finance", "finops"),
    *("gold", "platinum", "silver", "scoring", "drift:income", "no_data", ""),
]
free_labels = st.dictionaries(
    st.sampled_from(NAMES), st.one_of(st.sampled_from(VALUES), st.text(max_size=8)), max_size=len(NAMES)
)


def _of_a_rule(sections: Sections) -> st.SearchStrategy[dict[str, str]]:
    """A rule's alert on a model, at either severity, with some labels given over its own."""
    placed = [(n.title, n.group) for n in build(sections).nodes if n.id.startswith("rule:")]
    more = st.dictionaries(
        st.sampled_from(["team", "tier", "route", "metric"]), st.sampled_from(VALUES), max_size=2
    )
    return st.builds(
        lambda rule, severity, extra: {"alertname": rule[0], "model": rule[1], "severity": severity, **extra},
        st.sampled_from(placed),
        st.sampled_from(["warning", "critical"]),
        more,
    )


def _tree(sections: Sections) -> RouteTree:
    assert sections.alerting is not None
    return sections.alerting.route_tree()


def _dispatched(sections: Sections, labels: Mapping[str, str]) -> set[str]:
    """The receivers the dispatcher's notifications for one alert go to (flushed after every wait)."""
    assert sections.alerting is not None
    dispatcher = MultiDispatcher(_tree(sections))
    dispatcher.receive([Alert(labels, starts_at=0.0)], 0.0)
    names: set[str] = set()
    for notification in dispatcher.flush(10 * 86_400.0):
        names.update(r.name for r in receivers_for(notification.receiver, sections.alerting.receivers))
    return names


@pytest.mark.parametrize("sections", [EXAMPLE_SECTIONS, NESTED_SECTIONS], ids=["example", "nested"])
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_the_path_takes_the_dispatchers_routes_for_any_labels(
    sections: Sections, data: st.DataObject
) -> None:
    labels = data.draw(st.one_of(free_labels, _of_a_rule(sections)))
    tree = _tree(sections)
    exact = trace(sections, labels, complete=False)
    assert exact.labels == labels
    assert [r.id for r in exact.routes] == [r.id for r in tree.match(labels)]
    assert set(exact.receivers) == _dispatched(sections, labels)
    completed = trace(sections, labels)
    assert {k: completed.labels[k] for k in labels} == labels  # what is given wins
    assert [r.id for r in completed.routes] == [r.id for r in tree.match(completed.labels)]
    assert set(completed.receivers) == _dispatched(sections, completed.labels)
    p = build(sections)
    assert completed.nodes <= {n.id for n in p.nodes}
    drawn = {key for d in drawn_edges(p, completed.edges) for key in d.stands_for}
    assert completed.edges <= drawn  # everything highlighted is drawn


@pytest.mark.parametrize("sections", [EXAMPLE_SECTIONS, NESTED_SECTIONS], ids=["example", "nested"])
def test_each_rule_and_severity_reaches_what_its_drawn_edges_say(sections: Sections) -> None:
    p = build(sections)
    for rule in [n for n in p.nodes if n.id.startswith("rule:")]:
        drawn: dict[str, set[str]] = {}
        for e in p.out(rule.id, EdgeKind.ROUTES):
            for severity in e.label.split(", "):
                drawn.setdefault(severity, set()).add(e.target)
        for severity in rule.facts["severities"]:
            path = trace(sections, {"alertname": rule.title, "model": rule.group, "severity": severity})
            assert path.rules == (rule.id,)
            assert {f"route:{r.path}" for r in path.routes} == drawn[severity], (rule.id, severity)


def test_a_critical_latency_alert_pages_and_tells_the_chat(example: Sections) -> None:
    path = trace(example, parse_labels(["alertname=HighLatency model=churn severity=critical"]))
    text = path.text()
    assert text.splitlines()[0] == "pager,chat"  # as amtool config routes test prints it
    assert path.labels["team"] == "growth-ml" and path.completed_from == "rule:churn/HighLatency"
    assert [r.path for r in path.routes] == ["alerting.route.routes[0]", "alerting.route.routes[1]"]
    assert path.runbooks == (
        ("runbook:https://runbooks.example.com/latency", "https://runbooks.example.com/latency"),
    )
    assert 'route alerting.route.routes[0] {severity="critical"} -> pager (continue)' in text
    assert {
        "model:churn",
        "telemetry:events",
        "metric:churn/latency_p95",
        "rule:churn/HighLatency",
        "route:alerting.route",
        "route:alerting.route.routes[0]",
        "receiver:pager",
        "receiver:chat",
        "incident:churn",
    } <= path.nodes
    assert "receiver:tickets" not in path.nodes and "route:alerting.route.routes[4]" not in path.nodes
    assert ("route:alerting.route", "route:alerting.route.routes[1]", EdgeKind.CHILD) in path.edges


def test_the_team_label_the_rule_adds_decides_a_warning(example: Sections) -> None:
    given = {"alertname": "IncomeDrift", "model": "credit-risk", "severity": "warning"}
    assert trace(example, given).receivers == ("risk-chat",)
    assert trace(example, {**given, "team": "other"}).receivers == ("tickets",)  # a given label wins
    assert trace(example, given, complete=False).receivers == ("tickets",)  # no team label: the ticket route
    nested_route = trace(example, given).routes[0]
    assert nested_route.path == "alerting.route.routes[2].routes[0]"
    walked = trace(example, given).edges
    assert (
        "route:alerting.route.routes[2]",
        "route:alerting.route.routes[2].routes[0]",
        EdgeKind.CHILD,
    ) in walked
    assert ("route:alerting.route", "route:alerting.route.routes[2]", EdgeKind.CHILD) in walked


def test_actions_count_the_alert_as_the_remediator_does(example: Sections) -> None:
    drift = trace(example, {"alertname": "IncomeDrift", "model": "credit-risk", "severity": "warning"})
    (rollback,) = drift.actions
    assert rollback[0] == "action:rollback-credit"
    assert "needs 2 distinct signals, have 1 (IncomeDrift)" in rollback[1]
    assert ("rule:credit-risk/IncomeDrift", "action:rollback-credit", EdgeKind.SIGNALS) in drift.edges
    retrain = trace(example, {"alertname": "DriftShareHigh", "model": "churn", "severity": "critical"})
    assert retrain.actions == (
        (
            "action:retrain-churn",
            "triggers (1 distinct signals at critical or above: DriftShareHigh): runs, unless it ran on "
            "churn in the last 1d",
        ),
    )
    warned = trace(example, {"alertname": "DriftShareHigh", "model": "churn", "severity": "warning"})
    assert warned.actions == (
        ("action:retrain-churn", "does not count: the trigger takes critical or above"),
    )
    assert "action:retrain-churn" not in warned.nodes
    manual = trace(
        example, {"alertname": "AssistantCost", "model": "support-assistant", "severity": "warning"}
    )
    assert manual.actions[0][0] == "action:assistant-fallback" and "a person runs it" in manual.actions[0][1]


def test_what_may_mute_it(example: Sections) -> None:
    drift = dict(
        trace(example, {"alertname": "IncomeDrift", "model": "credit-risk", "severity": "warning"}).mutes
    )
    assert set(drift) == {
        "mute:inhibit/critical mutes warning",
        "mute:inhibit/no data mutes drift",
        "mute:maintenance/credit-db-vacuum",
        "mute:deploy-grace",
    }
    assert drift["mute:maintenance/credit-db-vacuum"] == "during sun 02:00–04:00 Europe/Berlin"
    no_data = dict(trace(example, {"alertname": "NoData", "model": "churn", "severity": "warning"}).mutes)
    assert set(no_data) == {"mute:inhibit/critical mutes warning"}  # deploys never mute NoData


def test_labels_that_name_no_rule_are_routed_as_given(example: Sections) -> None:
    path = trace(example, {"alertname": "Nope", "severity": "warning"})
    assert path.rules == () and path.completed_from is None and path.receivers == ("tickets",)
    assert any("No rule of the config is named Nope" in n for n in path.notes)
    across = trace(example, {"alertname": "HighLatency", "severity": "critical"})
    assert across.rules == (
        "rule:credit-risk/HighLatency",
        "rule:churn/HighLatency",
        "rule:support-assistant/HighLatency",
    )
    assert across.completed_from is None  # which model's labels? none are added
    assert any("No severity given" in n for n in trace(example, {"alertname": "HighLatency"}).notes)
    assert any(
        "fires at critical only" in n
        for n in trace(
            example, {"alertname": "EuAccuracy", "model": "credit-risk", "severity": "warning"}
        ).notes
    )


def test_labels_are_read_as_name_value_pairs() -> None:
    assert parse_labels(["a=1 b=2", 'c="x y"', "d="]) == {"a": "1", "b": "2", "c": "x y", "d": ""}
    for bad in ["severity", "1a=b", "a-b=c", 'a="open']:
        with pytest.raises(InputError) as caught:
            parse_labels([bad])
        assert "name=value" in str(caught.value)


# -- a real engine sends where the path says --------------------------------------------------------------


@pytest.fixture
def recorder() -> Iterator[tuple[str, list[tuple[str, dict[str, Any]]]]]:
    """A local webhook endpoint: (base URL, the (path, JSON body) of every POST)."""
    received: list[tuple[str, dict[str, Any]]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append((self.path, json.loads(self.rfile.read(int(self.headers["Content-Length"])))))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()


T0 = 1_800_000_000.0 - 1_800_000_000.0 % 3600


def test_a_fired_rules_notifications_reach_the_receivers_its_path_names(
    tmp_path: Path, recorder: tuple[str, list[tuple[str, dict[str, Any]]]]
) -> None:
    url, received = recorder
    text = f"""
models:
  m: {{task: binary, owner: {{team: risk-ml}}, window: 1m}}
rules:
  - {{name: Errors, model: m, metric: error_rate, warning: 0.05, critical: 0.2, window: 1m,
     labels: {{tier: gold}}}}
alerting:
  evaluate_every: 1h
  default_rules: false
  route:
    receiver: ops
    group_wait: 0s
    routes:
      - matchers: ['team="risk-ml"']
        receiver: risk
        continue: true
        routes:
          - {{matchers: ['tier="gold"', 'severity="critical"'], receiver: vip}}
      - {{matchers: ['severity="critical"'], receiver: pager}}
      - {{matchers: ['severity="warning"'], receiver: tickets}}
  receivers:
    - {{name: ops, webhook: "{url}/ops"}}
    - {{name: risk, webhook: "{url}/risk"}}
    - {{name: vip, webhook: "{url}/vip"}}
    - {{name: pager, webhook: "{url}/pager"}}
    - {{name: tickets, webhook: "{url}/tickets"}}
"""
    config = parse_config(text)
    path = trace(checked(text), {"alertname": "Errors", "model": "m", "severity": "critical"})
    assert path.receivers == ("vip", "pager")  # the rule's team and tier labels pick them
    now = [T0]
    store = SQLiteStore(tmp_path / "v.db")
    app = create_app(config, store, clock=lambda: now[0], flush_every=0.05, root=tmp_path)
    with TestClient(app) as client:
        for minute in range(3):
            events = [
                {"model": "m", "timestamp": T0 + minute * 60 + i, "latency_ms": 5.0, "error": "boom"}
                for i in range(20)
            ]
            now[0] = T0 + minute * 60 + 55
            assert client.post("/v1/events", json=events).json()["accepted"] == 20
            app.state.vigil.aggregator.wait_idle()
            now[0] = T0 + (minute + 1) * 60 + 1
            app.state.alerting.tick(now[0])
    store.close()
    reached = {where.strip("/") for where, body in received if body["status"] == "firing"}
    labels = [body["alerts"][0]["labels"] for _, body in received]
    assert labels and all(lb["severity"] == "critical" and lb["alertname"] == "Errors" for lb in labels)
    assert reached == set(path.receivers)
