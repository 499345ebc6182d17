"""The operator's command line (``vigil alerts|silences|incidents|audit|rules|review|actions``) against the
real server on loopback: uvicorn in a thread, a fake clock shared by the server and the CLI, the alert
engine ticked by hand. Commands whose routes the server does not serve yet are skipped, naming the route."""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from click.testing import CliRunner, Result

from tests.fakes import FakeClock
from vigil.cli.main import main
from vigil.config import parse_config
from vigil.server.app import create_app
from vigil.store.sqlite import SQLiteStore

T0 = 1_800_000_000.0 - 1_800_000_000.0 % 3600

KEYS = {"ana": "ana-k3y", "bo": "bo-k3y", "cy": "cy-k3y"}
_HOLDERS = ", ".join(f"{{name: {user}, key: {key}}}" for user, key in KEYS.items())
NAMED = f"security: {{api_keys: {{admin: [{_HOLDERS}]}}}}\n"
OPEN = """
models:
  m: {task: binary, owner: {team: risk, contact: "#risk"}, window: 1m}
rules:
  - {name: ErrorRateHigh, model: m, metric: error_rate, warning: 0.05, critical: 0.2, window: 1m, for: 2m}
  - {name: LatencyHigh, model: m, metric: latency_p95, warning: 100, window: 1m}
alerting:
  evaluate_every: 1h
  default_rules: false
  route: {group_by: [alertname, model], group_wait: 30s, group_interval: 1m, repeat_interval: 4h}
"""
CONFIG = NAMED + OPEN  # each operator has a key of their own: the key says who did what

KEYED = """
security: {api_keys: {admin: [s3cret]}}
models:
  m: {task: binary, owner: {team: risk}, window: 1m}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Served:
    """A running server: its URL, the app (for the engine and the aggregator) and its clock."""

    url: str
    app: Any
    clock: FakeClock
    keys: dict[str, str]

    def cli(self, *args: str, user: str = "ana", url: str | None = None, key: str | None = None) -> Result:
        """``vigil ARGS --url URL`` on the same clock as the server, as ``user`` (with their key)."""
        key = key if key is not None else self.keys.get(user)
        env = {"VIGIL_USER": user, "VIGIL_API_KEY": key, "VIGIL_URL": None, "COLUMNS": "100"}
        return CliRunner().invoke(main, [*args, "--url", url or self.url], obj=self.clock, env=env)

    def serves(self, method: str, path: str) -> bool:
        return any(
            getattr(r, "path", None) == path and method in (getattr(r, "methods", None) or ())
            for r in _every_route(self.app.routes)
        )

    def traffic(self, minutes: range, latency: Callable[[int], float]) -> None:
        """50 events a minute with ``latency(minute)`` ms; the engine ticks at 60 s and 90 s of each."""
        for minute in minutes:
            events = [
                {"model": "m", "timestamp": T0 + minute * 60 + i, "latency_ms": latency(minute)}
                for i in range(50)
            ]
            self.clock.now = T0 + minute * 60 + 55
            key = {"Authorization": f"Bearer {self.keys['ana']}"} if self.keys else {}
            answer = httpx.post(f"{self.url}/v1/events", json=events, headers=key, timeout=10)
            assert answer.json()["accepted"] == 50, answer.text
            assert self.app.state.vigil.aggregator.wait_idle()
            for tick in (60, 90):
                self.clock.now = T0 + minute * 60 + tick
                self.app.state.alerting.tick(self.clock.now)


def _every_route(routes: Iterable[Any]) -> Iterator[Any]:
    """The routes, and those of included routers (FastAPI keeps an included router as one route)."""
    for route in routes:
        yield route
        router = getattr(route, "original_router", route)
        yield from _every_route(getattr(router, "routes", None) or ())


@contextmanager
def _serve(tmp_path: Path, config: str) -> Iterator[Served]:
    clock = FakeClock(T0)
    app = create_app(parse_config(config), SQLiteStore(tmp_path / "v.db"), clock=clock, flush_every=0.05)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="vigil-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield Served(f"http://127.0.0.1:{port}", app, clock, KEYS if NAMED in config else {})
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    with _serve(tmp_path, CONFIG) as s:
        yield s


def _ok(result: Result) -> str:
    assert result.exit_code == 0, (result.exit_code, result.output, result.exception)
    return result.stdout


def _one_line_error(result: Result) -> str:
    assert result.exit_code == 2, (result.exit_code, result.output)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def _fits(text: str) -> None:
    assert all(len(line) <= 100 for line in text.splitlines()), text


def test_silence_create_list_expire_and_the_audit(served: Served) -> None:
    made = served.cli(
        "alerts", "silence", "model=m", 'alertname=~"Latency.*"', "--duration", "2h", "--comment", "deploy"
    )
    sid = _ok(made).strip()
    assert len(sid) == 16 and "until 2027-01-15 10:00 (in 2h)" in made.stderr

    listed = _ok(served.cli("silences", "list"))
    _fits(listed)
    header, row = listed.splitlines()
    assert header.split() == ["ID", "STATE", "ENDS", "BY", "MATCHERS", "COMMENT"]
    assert row.split()[:2] == [sid, "active"] and "2027-01-15 10:00 (in 2h)" in row
    assert 'model="m" alertname=~"Latency.*"' in row and row.endswith("deploy") and " ana " in row
    assert _ok(served.cli("silences", "list", "--expired")).strip() == "no expired silences"

    served.clock.now = T0 + 600
    expired = _ok(served.cli("silences", "expire", sid[:6], user="cy"))
    assert expired.strip() == f"silence {sid} expired at 2027-01-15 08:10"
    assert _ok(served.cli("silences", "list")).strip() == "no active or pending silences"
    gone = _ok(served.cli("silences", "list", "--expired"))
    assert sid in gone and "expired" in gone and "2027-01-15 08:10 (0s ago)" in gone
    raw = json.loads(_ok(served.cli("silences", "list", "--expired", "--json")))["silences"]
    assert [(s["id"], s["state"], s["created_by"]) for s in raw] == [(sid, "expired", "ana")]

    # --until: a duration from now on the clock the CLI is given
    until = _ok(served.cli("alerts", "silence", "{model=m}", "--until", "90m", "--comment", "x")).strip()
    raw = json.loads(_ok(served.cli("silences", "list", "--json")))["silences"]
    assert [(s["id"], s["ends_at"]) for s in raw] == [(until, _iso(T0 + 600 + 5400))]

    audit = _ok(served.cli("audit", "--target", "silence/"))
    _fits(audit)
    lines = audit.splitlines()
    assert lines[0].split() == ["AT", "ACTOR", "ACTION", "TARGET"]
    entries = [line.split()[4:] for line in lines[1:] if line.startswith("2027-")]
    assert entries == [
        ["ana", "silence.create", f"silence/{sid}"],
        ["cy", "silence.expire", f"silence/{sid}"],
        ["ana", "silence.create", f"silence/{until}"],
    ]
    assert lines[2] == (
        '    matchers=model="m" alertname=~"Latency.*", starts_at=2027-01-15 08:00, ends_at=2027-01-15 10:00,'
    )
    assert lines[3] == "      created_by=ana, comment=deploy"
    assert lines[5] == "    ends_at 2027-01-15 10:00 → 2027-01-15 08:10"
    raw = json.loads(_ok(served.cli("audit", "--since", "5m", "--json")))["entries"]
    assert [e["action"] for e in raw] == ["silence.expire", "silence.create"]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["credit"], "invalid matcher 'credit': a bare word is not a matcher"),
        (["model=m", "alertname=~("], "invalid regex '('"),
        (['model="unclosed'], "invalid matcher"),
        (["team="], "would mute every alert"),  # the server's refusal, on one line
    ],
)
def test_bad_matchers_are_one_line_errors(served: Served, args: list[str], says: str) -> None:
    error = _one_line_error(served.cli("alerts", "silence", *args, "--duration", "1h", "--comment", "c"))
    assert says in error


def test_a_silence_must_say_how_long(served: Served) -> None:
    error = _one_line_error(served.cli("alerts", "silence", "model=m", "--comment", "c"))
    assert "--duration 2h or --until TIME" in error
    error = _one_line_error(served.cli("alerts", "silence", "model=m", "--until", "soon", "--comment", "c"))
    assert "--until: not a time: 'soon'" in error


def test_alerts_ack_incident_timeline_note_resolve_and_verdict(served: Served) -> None:
    assert _ok(served.cli("alerts", "list")).strip() == "no alerts firing"
    served.traffic(range(0, 5), lambda minute: 250.0 if minute >= 2 else 5.0)

    listed = _ok(served.cli("alerts", "list"))
    _fits(listed)
    header, row = listed.splitlines()
    assert header.split()[:5] == ["FINGERPRINT", "ALERTNAME", "MODEL", "SEVERITY", "SINCE"]
    cells = row.split()
    fp = json.loads(_ok(served.cli("alerts", "list", "--json")))["alerts"][0]["fingerprint"]
    assert cells[:4] == [fp[:12], "LatencyHigh", "m", "warning"]
    assert "2m ago" in row and "250/100" in row and "latency_p95 of m is 250" in row
    assert _ok(served.cli("alerts", "list", "--model", "other")).strip() == "no alerts firing"
    assert _ok(served.cli("alerts", "list", "--severity", "warning")) == listed
    assert _ok(served.cli("alerts", "list", "--all")).split()[4] == "STATUS"

    assert "no current alert has a fingerprint starting with 'zz'" in _one_line_error(
        served.cli("alerts", "ack", "zz")
    )
    acked = _ok(served.cli("alerts", "ack", fp[:5], "--note", "looking at it"))
    incident_id = f"INC-{datetime.fromtimestamp(T0 + 180, UTC):%Y%m%d-%H%M%S}-m"
    assert acked.strip() == (
        f"{incident_id} acknowledged by ana at 2027-01-15 08:05 (MTTA 2m30s)"
    )  # fired at 3m, acknowledged at 5m30s

    served.clock.now = T0 + 400
    assert _ok(served.cli("incidents", "note", incident_id, "rolled back to v1", user="bo")).strip() == (
        f"note added to {incident_id}"
    )
    listed = _ok(served.cli("incidents", "list", "--status", "open,acknowledged", "--since", "7d"))
    _fits(listed)
    lines = listed.splitlines()
    assert lines[0].split() == ["ID", "STATUS", "SEVERITY", "OPENED", "MTTA", "MTTR", "TITLE"]
    assert lines[1].split()[:3] == [incident_id, "acknowledged", "warning"]
    assert "2027-01-15 08:03 (3m ago)" in lines[1] and " 2m30s " in lines[1]
    assert lines[2] == (
        "1 incident · MTTA mean 2m30s median 2m30s (1 acknowledged) · MTTR mean - median - (0 resolved)"
    )
    assert _ok(served.cli("incidents", "list", "--status", "resolved")).splitlines()[0] == "no incidents"
    assert "--status: unknown 'closed'" in _one_line_error(
        served.cli("incidents", "list", "--status", "closed")
    )

    served.clock.now = T0 + 420
    resolved = _ok(served.cli("incidents", "resolve", incident_id, "--note", "fixed by the rollback"))
    assert resolved.strip() == f"{incident_id} resolved by ana at 2027-01-15 08:07 (MTTR 4m)"

    shown = _ok(served.cli("incidents", "show", incident_id))
    _fits(shown)
    head, timeline_and_alerts = shown.split("\ntimeline\n")
    timeline, alerts = timeline_and_alerts.split("\nalerts\n")
    assert head.splitlines()[0] == incident_id
    assert "status   resolved   severity warning   model m" in head
    assert "acked    by ana at 2027-01-15 08:05 (1m ago)   MTTA 2m30s" in head
    assert "resolved by ana at 2027-01-15 08:07 (0s ago)   MTTR 4m" in head
    entries = [line.split(None, 5) for line in timeline.splitlines()[1:] if line.startswith("  2027-")]
    assert [(e[3], e[4]) for e in entries] == [
        ("opened", "vigil"),
        ("fired", "vigil"),
        ("acknowledged", "ana"),
        ("note", "bo"),
        ("resolved", "ana"),
    ]
    assert entries[2][2] == "+2m30s" and entries[2][5] == "looking at it"  # the note rides on the ack
    text = " ".join(line.strip() for line in timeline.splitlines()[2:4])  # the long one is wrapped
    assert text.endswith("vigil  LatencyHigh fired (warning): latency_p95 of m is 250 (> 100)")
    assert entries[3][5] == "rolled back to v1" and entries[4][5] == "fixed by the rollback"
    alert_rows = alerts.splitlines()
    assert alert_rows[0].split() == ["RULE", "SEVERITY", "FIRED", "LASTED", "PEAK", "VERDICT", "EPISODE"]
    episode = f"LatencyHigh/m/{round((T0 + 180) * 1000)}"
    assert alert_rows[1].split()[:2] == ["LatencyHigh", "warning"] and alert_rows[1].endswith(episode)

    verdict = _ok(served.cli("alerts", "verdict", fp[:8], "--false"))
    assert verdict.strip() == f"episode {episode} marked a false alarm by ana"
    verdict = _ok(served.cli("alerts", "verdict", episode, "--true", user="bo"))
    assert verdict.strip() == f"episode {episode} marked a real problem by bo"
    assert "say --true" in _one_line_error(served.cli("alerts", "verdict", episode))

    audit = _ok(served.cli("audit", "--target", f"incident/{incident_id}"))
    actions = [line.split()[4:6] for line in audit.splitlines()[1:] if line.startswith("2027-")]
    assert actions == [
        ["ana", "incident.ack"],
        ["bo", "incident.note"],
        ["ana", "incident.resolve"],
    ]
    assert audit.splitlines()[-1] == (
        "    status acknowledged → resolved, resolved_at - → 2027-01-15 08:07, resolved_by - → ana"
    )
    assert "no incident 'INC-nope' (HTTP 404)" in _one_line_error(served.cli("incidents", "show", "INC-nope"))


def test_connection_refused_is_one_line(served: Served) -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    error = _one_line_error(served.cli("alerts", "list", url=url))
    assert error.startswith(f"error: cannot reach Vigil at {url}: ")
    assert error.endswith("— is `vigil serve` running?")


def test_api_keys_and_alerting_off(tmp_path: Path) -> None:
    with _serve(tmp_path, KEYED) as served:
        error = _one_line_error(served.cli("silences", "list", key="wrong"))
        assert error == "error: unknown API key (HTTP 401) — give a key with --api-key or VIGIL_API_KEY"
        assert "send an API key" in _one_line_error(served.cli("incidents", "list"))
        error = _one_line_error(served.cli("silences", "list", key="s3cret"))
        assert error == "error: alerting is off: add an alerting: section to vigil.yaml (HTTP 409)"
        quiet = served.cli("alerts", "list", key="s3cret")
        assert _ok(quiet).strip() == "no alerts firing"
        assert quiet.stderr.strip() == "note: alerting is off: add an alerting: section to vigil.yaml"


def _need(served: Served, method: str, path: str) -> None:
    if not served.serves(method, path):
        pytest.skip(f"the server does not serve {method} {path} yet")


def test_rules_list(served: Served) -> None:
    _need(served, "GET", "/v1/rules")
    listed = _ok(served.cli("rules", "list")).splitlines()
    assert listed[0].split() == ["NAME", "MODEL", "METRIC", "KIND", "SOURCE"]
    assert {"LatencyHigh", "ErrorRateHigh"} <= {line.split()[0] for line in listed[1:]}
    assert json.loads(_ok(served.cli("rules", "list", "--json")))["rules"]


def test_rules_test_takes_one_rule(served: Served, tmp_path: Path) -> None:
    error = _one_line_error(served.cli("rules", "test", "-m", "m"))
    assert "--name RULE (a loaded one) or --file rule.yaml" in error
    rule = tmp_path / "rule.yaml"
    rule.write_text("rules: [{name: A}, {name: B}]\n")
    assert "'rules' holds 2 rules" in _one_line_error(
        served.cli("rules", "test", "-m", "m", "--file", str(rule))
    )
    rule.write_text("name: [unclosed\n")
    assert f"{rule}:2:1: not valid YAML" in _one_line_error(
        served.cli("rules", "test", "-m", "m", "--file", str(rule))
    )


def test_rules_test_replays_history(served: Served, tmp_path: Path) -> None:
    _need(served, "POST", "/v1/rules/test")
    served.traffic(range(0, 6), lambda minute: 250.0 if 2 <= minute < 4 else 5.0)
    window = ["--from", str(T0), "--to", str(T0 + 6 * 60), "--every", "1m"]
    by_name = _ok(served.cli("rules", "test", "--model", "m", "--name", "LatencyHigh", *window))
    assert "LatencyHigh" in by_name
    rule = tmp_path / "rule.yaml"
    rule.write_text("rules:\n  - {name: Slow, model: m, metric: latency_p95, warning: 200, window: 1m}\n")
    by_file = _ok(served.cli("rules", "test", "--model", "m", "--file", str(rule), *window))
    assert "Slow" in by_file
    raw = json.loads(_ok(served.cli("rules", "test", "--model", "m", "--file", str(rule), *window, "--json")))
    assert raw["model"] == "m" and (raw.get("firing") or raw.get("firings"))


def test_review(served: Served, tmp_path: Path) -> None:
    _need(served, "GET", "/v1/review")
    served.traffic(range(0, 5), lambda minute: 250.0 if minute >= 2 else 5.0)
    assert _ok(served.cli("review", "--from", str(T0), "--to", str(T0 + 3600))).strip()
    page = tmp_path / "review.html"
    wrote = _ok(served.cli("review", "--from", "1d", "--html", str(page)))
    assert wrote.strip() == f"wrote {page}" and "<html" in page.read_text().lower()


def test_actions_run_approve_reject(tmp_path: Path) -> None:
    action = f'{{name: retrain-m, model: m, kind: retrain, command: ["{sys.executable}", "-c", "pass"]}}'
    config = CONFIG + f"actions:\n  - {action[:-1]}, approval: required, cooldown: 0}}\n"
    with _serve(tmp_path, config) as served:
        _need(served, "GET", "/v1/actions")
        listed = _ok(served.cli("actions", "list")).splitlines()
        assert listed[0].split() == ["NAME", "MODEL", "KIND", "APPROVAL", "COOLDOWN", "TRIGGER"]
        assert listed[1].split() == ["retrain-m", "m", "retrain", "required", "0s", "manual"]
        _need(served, "POST", "/v1/actions/{name}/run")
        asked = _ok(served.cli("actions", "run", "retrain-m", "-m", "m", "--reason", "drift in income"))
        first = asked.split()[1]
        assert asked.splitlines() == [
            f"run {first} of retrain-m on m: awaiting_approval",
            f"waiting for approval: vigil actions approve {first}  (or reject {first} --reason ...)",
        ]
        assert "four eyes" in _one_line_error(served.cli("actions", "approve", first))  # ana asked for it
        done = _ok(served.cli("actions", "approve", first, user="bo"))
        assert done.strip() == f"run {first} of retrain-m on m: succeeded — command exited with 0"

        second = _ok(served.cli("actions", "run", "retrain-m", "-m", "m", "--reason", "again")).split()[1]
        no = _ok(served.cli("actions", "reject", second, "--reason", "not now", user="bo"))
        assert no.strip() == f"run {second} of retrain-m on m: rejected — rejected by bo: not now"
        error = _one_line_error(served.cli("actions", "run", "nope", "-m", "m", "--reason", "x"))
        assert "no action is named 'nope'" in error and "(HTTP 404)" in error

        runs = _ok(served.cli("actions", "list")).split("\nruns\n")[1].splitlines()
        assert runs[0].split() == ["ID", "ACTION", "MODEL", "STATE", "REQUESTED", "BY", "DETAIL"]
        assert sorted(line.split()[3] for line in runs[1:]) == ["rejected", "succeeded"]
        raw = json.loads(_ok(served.cli("actions", "list", "--json")))
        assert {r["id"]: r["approved_by"] for r in raw["runs"]} == {first: "bo", second: None}


def test_without_named_keys_names_are_claims_and_approvals_are_refused(tmp_path: Path) -> None:
    action = f'{{name: retrain-m, model: m, kind: retrain, command: ["{sys.executable}", "-c", "pass"]}}'
    config = OPEN + f"actions:\n  - {action[:-1]}, approval: required, cooldown: 0}}\n"
    with _serve(tmp_path, config) as served:
        made = _ok(
            served.cli("alerts", "silence", "model=m", "--duration", "1h", "--comment", "x", user="cy")
        )
        listed = _ok(served.cli("silences", "list"))
        _fits(listed)
        assert listed.splitlines()[1].split()[6] == "cy?"  # the client's word, not a key's
        raw = json.loads(_ok(served.cli("silences", "list", "--json")))["silences"]
        assert [(s["id"], s["created_by"]) for s in raw] == [(made.strip(), "cy (unverified)")]
        asked = served.cli("actions", "run", "retrain-m", "-m", "m", "--reason", "drift")
        assert asked.exit_code == 1 and "named API key" in asked.stdout
        remediator = served.app.state.vigil.remediator
        run = remediator.request("retrain-m", "m", "vigil", "drift", served.clock.now)
        error = _one_line_error(served.cli("actions", "approve", run.id, user="bo"))
        assert "named API key" in error and "security.api_keys.admin" in error and "(HTTP 403)" in error
