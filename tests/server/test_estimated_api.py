"""Performance estimated before labels, live: through the real HTTP app (in process) on a real SQLite store,
a binary model whose baseline file holds labelled scores. Predictions arrive without labels; the metrics API
gives ``estimated_*`` with their bands, computed by the estimator fitted on the baseline. When labels arrive
the realised figures fall inside the bands where the score still means what it meant (labels drawn from the
calibrated probability), and ``concept_shift`` reads 1 where the relation was reversed.

Tolerances: the estimate read through the API equals ``Estimator.estimate`` on the same rows to 1e-12; the
realised accuracy and ROC AUC (scikit-learn) lie within the ±3 SE band (the band's own guarantee is ≈99.7%
per metric; these two steps of 2,000 predictions are seeded).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sklearn import metrics

from tests.fakes import FakeClock
from vigil.config import parse_config
from vigil.performance.estimation import Estimator
from vigil.server.app import create_app
from vigil.store.sqlite import SQLiteStore

NOW = 1_800_000_000.0 - 1_800_000_000.0 % 600
STEP = 300
T0 = NOW - 2 * STEP
JSON = {"content-type": "application/json"}


def _truth(score: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The true probability of class 1 given the raw score: the model is over-confident (calibration is
    needed), P(y=1 | s) = 0.2 + 0.6 s."""
    return np.asarray(rng.uniform(size=score.size) < 0.2 + 0.6 * score, dtype=np.int64)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[TestClient, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(7)
    ref_score = rng.beta(2, 2, size=20_000)
    ref_label = _truth(ref_score, rng)
    pd.DataFrame(
        {"x": rng.normal(size=ref_score.size), "score": ref_score, "prediction": (ref_score >= 0.5) * 1}
        | {"label": ref_label}
    ).to_parquet(tmp_path / "baseline.parquet")
    config = f"""
models:
  credit:
    task: binary
    owner: {{team: risk}}
    features: {{x: {{type: numeric}}}}
    baseline: {{file: {tmp_path / "baseline.parquet"}}}
"""
    with ExitStack() as stack:
        store = SQLiteStore(tmp_path / "vigil.db")
        stack.callback(store.close)
        app = create_app(
            parse_config(config), store, clock=FakeClock(NOW + 5), flush_every=3600, root=tmp_path
        )
        yield stack.enter_context(TestClient(app)), ref_score, ref_label


def _read(client: TestClient, names: str) -> dict[str, Any]:
    client.app.state.vigil.aggregator.wait_idle(10)  # type: ignore[attr-defined]
    r = client.get("/v1/models/credit/metrics", params={"names": names, "step": STEP, "from": T0, "to": NOW})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _post(client: TestClient, path: str, records: list[dict[str, Any]]) -> None:
    r = client.post(path, content=json.dumps(records), headers=JSON)
    assert r.status_code == 200 and r.json()["rejected"] == [], r.text


def test_estimates_before_labels_then_concept_shift_once_they_arrive(
    server: tuple[TestClient, np.ndarray, np.ndarray],
) -> None:
    client, ref_score, ref_label = server
    rng = np.random.default_rng(11)
    n = 2_000
    score = np.concatenate([rng.beta(3, 2, size=n), rng.beta(3, 2, size=n)])  # covariate shift: more 1s
    ts = np.concatenate([T0 + rng.uniform(0, STEP, n), T0 + STEP + rng.uniform(0, STEP, n)])
    prediction = (score >= 0.5).astype(np.int64)
    _post(
        client,
        "/v1/events",
        [
            {"model": "credit", "request_id": f"r{i}", "timestamp": float(ts[i]), "features": {"x": 0.0}}
            | {"prediction": int(prediction[i]), "score": float(score[i])}
            for i in range(2 * n)
        ],
    )
    names = "estimated_accuracy,estimated_roc_auc,accuracy,concept_shift"
    body = _read(client, names)
    expected = Estimator.fit(ref_score, ref_label)
    for k in range(2):
        rows = slice(k * n, (k + 1) * n)
        want = expected.estimate(score[rows], prediction[rows])
        for name in ("accuracy", "roc_auc"):
            got = body["series"][f"estimated_{name}"][k][1]
            band = body["support"][f"estimated_{name}"][k]
            assert got == pytest.approx(want[name].value, abs=1e-12)
            assert (band["lower"], band["upper"]) == pytest.approx((want[name].lower, want[name].upper))
            assert band["lower"] < got < band["upper"] and band["labelled"] == 0
        assert body["series"]["accuracy"][k][1] is None  # no label yet: nothing realised
        assert body["series"]["concept_shift"][k][1] is None

    # the labels arrive: the first step's as the score means them, the second's reversed
    truth = np.concatenate([_truth(score[:n], rng), 1 - _truth(score[n:], rng)])
    _post(
        client,
        "/v1/labels",
        [{"model": "credit", "request_id": f"r{i}", "label": int(truth[i])} for i in range(2 * n)],
    )
    body = _read(client, names)
    calm = slice(0, n)
    band = body["support"]["estimated_accuracy"][0]
    realised = metrics.accuracy_score(truth[calm], prediction[calm])
    assert body["series"]["accuracy"][0][1] == pytest.approx(realised, abs=1e-12)
    assert band["lower"] <= realised <= band["upper"]
    auc = body["support"]["estimated_roc_auc"][0]
    assert auc["lower"] <= metrics.roc_auc_score(truth[calm], score[calm]) <= auc["upper"]
    assert [v for _, v in body["series"]["concept_shift"]] == [0.0, 1.0]

    # the same range in full: realised figures as scikit-learn gives them, the estimate and the check
    r = client.get("/v1/models/credit/quality", params={"from": T0, "to": T0 + STEP})
    assert r.status_code == 200, r.text
    q = r.json()
    c = q["classification"]
    assert q["labelled"] == q["predictions"] == n and c["classes"] == ["0", "1"]
    assert c["confusion_matrix"] == metrics.confusion_matrix(truth[calm], prediction[calm]).tolist()
    assert c["averages"]["weighted"]["f1"] == pytest.approx(
        metrics.f1_score(truth[calm], prediction[calm], average="weighted"), abs=1e-12
    )
    auc = metrics.roc_auc_score(truth[calm], score[calm])
    assert abs(c["roc_auc"]["value"] - auc) <= c["roc_auc"]["bound"] + 1e-12
    at = {t["threshold"]: t for t in c["thresholds"]}
    for threshold in (0.3, 0.5, 0.7):  # the counts if the threshold were moved there
        want = (score[calm] >= threshold) & (truth[calm] == 1)
        assert abs(at[threshold]["tp"] - int(want.sum())) <= at[threshold]["in_threshold_bin"]
    assert q["estimated"]["labelled"]["concept_shift"] is False
    assert q["estimated"]["metrics"]["accuracy"]["value"] == pytest.approx(
        expected.estimate(score[calm], prediction[calm])["accuracy"].value, abs=1e-12
    )
    shifted = client.get("/v1/models/credit/quality", params={"from": T0 + STEP, "to": NOW}).json()
    assert shifted["estimated"]["labelled"]["concept_shift"] is True
    assert "accuracy" in shifted["estimated"]["labelled"]["outside"]


def test_without_labelled_scores_in_the_baseline_there_is_no_estimate_and_the_reason_is_given(
    tmp_path: Path,
) -> None:
    pd.DataFrame({"x": [0.0] * 300, "score": [0.5] * 300}).to_parquet(tmp_path / "b.parquet")
    config = f"""
models:
  credit:
    task: binary
    owner: {{team: risk}}
    features: {{x: {{type: numeric}}}}
    baseline: {{file: {tmp_path / "b.parquet"}}}
"""
    store = SQLiteStore(tmp_path / "vigil.db")
    try:
        app = create_app(
            parse_config(config), store, clock=FakeClock(NOW + 5), flush_every=3600, root=tmp_path
        )
        with TestClient(app) as client:
            _post(
                client,
                "/v1/events",
                [{"model": "credit", "request_id": "a", "timestamp": T0 + 1, "prediction": 1, "score": 0.7}],
            )
            assert _read(client, "estimated_accuracy")["series"]["estimated_accuracy"][0][1] is None
            problem = app.state.vigil.query.estimators.problem("credit")
            assert (
                problem == "cannot read the baseline's labelled scores: the baseline file has no label column"
            )
    finally:
        store.close()
