"""``vigil backfill`` on a real local Dask cluster, on both stores: the windows equal those the live ingest
path builds from the same file (sent as ``vigil ingest`` sends it), the metric API answers the same, history
past the minute windows' retention lands in hour and day rows, the same backfill twice counts nothing twice,
and bad rows are refused by file and row."""

from __future__ import annotations

import math
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from tests.shared_postgres import fresh_database
from vigil.backfill import profiling
from vigil.backfill.run import Backfill
from vigil.cli.main import main
from vigil.config import parse_config
from vigil.ingest.files import records, wire
from vigil.monitoring.retention import DAY, HOUR, ROLLUP_WRITER
from vigil.monitoring.window import WindowState
from vigil.server.app import create_app
from vigil.stats.column import CategoricalProfile, NumericProfile
from vigil.store import open_store

NOW = 1_800_000_000.0
CONFIG = """
models:
  credit:
    task: binary
    owner: {team: risk}
    window: 1m
    features: {a: {type: numeric}, region: {type: categorical}, answer: {type: text}}
    retention: {minutes: 1d, hours: 3d, days: 30d}
"""
RELATIVE = 1e-9
"""Means and variances merge in another order than the live path folds them: equal to float rounding."""
METRICS = "events,errors,error_rate,latency_p50,latency_p99,latency_mean,score_mean,prediction_mean,null_rate"


_WORDS = ["refund", "order", "late", "thanks", "card", "help", "account", "reset", "the", "a"]


def _history(n: int, seed: int = 7, now: float = NOW) -> pd.DataFrame:
    """``n`` scored events spread over the last 10 days: a third each within the minute windows' retention
    (1 day), within the hours' (3 days) and beyond (into day rows)."""
    rng = np.random.default_rng(seed)
    ages = np.concatenate(
        [
            rng.uniform(60, 20 * HOUR, n // 3),
            rng.uniform(26 * HOUR, 60 * HOUR, n // 3),
            rng.uniform(4, 10, n - 2 * (n // 3)) * DAY,
        ]
    )
    score = rng.beta(2, 5, n)
    a = rng.normal(0, 1, n)
    a[rng.random(n) < 0.05] = np.nan
    return pd.DataFrame(
        {
            "timestamp": pd.to_datetime(now - ages, unit="s", utc=True),
            "request_id": [f"r{i}" for i in range(n)],
            "score": score,
            "prediction": (score > 0.5).astype(int),
            "latency_ms": rng.lognormal(3, 0.5, n),
            "error": pd.Series(["TimeoutError: slow"] * n).where(rng.random(n) < 0.02, None),
            "a": a,
            "region": rng.choice(["eu", "us", "apac"], n),
            "answer": [" ".join(rng.choice(_WORDS, k)) for k in rng.integers(0, 12, n)],
            "segment.channel": rng.choice(["web", "app"], n),
        }
    )


def _parquet(df: pd.DataFrame, path: Path) -> Path:
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path, row_group_size=1_500)
    return path


@pytest.fixture(params=["sqlite", "postgres"])
def urls(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two empty stores of one kind: the live path's and the backfill's."""
    if request.param == "sqlite":
        yield str(tmp_path / "live.db"), str(tmp_path / "backfill.db")
        return
    with fresh_database() as live, fresh_database() as backfilled:
        yield live, backfilled


def _live(url: str, path: Path) -> None:
    """The file through the live path, as ``vigil ingest`` sends it (chunks of 5,000 records)."""
    store = open_store(url)
    app = create_app(parse_config(CONFIG), store, clock=lambda: NOW, close_store=True)
    with TestClient(app) as c:
        for chunk in records(pq.read_table(path), "credit"):
            assert c.post("/v1/events", json=chunk).json()["accepted"] == len(chunk)
        assert app.state.vigil.aggregator.wait_idle(30)
        app.state.vigil.aggregator.flush()


def _backfill(url: str, paths: list[Path], client: Any, config: str = CONFIG, **kwargs: Any) -> list[Any]:
    store = open_store(url)
    try:
        job = Backfill(
            parse_config(config), store, "credit", clock=lambda: NOW, partition_rows=2_000, **kwargs
        )
        return list(job.run([str(p) for p in paths], client))
    finally:
        store.close()


def _windows(url: str) -> dict[tuple[str, int, int], WindowState]:
    """Every writer's rows but the rollups', merged by (version, resolution, start)."""
    store = open_store(url)
    try:
        out: dict[tuple[str, int, int], WindowState] = {}
        for res in (60, HOUR, DAY):
            for row in store.windows("credit", res, 0, NOW + DAY):
                if row.writer != ROLLUP_WRITER:
                    out.setdefault((row.version, res, row.start), WindowState()).merge(
                        WindowState.from_bytes(row.state)
                    )
        return out
    finally:
        store.close()


def _answers(url: str) -> dict[str, list[Any]]:
    store = open_store(url)
    app = create_app(parse_config(CONFIG), store, clock=lambda: NOW, close_store=True)
    with TestClient(app) as c:
        out = {}
        for start, step in ((NOW - 20 * HOUR, 600), (NOW - 60 * HOUR, 6 * HOUR), (NOW - 10 * DAY, DAY)):
            r = c.get(
                "/v1/models/credit/metrics", params={"names": METRICS, "from": start, "to": NOW, "step": step}
            )
            assert r.status_code == 200, r.text
            for name, series in r.json()["series"].items():
                out[f"{name}@{step}"] = series
        return out


def _same_state(live: WindowState, filled: WindowState) -> None:
    assert (filled.events, filled.errors, filled.error_kinds) == (live.events, live.errors, live.error_kinds)
    assert np.array_equal(filled.latency.positive, live.latency.positive)
    assert filled.latency_moments.count == live.latency_moments.count
    assert filled.latency_moments.mean == pytest.approx(live.latency_moments.mean, rel=RELATIVE)
    lp, fp = live.profile, filled.profile
    assert fp.rows == lp.rows and fp.columns.keys() == lp.columns.keys()
    for name, column in lp.columns.items():
        other = fp.columns[name]
        assert (other.rows, other.nulls) == (column.rows, column.nulls), name
        if isinstance(column, NumericProfile):
            assert isinstance(other, NumericProfile), name
            assert np.array_equal(other.sketch.positive, column.sketch.positive), name
        else:
            assert isinstance(other, CategoricalProfile), name
            assert other.top.counts == column.top.counts, name
    assert len(filled.sample) == min(live.sample_size, live.events)


def test_backfill_builds_the_windows_of_the_live_path(
    tmp_path: Path, urls: tuple[str, str], client: Any
) -> None:
    path = _parquet(_history(6_000), tmp_path / "history.parquet")
    live_url, filled_url = urls
    _live(live_url, path)
    [result] = _backfill(filled_url, [path], client)
    assert (result.rows, result.accepted, result.refused) == (6_000, 6_000, {})
    live, filled = _windows(live_url), _windows(filled_url)
    assert filled.keys() == live.keys()
    for key in live:
        _same_state(live[key], filled[key])
    # old history straight into hour and day rows, as the live path puts it
    by_res = {res: sum(s.events for (_, r, _), s in filled.items() if r == res) for res in (60, HOUR, DAY)}
    assert by_res == {60: 2_000, HOUR: 2_000, DAY: 2_000}
    live_answers, filled_answers = _answers(live_url), _answers(filled_url)
    assert filled_answers.keys() == live_answers.keys()
    for name, series in live_answers.items():
        got = filled_answers[name]
        assert [p[0] for p in got] == [p[0] for p in series], name
        for (_, want), (_, value) in zip(series, got, strict=True):
            if want is None or (isinstance(want, float) and math.isnan(want)):
                assert value is None or math.isnan(value), name
            else:
                assert value == pytest.approx(want, rel=RELATIVE), name


@pytest.mark.parametrize("writer", ["pandas", "polars"])
def test_files_of_pandas_and_polars_take_the_columnar_path_to_the_record_paths_windows(
    tmp_path: Path, client: Any, monkeypatch: pytest.MonkeyPatch, writer: str
) -> None:
    """A file as pandas (``large_string``, ``timestamp[ns, tz=UTC]`` with nanoseconds) or Polars writes it
    is read column by column (``wire``), and the windows and metrics are those of the record path, byte for
    byte (the same events, folded in the same partitions with the same seeds)."""
    df = _history(6_000, seed=17)
    path = tmp_path / "history.parquet"
    if writer == "pandas":
        df.to_parquet(path, engine="pyarrow", index=False, row_group_size=1_500)
    else:
        pl.from_pandas(df).write_parquet(path, row_group_size=1_500)
    types = pq.read_schema(path)
    assert types.field("timestamp").type == pa.timestamp("ns", "UTC")
    assert types.field("request_id").type == pa.large_string()
    taken: list[bool] = []

    def recorded(table: pa.Table, model: str, **kwargs: Any) -> pa.Table | None:
        out = wire(table, model, **kwargs)
        taken.append(out is not None)
        return out

    monkeypatch.setattr(profiling, "wire", recorded)
    columnar = str(tmp_path / "columnar.db")
    [result] = _backfill(columnar, [path], client)
    assert result.accepted == 6_000 and len(taken) == 2 and all(taken)
    monkeypatch.setattr(profiling, "wire", lambda *args, **kwargs: None)  # every partition by records
    by_record = str(tmp_path / "records.db")
    [result] = _backfill(by_record, [path], client)
    assert result.accepted == 6_000
    want = {key: state.to_bytes() for key, state in _windows(by_record).items()}
    assert {key: state.to_bytes() for key, state in _windows(columnar).items()} == want
    assert _answers(columnar) == _answers(by_record)


def test_the_same_backfill_twice_counts_nothing_twice(
    tmp_path: Path, urls: tuple[str, str], client: Any
) -> None:
    path = _parquet(_history(4_000, seed=3), tmp_path / "history.parquet")
    copy = tmp_path / "copy.parquet"
    shutil.copy(path, copy)
    _, url = urls
    [first] = _backfill(url, [path], client)
    assert first.accepted == 4_000 and first.skipped is None
    once = {k: s.to_bytes() for k, s in _windows(url).items()}
    again = _backfill(url, [path, copy], client)
    assert [r.skipped for r in again] == ["backfilled already", "backfilled already"]
    assert {k: s.to_bytes() for k, s in _windows(url).items()} == once
    # another version of the same file is other events: counted
    [other] = _backfill(url, [path], client, version="v2")
    assert other.accepted == 4_000
    assert sum(s.events for s in _windows(url).values()) == 8_000


def test_bad_rows_are_refused_by_file_and_row(tmp_path: Path) -> None:
    now = time.time()  # the command's clock
    df = _history(300, seed=5, now=now)
    df["a"] = df["a"].astype(object)
    df.loc[41, "a"] = "abc"  # row 42 of the file
    df.loc[99, "timestamp"] = pd.Timestamp(now - 60 * DAY, unit="s", tz="UTC")  # past the day rows' retention
    path = tmp_path / "scored.csv"
    df.to_csv(path, index=False)
    (tmp_path / "vigil.yaml").write_text(CONFIG)
    store = tmp_path / "v.db"
    args = ["backfill", str(path), "--model", "credit", "--config", str(tmp_path / "vigil.yaml")]
    args += ["--store", str(store), "--workers", "1"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output
    assert "298 of 300 rows into 'credit'" in result.output
    assert f"{path} row 42: expected a number (declared numeric), got 'abc'" in result.output
    assert (
        f"{path} row 100: " in result.output
        and "older than the model's retention of day windows" in result.output
    )


def test_a_time_past_year_9999_is_refused_by_file_and_row_and_a_column_of_bytes_stops_the_command(
    tmp_path: Path,
) -> None:
    """A time Python cannot hold raised OverflowError out of the partition (no row named, the file lost); a
    column of bytes was read as booleans (b"1" as True)."""
    now = time.time()
    table = pa.Table.from_pandas(_history(3_000, seed=9, now=now), preserve_index=False)
    ms = table.column("timestamp").cast(pa.int64()).to_numpy() // 1_000_000
    ms[2_041] = 400_000_000_000_000  # row 2042 of the file (in its second partition): the year 14645
    table = table.set_column(0, "timestamp", pa.array(ms).cast(pa.timestamp("ms", "UTC")))
    path = tmp_path / "times.parquet"
    pq.write_table(table, path, row_group_size=1_000)
    blob = tmp_path / "blob.parquet"
    pq.write_table(table.slice(0, 10).append_column("raw", pa.array([b"1"] * 10)), blob)
    (tmp_path / "vigil.yaml").write_text(CONFIG)
    args = ["backfill", "--model", "credit", "--config", str(tmp_path / "vigil.yaml")]
    args += ["--store", str(tmp_path / "v.db"), "--workers", "1", "--partition-rows", "1000"]
    stopped = CliRunner().invoke(main, [*args, str(path), str(blob)])
    assert stopped.exit_code == 2, stopped.output
    assert (
        f"error: {blob}: column 'raw' is binary, bytes, which no event holds: decode it to text (UTF-8) "
        "before writing the file, or drop it"
    ) in stopped.output
    result = CliRunner().invoke(main, [*args, str(path)])  # nothing of the first file went in: not skipped
    assert result.exit_code == 1, result.output
    assert f"{path}: 2999 of 3000 rows into 'credit'" in result.output
    assert "  1 × timestamp refused" in result.output
    assert (
        f"{path} row 2042: Value error, time out of range (years 1 to 9999) (got '14645-06-30T15:06:40.000Z')"
    ) in result.output


def test_the_command_uses_an_existing_cluster_and_skips_what_is_in(tmp_path: Path) -> None:
    from distributed import LocalCluster

    path = _parquet(_history(2_000, seed=11, now=time.time()), tmp_path / "scores.parquet")
    (tmp_path / "vigil.yaml").write_text(CONFIG)
    args = ["backfill", str(path), "--model", "credit", "--config", str(tmp_path / "vigil.yaml")]
    args += ["--store", str(tmp_path / "v.db")]
    with LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=False,
        protocol="tcp://",
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        first = CliRunner().invoke(main, [*args, "--scheduler", cluster.scheduler_address])
        again = CliRunner().invoke(main, [*args, "--scheduler", cluster.scheduler_address])
    assert first.exit_code == 0, first.output
    assert f"{path}: 2000 of 2000 rows into 'credit'" in first.output
    assert again.exit_code == 0 and again.output == f"{path}: skipped, backfilled already\n"


def test_spark_builds_the_windows_dask_builds(
    tmp_path: Path, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same map and reduce through PySpark in local mode (the ``spark`` extra, in ``dev``)."""
    monkeypatch.setenv("PYSPARK_PYTHON", sys.executable)  # the Python workers run this venv's Python
    from pyspark.sql import SparkSession

    from vigil.backfill.spark import run_on_spark

    path = _parquet(_history(4_000, seed=13), tmp_path / "history.parquet")
    on_dask, on_spark = str(tmp_path / "dask.db"), str(tmp_path / "spark.db")
    _backfill(on_dask, [path], client)
    spark = (
        SparkSession.builder.master("local[1]")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )
    store = open_store(on_spark)
    try:
        job = Backfill(parse_config(CONFIG), store, "credit", clock=lambda: NOW, partition_rows=2_000)
        [result] = list(run_on_spark(job, [str(path)], spark))
    finally:
        store.close()
        spark.stop()
    assert (result.rows, result.accepted) == (4_000, 4_000)
    want, got = _windows(on_dask), _windows(on_spark)
    assert got.keys() == want.keys()
    for key in want:
        _same_state(want[key], got[key])
