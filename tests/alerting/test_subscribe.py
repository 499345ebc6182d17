"""Subscribers to the alert rounds (remediation is one): each round hands them the firing alerts that no
person muted, at the round's time; a subscriber that raises is logged and alerting goes on. A timeline on a
fake clock through a real app."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from vigil.alerting.alert import Alert
from vigil.alerting.matchers import parse_matcher
from vigil.alerting.mute.silences import Silence
from vigil.config import parse_config
from vigil.server.app import create_app
from vigil.store.sqlite import SQLiteStore

T0 = 1_800_000_000.0 - 1_800_000_000.0 % 3600

CONFIG = """
models:
  m: {task: binary, owner: {team: risk}, window: 1m}
  n: {task: binary, owner: {team: risk}, window: 1m}
rules:
  - {name: Errors, metric: error_rate, warning: 0.05, critical: 0.2, window: 1m}
alerting:
  evaluate_every: 1h
  default_rules: false
"""


def test_subscribers_get_the_firing_alerts_people_did_not_mute(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    now = [T0]
    app = create_app(
        parse_config(CONFIG), SQLiteStore(tmp_path / "v.db"), clock=lambda: now[0], flush_every=0.05
    )
    engine = app.state.alerting
    seen: list[tuple[float, list[tuple[str, str]]]] = []

    def broken(firing: Sequence[Alert], at: float) -> None:
        raise RuntimeError("a broken action")

    def record(firing: Sequence[Alert], at: float) -> None:
        seen.append((at, sorted((a.labels["model"], a.labels["severity"]) for a in firing)))

    engine.subscribe(broken)
    engine.subscribe(record)
    with TestClient(app) as client:
        for minute in range(3):
            for model in ("m", "n"):
                events = [
                    {"model": model, "timestamp": T0 + minute * 60 + i, **({"error": "E"} if i < 3 else {})}
                    for i in range(10)
                ]  # 30% errors from the start: critical at once (no `for`)
                assert client.post("/v1/events", json=events).json()["accepted"] == 10
            app.state.vigil.aggregator.wait_idle()
            if minute == 2:  # a person silences model n
                silence = Silence((parse_matcher('model="n"'),), T0, T0 + 3600, "ana", "looking at it")
                engine.silences.create(silence, T0 + 170)
            now[0] = T0 + (minute + 1) * 60
            with caplog.at_level(logging.ERROR, logger="vigil.alerting"):
                engine.tick(now[0])
    # the window [0m, 1m) is judged at 1m: both models fire at once; once n is silenced, only m is handed on
    assert seen == [
        (T0 + 60, [("m", "critical"), ("n", "critical")]),
        (T0 + 120, [("m", "critical"), ("n", "critical")]),
        (T0 + 180, [("m", "critical")]),
    ]
    assert [r.message for r in caplog.records].count("a subscriber to the alert rounds failed") == 3
