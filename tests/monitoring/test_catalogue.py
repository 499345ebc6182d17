"""The metric catalogue: names with did-you-mean, the docs listing every metric, and the columnar label join
giving what the plain per-row reading gives (first prediction per request id, unlabelled rows, predictions
missing, regression values that are not numbers)."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from sklearn import metrics

from vigil.config import parse_config
from vigil.drift import METHOD_NAMES
from vigil.drift.methods import METHODS
from vigil.ingest.batch import to_ipc
from vigil.monitoring.catalogue import (
    CATALOGUE,
    METRICS,
    PER_CLASS,
    PER_FEATURE,
    SEGMENT_METRICS,
    lookup,
    markdown,
    problem,
)
from vigil.monitoring.query import Baselines, Query
from vigil.registry import Registry
from vigil.store.base import LabelRow, PredictionBatch
from vigil.store.sqlite import SQLiteStore

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_800_000_000.0


def test_names_and_did_you_mean() -> None:
    assert lookup("latency_p95") == (CATALOGUE["latency_p95"], None)
    assert lookup("drift:age") == (PER_FEATURE["drift"], "age")
    assert lookup("null_rate") == (CATALOGUE["null_rate"], None)
    assert problem("f1") is None and problem("null_rate:income") is None
    assert "did you mean 'latency_p95'" in (problem("latncy_p95") or "")
    assert "did you mean 'accuracy'" in (problem("acuracy") or "")
    assert "name a feature, as in drift:<feature>" in (problem("drift:") or "")
    message = problem("nonsense_entirely") or ""
    assert "did you mean" not in message and "drift:<feature>" in message and "error_rate" in message
    with pytest.raises(KeyError):
        lookup("drift")


def test_views_read_the_catalogue() -> None:
    assert {name: m.help for name, m in CATALOGUE.items()} == METRICS
    assert set(SEGMENT_METRICS) == {n for n, m in CATALOGUE.items() if m.segment}
    assert all(m.help and m.unit for m in (*CATALOGUE.values(), *PER_FEATURE.values()))
    assert tuple(METHODS) == METHOD_NAMES  # the CLI's --method choices, kept without importing numpy


def test_per_class_names_and_what_guards_the_label_figures() -> None:
    assert lookup("recall:cat") == (PER_CLASS["recall"], "cat")
    assert lookup("precision:1") == (PER_CLASS["precision"], "1")
    assert "name a class, as in f1:<class>" in (problem("f1:") or "")
    assert "recall:<class>" in (problem("nonsense_entirely") or "")
    # the figures rules wait for min_labels on: every label figure but the counts about the labels
    sampled = {n for n, m in CATALOGUE.items() if m.sampled}
    assert {n for n, m in CATALOGUE.items() if m.labels} - sampled == {
        "labelled",
        "label_coverage",
        "label_lag_p50",
    }
    assert all(m.sampled and m.labels for m in PER_CLASS.values())
    # a Wilson interval only where the figure is one proportion (a share of 0-1)
    proportions = {n for n, m in CATALOGUE.items() if m.proportion is not None}
    assert proportions == {
        "accuracy",
        "precision",
        "recall",
        "positive_rate",
        "precision_micro",
        "recall_micro",
    }
    assert all(CATALOGUE[n].unit == "ratio" for n in proportions)


def test_readme_documents_every_metric() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert markdown() in readme, "README.md's metrics table differs from the catalogue: paste markdown() in"
    assert all(f"| `{n}` |" in markdown() for n in CATALOGUE)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "v.db")
    yield s
    s.close()


def _query(store: SQLiteStore, task: str) -> Query:
    config = parse_config(f"models:\n  m: {{task: {task}, window: 1m, owner: {{team: t}}}}\n")
    registry = Registry(config, store)
    return Query(store, registry, None, Baselines(registry, store), time.time)


def _log(store: SQLiteStore, rows: Sequence[tuple[str, float, str | None, str | None]]) -> None:
    """(request id, ts, prediction, segment JSON) in batches of 7, as the aggregator logs them."""
    for seq, lo in enumerate(range(0, len(rows), 7), start=1):
        part = rows[lo : lo + 7]
        table = pa.table(
            {
                "request_id": [r[0] for r in part],
                "version": ["v1"] * len(part),
                "ts": [r[1] for r in part],
                "prediction": pa.array([r[2] for r in part], pa.string()),
                "score": pa.array([None if i % 5 == 0 else i / 10 for i in range(len(part))], pa.float64()),
                "segment": pa.array([r[3] for r in part], pa.string()),
            }
        )
        ts = [r[1] for r in part]
        store.put_predictions(PredictionBatch("m", "w", seq, min(ts), max(ts), len(part), to_ipc(table)))


def _first_per_id(
    rows: Sequence[tuple[str, float, str | None, str | None]],
) -> dict[str, tuple[float, str | None]]:
    first: dict[str, tuple[float, str | None]] = {}
    for rid, ts, pred, _ in rows:
        first.setdefault(rid, (ts, pred))
    return first


@pytest.mark.parametrize("seed", range(3))
def test_binary_label_metrics_equal_the_plain_reading(store: SQLiteStore, seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 300
    rows = []
    for i in range(n):
        rid = f"r{rng.integers(0, 250)}"  # some ids logged twice: the first counts
        pred = None if rng.random() < 0.05 else str(int(rng.random() < 0.4))
        rows.append((rid, T0 + i, pred, '{"region":"eu"}' if i % 3 else '{"region":"us"}'))
    _log(store, rows)
    first = _first_per_id(rows)
    labels = {rid: str(int(rng.random() < 0.5)) for rid in first if rng.random() < 0.7}
    store.put_labels([LabelRow("m", rid, lab, first[rid][0] + 30) for rid, lab in labels.items()])

    names = ["accuracy", "precision", "recall", "f1", "label_coverage", "label_lag_p50", "predictions"]
    got = _query(store, "binary").series("m", names, T0, T0 + n, step=n * 60)
    pairs = [(first[rid][1], lab) for rid, lab in labels.items()]
    tp = sum(p == "1" and y == "1" for p, y in pairs)
    want = {
        "accuracy": sum(p == y for p, y in pairs) / len(pairs),
        "precision": tp / sum(p == "1" for p, _ in pairs),
        "recall": tp / sum(y == "1" for _, y in pairs),
        "f1": 2 * tp / (sum(p == "1" for p, _ in pairs) + sum(y == "1" for _, y in pairs)),
        "label_coverage": len(labels) / len(first),
        "label_lag_p50": 30.0,
        "predictions": float(len(first)),
    }
    assert {name: points[0][1] for name, points in got.items()} == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_multiclass_precision_recall_f1_are_macro_averages(store: SQLiteStore, seed: int) -> None:
    rng = np.random.default_rng(seed)
    classes = ["cat", "dog", "fox", "owl"]
    rows = [
        (f"r{i}", T0 + i, None if rng.random() < 0.05 else str(rng.choice(classes)), None) for i in range(400)
    ]
    _log(store, rows)
    labels = {rid: str(rng.choice(classes[:3])) for rid, *_ in rows if rng.random() < 0.8}  # "owl" never
    store.put_labels([LabelRow("m", rid, lab, T0 + 500) for rid, lab in labels.items()])
    names = ["accuracy", "precision", "recall", "f1"]
    got = _query(store, "multiclass").series("m", names, T0, T0 + 400, step=24_000)
    predicted = {rid: pred for rid, _, pred, _ in rows}
    y = [lab for rid, lab in labels.items()]
    p = [predicted[rid] or "(none)" for rid in labels]  # a missing prediction is wrong, and no class
    seen = sorted({*y, *(c for c in p if c != "(none)")})
    kw = {"labels": seen, "average": "macro", "zero_division": np.nan}
    want = {
        "accuracy": metrics.accuracy_score(y, p),
        "precision": metrics.precision_score(y, p, **kw),
        "recall": metrics.recall_score(y, p, **kw),  # owl: never a label, so no recall, left out
        "f1": metrics.f1_score(y, p, **kw),
    }
    assert {name: points[0][1] for name, points in got.items()} == pytest.approx(want, rel=1e-12)


def test_regression_reads_what_parses_as_numbers(store: SQLiteStore) -> None:
    rows = [(f"r{i}", T0 + i, text, None) for i, text in enumerate(["1.5", "2", "oops", None, "4e1", " 3 "])]
    _log(store, rows)
    labels = {"r0": "1", "r1": "2.5", "r2": "3", "r3": "7", "r4": "40", "r5": "1_000"}
    store.put_labels([LabelRow("m", rid, lab, T0 + 100) for rid, lab in labels.items()])
    got = _query(store, "regression").series("m", ["mae", "rmse", "accuracy"], T0, T0 + 60, step=60)
    errors = [0.5, -0.5, 0.0, 997.0]  # r0, r1, r4, r5 (" 3 " and "1_000" read as Python reads them)
    assert got["mae"][0][1] == pytest.approx(np.mean(np.abs(errors)))
    assert got["rmse"][0][1] == pytest.approx(math.sqrt(np.mean(np.square(errors))))
    assert got["accuracy"][0][1] is None  # not a classification model


def test_segment_tags_are_one_json_object_per_row() -> None:
    from vigil.monitoring.predictions import prediction_batch

    table = pa.table(
        {
            "request_id": ["a", "b", None, "c", "d"],
            "version": ["v1"] * 5,
            "ts": [1.0, 2.0, 3.0, 4.0, 5.0],
            "@prediction": ["1", "0", "1", None, "1"],
            "@score": [0.9, 0.1, 0.8, None, 0.7],
            "#region": ["eu", None, "eu", "us", "eu"],
            "#tier": ["1", "2", "1", None, "1"],
        }
    )
    spec = parse_config("models:\n  m: {task: binary, owner: {team: t}}\n").models["m"]
    batch = prediction_batch("m", "w", 7, table, spec)
    assert batch is not None and (batch.rows, batch.start, batch.end) == (4, 1.0, 5.0)
    from vigil.events import from_ipc

    logged = from_ipc(batch.payload).to_pylist()
    assert [r["request_id"] for r in logged] == ["a", "b", "c", "d"]
    assert [r["segment"] for r in logged] == [
        '{"region":"eu","tier":"1"}',
        '{"tier":"2"}',
        '{"region":"us"}',
        '{"region":"eu","tier":"1"}',
    ]
    assert (
        prediction_batch("m", "w", 8, table.filter(pa.array([False, False, True, False, False])), spec)
        is None
    )
