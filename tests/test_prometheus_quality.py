"""Realised quality on ``/metrics``: the gauges of the real app, parsed with prometheus_client's own
parsers (Prometheus text and strict OpenMetrics), equal to the metrics API's figures for the same hour
(exactly: the same computation) and to scikit-learn on the labelled rows (accuracy to 1e-12; ROC AUC
within 5e-4, the bound of its 10,000 score bins with these densities; coverage exactly)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families
from sklearn import metrics

from tests.fakes import FakeClock
from vigil.config import parse_config
from vigil.server.app import create_app
from vigil.server.prometheus_quality import gauge_name
from vigil.store.sqlite import SQLiteStore

NOW = 1_800_000_000.0  # a whole hour
OPENMETRICS = "application/openmetrics-text; version=1.0.0"
CONFIG = """
models:
  credit: {task: binary, owner: {team: risk}}
  price: {task: regression, owner: {team: pricing}}
  chat: {task: llm, owner: {team: assist}}
"""


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    store = SQLiteStore(tmp_path / "vigil.db")
    app = create_app(parse_config(CONFIG), store, clock=FakeClock(NOW + 5), flush_every=3600, root=tmp_path)
    with TestClient(app) as c:
        yield c
    store.close()


def _post(client: TestClient, path: str, records: list[dict[str, Any]]) -> None:
    r = client.post(path, content=json.dumps(records), headers={"content-type": "application/json"})
    assert r.status_code == 200 and r.json()["rejected"] == [], r.text


def _gauges(text: str, openmetrics: bool = False) -> dict[tuple[str, str], float]:
    parse = parse_openmetrics if openmetrics else text_string_to_metric_families
    out: dict[tuple[str, str], float] = {}
    for family in parse(text):
        if family.name.startswith("vigil_quality_"):
            assert family.type == "gauge" and family.documentation.endswith("; last hour")
            for s in family.samples:
                out[(s.name, s.labels["model"])] = s.value
    return out


def test_quality_gauges_equal_the_metrics_api(client: TestClient) -> None:
    rng = np.random.default_rng(8)
    n = 1_500
    ts = NOW - 3600 + rng.uniform(0, 3600, n)
    y = rng.random(n) < 0.4
    score = np.where(y, rng.beta(4, 2, n), rng.beta(2, 4, n))
    pred = (score >= 0.5).astype(int)
    labelled = rng.random(n) < 0.7
    _post(
        client,
        "/v1/events",
        [
            {"model": "credit", "request_id": f"c{i}", "timestamp": ts[i], "prediction": int(pred[i])}
            | {"score": score[i]}
            for i in range(n)
        ]
        + [
            {"model": "price", "request_id": f"p{i}", "timestamp": ts[i], "prediction": 10.0 + i % 7}
            for i in range(50)
        ],
    )
    _post(
        client,
        "/v1/labels",
        [{"model": "credit", "request_id": f"c{i}", "label": int(y[i])} for i in np.flatnonzero(labelled)]
        + [{"model": "price", "request_id": f"p{i}", "label": 11.0} for i in range(50)],
    )
    client.app.state.vigil.aggregator.wait_idle(10)  # type: ignore[attr-defined]
    text = client.get("/metrics").text
    got = _gauges(text)
    assert got == _gauges(client.get("/metrics", headers={"accept": OPENMETRICS}).text, openmetrics=True)
    names = ["accuracy", "roc_auc", "ece", "brier", "label_coverage", "labelled", "mae", "r2"]
    api = client.get(
        "/v1/models/credit/metrics",
        params={"names": ",".join(names[:6]), "from": NOW - 3600, "to": NOW, "step": 3600},
    ).json()["series"]
    for name in names[:6]:
        assert got[(gauge_name(name), "credit")] == api[name][0][1], name
    assert (
        gauge_name("roc_auc") == "vigil_quality_roc_auc_ratio"
        and gauge_name("labelled") == "vigil_quality_labelled"
    )
    yt, yp = y[labelled], pred[labelled]
    assert got[("vigil_quality_accuracy_ratio", "credit")] == pytest.approx(
        metrics.accuracy_score(yt, yp), abs=1e-12
    )
    assert (
        abs(got[("vigil_quality_roc_auc_ratio", "credit")] - metrics.roc_auc_score(yt, score[labelled]))
        <= 5e-4
    )
    assert got[("vigil_quality_label_coverage_ratio", "credit")] == labelled.mean()
    assert got[("vigil_quality_mae", "price")] == pytest.approx(
        np.mean(np.abs(10.0 + np.arange(50) % 7 - 11.0))
    )
    assert ("vigil_quality_roc_auc_ratio", "price") not in got and ("vigil_quality_mae", "credit") not in got
    assert not any(model == "chat" for _, model in got)  # an LLM has no label metrics
    assert "# HELP vigil_quality_ece_ratio expected calibration error" in text
