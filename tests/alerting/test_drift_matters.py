"""A live drift alert names the drift that matters: when ``DriftShareHigh`` fires, its annotations rank the
drifted features by their share of the information about the model's score in the baseline file times how
far past its threshold each drifted. ``zip`` moved three standard deviations and ``income`` less than one,
yet ``income`` comes first: the score is a function of it, and ``zip`` is noise to the model."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from tests.fakes import FakeClock
from vigil.config import parse_config
from vigil.server.app import create_app
from vigil.store.sqlite import SQLiteStore

HOUR = 3600.0
T0 = 1_800_000_000.0 - 1_800_000_000.0 % HOUR
SENTENCE = re.compile(
    r"^(\w+) drifted \(([\d.]+)× its threshold\) and carries (\d+)% of the features' information about score$"
)


def _config(hook: str, score: bool = True) -> str:
    return f"""
models:
  credit:
    task: binary
    owner: {{team: risk}}
    window: 1m
    baseline: {{file: {"train" if score else "plain"}.parquet}}
    features: {{income: {{type: numeric}}, zip: {{type: numeric}}}}
alerting:
  evaluate_every: 1h
  route: {{group_by: [alertname, model], group_wait: 0s, group_interval: 1m, repeat_interval: 4h}}
  receivers: [{{name: hook, webhook: "{hook}"}}]
"""


def _score(income: np.ndarray) -> np.ndarray:
    return np.asarray(1 / (1 + np.exp(-(income - 50) / 10)))


def _fire(tmp_path: Path, hook: str, score: bool = True) -> tuple[Any, dict[str, Any]]:
    """An hour of drifted events, one evaluation: the firing DriftShareHigh alert and the drift report of
    the hour it judged."""
    rng = np.random.default_rng(21)
    income = rng.normal(50, 10, 3000)
    train = pd.DataFrame({"income": income, "zip": rng.normal(0, 1, 3000)})
    if score:
        train["score"] = _score(income) + rng.normal(0, 0.02, 3000)
        train["prediction"] = (train["score"] > 0.5).astype(int)
    train.to_parquet(tmp_path / ("train.parquet" if score else "plain.parquet"))
    clock = FakeClock(T0 + HOUR)
    app = create_app(
        parse_config(_config(hook, score)), SQLiteStore(tmp_path / "v.db"), clock=clock, root=tmp_path
    )
    live_income = rng.normal(58, 10, 1200)  # 0.8 sd up
    live_zip = rng.normal(3, 1, 1200)  # 3 sd up
    events = [
        {
            "model": "credit",
            "timestamp": T0 + i * 3.0,
            "features": {"income": float(a), "zip": float(z)},
            "prediction": int(s > 0.5),
            "score": float(s),
        }
        for i, (a, z, s) in enumerate(zip(live_income, live_zip, _score(live_income), strict=True))
    ]
    with TestClient(app) as client:
        assert client.post("/v1/events", json=events).json()["accepted"] == len(events)
        assert app.state.vigil.aggregator.wait_idle(10)
        app.state.vigil.aggregator.flush()
        engine = app.state.alerting
        engine.tick(clock.now)
        firing = [
            a for a in engine.alerts() if a.labels["alertname"] == "DriftShareHigh" and a.status == "firing"
        ]
        assert firing, [a.labels["alertname"] for a in engine.alerts()]
        report = client.get("/v1/models/credit/drift", params={"from": T0, "to": T0 + HOUR}).json()
    return firing[0], report


def test_the_alert_ranks_the_feature_the_score_depends_on_first(
    tmp_path: Path, hook: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = hook
    alert, report = _fire(tmp_path, url)
    lines = alert.annotations["drift_matters"].split("\n")
    parsed = [SENTENCE.match(line) for line in lines]
    assert all(parsed), lines
    found = {m.group(1): (float(m.group(2)), int(m.group(3))) for m in parsed if m}
    assert [m.group(1) for m in parsed if m] == ["income", "zip"]
    # each ratio is the drift report's effect ÷ threshold for the same hour (to the sentence's 0.1)
    for name, (ratio, _) in found.items():
        column = report["columns"][name]
        assert column["drift"] is True
        assert ratio == pytest.approx(column["effect"] / column["threshold"], abs=0.051)
    assert found["zip"][0] > found["income"][0]  # zip moved further past its threshold...
    assert found["income"][1] >= 80 and found["zip"][1] <= 20  # ...but carries little of the information
    assert found["income"][1] + found["zip"][1] in (99, 100, 101)  # shares of one whole, rounded
    assert alert.annotations["description"].endswith(lines[0])
    assert (
        alert.annotations["summary"].startswith("DriftShareHigh: ")
        and lines[0] in alert.annotations["summary"]
    )
    sent = [a for p in received for a in p["alerts"] if a["labels"]["alertname"] == "DriftShareHigh"]
    assert sent and sent[0]["annotations"]["drift_matters"] == alert.annotations["drift_matters"]


def test_without_the_models_output_in_the_baseline_the_alert_says_nothing_more(
    tmp_path: Path, hook: tuple[str, list[dict[str, Any]]]
) -> None:
    url, _ = hook
    alert, _ = _fire(tmp_path, url, score=False)
    assert "drift_matters" not in alert.annotations
    assert "information about" not in alert.annotations["description"]
