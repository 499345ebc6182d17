"""Realised quality through the real HTTP app (in process) on a real SQLite store: predictions sent with
request ids, labels posted later (some never), the metrics API read per step and checked against
scikit-learn on the labelled rows of each step.

Tolerances: counts-based figures (accuracy, precision, recall, F1 in every average, positive rate) to
1e-12; log loss, Brier, MAPE and R² to 1e-9 relative (sums in another order); ROC AUC within 5e-4 of
scikit-learn (the stated bound of 10,000 score bins, ``½ · D / 10,000``, with these score densities D ≤ 3,
is 1.5e-4); average precision within 1e-3 (its bound from the histograms, checked exactly in
``tests/test_performance_state.py``); ECE within 5e-5 (``½ / 10,000``) of an exact numpy ECE; absolute-error
quantiles within 1% of ``numpy.quantile(..., method="lower")``; the Wilson interval to 1e-12 of scipy's
``binomtest(...).proportion_ci(method="wilson")``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from scipy.stats import binomtest
from sklearn import metrics

from tests.fakes import FakeClock
from vigil.config import parse_config
from vigil.server.app import create_app
from vigil.store.sqlite import SQLiteStore

NOW = 1_800_000_000.0
T0 = NOW - 900
JSON = {"content-type": "application/json"}
STEP = 300

CONFIG = """
models:
  credit:
    task: binary
    owner: {team: risk}
  species:
    task: multiclass
    owner: {team: zoo}
  price:
    task: regression
    owner: {team: pricing}
"""

Client = Callable[[str, str], dict[str, Any]]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[TestClient, FakeClock]]:
    with ExitStack() as stack:
        store = SQLiteStore(tmp_path / "vigil.db")
        stack.callback(store.close)
        clock = FakeClock(NOW + 5)
        app = create_app(parse_config(CONFIG), store, clock=clock, flush_every=3600, root=tmp_path)
        yield stack.enter_context(TestClient(app)), clock


def _post(client: TestClient, path: str, records: list[dict[str, Any]]) -> None:
    r = client.post(path, content=json.dumps(records), headers=JSON)
    assert r.status_code == 200 and r.json()["rejected"] == [], r.text


def _read(client: TestClient, model: str, names: str) -> dict[str, Any]:
    client.app.state.vigil.aggregator.wait_idle(10)  # type: ignore[attr-defined]
    r = client.get(
        f"/v1/models/{model}/metrics", params={"names": names, "step": STEP, "from": T0, "to": NOW}
    )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _send(
    client: TestClient, model: str, preds: list[Any], labels: list[Any], ts: np.ndarray, **extra: Any
) -> None:
    events = [
        {"model": model, "request_id": f"{model}{i}", "timestamp": float(ts[i]), "prediction": p}
        | {k: float(v[i]) for k, v in extra.items()}
        for i, p in enumerate(preds)
    ]
    _post(client, "/v1/events", events)
    _post(
        client,
        "/v1/labels",
        [
            {"model": model, "request_id": f"{model}{i}", "label": y}
            for i, y in enumerate(labels)
            if y is not None
        ],
    )


def _steps(ts: np.ndarray, body: dict[str, Any], name: str) -> Iterator[tuple[int, np.ndarray]]:
    for k, (t, _) in enumerate(body["series"][name]):
        start = _epoch(t)
        yield k, (ts >= start) & (ts < start + STEP)


def _ece(y: np.ndarray, score: np.ndarray) -> float:
    b = np.minimum((score * 10).astype(int), 9)
    return float(
        sum(
            (b == k).mean() * abs(y[b == k].mean() - score[b == k].mean())
            for k in range(10)
            if (b == k).any()
        )
    )


def test_binary_quality_and_its_support(server: tuple[TestClient, FakeClock]) -> None:
    client, _ = server
    rng = np.random.default_rng(4)
    n = 3_000
    ts = np.sort(T0 + rng.uniform(0, 900, n))
    y = rng.random(n) < 0.35
    score = np.where(y, rng.beta(4, 2, n), rng.beta(2, 4, n))
    pred = (score >= 0.5).astype(int)
    has_label = rng.random(n) < np.where(ts < T0 + 600, 0.8, 0.02)  # the last step: a handful of labels
    _send(
        client,
        "credit",
        pred.tolist(),
        [int(v) if h else None for v, h in zip(y, has_label, strict=True)],
        ts,
        score=score,
    )
    names = (
        "accuracy,precision,recall,positive_rate,roc_auc,pr_auc,log_loss,brier,ece,precision_micro,f1_weighted,"
        "recall:0,labelled"
    )
    body = _read(client, "credit", names)
    support = body["support"]
    assert set(support) == set(names.split(",")) and "support" not in _read(client, "credit", "events")
    for k, in_step in _steps(ts, body, "accuracy"):
        sel = in_step & has_label
        yt, ys, yp = y[sel], score[sel], pred[sel]
        got = {name: body["series"][name][k][1] for name in names.split(",")}
        assert got["labelled"] == sel.sum()
        assert got["accuracy"] == pytest.approx(metrics.accuracy_score(yt, yp), abs=1e-12)
        assert got["precision"] == pytest.approx(metrics.precision_score(yt, yp), abs=1e-12)
        assert got["positive_rate"] == pytest.approx(yp.mean(), abs=1e-12)
        assert got["precision_micro"] == pytest.approx(
            metrics.precision_score(yt, yp, average="micro"), abs=1e-12
        )
        assert got["f1_weighted"] == pytest.approx(metrics.f1_score(yt, yp, average="weighted"), abs=1e-12)
        assert got["recall:0"] == pytest.approx(metrics.recall_score(~yt, 1 - yp), abs=1e-12)
        assert abs(got["roc_auc"] - metrics.roc_auc_score(yt, ys)) <= 5e-4
        assert abs(got["pr_auc"] - metrics.average_precision_score(yt, ys)) <= 1e-3
        assert got["log_loss"] == pytest.approx(metrics.log_loss(yt, ys), rel=1e-9)
        assert got["brier"] == pytest.approx(metrics.brier_score_loss(yt, ys), rel=1e-9)
        assert abs(got["ece"] - _ece(yt, ys)) <= 5e-5
        # beside each label figure: the labels, their coverage and (for proportions) the Wilson interval
        acc = support["accuracy"][k]
        assert acc["time"] == body["series"]["accuracy"][k][0]
        assert acc["labelled"] == sel.sum() and acc["label_coverage"] == pytest.approx(
            sel.sum() / in_step.sum()
        )
        ci = binomtest(int((yt == yp).sum()), int(sel.sum())).proportion_ci(0.95, method="wilson")
        assert (acc["lower"], acc["upper"]) == (
            pytest.approx(ci.low, abs=1e-12),
            pytest.approx(ci.high, abs=1e-12),
        )
        rec = support["recall"][k]
        ci = binomtest(int((yt & (yp == 1)).sum()), int(yt.sum())).proportion_ci(0.95, method="wilson")
        assert (rec["lower"], rec["upper"]) == (
            pytest.approx(ci.low, abs=1e-12),
            pytest.approx(ci.high, abs=1e-12),
        )
        assert "lower" not in support["roc_auc"][k] and "lower" not in support["f1_weighted"][k]
    few = support["accuracy"][-1]
    assert few["labelled"] < 40 and few["upper"] - few["lower"] > 0.2  # a wide interval: do not trust it


def test_multiclass_averages_and_per_class(server: tuple[TestClient, FakeClock]) -> None:
    client, _ = server
    rng = np.random.default_rng(5)
    n = 2_400
    ts = np.sort(T0 + rng.uniform(0, 900, n))
    classes = np.array(["cat", "dog", "emu"])
    y = classes[rng.choice(3, n, p=[0.5, 0.3, 0.2])]
    pred = np.where(rng.random(n) < 0.7, y, classes[rng.integers(0, 3, n)])
    _send(client, "species", pred.tolist(), y.tolist(), ts)
    names = [f"{f}_{a}" for f in ("precision", "recall", "f1") for a in ("macro", "micro", "weighted")]
    per_class = ["recall:emu", "precision:dog", "f1:cat", "recall:yak"]
    body = _read(client, "species", ",".join(names + per_class + ["roc_auc"]))
    for k, sel in _steps(ts, body, "f1_macro"):
        for name in names:
            figure, average = name.split("_")
            fn = {
                "precision": metrics.precision_score,
                "recall": metrics.recall_score,
                "f1": metrics.f1_score,
            }[figure]
            want = fn(y[sel], pred[sel], average=average)
            assert body["series"][name][k][1] == pytest.approx(want, abs=1e-12), name
        got = {c: body["series"][c][k][1] for c in per_class}
        assert got["recall:emu"] == pytest.approx(
            metrics.recall_score(y[sel] == "emu", pred[sel] == "emu"), abs=1e-12
        )
        assert got["precision:dog"] == pytest.approx(
            metrics.precision_score(y[sel] == "dog", pred[sel] == "dog"), abs=1e-12
        )
        assert got["f1:cat"] == pytest.approx(
            metrics.f1_score(y[sel] == "cat", pred[sel] == "cat"), abs=1e-12
        )
        assert got["recall:yak"] is None  # a class never seen
        assert body["series"]["roc_auc"][k][1] is None  # score metrics are binary only
        assert body["support"]["precision_micro"][k]["lower"] < body["series"]["precision_micro"][k][1]


def test_regression_errors(server: tuple[TestClient, FakeClock]) -> None:
    client, _ = server
    rng = np.random.default_rng(6)
    n = 3_000
    ts = np.sort(T0 + rng.uniform(0, 900, n))
    y = rng.lognormal(3.0, 0.5, n)
    p = y + rng.standard_t(4, n) * 2.0
    _send(client, "price", p.tolist(), y.tolist(), ts)
    body = _read(client, "price", "mape,r2,error_p50,error_p90,labelled")
    for k, sel in _steps(ts, body, "mape"):
        got = {n_: body["series"][n_][k][1] for n_ in ("mape", "r2", "error_p50", "error_p90")}
        assert got["mape"] == pytest.approx(metrics.mean_absolute_percentage_error(y[sel], p[sel]), rel=1e-9)
        assert got["r2"] == pytest.approx(metrics.r2_score(y[sel], p[sel]), rel=1e-9)
        for q, name in ((0.5, "error_p50"), (0.9, "error_p90")):
            exact = np.quantile(np.abs(p[sel] - y[sel]), q, method="lower")
            assert abs(got[name] - exact) <= 0.01 * exact
        assert body["support"]["r2"][k]["labelled"] == sel.sum() and "lower" not in body["support"]["r2"][k]


def test_unknown_class_metric_names_say_what_to_write(server: tuple[TestClient, FakeClock]) -> None:
    client, _ = server
    r = client.get("/v1/models/species/metrics", params={"names": "recall:"})
    assert r.status_code == 422 and "name a class, as in recall:<class>" in r.text
