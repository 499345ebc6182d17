"""Who acts, and what is never shown, through the real server on loopback (uvicorn in a thread, httpx).

* The actor recorded for acks, notes, verdicts, silences, rules, maintenance, deploys, action requests and
  approvals is the holder of the request's API key; ``by`` and ``X-Vigil-User`` cannot choose it. Four eyes
  cannot be bypassed with one key, and approvals need a named key (refused when the API is open).
* No answer of any GET route, no error answer and no log line carries a configured secret: webhook headers,
  tokens, URL passwords and query values, MLflow tokens, receivers' URLs and keys, API keys, the PII key.
"""

from __future__ import annotations

import base64
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from tests.fakes import FakeClock
from vigil.config import parse_config
from vigil.server.app import create_app
from vigil.store.sqlite import SQLiteStore

T0 = 1_800_000_000.0 - 1_800_000_000.0 % 3600
KEYS = {
    "T_ANA_KEY": "ana-key-7c1d9e",
    "T_BO_KEY": "bo-key-52aa0f",
    "T_SHARED_KEY": "shared-key-e4b8",
    "T_INGEST_KEY": "ingest-key-93f1",
}
SECRETS = {
    **KEYS,
    "T_DEPLOY_TOKEN": "deploy-token-0a9f3c",
    "T_HOOK_TOKEN": "hook-query-77d2e1",
    "T_MLFLOW_TOKEN": "mlflow-token-c0ffee",
    "T_MLFLOW_PASSWORD": "mlflow-pass-5b5b5b",
    "T_SLACK_PATH": "T0000/B0000/slackslack42",
    "T_PD_KEY": "pd-routing-key-31337",
    "T_PII_KEY": "pii-hmac-key-8e8e",
}


@dataclass
class Receiver:
    """A local HTTP server standing in for a deploy webhook, MLflow, Slack and PagerDuty: it records each
    request, and the paths under /echo answer with the request's own headers (as a careless or a hostile
    receiver could)."""

    url: str = ""
    seen: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)

    def posts(self, prefix: str) -> list[tuple[str, str, dict[str, str]]]:
        return [s for s in self.seen if s[0] == "POST" and s[1].startswith(prefix)]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            headers = dict(self.headers.items())
            found.seen.append((self.command, self.path, headers))
            if self.path.startswith("/echo"):
                status, body = 500, json.dumps({"message": f"refused; you sent {headers}"}).encode()
            elif self.path.startswith("/mlflow"):
                status, body = 403, json.dumps({"message": f"forbidden for {headers}"}).encode()
            else:
                status, body = 200, b"ok"
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    found.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield found
    server.shutdown()


@dataclass
class Served:
    url: str
    app: Any
    clock: FakeClock

    def call(self, method: str, path: str, key: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", None) or {})
        if key is not None:
            headers["Authorization"] = f"Bearer {KEYS[key]}"
        return httpx.request(method, self.url + path, headers=headers, timeout=30, **kwargs)

    def fire(self, key: str | None = None) -> str:
        """Errors in one minute of traffic on model m fire ErrorsHigh; returns its fingerprint."""
        events = [{"model": "m", "timestamp": T0 + i, "error": "Timeout"} for i in range(20)]
        self.clock.now = T0 + 55
        sent = self.call("POST", "/v1/events", "T_INGEST_KEY" if key else None, json=events)
        assert sent.json()["accepted"] == 20, sent.text
        assert self.app.state.vigil.aggregator.wait_idle(10)
        for tick in (60, 90):
            self.clock.now = T0 + tick
            self.app.state.alerting.tick(self.clock.now)
        alerts = self.call("GET", "/v1/alerts", key).json()["alerts"]
        assert [a["labels"]["alertname"] for a in alerts] == ["ErrorsHigh"], alerts
        return str(alerts[0]["fingerprint"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def serve(tmp_path: Path, config: str) -> Iterator[Served]:
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
        yield Served(f"http://127.0.0.1:{port}", app, clock)
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(autouse=True)
def _secrets_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)


def _config(hook: str, keys: str) -> str:
    return f"""
{keys}
models:
  m: {{task: binary, owner: {{team: risk}}, window: 1m, versions: [v1, v2], live: v2}}
  h: {{task: binary, owner: {{team: risk}}, window: 1m, versions: [v1, v2], live: v2, high_impact: true}}
rules:
  - {{name: ErrorsHigh, model: m, metric: error_rate, warning: 0.05, window: 1m}}
actions:
  - {{name: rollback, model: "*", kind: rollback, webhook: "{hook}/deploy", cooldown: 0}}
alerting:
  evaluate_every: 1h
  default_rules: false
"""


NAMED = """
security:
  api_keys:
    admin:
      - {name: ana, key: "${T_ANA_KEY}"}
      - {name: bo, key: "${T_BO_KEY}"}
      - "${T_SHARED_KEY}"
    ingest: [{name: scorer, key: "${T_INGEST_KEY}"}]
"""


# -- item: identity comes from the key -----------------------------------------------------------------------


def test_one_shared_admin_key_cannot_request_and_approve(tmp_path: Path, receiver: Receiver) -> None:
    # a key written as a plain string names nobody: whatever name the caller gives, it cannot approve
    keys = 'security: {api_keys: {admin: ["${T_SHARED_KEY}"]}}'
    with serve(tmp_path, _config(receiver.url, keys)) as s:
        # a run Vigil itself asked for, then the shared key approving it under another name
        auto = s.app.state.vigil.remediator.request("rollback", "h", "vigil", "drift", s.clock.now)
        assert auto.state.value == "awaiting_approval"
        for claim in ({"json": {"by": "bo"}}, {"headers": {"X-Vigil-User": "bo"}}):
            approve = s.call("POST", f"/v1/actions/runs/{auto.id}/approve", "T_SHARED_KEY", **claim)
            assert approve.status_code == 403, approve.text
            assert "security.api_keys.admin" in approve.json()["detail"]
        assert receiver.posts("/deploy") == []
        runs = s.call("GET", "/v1/actions", "T_SHARED_KEY").json()["runs"]
        assert {r["id"]: r["state"] for r in runs}[auto.id] == "awaiting_approval"
        # asking with it, then approving with it under another name: refused at the request
        s.call("POST", f"/v1/actions/runs/{auto.id}/reject", "T_SHARED_KEY", json={"reason": "later"})
        run = s.call("POST", "/v1/actions/rollback/run", "T_SHARED_KEY", json={"model": "h", "reason": "x"})
        assert run.status_code == 200 and run.json()["state"] == "refused", run.text
        assert "named API key" in run.json()["error"]


def test_four_eyes_takes_two_named_keys(tmp_path: Path, receiver: Receiver) -> None:
    with serve(tmp_path, _config(receiver.url, NAMED)) as s:
        asked = s.call(
            "POST",
            "/v1/actions/rollback/run",
            "T_ANA_KEY",
            json={"model": "h", "reason": "bad deploy", "by": "bo"},
            headers={"X-Vigil-User": "bo"},
        )
        assert asked.json()["state"] == "awaiting_approval" and asked.json()["requested_by"] == "ana"
        run_id = asked.json()["id"]
        path = f"/v1/actions/runs/{run_id}/approve"
        own = s.call("POST", path, "T_ANA_KEY", json={"by": "bo"}, headers={"X-Vigil-User": "bo"})
        assert own.status_code == 409 and "four eyes" in own.json()["detail"], own.text
        shared = s.call("POST", path, "T_SHARED_KEY", json={"by": "bo"})
        assert shared.status_code == 403, shared.text
        assert receiver.posts("/deploy") == []
        done = s.call("POST", path, "T_BO_KEY", json={"by": "ana"})
        assert (done.json()["state"], done.json()["approved_by"]) == ("succeeded", "bo"), done.text
        assert len(receiver.posts("/deploy")) == 1
        trail = s.call("GET", "/v1/audit", "T_BO_KEY", params={"target": f"model/h/run/{run_id}"}).json()
        assert [(e["actor"], e["action"]) for e in trail["entries"]] == [
            ("ana", "action.request"),
            ("ana", "action.approve_denied"),
            ("bo (unverified)", "action.approve_denied"),
            ("bo", "action.approve"),
            ("bo", "action.execute"),
        ]
        # an ingest key reaches no response route, whatever it claims
        ingest = s.call("POST", path, "T_INGEST_KEY", json={"by": "bo"})
        assert ingest.status_code == 403


def test_the_key_holder_is_the_actor_everywhere(tmp_path: Path, receiver: Receiver) -> None:
    lie = {"X-Vigil-User": "mallory"}
    with serve(tmp_path, _config(receiver.url, NAMED)) as s:
        fp = s.fire(key="T_ANA_KEY")
        acked = s.call("POST", f"/v1/alerts/{fp}/ack", "T_ANA_KEY", json={"by": "mallory"}, headers=lie)
        assert acked.json()["acked_by"] == "ana", acked.text
        incident = acked.json()["id"]
        note = s.call(
            "POST", f"/v1/incidents/{incident}/notes", "T_BO_KEY", json={"text": "looking", "by": "mallory"}
        )
        assert note.json()["timeline"][-1]["actor"] == "bo", note.text
        verdict = s.call("POST", f"/v1/alerts/{fp}/verdict", "T_BO_KEY", json={"verdict": True, "by": "x"})
        assert verdict.json()["by"] == "bo"
        silence = s.call(
            "POST",
            "/v1/silences",
            "T_ANA_KEY",
            json={"matchers": ['model="m"'], "duration": "1h", "comment": "deploy", "by": "mallory"},
            headers=lie,
        )
        assert silence.json()["created_by"] == "ana", silence.text
        s.call("DELETE", f"/v1/silences/{silence.json()['id']}", "T_BO_KEY", headers=lie)
        rule = {"model": "m", "metric": "latency_p95", "warning": 500, "window": "1m", "by": "mallory"}
        assert s.call("PUT", "/v1/rules/Slow", "T_BO_KEY", json=rule, headers=lie).status_code == 200
        window = {"matchers": ['model="m"'], "starts_at": T0, "ends_at": T0 + 60, "comment": "db"}
        put = s.call("PUT", "/v1/maintenance/db", "T_ANA_KEY", json={**window, "by": "mallory"})
        assert put.json()["created_by"] == "ana", put.text
        deploy = s.call("POST", "/v1/models/m/deploys", "T_BO_KEY", json={"version": "v3", "by": "mallory"})
        assert deploy.json()["by"] == "bo", deploy.text
        # a key that names nobody: the caller's word, marked as such
        cy = {"X-Vigil-User": "cy"}
        claimed = s.call("POST", f"/v1/incidents/{incident}/resolve", "T_SHARED_KEY", headers=cy)
        assert claimed.json()["resolved_by"] == "cy (unverified)", claimed.text
        actors = {
            (e["action"], e["actor"]) for e in s.call("GET", "/v1/audit", "T_ANA_KEY").json()["entries"]
        }
        assert {a for a, who in actors if who == "mallory" or who.startswith("mallory")} == set()
        assert {
            ("silence.create", "ana"),
            ("silence.expire", "bo"),
            ("rule.create", "bo"),
            ("maintenance.create", "ana"),
            ("alert.verdict", "bo"),
        } <= actors


def test_an_open_api_refuses_approvals_and_says_how_to_name_people(
    tmp_path: Path, receiver: Receiver
) -> None:
    with serve(tmp_path, _config(receiver.url, "")) as s:
        asked = s.call("POST", "/v1/actions/rollback/run", json={"model": "h", "reason": "x", "by": "ana"})
        assert asked.json()["state"] == "refused" and asked.json()["requested_by"] == "ana (unverified)"
        auto = s.app.state.vigil.remediator.request("rollback", "h", "vigil", "drift", s.clock.now)
        approve = s.call("POST", f"/v1/actions/runs/{auto.id}/approve", json={"by": "bo"})
        assert approve.status_code == 403
        assert "named API key" in approve.json()["detail"]
        assert '{name: alice, key: "${ALICE_KEY}"}' in approve.json()["detail"]
        assert receiver.posts("/deploy") == []
        # what needs no approval still runs, by an unverified name
        fine = s.call("POST", "/v1/actions/rollback/run", json={"model": "m", "reason": "x"})
        assert (fine.json()["state"], fine.json()["requested_by"]) == ("succeeded", "anonymous (unverified)")


# -- item: secrets are never shown ---------------------------------------------------------------------------


def _leaky_config(hook: str) -> str:
    closed = _free_port()  # nothing listens there: the connection error must not show the URL's token
    return f"""
security:
  api_keys: {{admin: ["${{T_ANA_KEY}}", "${{T_BO_KEY}}"], ingest: ["${{T_INGEST_KEY}}"]}}
  pii_key: "${{T_PII_KEY}}"
models:
  m: {{task: binary, owner: {{team: risk}}, window: 1m, versions: [v1, v2, v3], live: v3}}
rules:
  - {{name: ErrorsHigh, model: m, metric: error_rate, warning: 0.05, window: 1m}}
actions:
  - name: echo
    model: m
    kind: rollback
    webhook: "{hook}/echo/deploy?token=${{T_HOOK_TOKEN}}"
    headers: {{Authorization: "Bearer ${{T_DEPLOY_TOKEN}}", X-Static: static-header-secret}}
    cooldown: 0
  - {{name: down, model: m, kind: retrain, webhook: "http://127.0.0.1:{closed}/h?token=${{T_HOOK_TOKEN}}"}}
  - name: registry
    model: m
    kind: rollback
    cooldown: 0
    mlflow:
      tracking_uri: "http://vigil:${{T_MLFLOW_PASSWORD}}@127.0.0.1:{hook.rsplit(":", 1)[1]}/mlflow"
      registered_model: m
      token: "${{T_MLFLOW_TOKEN}}"
alerting:
  evaluate_every: 1h
  default_rules: false
  route:
    receiver: chat
    group_wait: 30s
    routes:
      - {{matchers: ['alertname="ErrorsHigh"'], receiver: pager, continue: true}}
      - {{matchers: ['alertname="ErrorsHigh"'], receiver: chat}}
  receivers:
    - {{name: chat, slack: "{hook}/slack/${{T_SLACK_PATH}}"}}
    - {{name: pager, pagerduty: "${{T_PD_KEY}}", events_url: "{hook}/pd"}}
"""


def _routes(app: Any) -> list[str]:
    """The path of every GET route, included routers' too."""
    found: list[str] = []

    def walk(routes: Any) -> None:
        for route in routes:
            if "GET" in (getattr(route, "methods", None) or ()):
                found.append(route.path)
            walk(getattr(getattr(route, "original_router", route), "routes", None) or ())

    walk(app.routes)
    return sorted(set(found))


def test_no_answer_and_no_log_line_shows_a_secret(
    tmp_path: Path, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    basic = base64.b64encode(f"vigil:{SECRETS['T_MLFLOW_PASSWORD']}".encode()).decode()
    secrets = [*SECRETS.values(), "static-header-secret", "slackslack42", basic]
    with serve(tmp_path, _leaky_config(receiver.url)) as s:
        fp = s.fire(key="T_ANA_KEY")
        incident = s.call("POST", f"/v1/alerts/{fp}/ack", "T_ANA_KEY").json()["id"]
        sent = {path.split("/")[1] for _, path, _ in receiver.seen}
        assert {"slack", "pd"} <= sent, receiver.seen  # the receivers were used with their secrets
        runs = {}
        for action in ("echo", "down", "registry"):
            body = {"model": "m", "reason": "t"}
            answer = s.call("POST", f"/v1/actions/{action}/run", "T_BO_KEY", json=body)
            runs[action] = answer.json()
        assert {a: (r["state"], r["error"][:40]) for a, r in runs.items()} == {
            "echo": ("failed", 'webhook answered 500: {"message": "refus'),
            "down": ("failed", f"cannot connect to {runs['down']['error'][18:40]}"),
            "registry": ("failed", "cannot read m@champion from MLflow: 403 "),
        }
        echoed = [h for _, path, h in receiver.seen if path.startswith(("/echo", "/mlflow"))]
        assert any(SECRETS["T_DEPLOY_TOKEN"] in str(h) for h in echoed)  # the receiver echoed the token back
        basic = base64.b64encode(f"vigil:{SECRETS['T_MLFLOW_PASSWORD']}".encode()).decode()
        assert any(basic in str(h) for h in echoed)  # httpx sends a URL's password as Basic credentials

        answers: dict[str, str] = {}
        for path in _routes(s.app):
            concrete = path.replace("{model}", "m").replace("{id}", incident).replace("{name}", "echo")
            answers[concrete] = s.call("GET", concrete, "T_ANA_KEY").text
        for path, params in (
            ("/v1/audit", {"limit": "10000"}),
            ("/v1/review", {"format": "html", "from": str(T0 - 3600), "to": str(T0 + 3600)}),
            ("/v1/models/m/events", {"limit": "1000", "from": str(T0 - 60), "to": str(T0 + 120)}),
            ("/v1/episodes", {"since": str(T0 - 3600)}),
            ("/v1/actions", {"model": "m"}),
            ("/v1/actions", {"since": "not a time"}),
        ):
            answers[f"{path}?{params}"] = s.call("GET", path, "T_ANA_KEY", params=params).text
        for method, path, body in (
            ("POST", "/v1/actions/echo/run", {"model": "nope", "reason": "t"}),
            ("POST", "/v1/actions/runs/nope/approve", {}),
            ("PUT", "/v1/rules/bad", {"metric": "nope"}),
        ):
            answers[f"{method} {path}"] = s.call(method, path, "T_ANA_KEY", json=body).text
        answers["unknown key"] = httpx.get(
            f"{s.url}/v1/actions", headers={"Authorization": "Bearer wrong"}, timeout=10
        ).text
        assert len(answers) > 25 and "/v1/actions" in answers and "/healthz" in answers
    leaks = {
        (where, secret)
        for where, text in [*answers.items(), *(("log", r.getMessage()) for r in caplog.records)]
        for secret in secrets
        if secret in text
    }
    assert leaks == set()
    assert "(hidden, from ${T_DEPLOY_TOKEN})" in answers["/v1/actions"]  # which variable, never its value
