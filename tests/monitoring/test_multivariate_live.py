"""The live ``multivariate_drift`` and ``reconstruction_error`` metrics: a range's sampled events against
the baseline file, jointly. An hour whose features keep their marginals but lose their correlation is
flagged; an hour like the baseline is not; a step with fewer than ``MIN_ROWS`` sampled events has no value.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pytest

from vigil.config import parse_config
from vigil.drift.multivariate import Encoder, Reconstruction
from vigil.monitoring.multivariate import MIN_ROWS
from vigil.monitoring.retention import HOUR
from vigil.server.app import Vigil
from vigil.store.sqlite import SQLiteStore

T0 = 1_800_000_000.0 - 1_800_000_000.0 % HOUR
COV = [[1.0, 0.9], [0.9, 1.0]]


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Vigil, pd.DataFrame, list[dict[str, float]]]]:
    rng = np.random.default_rng(11)
    base = tmp_path / "b.parquet"
    xy = rng.multivariate_normal([0, 0], COV, 4000)
    baseline = pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1], "prediction": 1.0})
    baseline.to_parquet(base)
    config = parse_config(
        "models:\n  m: {task: regression, owner: {team: t}, window: 1m, sample_size: 1000, "
        f"baseline: {{file: {base}}}}}\n"
    )
    v = Vigil(config, SQLiteStore(tmp_path / "v.db"), clock=Clock(T0 + 2 * HOUR + 600), flush_every=3600)
    v.aggregator.start()
    n = 1200  # per hour: 20 a minute, all of them kept in the windows' samples
    same = rng.multivariate_normal([0, 0], COV, n)
    apart = rng.normal(size=(n, 2))  # same N(0, 1) marginals, no correlation
    times = np.r_[T0 + np.sort(rng.uniform(0, HOUR, n)), T0 + HOUR + np.sort(rng.uniform(0, HOUR, n))]
    rows = np.vstack([same, apart])
    events = [
        {"model": "m", "timestamp": float(t), "features": {"x": float(a), "y": float(b)}, "prediction": 1.0}
        for t, (a, b) in zip(times, rows, strict=True)
    ]
    assert v.ingestor.events(orjson.dumps(events), "application/json", None).accepted == len(events)
    assert v.aggregator.wait_idle(30)
    v.aggregator.flush()
    yield v, baseline, [{"x": float(a), "y": float(b)} for a, b in apart]
    v.aggregator.stop()
    v.store.close()


def test_hourly_joint_drift_flags_only_the_decorrelated_hour(
    served: tuple[Vigil, pd.DataFrame, list[dict[str, float]]],
) -> None:
    v, baseline, apart = served
    got = v.query.series("m", ["multivariate_drift", "reconstruction_error"], T0, T0 + 2 * HOUR, HOUR)
    assert [value for _, value in got["multivariate_drift"]] == [0.0, 1.0]
    # the second hour's error is the core's on the same rows (every event is in the sample): equal to 1e-9
    cols = {"x": baseline["x"].to_numpy(), "y": baseline["y"].to_numpy()}
    enc = Encoder.fit(cols, {})
    model = Reconstruction(enc.transform(cols, {}))
    x_cur = enc.transform(
        {"x": np.array([r["x"] for r in apart]), "y": np.array([r["y"] for r in apart])}, {}
    )
    assert got["reconstruction_error"][1][1] == pytest.approx(float(model.errors(x_cur).mean()), rel=1e-9)


def test_too_few_sampled_events_give_no_value(
    served: tuple[Vigil, pd.DataFrame, list[dict[str, float]]],
) -> None:
    v, _, _ = served
    got = v.query.series("m", ["multivariate_drift"], T0, T0 + 600, 120)  # ~40 events per step
    assert MIN_ROWS == 100
    assert all(value is None for _, value in got["multivariate_drift"])
