"""What ``vigil backfill`` keeps for the label join, on a real local Dask cluster and both stores: labels
posted later join the backfilled predictions, labels in the files come out of the backfill itself, the
realised metrics of the backfilled steps equal scikit-learn's on the same rows, predictions older than
``retention.predictions`` are not kept, a backfill stopped half-way and run again stores nothing twice;
and the template covers a sample spread over each file."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sklearn import metrics

from tests.backfill.test_backfill import NOW, _backfill, _history, _parquet
from tests.shared_postgres import fresh_database
from vigil.backfill.run import Backfill
from vigil.cli.main import main
from vigil.config import parse_config
from vigil.monitoring.retention import DAY, HOUR
from vigil.monitoring.templates import TEMPLATE_KEY
from vigil.monitoring.window import WindowState
from vigil.server.app import create_app
from vigil.stats.column import NumericProfile
from vigil.stats.profile import Profile
from vigil.store import open_store

CONFIG = """
models:
  credit:
    task: binary
    owner: {team: risk}
    window: 1m
    features: {a: {type: numeric}, region: {type: categorical}, answer: {type: text}}
    retention: {minutes: 1d, hours: 3d, days: 30d, predictions: 6d}
"""
KEPT = NOW - 6 * DAY
"""Predictions older than this are past ``retention.predictions``: not kept."""
NAMES = "accuracy,precision,recall,f1,roc_auc,log_loss,brier,labelled"
EXACT = 1e-12
"""Counts and ratios of counts (accuracy, precision, recall, F1): exact but for float rounding."""
AUC = 5e-4
"""ROC AUC is read from binned scores (``performance.curves``): within 5e-4 here, as in the live path's test
(tests/server/test_quality_api.py)."""
LOSS = 1e-9
"""Log loss and Brier score are sums of floats in another order than scikit-learn's: relative."""


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield str(tmp_path / "backfill.db")
        return
    with fresh_database() as fresh:
        yield fresh


def _scored(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """History over the last 10 days and each row's true class (correlated with its score)."""
    df = _history(n, seed=seed)
    rng = np.random.default_rng(seed + 1)
    truth = (rng.random(n) < df["score"].to_numpy() * 1.4).astype(int)
    return df, truth


def _app(url: str) -> Any:
    return create_app(parse_config(CONFIG), open_store(url), clock=lambda: NOW, close_store=True)


def _read(c: TestClient) -> dict[str, Any]:
    r = c.get(
        "/v1/models/credit/metrics", params={"names": NAMES, "from": NOW - 10 * DAY, "to": NOW, "step": DAY}
    )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()["series"]
    return body


def _check(series: dict[str, Any], df: pd.DataFrame, truth: np.ndarray, labelled: np.ndarray) -> None:
    """Each day's realised metrics against scikit-learn's on the day's rows that are labelled and kept."""
    ts = df["timestamp"].astype("int64").to_numpy() / 1e9
    pred, score = df["prediction"].to_numpy(), df["score"].to_numpy()
    checked = 0
    for k, (t, _) in enumerate(series["accuracy"]):
        start = datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp()
        sel = (ts >= start) & (ts < start + DAY) & labelled & (ts >= KEPT)
        got = {name: series[name][k][1] for name in NAMES.split(",")}
        if not sel.any():  # past retention.predictions (or no row): nothing joins
            assert got["accuracy"] is None and got["labelled"] in (0, None), (t, got)
            continue
        checked += 1
        y, p, s = truth[sel], pred[sel], score[sel]
        assert got["labelled"] == sel.sum(), t
        assert got["accuracy"] == pytest.approx(metrics.accuracy_score(y, p), abs=EXACT), t
        assert got["precision"] == pytest.approx(metrics.precision_score(y, p), abs=EXACT), t
        assert got["recall"] == pytest.approx(metrics.recall_score(y, p), abs=EXACT), t
        assert got["f1"] == pytest.approx(metrics.f1_score(y, p), abs=EXACT), t
        assert abs(got["roc_auc"] - metrics.roc_auc_score(y, s)) <= AUC, t
        assert got["log_loss"] == pytest.approx(metrics.log_loss(y, s, labels=[0, 1]), rel=LOSS), t
        assert got["brier"] == pytest.approx(metrics.brier_score_loss(y, s), rel=LOSS), t
    assert checked >= 6  # the days within retention.predictions


def _kept(url: str) -> tuple[int, int, int]:
    """Prediction batches, predictions and labels in the store."""
    store = open_store(url)
    try:
        batches = store.predictions("credit", 0, NOW + DAY)
        return len(batches), sum(b.rows for b in batches), len(store.labels("credit", 0))
    finally:
        store.close()


def test_labels_posted_later_join_the_backfilled_predictions(tmp_path: Path, url: str, client: Any) -> None:
    df, truth = _scored(6_000, seed=21)
    path = _parquet(df, tmp_path / "history.parquet")
    [result] = _backfill(url, [path], client, CONFIG)
    ts = df["timestamp"].astype("int64").to_numpy() / 1e9
    assert (result.predictions, result.past) == ((ts >= KEPT).sum(), (ts < KEPT).sum())
    labelled = np.random.default_rng(5).random(len(df)) < 0.7
    app = _app(url)
    with TestClient(app) as c:
        body = [
            {"model": "credit", "request_id": rid, "label": int(y)}
            for rid, y, given in zip(df["request_id"], truth, labelled, strict=True)
            if given
        ]
        for first in range(0, len(body), 2_000):
            r = c.post("/v1/labels", json=body[first : first + 2_000])
            assert r.status_code == 200 and r.json()["accepted"] == len(body[first : first + 2_000]), r.text
        _check(_read(c), df, truth, labelled)


def test_labels_in_the_files_come_out_of_the_backfill_once(
    tmp_path: Path, url: str, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    df, truth = _scored(6_000, seed=31)
    labelled = np.random.default_rng(6).random(len(df)) < 0.8
    df["label"] = pd.Series(truth, dtype="Int64").where(labelled, pd.NA)
    path = _parquet(df, tmp_path / "history.parquet")

    # a run stopped after the predictions and labels were stored, before the windows
    store = open_store(url)
    try:
        job = Backfill(
            parse_config(CONFIG),
            store,
            "credit",
            clock=lambda: NOW,
            partition_rows=2_000,
            label_column="label",
        )

        def stopped(*args: Any, **kwargs: Any) -> None:
            raise RuntimeError("stopped")

        monkeypatch.setattr(store, "save_windows", stopped)
        with pytest.raises(RuntimeError, match="stopped"):
            list(job.run([str(path)], client))
    finally:
        store.close()
    once = _kept(url)
    kept = (df["timestamp"].astype("int64").to_numpy() / 1e9) >= KEPT
    assert once[1:] == (kept.sum(), (kept & labelled).sum())

    [result] = _backfill(url, [path], client, CONFIG, label_column="label")
    assert (result.accepted, result.refused) == (6_000, {})
    assert (result.predictions, result.labelled) == (kept.sum(), (kept & labelled).sum())
    copy = tmp_path / "copy.parquet"
    shutil.copy(path, copy)
    assert [r.skipped for r in _backfill(url, [path, copy], client, CONFIG, label_column="label")] == [
        "backfilled already",
        "backfilled already",
    ]
    assert _kept(url) == once  # the same batches and labels, stored once
    store = open_store(url)
    try:  # the label column is no feature
        for res in (60, HOUR, DAY):
            for row in store.windows("credit", res, 0, NOW + DAY):
                assert "label" not in WindowState.from_bytes(row.state).profile.columns
    finally:
        store.close()
    with TestClient(_app(url)) as c:
        _check(_read(c), df, truth, labelled)


def test_the_command_keeps_labels_and_names_those_it_cannot(tmp_path: Path) -> None:
    now = time.time()  # the command's clock
    df = _history(300, seed=5, now=now)
    df["label"] = np.where(np.arange(300) % 3 == 0, np.nan, df["prediction"].to_numpy().astype(float))
    df.loc[10, "label"] = np.inf  # row 11 of the file
    df.loc[20, "request_id"] = None  # row 21: its label cannot join
    df.loc[20, "label"] = 1.0
    df.loc[30, "timestamp"] = pd.Timestamp(now - 8 * DAY, unit="s", tz="UTC")  # past retention.predictions
    df.loc[30, "label"] = 0.0
    ages = now - df["timestamp"].astype("int64").to_numpy() / 1e9
    near = np.abs(ages - 6 * DAY) < HOUR  # none on the edge of retention.predictions as the command runs
    df.loc[near, "timestamp"] -= pd.Timedelta(hours=2)
    ts = df["timestamp"].astype("int64").to_numpy() / 1e9
    kept = (ts >= now - 6 * DAY) & df["request_id"].notna().to_numpy()
    past = (ts < now - 6 * DAY) & df["request_id"].notna().to_numpy()
    with_label = kept & np.isfinite(df["label"].to_numpy())
    path = tmp_path / "scored.csv"
    df.to_csv(path, index=False)
    (tmp_path / "vigil.yaml").write_text(CONFIG)
    store = tmp_path / "v.db"
    args = ["backfill", str(path), "--model", "credit", "--config", str(tmp_path / "vigil.yaml")]
    args += ["--store", str(store), "--workers", "1"]
    result = CliRunner().invoke(main, [*args, "--label-column", "label"])
    assert result.exit_code == 1, result.output
    assert "300 of 300 rows into 'credit'" in result.output
    assert (
        f"  {kept.sum()} predictions kept for the label join, {with_label.sum()} with their label; "
        f"{past.sum()} older than retention.predictions (6 days) not kept"
    ) in result.output
    assert f"{path} row 11: inf is not a finite number no larger than 1e+100" in result.output
    assert f"{path} row 21: no request_id: a label joins its prediction by request id" in result.output
    opened = open_store(str(store))
    try:
        labels = {r.request_id: r.label for r in opened.labels("credit", 0)}
    finally:
        opened.close()
    want = {
        rid: str(int(y)) for rid, y in zip(df["request_id"][with_label], df["label"][with_label], strict=True)
    }
    assert labels == want  # as POST /v1/labels stores them: 1.0 is "1"

    args[args.index(str(store))] = str(tmp_path / "other.db")
    missing = CliRunner().invoke(main, [*args, "--label-column", "truth"])
    assert missing.exit_code == 2
    assert f"{path}: no column 'truth' (the label column)" in missing.output
    for name, why in (("score", "is an event field"), ("a", "is a declared feature of model 'credit'")):
        wrong = CliRunner().invoke(main, [*args, "--label-column", name])
        assert wrong.exit_code == 2 and f"label column {name!r} {why}" in wrong.output, wrong.output


@pytest.mark.parametrize("kind", ["parquet", "csv"])
def test_a_column_empty_at_the_start_of_a_file_gets_its_buckets(
    tmp_path: Path, client: Any, kind: str
) -> None:
    """The template comes from rows spread over the file: a column null in its first 6,000 rows (more than
    the 5,000 the template was once fixed from) is in it, and every window lines up with it."""
    df = _history(8_000, seed=41)
    b = np.random.default_rng(2).normal(5, 1, len(df))
    b[:6_000] = np.nan
    df["b"] = b
    if kind == "parquet":
        path = tmp_path / "h.parquet"
        pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path, row_group_size=1_000)
    else:
        path = tmp_path / "h.csv"
        df.to_csv(path, index=False)
    url = str(tmp_path / "s.db")
    [result] = _backfill(url, [path], client, CONFIG)
    assert result.accepted == 8_000
    store = open_store(url)
    try:
        saved = store.baseline("credit", TEMPLATE_KEY)
        assert saved is not None
        template = Profile.from_bytes(saved)
        fixed = template.columns.get("b")
        assert isinstance(fixed, NumericProfile)
        merged = WindowState()
        for res in (60, HOUR, DAY):
            for row in store.windows("credit", res, 0, NOW + DAY):
                state = WindowState.from_bytes(row.state)
                b_column = state.profile.columns.get("b")
                if b_column is not None:  # the template's buckets, not ones of its own
                    assert isinstance(b_column, NumericProfile)
                    assert (b_column.sketch.centre, b_column.sketch.scale) == (
                        fixed.sketch.centre,
                        fixed.sketch.scale,
                    )
                merged.merge(state)
    finally:
        store.close()
    column = merged.profile.columns["b"]
    assert isinstance(column, NumericProfile)
    assert (column.rows, column.nulls, column.count) == (8_000, 6_000, 2_000)
