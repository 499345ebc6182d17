"""Live prediction drift: the drift report says, in the user's words, what it compared and what it did
not (a baseline file without prediction or score columns, segment tags), and a production time range can
stand in as the baseline of the predictions (``baseline.predictions: {from:, to:}``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from vigil.config import parse_config
from vigil.errors import ConfigError
from vigil.server.app import create_app
from vigil.store.sqlite import SQLiteStore

NOW = 1_800_000_000.0
REF = (NOW - 7200, NOW - 3600)  # a production hour whose predictions are the baseline's


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _config(predictions: str = "") -> str:
    return f"""
models:
  credit:
    task: binary
    owner: {{team: risk}}
    baseline: {{file: train.parquet{predictions}}}
    features: {{a: {{type: numeric}}, region: {{type: categorical}}}}
"""


def _events(
    rng: np.random.Generator, start: float, n: int, score: tuple[float, float]
) -> list[dict[str, Any]]:
    scores = rng.beta(*score, n)
    return [
        {
            "model": "credit",
            "timestamp": start + i * (600 / n),
            "features": {"a": float(rng.normal()), "region": str(rng.choice(["eu", "us"]))},
            "prediction": int(s > 0.5),
            "score": float(s),
            "segments": {"channel": "web" if i % 2 else "app"},
        }
        for i, s in enumerate(scores)
    ]


def _report(tmp_path: Path, config: str, batches: list[list[dict[str, Any]]]) -> dict[str, Any]:
    rng = np.random.default_rng(15)
    pd.DataFrame({"a": rng.normal(0, 1, 3000), "region": rng.choice(["eu", "us"], 3000)}).to_parquet(
        tmp_path / "train.parquet"
    )
    app = create_app(parse_config(config), SQLiteStore(tmp_path / "v.db"), clock=lambda: NOW, root=tmp_path)
    with TestClient(app) as c:
        for batch in batches:
            assert c.post("/v1/events", json=batch).json()["accepted"] == len(batch)
        assert app.state.vigil.aggregator.wait_idle(10)
        app.state.vigil.aggregator.flush()
        r = c.get("/v1/models/credit/drift", params={"from": NOW - 600, "to": NOW})
        assert r.status_code == 200, r.text
        report: dict[str, Any] = r.json()
        series = c.get(
            "/v1/models/credit/metrics",
            params={"names": "drift_share", "from": NOW - 600, "to": NOW, "step": 600},
        ).json()["series"]["drift_share"]
        report["drift_share_series"] = series
        return report


def test_the_report_says_what_it_did_not_compare_in_plain_words(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    report = _report(tmp_path, _config(), [_events(rng, NOW - 600, 1500, (5, 2))])
    assert set(report["columns"]) == {"a", "region"}
    skipped = report["skipped"]
    for output in ("prediction", "score"):
        assert f"the baseline file has no {output} column" in skipped[output]
        assert "baseline.predictions" in skipped[output]
    assert "segment tags (channel)" in skipped["segment tags"]
    text = json.dumps(report)
    assert "@" not in text and "#" not in text  # no internal column names anywhere


def test_a_production_range_is_the_baseline_of_the_predictions(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    config = _config(f", predictions: {{from: '{_iso(REF[0])}', to: '{_iso(REF[1])}'}}")
    reference = _events(rng, REF[0] + 600, 1500, (2, 5))  # scores mostly low
    current = _events(rng, NOW - 600, 1500, (5, 2))  # scores mostly high: the model's output moved
    report = _report(tmp_path, config, [reference, current])
    assert {"a", "region", "prediction", "score"} == set(report["columns"])
    assert report["columns"]["score"]["drift"] and report["columns"]["prediction"]["drift"]
    assert not report["columns"]["a"]["drift"] and not report["columns"]["region"]["drift"]
    assert "prediction" not in report["skipped"] and "score" not in report["skipped"]
    [(_, share)] = report["drift_share_series"]
    assert share == pytest.approx(0.5)  # 2 of the 4 compared: the prediction and the score


@pytest.mark.parametrize(
    ("baseline", "problem"),
    [
        (
            "{file: t.parquet, predictions: {from: '2026-01-02', to: '2026-01-01'}}",
            "from: must come before to:",
        ),
        ("{file: t.parquet, predictions: {from: 'soon', to: '2026-01-01'}}", "not a time: 'soon'"),
        (
            "{from: '2026-01-01', to: '2026-01-02', predictions: {from: '2026-01-01', to: '2026-01-02'}}",
            "predictions: applies to a baseline file",
        ),
    ],
)
def test_the_prediction_range_is_validated(baseline: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=r"models\.m\.baseline\.predictions") as caught:
        parse_config(f"models: {{m: {{task: binary, owner: {{team: t}}, baseline: {baseline}}}}}")
    assert problem in str(caught.value)
