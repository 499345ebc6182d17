"""What the server keeps for the dashboard: the drift of complete steps (``drifts``) and the current hour
so far (``partials``). Kept numbers are the numbers worked out from the windows, are read instead of
working them out again (by another server process too), and stop being used the moment what they describe
changes: events added to the step, another baseline."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pytest

import vigil.monitoring.query as query_module
from vigil.config import parse_config
from vigil.monitoring.drifts import KEPT_STEPS, KIND, Stamp
from vigil.monitoring.partials import service
from vigil.monitoring.retention import HOUR
from vigil.monitoring.window import WindowState
from vigil.server.app import Vigil
from vigil.store.base import WindowRow
from vigil.store.sqlite import SQLiteStore

T0 = 1_800_000_000.0 - 1_800_000_000.0 % HOUR + 40 * 60  # 40 minutes into an hour


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Vigil, Path]]:
    rng = np.random.default_rng(5)
    base = tmp_path / "b.parquet"
    pd.DataFrame({"x": rng.normal(0, 1, 3000)}).to_parquet(base)
    config = parse_config(
        f"models:\n  m: {{task: regression, owner: {{team: t}}, window: 1m, baseline: {{file: {base}}}}}\n"
    )
    clock = Clock(T0)
    v = Vigil(config, SQLiteStore(tmp_path / "v.db"), clock=clock, flush_every=3600)
    v.aggregator.start()
    times = T0 - 3 * HOUR + np.sort(rng.uniform(0, 3 * HOUR - 200, 600))
    events = [
        {
            "model": "m",
            "timestamp": float(t),
            "features": {"x": float(rng.normal(0.8 if t > T0 - HOUR else 0.0, 1))},
            "prediction": 1.0,
            "latency_ms": float(rng.gamma(2, 10)),
        }
        for t in times
    ]
    assert v.ingestor.events(orjson.dumps(events), "application/json", None).accepted == len(events)
    assert v.aggregator.wait_idle(30)
    v.aggregator.flush()
    yield v, base
    v.aggregator.stop()
    v.store.close()


def _fresh(v: Vigil) -> Vigil:
    """Another server process on the same store (nothing in memory)."""
    return Vigil(v.config, v.store, clock=v.clock)


def test_drift_of_complete_steps_is_kept_and_read_back(
    served: tuple[Vigil, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    v, _ = served
    start, end = T0 - 3 * HOUR, T0
    worked_out = v.query.series("m", ["drift:x", "drift_share"], start, end, 900)
    kept = {orjson.loads(r.id)[3] for r in v.store.records(KIND)}
    complete = [t for t, _ in worked_out["drift:x"] if t + 900 + 300 <= T0]
    assert kept == set(complete)  # the steps still open are not kept
    assert any(value for _, value in worked_out["drift:x"])

    def refuse(*args: object) -> None:
        raise AssertionError("worked out again")

    other = _fresh(v)
    monkeypatch.setattr(query_module, "window_drift", refuse)
    end = T0 - T0 % 900 - 900  # the complete steps (a range that cuts a step reads other events)
    read = other.query.series("m", ["drift:x", "drift_share"], start, end, 900)
    assert read["drift:x"] == worked_out["drift:x"][: len(read["drift:x"])]
    assert read["drift_share"] == worked_out["drift_share"][: len(read["drift_share"])]


def test_kept_drift_is_not_used_once_its_step_gains_events(served: tuple[Vigil, Path]) -> None:
    v, _ = served
    start = T0 - T0 % HOUR - 2 * HOUR  # a whole hour: one step
    before = v.query.series("m", ["drift:x"], start, start + HOUR, HOUR)["drift:x"]
    rows = v.store.windows("m", 60, start, start + HOUR)
    shifted = WindowState.from_bytes(rows[0].state)
    late = WindowRow("m", rows[0].version, 60, rows[0].start, "late", shifted.events, shifted.to_bytes(), 0)
    v.store.save_windows("late", [late], checkpoint=0)  # another writer's copy of a window: more events
    after = _fresh(v).query.series("m", ["drift:x"], start, start + HOUR, HOUR)["drift:x"]
    merged = v.query.merged("m", start, start + HOUR)
    assert merged.events == sum(r.events for r in rows) + shifted.events
    assert after[0][1] == pytest.approx(v.query.report("m", merged).columns["x"].effect, rel=1e-12)
    assert after != before


def test_kept_drift_is_not_used_with_another_baseline(served: tuple[Vigil, Path]) -> None:
    v, base = served
    start = T0 - T0 % HOUR - 2 * HOUR
    v.query.series("m", ["drift:x"], start, start + HOUR, HOUR)
    digest = v.query.baselines.file_digest("m")
    stamp = Stamp(
        v.query.merged("m", start, start + HOUR).events, digest or "", v.query._settings(v.query._spec("m"))
    )
    assert v.query.kept.read("m", None, HOUR, start, stamp)[0]
    pd.DataFrame({"x": np.random.default_rng(9).normal(0.8, 1, 3000)}).to_parquet(base)
    os.utime(base, ns=(0, 10**18))  # a new modification time: a new baseline file
    other = _fresh(v)
    changed = other.query.baselines.file_digest("m")
    assert changed is not None and changed != digest
    assert not other.query.kept.read("m", None, HOUR, start, Stamp(stamp.events, changed, stamp.settings))[0]


def test_the_server_keeps_the_steps_the_dashboard_reads(served: tuple[Vigil, Path]) -> None:
    v, _ = served
    v.query.keep_drift("m", T0)
    kept = {(float(orjson.loads(r.id)[2]), orjson.loads(r.id)[3]) for r in v.store.records(KIND)}
    for step in KEPT_STEPS:
        last = math.floor((T0 - 300) / step) * step - step  # the last step complete (and past its grace)
        traffic = v.query.merged("m", last, last + step).events > 0
        assert ((float(step), last) in kept) == traffic, step  # a step without events has no drift
    assert len(kept) >= 4


def test_the_hour_so_far_is_kept_read_back_and_dropped_when_its_windows_change(
    served: tuple[Vigil, Path],
) -> None:
    v, _ = served
    hour = math.floor(T0 / HOUR) * HOUR
    assert v.query.hours.keep("m", 60, T0)
    upto, kept = _fresh(v).query.hour_so_far("m", hour) or (0.0, WindowState())
    assert upto == math.floor(T0 / 60) * 60 - 120
    merged = WindowState(sample_size=0)
    for _key, state in sorted(v.query.windows("m", hour, upto).items()):
        merged.merge(service(state))
    assert kept.events == merged.events > 0 and kept.errors == merged.errors
    assert np.array_equal(kept.latency.positive, merged.latency.positive)
    assert kept.latency_quantile(0.95) == merged.latency_quantile(0.95)
    row = v.store.windows("m", 60, hour, upto)[-1]
    v.store.save_windows(
        "late", [WindowRow("m", row.version, 60, row.start, "late", row.events, row.state, 0)], 0
    )
    assert _fresh(v).query.hour_so_far("m", hour) is None  # its windows changed: read them instead
