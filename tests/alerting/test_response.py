"""The response side through the real app on a fake clock: episodes, incidents with timelines, ack,
MTTA/MTTR, silences from the API (audited), verdicts, and a restart that neither loses nor repeats."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from vigil.config import parse_config
from vigil.server.app import create_app
from vigil.store.sqlite import SQLiteStore

T0 = 1_800_000_000.0 - 1_800_000_000.0 % 3600


def _config(url: str) -> Any:
    return parse_config(f"""
models:
  m: {{task: binary, owner: {{team: risk, contact: "#risk"}}, window: 1m}}
rules:
  - {{name: ErrorRateHigh, model: m, metric: error_rate, warning: 0.05, critical: 0.2, window: 1m, for: 2m}}
  - {{name: LatencyHigh, model: m, metric: latency_p95, warning: 100, window: 1m}}
alerting:
  evaluate_every: 1h
  default_rules: false
  route: {{group_by: [alertname, model], group_wait: 30s, group_interval: 1m, repeat_interval: 4h}}
  receivers: [{{name: hook, webhook: "{url}"}}]
""")


class Timeline:
    """Minutes of traffic: ``trouble(minute)`` gives (error share, latency ms) for that minute."""

    def __init__(self, app: Any, client: TestClient, now: list[float], engine: Any = None) -> None:
        self.app, self.client, self.now = app, client, now
        self.engine = engine or app.state.alerting

    def run(self, minutes: range, trouble: Callable[[int], tuple[float, float]]) -> None:
        for minute in minutes:
            errors, latency = trouble(minute)
            events = [
                {
                    "model": "m",
                    "timestamp": T0 + minute * 60 + i,
                    "latency_ms": latency,
                    **({"error": "Timeout"} if i < errors * 50 else {}),
                }
                for i in range(50)
            ]
            self.now[0] = T0 + minute * 60 + 55
            assert self.client.post("/v1/events", json=events).json()["accepted"] == 50
            self.app.state.vigil.aggregator.wait_idle()
            for tick in (60, 90):
                self.now[0] = T0 + minute * 60 + tick
                self.engine.tick(self.now[0])


def test_incident_timeline_ack_and_response_times(
    tmp_path: Path, hook: tuple[str, list[dict[str, Any]]]
) -> None:
    url, _received = hook
    now = [T0]
    app = create_app(_config(url), SQLiteStore(tmp_path / "v.db"), clock=lambda: now[0], flush_every=0.05)
    with TestClient(app) as client:
        t = Timeline(app, client, now)
        # errors 30% in minutes 3..7, latency 250 ms in minutes 4..5
        t.run(range(0, 5), lambda m: (0.3 if 3 <= m < 8 else 0.0, 250.0 if 4 <= m < 6 else 5.0))
        incidents = client.get("/v1/incidents").json()["incidents"]
        assert len(incidents) == 1  # both rules on one model: one incident
        inc = incidents[0]
        assert inc["status"] == "open" and inc["model"] == "m"
        # latency fires first (no `for`): window [4m,5m) read at 5m; errors hold `for: 2m` from 4m to 6m
        heads = [(e["kind"], e["text"].split(" ")[0]) for e in inc["timeline"]]
        assert heads[:3] == [("opened", "incident"), ("fired", "LatencyHigh"), ("notified", "notified")]
        show = client.get(f"/v1/incidents/{inc['id']}").json()
        assert {a["rule"] for a in show["alerts"]} == {"LatencyHigh"}

        firing = client.get("/v1/alerts").json()["alerts"]
        fp = next(a["fingerprint"] for a in firing if a["labels"]["alertname"] == "LatencyHigh")
        acked = client.post(f"/v1/alerts/{fp}/ack", json={"by": "ana"}).json()
        assert acked["status"] == "acknowledged" and acked["acked_by"] == "ana (unverified)"  # no key
        assert acked["mtta"] == pytest.approx(now[0] - (T0 + 5 * 60))  # opened when latency fired at 5m

        t.run(range(5, 12), lambda m: (0.3 if 3 <= m < 8 else 0.0, 250.0 if m < 6 else 5.0))
        inc = client.get(f"/v1/incidents/{inc['id']}").json()
        rules = [a["rule"] for a in inc["alerts"]]
        assert sorted(rules) == ["ErrorRateHigh", "LatencyHigh"]  # the error alert joined the open incident
        assert inc["status"] == "resolved" and inc["resolved_by"] == "vigil"  # every alert resolved
        kinds = [e["kind"] for e in inc["timeline"]]
        assert kinds.count("fired") == 2 and kinds.count("alert_resolved") == 2 and "resolved" in kinds
        assert inc["timeline"][-1]["text"] == "notified hook (all alerts resolved)"
        assert kinds.index("acknowledged") < kinds.index("resolved")
        assert [e["at"] for e in inc["timeline"]] == sorted(e["at"] for e in inc["timeline"])
        # opened at 5m (latency fired); errors end after minute 7, window [8m, 9m) is clean: resolved at 9m
        assert inc["mttr"] == pytest.approx(4 * 60) and inc["mtta"] == pytest.approx(30)
        rt = client.get("/v1/incidents").json()["response_times"]
        assert rt["incidents"] == 1 and rt["mtta_mean"] == pytest.approx(inc["mtta"])
        ack_audit = client.get("/v1/audit", params={"target": f"incident/{inc['id']}"}).json()["entries"]
        assert [(e["action"], e["actor"]) for e in ack_audit] == [("incident.ack", "ana (unverified)")]
        assert (
            ack_audit[0]["before"]["status"] == "open" and ack_audit[0]["after"]["status"] == "acknowledged"
        )


def test_silence_from_the_api_mutes_and_is_audited(
    tmp_path: Path, hook: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = hook
    now = [T0]
    app = create_app(_config(url), SQLiteStore(tmp_path / "v.db"), clock=lambda: now[0], flush_every=0.05)
    with TestClient(app) as client:
        bad = client.post("/v1/silences", json={"matchers": ['model="m"'], "duration": "1h"})
        assert bad.status_code == 422 and "comment" in bad.json()["error"]
        bad = client.post("/v1/silences", json={"matchers": ["model=~"], "duration": "1h", "comment": "x"})
        assert bad.status_code == 422 and "matcher" in bad.json()["error"]
        made = client.post(
            "/v1/silences",
            json={
                "matchers": ['alertname="LatencyHigh"'],
                "duration": "8m",
                "comment": "known slow",
                "by": "bo",
            },
        )
        assert made.status_code == 201 and made.json()["state"] == "active"
        sid = made.json()["id"]
        t = Timeline(app, client, now)
        t.run(range(0, 6), lambda m: (0.0, 250.0 if m >= 2 else 5.0))
        assert received == []  # latency fired at 3m but is silenced until 8m
        shown = client.get("/v1/alerts").json()["alerts"]
        assert [(a["state"], a["silencedBy"]) for a in shown] == [("suppressed", [sid])]
        assert client.get("/v1/incidents").json()["incidents"][0]["status"] == "open"  # still tracked
        expired = client.delete(f"/v1/silences/{sid}", headers={"X-Vigil-User": "cy"})
        assert expired.json()["state"] == "expired"
        t.run(range(6, 7), lambda m: (0.0, 250.0))
        assert [p["status"] for p in received] == ["firing"]  # notified at the next flush after expiry
        audit = client.get("/v1/audit", params={"target": "silence/"}).json()["entries"]
        assert [(e["action"], e["actor"]) for e in audit] == [
            ("silence.create", "bo (unverified)"),
            ("silence.expire", "cy (unverified)"),
        ]
        assert audit[1]["before"]["ends_at"] > audit[1]["after"]["ends_at"]
        listed = client.get("/v1/silences").json()["silences"]
        assert [(s["id"], s["state"], s["comment"]) for s in listed] == [(sid, "expired", "known slow")]


def test_restart_neither_repeats_nor_restarts_for(
    tmp_path: Path, hook: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = hook
    now = [T0]
    db = tmp_path / "v.db"
    app = create_app(_config(url), SQLiteStore(db), clock=lambda: now[0], flush_every=0.05)
    with TestClient(app) as client:
        Timeline(app, client, now).run(range(0, 5), lambda m: (0.3 if m >= 3 else 0.0, 5.0))
    assert [p["status"] for p in received] == []  # pending since 4m (`for: 2m`), last evaluated at 5m30
    again = create_app(_config(url), SQLiteStore(db), clock=lambda: now[0], flush_every=0.05)
    with TestClient(again) as client:
        Timeline(again, client, now).run(range(5, 6), lambda m: (0.3, 5.0))
        # the restored state kept `pending since 4m`: firing at 6m (not 8m), notified after group_wait
        assert [p["status"] for p in received] == ["firing"]
        episodes = client.get("/v1/episodes", params={"since": str(T0)}).json()["episodes"]
        assert [(e["rule"], e["fired_at"]) for e in episodes] == [("ErrorRateHigh", T0 + 6 * 60)]
    third = create_app(_config(url), SQLiteStore(db), clock=lambda: now[0], flush_every=0.05)
    with TestClient(third) as client:
        Timeline(third, client, now).run(range(6, 8), lambda m: (0.3, 5.0))
    assert [p["status"] for p in received] == ["firing"]  # the same notification is not sent again


def test_rules_through_the_api_fire_and_are_audited(
    tmp_path: Path, hook: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = hook
    now = [T0]
    app = create_app(_config(url), SQLiteStore(tmp_path / "v.db"), clock=lambda: now[0], flush_every=0.05)
    with TestClient(app) as client:
        sources = {r["name"]: r["source"] for r in client.get("/v1/rules").json()["rules"]}
        assert sources == {"ErrorRateHigh": "config", "LatencyHigh": "config"}
        bad = client.put("/v1/rules/Slow", json={"model": "m", "metric": "latency_p95", "warning": "x"})
        assert bad.status_code == 422 and "rule 'Slow'" in bad.json()["error"]
        taken = client.put(
            "/v1/rules/LatencyHigh", json={"model": "m", "metric": "latency_p95", "warning": 1}
        )
        assert taken.status_code == 409 and "config" in taken.json()["detail"]
        rule = {"model": "m", "metric": "latency_p95", "warning": 500, "window": "1m", "by": "ana"}
        assert client.put("/v1/rules/Slow", json=rule).status_code == 200
        assert client.put("/v1/rules/Slow", json={**rule, "warning": 50, "by": "bo"}).status_code == 200
        views = {r["name"]: r for r in client.get("/v1/rules").json()["rules"]}
        assert views["Slow"]["source"] == "api" and views["Slow"]["warning"] == 50
        Timeline(app, client, now).run(range(0, 3), lambda m: (0.0, 80.0 if m >= 1 else 5.0))
        names = {p["alerts"][0]["labels"]["alertname"] for p in received}
        assert names == {"Slow"}  # 80 ms passes the API rule's 50, not the config's 100
        audit = client.get("/v1/audit", params={"target": "rule/Slow"}).json()["entries"]
        assert [(e["action"], e["actor"]) for e in audit] == [
            ("rule.create", "ana (unverified)"),
            ("rule.update", "bo (unverified)"),
        ]
        assert (audit[1]["before"]["warning"], audit[1]["after"]["warning"]) == (500, 50)
        assert client.delete("/v1/rules/Slow").json() == {"deleted": "Slow"}
        assert client.delete("/v1/rules/Slow").status_code == 404
        assert "Slow" not in {r["name"] for r in client.get("/v1/rules").json()["rules"]}


def test_servers_sharing_a_store_notify_once_and_take_over(
    tmp_path: Path, hook: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = hook
    now = [T0]
    db = tmp_path / "v.db"
    a = create_app(_config(url), SQLiteStore(db), clock=lambda: now[0], flush_every=0.05, writer="a")
    b = create_app(_config(url), SQLiteStore(db), clock=lambda: now[0], flush_every=0.05, writer="b")
    with TestClient(a) as client, TestClient(b) as client_b:
        Timeline(a, client, now).run(range(0, 7), lambda m: (0.3 if m >= 3 else 0.0, 5.0))
        b.state.alerting.tick(now[0])  # b follows: a holds the lease
        assert a.state.alerting.leading and not b.state.alerting.leading
        assert [p["status"] for p in received] == ["firing"]
        # a stops evaluating (as if it crashed); b's rounds do nothing until a's lease (3 rounds) runs out
        follower = Timeline(b, client_b, now)  # a is gone: traffic goes to b
        follower.run(range(7, 9), lambda m: (0.3, 5.0))
        assert not b.state.alerting.leading
        now[0] = T0 + 7 * 60 + 90 + 3 * 3600  # a's last renewal + 3 h (evaluate_every: 1h)
        follower.run(range(190, 191), lambda m: (0.3, 5.0))
        assert b.state.alerting.leading  # took over with a's saved states: the alert is still firing
        assert [p["status"] for p in received] == ["firing"]  # and it was not announced again
        follower.run(range(191, 193), lambda m: (0.0, 5.0))
        assert [p["status"] for p in received] == ["firing", "resolved"]
        assert len(b.state.alerting.incidents.all()) == 1


def test_two_signals_roll_back_through_the_webhook_and_the_incident_shows_it(
    tmp_path: Path, hook: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = hook
    config = parse_config(
        f"""
security:
  api_keys: {{admin: [{{name: ana, key: ana-k3y}}, {{name: bo, key: bo-k3y}}]}}
models:
  m: {{task: binary, owner: {{team: risk}}, window: 1m, versions: [v1, v2], live: v2}}
  h: {{task: binary, owner: {{team: risk}}, window: 1m, versions: [v1, v2], live: v2, high_impact: true}}
rules:
  - {{name: ErrorRateHigh, model: "*", metric: error_rate, warning: 0.05, window: 1m}}
  - {{name: LatencyHigh, model: "*", metric: latency_p95, warning: 100, window: 1m}}
actions:
  - {{name: rollback, model: "*", kind: rollback, when: {{alerts: [ErrorRateHigh, LatencyHigh]}},
     webhook: "{url}", cooldown: 1h}}
alerting:
  evaluate_every: 1h
  default_rules: false
  route: {{group_wait: 30s, group_interval: 1m}}
  receivers: [{{name: hook, webhook: "{url}"}}]
"""
    )
    now = [T0]
    app = create_app(config, SQLiteStore(tmp_path / "v.db"), clock=lambda: now[0], flush_every=0.05)
    with TestClient(app, headers={"Authorization": "Bearer ana-k3y"}) as client:
        t = Timeline(app, client, now)
        t.run(range(0, 3), lambda m: (0.3 if m >= 1 else 0.0, 5.0))  # one signal: no action
        assert [p for p in received if "action" in p] == []
        t.run(range(3, 5), lambda m: (0.3, 250.0 if m >= 3 else 5.0))  # two signals
        # (h gets no traffic: only m is in trouble)
        calls = [p for p in received if "action" in p]
        assert [(c["action"], c["model"], c["from_version"], c["to_version"]) for c in calls] == [
            ("rollback", "m", "v2", "v1")
        ]
        runs = client.get("/v1/actions").json()["runs"]
        assert [(r["model"], r["state"], r["requested_by"]) for r in runs] == [("m", "succeeded", "vigil")]
        incident = client.get("/v1/incidents").json()["incidents"][0]
        assert any(e["kind"] == "action" and "rollback" in e["text"] for e in incident["timeline"])
        t.run(range(5, 6), lambda m: (0.3, 250.0))
        assert len([p for p in received if "action" in p]) == 1  # the cooldown holds

        # a person asks on the high-impact model: it waits for a second person
        asked = client.post("/v1/actions/rollback/run", json={"model": "h", "reason": "bad deploy"})
        assert asked.json()["state"] == "awaiting_approval"
        own = client.post(f"/v1/actions/runs/{asked.json()['id']}/approve", json={"by": "bo"})
        assert own.status_code == 409
        bo = {"Authorization": "Bearer bo-k3y"}
        done = client.post(f"/v1/actions/runs/{asked.json()['id']}/approve", headers=bo)
        assert (done.json()["state"], done.json()["approved_by"]) == ("succeeded", "bo")
        assert client.post("/v1/actions/nope/run", json={"model": "h", "reason": "x"}).status_code == 404
        trail = [
            e["action"] for e in client.get("/v1/audit", params={"target": "model/h/"}).json()["entries"]
        ]
        assert trail[:2] == ["action.request", "action.approve_denied"] and "deployment.rollback" in trail


def test_deploys_and_maintenance_windows_mute_and_are_audited(
    tmp_path: Path, hook: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = hook
    now = [T0]
    app = create_app(_config(url), SQLiteStore(tmp_path / "v.db"), clock=lambda: now[0], flush_every=0.05)
    with TestClient(app) as client:
        put = client.put(
            "/v1/maintenance/vacuum",
            json={
                "matchers": ['model="m"'],
                "starts_at": T0 + 60,
                "ends_at": T0 + 4 * 60,
                "comment": "db",
                "by": "ana",
            },
        )
        assert put.status_code == 200
        t = Timeline(app, client, now)
        t.run(range(0, 3), lambda m: (0.0, 250.0))  # latency fires at 1m..3m30: inside the window
        assert received == []
        t.run(range(3, 4), lambda m: (0.0, 250.0))  # the window ended at 4m
        assert [p["status"] for p in received] == ["firing"]
        assert client.delete("/v1/maintenance/vacuum").json() == {"deleted": "vacuum"}
        actions = [
            e["action"]
            for e in client.get("/v1/audit", params={"target": "maintenance/vacuum"}).json()["entries"]
        ]
        assert actions == ["maintenance.create", "maintenance.delete"]

        deployed = client.post(
            "/v1/models/m/deploys", json={"version": "v3", "by": "cy", "grace": "5m", "at": T0 + 600}
        )
        assert deployed.status_code == 201
        assert client.post("/v1/models/nope/deploys", json={"version": "v3"}).status_code == 404
        notes = [
            a["version"]
            for a in client.get("/v1/annotations", params={"model": "m", "to": str(T0 + 3600)}).json()[
                "annotations"
            ]
        ]
        assert notes == ["v3"]
        before = len(received)
        t.run(range(10, 14), lambda m: (0.3, 5.0))  # errors fire at 13m: inside the grace (10m-15m)
        assert len(received) == before  # muted, as is the end of the latency alert (as a silence would)
        t.run(range(14, 15), lambda m: (0.3, 5.0))
        assert [p["groupKey"] for p in received[before:]] == ['all:{alertname="ErrorRateHigh",model="m"}']


def test_replay_and_review_over_what_happened(tmp_path: Path, hook: tuple[str, list[dict[str, Any]]]) -> None:
    url, _ = hook
    now = [T0]
    app = create_app(_config(url), SQLiteStore(tmp_path / "v.db"), clock=lambda: now[0], flush_every=0.05)
    with TestClient(app) as client:
        Timeline(app, client, now).run(range(0, 12), lambda m: (0.3 if 3 <= m < 8 else 0.0, 5.0))
        live = [e for e in client.get("/v1/episodes", params={"since": str(T0)}).json()["episodes"]]
        assert [(e["rule"], e["fired_at"], e["resolved_at"]) for e in live] == [
            ("ErrorRateHigh", T0 + 6 * 60, T0 + 9 * 60)
        ]
        span = {"model": "m", "from": T0, "to": T0 + 12 * 60}
        replayed = client.post("/v1/rules/test", json={"name": "ErrorRateHigh", **span}).json()
        assert [(f["fired_at"], f["resolved_at"]) for f in replayed["firings"]] == [
            (T0 + 6 * 60, T0 + 9 * 60)
        ]
        # the same rule with a looser `for` would have fired a minute earlier
        looser = {
            "name": "T",
            "model": "m",
            "metric": "error_rate",
            "warning": 0.05,
            "window": "1m",
            "for": "1m",
        }
        trial = client.post("/v1/rules/test", json={"rule": looser, **span}).json()
        assert [f["fired_at"] for f in trial["firings"]] == [T0 + 5 * 60] and "fired" in trial["text"]
        bad = client.post("/v1/rules/test", json={"rule": {**looser, "metric": "nope"}, **span})
        assert bad.status_code == 422 and "unknown metric" in bad.json()["error"]
        assert client.post("/v1/rules/test", json={"name": "Nope", **span}).status_code == 404

        now[0] = T0 + 3600
        report = client.get("/v1/review", params={"from": str(T0), "to": str(T0 + 3600)}).json()
        by_rule = {r["rule"]: r for r in report["rules"]}
        assert by_rule["ErrorRateHigh"]["overall"]["episodes"] == 1
        assert by_rule["LatencyHigh"]["verdict"] == "quiet"
        assert "ErrorRateHigh" in report["text"]
        page = client.get("/v1/review", params={"from": str(T0), "format": "html"})
        assert page.headers["content-type"].startswith("text/html") and "ErrorRateHigh" in page.text


def test_an_slo_pages_through_the_pipeline_and_reports_its_budget(
    tmp_path: Path, hook: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = hook
    config = parse_config(
        f"""
models:
  m: {{task: binary, owner: {{team: risk}}, window: 1m}}
slos:
  - {{name: m-availability, model: m, sli: availability, target: 0.99, window: 1d}}
alerting:
  evaluate_every: 1h
  default_rules: false
  route: {{group_wait: 0s, group_interval: 1m}}
  receivers: [{{name: hook, webhook: "{url}"}}]
"""
    )
    now = [T0]
    app = create_app(config, SQLiteStore(tmp_path / "v.db"), clock=lambda: now[0], flush_every=0.05)
    with TestClient(app) as client:
        kinds = {r["name"]: r["kind"] for r in client.get("/v1/rules").json()["rules"]}
        assert kinds == {"m-availability": "slo"}
        t = Timeline(app, client, now)
        t.run(range(0, 60), lambda m: (0.0, 5.0))
        assert received == []
        healthy = client.get("/v1/slos").json()["slos"][0]
        assert healthy["error_budget_remaining"] == pytest.approx(1.0)
        t.run(range(60, 75), lambda m: (0.3, 5.0))  # 30% errors burn a 1% budget at 30x
        pages = [p for p in received if p["status"] == "firing"]
        assert pages and pages[0]["alerts"][0]["labels"]["severity"] == "critical"
        assert pages[0]["alerts"][0]["labels"]["slo"] == "m-availability"
        burning = client.get("/v1/slos").json()["slos"][0]
        # over the window's events so far: 15 of 75 minutes at 30% errors is an error ratio of 6%, six times
        # the 1% allowed (the SRE workbook's budget: 1 - bad / (total x (1 - target)))
        assert burning["error_budget_remaining"] == pytest.approx(1 - (15 * 0.3 / 75) / 0.01, rel=1e-9)


def test_acknowledging_an_incident_acknowledges_the_pagerduty_page(
    tmp_path: Path, hook: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = hook  # stands in for PagerDuty's Events API (a third-party service)
    config = parse_config(
        f"""
models:
  m: {{task: binary, owner: {{team: risk}}, window: 1m}}
rules:
  - {{name: LatencyHigh, model: m, metric: latency_p95, critical: 100, window: 1m}}
alerting:
  evaluate_every: 1h
  default_rules: false
  external_url: https://vigil.example.com
  route: {{group_wait: 0s, group_interval: 1m}}
  receivers: [{{name: pager, pagerduty: "{"k" * 32}", events_url: "{url}"}}]
"""
    )
    now = [T0]
    app = create_app(config, SQLiteStore(tmp_path / "v.db"), clock=lambda: now[0], flush_every=0.05)
    with TestClient(app) as client:
        t = Timeline(app, client, now)
        t.run(range(0, 2), lambda m: (0.0, 250.0))
        assert [e["event_action"] for e in received] == ["trigger"]
        trigger = received[0]
        assert trigger["payload"]["custom_details"]["dashboard_url"].startswith(
            "https://vigil.example.com/models/"
        )
        incident = client.get("/v1/incidents").json()["incidents"][0]
        client.post(f"/v1/incidents/{incident['id']}/ack", json={"by": "ana"})
        assert [e["event_action"] for e in received] == ["trigger", "acknowledge"]
        assert received[1]["dedup_key"] == trigger["dedup_key"]
        t.run(range(2, 4), lambda m: (0.0, 5.0))
        assert [e["event_action"] for e in received] == ["trigger", "acknowledge", "resolve"]


def test_retention_forgets_history_but_keeps_the_audit_log(
    tmp_path: Path, hook: tuple[str, list[dict[str, Any]]]
) -> None:
    url, _ = hook
    now = [T0]
    app = create_app(_config(url), SQLiteStore(tmp_path / "v.db"), clock=lambda: now[0], flush_every=0.05)
    with TestClient(app) as client:
        Timeline(app, client, now).run(range(0, 3), lambda m: (0.0, 250.0))
        client.post("/v1/silences", json={"matchers": ['model="m"'], "duration": "1h", "comment": "x"})
        incident = client.get("/v1/incidents").json()["incidents"][0]
        client.post(f"/v1/incidents/{incident['id']}/ack", json={"by": "ana"})
        engine = app.state.alerting
        kept = engine.prune(now[0] + 6 * 86_400)  # within every retention: nothing goes
        assert sum(kept.values()) == 0
        gone = engine.prune(now[0] + 401 * 86_400)
        assert gone == {
            "episode": 1,
            "action_run": 0,
            "deploy": 0,
            "incident": 1,
            "notification": 1,
            "silence": 1,
        }
        assert client.get("/v1/incidents").json()["incidents"] == []
        actions = [e["action"] for e in client.get("/v1/audit").json()["entries"]]
        assert actions == ["silence.create", "incident.ack"]


def test_metrics_by_segment_through_the_api(tmp_path: Path, hook: tuple[str, list[dict[str, Any]]]) -> None:
    url, _ = hook
    now = [T0 + 300]
    app = create_app(_config(url), SQLiteStore(tmp_path / "v.db"), clock=lambda: now[0], flush_every=0.05)
    with TestClient(app) as client:
        events = [
            {
                "model": "m",
                "request_id": f"r{i}",
                "timestamp": T0 + i,
                "prediction": 1,
                "segments": {"region": "eu" if i % 4 == 0 else "us"},
            }
            for i in range(40)
        ]
        client.post("/v1/events", json=events)
        client.post(
            "/v1/labels", json=[{"model": "m", "request_id": f"r{i}", "label": i % 2} for i in range(40)]
        )
        app.state.vigil.aggregator.wait_idle()
        params = {"names": "accuracy", "from": str(T0), "to": str(T0 + 300), "step": "5m"}
        eu = client.get("/v1/models/m/metrics", params={**params, "segment": "region=eu"}).json()
        every = client.get("/v1/models/m/metrics", params=params).json()
        # eu is every 4th request (all even: label 0, prediction 1): accuracy 0; over all: half right
        assert [v for _, v in eu["series"]["accuracy"]] == [0.0]
        assert [v for _, v in every["series"]["accuracy"]] == [0.5]
        bad = client.get(
            "/v1/models/m/metrics", params={**params, "names": "error_rate", "segment": "region=eu"}
        )
        assert bad.status_code == 422 and "accuracy" in bad.json()["error"]
