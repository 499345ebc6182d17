"""The alerting loop in a real app: injected errors fire a rule, a local webhook receives the firing and
then the resolved notification (Alertmanager's v4 JSON), on a fake clock."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from vigil.config import parse_config
from vigil.server.app import create_app
from vigil.store.sqlite import SQLiteStore

T0 = 1_800_000_000.0 - 1_800_000_000.0 % 3600


def test_injected_errors_reach_the_webhook_then_resolve(
    tmp_path: Path, hook: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = hook
    config = parse_config(f"""
models:
  m: {{task: binary, owner: {{team: risk, contact: "#risk"}}, window: 1m}}
rules:
  - {{name: ErrorRateHigh, model: m, metric: error_rate, warning: 0.05, critical: 0.2, window: 1m, for: 2m,
     runbook: "https://runbooks.example.com/errors"}}
alerting:
  evaluate_every: 1h
  default_rules: false
  route: {{group_by: [alertname, model], group_wait: 30s, group_interval: 5m, repeat_interval: 4h}}
  receivers: [{{name: hook, webhook: "{url}"}}]
""")
    now = [T0]
    app = create_app(
        config, SQLiteStore(tmp_path / "v.db"), clock=lambda: now[0], flush_every=0.05, root=tmp_path
    )
    engine = app.state.alerting
    with TestClient(app) as client:
        sent_at: dict[str, float] = {}
        for minute in range(16):
            failing = 3 <= minute < 8  # the trouble: 30% errors for five minutes
            events = [
                {
                    "model": "m",
                    "timestamp": T0 + minute * 60 + i,
                    "latency_ms": 5.0,
                    **({"error": "TimeoutError: upstream"} if failing and i % 10 < 3 else {}),
                }
                for i in range(50)
            ]
            now[0] = T0 + minute * 60 + 55
            assert client.post("/v1/events", json=events).json()["accepted"] == 50
            app.state.vigil.aggregator.wait_idle()
            for tick in (60, 90):  # evaluate at the minute and half a minute later
                now[0] = T0 + minute * 60 + tick
                for n in engine.tick(now[0]):
                    sent_at.setdefault(str(n.reason), now[0])
        alerts = client.get("/v1/alerts").json()["alerts"]
    firing = [p for p in received if p["status"] == "firing"]
    resolved = [p for p in received if p["status"] == "resolved"]
    assert len(firing) == 1 and len(resolved) == 1  # once each: no duplicates
    payload = firing[0]
    assert payload["version"] == "4" and payload["notification_reason"] == "first notification"
    alert = payload["alerts"][0]
    assert alert["labels"]["alertname"] == "ErrorRateHigh" and alert["labels"]["model"] == "m"
    assert alert["labels"]["severity"] == "critical"  # 30% errors is past the 20% critical level
    assert float(alert["annotations"]["value"]) == pytest.approx(0.3)
    assert alert["annotations"]["runbook"] == "https://runbooks.example.com/errors"
    # errors start in minute 3; the window [3m, 4m) is read at 4m, so `for: 2m` holds at 6m, and the group
    # waits 30 s: the first notification goes at 6m30s
    assert sent_at["first notification"] == T0 + 6 * 60 + 30
    assert resolved[0]["notification_reason"] == "all alerts resolved"
    assert alerts == []  # resolved and sent: forgotten
