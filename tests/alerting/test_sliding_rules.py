"""Default rules judge the latest complete model windows over their range: on a fake-clock timeline, drift
that begins at 18:42 fires ``DriftShareHigh`` (a 1-hour rule) minutes later, within one evaluation of a
model window closing, not at 19:00 when the hour completes."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pandas as pd
from fastapi.testclient import TestClient

from tests.fakes import FakeClock
from vigil.config import parse_config
from vigil.server.app import create_app
from vigil.store.sqlite import SQLiteStore

DAY = 1_800_000_000.0 - 1_800_000_000.0 % 86_400
AT = DAY + 18 * 3600  # 18:00
DRIFT_FROM = AT + 42 * 60  # 18:42


def _config(hook: str) -> str:
    return f"""
models:
  m:
    task: binary
    owner: {{team: risk}}
    window: 1m
    baseline: {{file: train.parquet}}
    features: {{a: {{type: numeric}}, b: {{type: numeric}}}}
alerting:
  evaluate_every: 1h
  route: {{group_by: [alertname, model], group_wait: 0s, group_interval: 1m, repeat_interval: 4h}}
  receivers: [{{name: hook, webhook: "{hook}"}}]
"""


def test_drift_share_high_fires_minutes_after_the_drift_begins(
    tmp_path: Path, hook: tuple[str, list[dict[str, Any]]]
) -> None:
    rng = np.random.default_rng(16)
    pd.DataFrame({"a": rng.normal(0, 1, 3000), "b": rng.normal(0, 1, 3000)}).to_parquet(
        tmp_path / "train.parquet"
    )
    url, received = hook
    clock = FakeClock(AT - 3600)
    app = create_app(
        parse_config(_config(url)),
        SQLiteStore(tmp_path / "v.db"),
        clock=clock,
        flush_every=0.05,
        root=tmp_path,
    )
    engine = app.state.alerting
    fired_at = None
    with TestClient(app) as client:
        for minute in range(-62, 60):  # 16:58 to 18:59, 40 events a minute
            start = AT + minute * 60
            shift = 3.0 if start >= DRIFT_FROM else 0.0
            events = [
                {
                    "model": "m",
                    "timestamp": start + i * 1.5,
                    "features": {"a": float(rng.normal(shift, 1)), "b": float(rng.normal(shift, 1))},
                }
                for i in range(40)
            ]
            clock.now = start + 59
            assert client.post("/v1/events", json=events).json()["accepted"] == 40
            assert app.state.vigil.aggregator.wait_idle(10)
            if minute < 30:
                continue
            for tick in (60, 90):  # evaluate at each minute and half a minute later
                clock.now = start + tick
                engine.tick(clock.now)
                drift = [
                    a
                    for a in engine.alerts()
                    if a.labels["alertname"] == "DriftShareHigh" and a.status == "firing"
                ]
                if drift and fired_at is None:
                    fired_at, alert = clock.now, drift[0]
    assert fired_at is not None, "DriftShareHigh never fired"
    assert fired_at < AT + 3600 and fired_at - DRIFT_FROM <= 10 * 60, fired_at - DRIFT_FROM
    assert fired_at % 60 == 0  # at the first evaluation after a window closed
    # it judged the hour that ends with the window just closed, not the last whole hour
    query = parse_qs(urlsplit(alert.annotations["dashboard_url"]).query)
    assert float(query["to"][0]) == fired_at and float(query["step"][0]) == 3600
    assert any(
        p["status"] == "firing" and p["alerts"][0]["labels"]["alertname"] == "DriftShareHigh"
        for p in received
    )
