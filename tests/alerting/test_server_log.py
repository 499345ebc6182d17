"""The server log after start: the evaluator lease taken and lost, alert state changes, notifications sent
and failed (receiver, reason), actions run and retention pruning, as lines with fields; and
``vigil serve --log-format json`` writing one JSON object per line."""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from vigil.alerting.notify import RetryPolicy
from vigil.config import parse_config
from vigil.server.app import create_app
from vigil.store.sqlite import SQLiteStore

T0 = 1_800_000_000.0 - 1_800_000_000.0 % 3600


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port  # nothing listens there once the socket is closed


def test_what_the_server_does_is_logged(
    tmp_path: Path, hook: tuple[str, list[dict[str, Any]]], caplog: pytest.LogCaptureFixture
) -> None:
    url, received = hook
    config = parse_config(f"""
models:
  m: {{task: binary, owner: {{team: risk}}, window: 1m, versions: [v1, v2]}}
rules:
  - {{name: ErrorRateHigh, model: m, metric: error_rate, warning: 0.05, critical: 0.2, window: 1m, for: 2m}}
actions:
  - {{name: rollback-m, model: m, kind: rollback, webhook: "{url}", when: {{alerts: [ErrorRateHigh]}}}}
alerting:
  evaluate_every: 1h
  default_rules: false
  route:
    {{receiver: hook, group_wait: 30s, group_interval: 5m, repeat_interval: 4h,
      routes: [{{matchers: ['severity="critical"'], receiver: pager, continue: true}}, {{receiver: hook}}]}}
  receivers:
    - {{name: hook, webhook: "{url}"}}
    - {{name: pager, webhook: "http://127.0.0.1:{_closed_port()}/down"}}
""")
    store = SQLiteStore(tmp_path / "v.db")
    store.put_record("deploy", "m/v0/1", "{}", T0 - 500 * 86_400)  # past alerting retention (400d)
    now = [T0]
    app = create_app(config, store, clock=lambda: now[0], flush_every=0.05, root=tmp_path)
    engine = app.state.alerting
    for receiver in engine.receivers:  # retry the dead receiver once, without waiting
        receiver.retry = RetryPolicy(max_attempts=2, sleep=lambda _: None)
    caplog.set_level(logging.INFO, logger="vigil")
    with TestClient(app) as client:
        for minute in range(12):
            failing = 3 <= minute < 8
            batch = [
                {
                    "model": "m",
                    "timestamp": T0 + minute * 60 + i,
                    **({"error": "E: x"} if failing and i % 10 < 3 else {}),
                }
                for i in range(50)
            ]
            now[0] = T0 + minute * 60 + 55
            assert client.post("/v1/events", json=batch).json()["accepted"] == 50
            assert app.state.vigil.aggregator.wait_idle(10)
            for tick in (60, 90):
                now[0] = T0 + minute * 60 + tick
                engine.tick(now[0])
        later = now[0] + 4 * 3600  # the lease expires; another server takes it
        assert store.lease("alerting", "other-server", later, 3 * 3600)
        engine.tick(later + 1)

    records = [r for r in caplog.records if r.name.startswith("vigil")]
    events = [getattr(r, "event", None) for r in records]
    for wanted in (
        "lease.taken",
        "alert.pending",
        "alert.firing",
        "alert.resolved",
        "notification.sent",
        "notification.failed",
        "action.execute",
        "retention.alerting",
        "lease.lost",
    ):
        assert wanted in events, (wanted, [r.getMessage() for r in records])

    def one(event: str, **fields: Any) -> logging.LogRecord:
        found = [r for r in records if getattr(r, "event", None) == event]
        found = [r for r in found if all(getattr(r, k, None) == v for k, v in fields.items())]
        assert found, (event, fields)
        return found[0]

    firing = one("alert.firing", alertname="ErrorRateHigh", model="m")
    assert firing.severity == "critical" and "pending -> firing (critical)" in firing.getMessage()  # type: ignore[attr-defined]
    failed = one("notification.failed", receiver="pager")
    assert failed.levelno == logging.WARNING and "ConnectError" in failed.reason  # type: ignore[attr-defined]
    assert "could not send firing notification for ErrorRateHigh to pager" in failed.getMessage()
    one("notification.sent", receiver="hook", status="firing")
    assert one("retention.alerting").deploy == 1  # type: ignore[attr-defined]
    assert "rollback" in one("action.execute", model="m").getMessage()
    assert any(p.get("status") == "firing" for p in received)


def test_serve_logs_json_lines(tmp_path: Path) -> None:
    (tmp_path / "vigil.yaml").write_text(
        "models: {m: {task: binary, owner: {team: t}}}\n"
        "alerting: {evaluate_every: 1s, default_rules: false}\n"
    )
    port = _closed_port()
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "vigil"),
            "serve",
            "--config",
            str(tmp_path / "vigil.yaml"),
            "--store",
            str(tmp_path / "v.db"),
            "--port",
            str(port),
            "--log-format",
            "json",
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    lines: list[str] = []
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            lines.append(line)
            if '"lease.taken"' in line:
                break
    finally:
        proc.terminate()
        proc.wait(20)
    parsed = [json.loads(line) for line in lines]  # every line is one JSON object
    assert {"time", "level", "logger", "message"} <= parsed[0].keys()
    start = next(p for p in parsed if p.get("event") == "server.start")
    assert start["writer"] == "main" and f":{port}" in start["message"]
    taken = next(p for p in parsed if p.get("event") == "lease.taken")
    assert taken["level"] == "INFO" and taken["logger"] == "vigil.alerting" and taken["time"].endswith("Z")
