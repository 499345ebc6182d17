"""Reading a range from the rollups where they hold the same events gives what reading every window gives:
``Query.series`` (and the counts path of SLO availability, and a page's snapshot) against the windows of
``choose_rows`` merged step by step, on a store a real server filled over 30 hours, with both versions, a
late writer whose minute windows came after their hour was rolled up, events folded straight into a rolled
hour, and pruned minutes. Counts and sketch quantiles agree exactly (merging adds bucket counts); means to
1e-9 (floating-point sums in another order)."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import orjson
import pandas as pd
import pytest

from vigil.config import parse_config
from vigil.monitoring import catalogue
from vigil.monitoring.catalogue import Step
from vigil.monitoring.predictions import Joined
from vigil.monitoring.query import Query
from vigil.monitoring.retention import DAY, HOUR, ROLLUP_WRITER
from vigil.monitoring.window import WindowState
from vigil.server.app import Vigil
from vigil.store.base import WindowRow
from vigil.store.sqlite import SQLiteStore

T0 = 1_800_000_000.0 - 1_800_000_000.0 % DAY + 6 * HOUR + 20 * 60  # 06:20, a day boundary 30 h back
NAMES = ["events", "errors", "error_rate", "latency_p50", "latency_p95", "latency_mean", "null_rate", "cost"]


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Vigil]:
    root = tmp_path_factory.mktemp("reads")
    rng = np.random.default_rng(3)
    pd.DataFrame({"x": rng.normal(0, 1, 2000), "c": rng.choice(["a", "b"], 2000)}).to_parquet(
        root / "b.parquet"
    )
    config = parse_config(
        f"""
models:
  m:
    task: regression
    owner: {{team: t}}
    window: 1m
    versions: [v1, v2]
    live: v2
    baseline: {{file: {root / "b.parquet"}}}
    retention: {{minutes: 20h, hours: 30d, days: 60d}}
"""
    )
    clock = Clock(T0 - 31 * HOUR)
    v = Vigil(config, SQLiteStore(root / "v.db"), clock=clock, flush_every=3600)
    v.aggregator.start()

    def send(times: np.ndarray, shift: float) -> None:
        events = [
            {
                "model": "m",
                "version": "v1" if i % 3 else "v2",
                "timestamp": float(t),
                "features": {
                    "x": float(rng.normal(shift, 1)) if i % 7 else None,
                    "c": str(rng.choice(["a", "b"])),
                },
                "prediction": float(rng.normal()),
                "latency_ms": float(rng.gamma(2, 20)),
                "cost": 0.001,
                **({"error": "Timeout: slow"} if i % 11 == 0 else {}),
            }
            for i, t in enumerate(times)
        ]
        assert v.ingestor.events(orjson.dumps(events), "application/json", None).accepted == len(events)
        assert v.aggregator.wait_idle(30)

    # 30 hours of traffic, an hour at a time, rolled up and pruned as the server goes
    for h in range(30):
        start = T0 - 30 * HOUR + h * HOUR
        clock.now = start + HOUR + 400  # the hour complete and past its grace: rolled up at maintenance
        send(start + np.sort(rng.uniform(0, HOUR, 90)), shift=0.0 if h < 20 else 1.0)
        v.aggregator.flush()
        v.aggregator.maintain()
    clock.now = T0
    send(T0 - HOUR + 300 + np.sort(rng.uniform(0, HOUR - 400, 40)), shift=1.0)  # this hour so far
    send(np.full(5, T0 - 10 * HOUR + 100.0), shift=0.0)  # late: straight into the rolled hour's row
    v.aggregator.flush()
    # a late writer: its minute window of a rolled-up hour saved only now (the rollup lacks it)
    late = T0 - 5 * HOUR + 600
    row = v.store.windows("m", 60, late, late + 60)[0]
    v.store.save_windows(
        "w2", [WindowRow("m", row.version, 60, row.start, "w2", row.events, row.state, row.errors)], 0
    )
    yield v
    v.aggregator.stop()
    v.store.close()


def _reference(
    q: Query, names: list[str], start: float, end: float, step: float
) -> dict[str, list[float | None]]:
    """Every window ``choose_rows`` reads (``Query.windows``), merged step by step, read by the catalogue."""
    first = math.floor(start / step) * step
    buckets: dict[float, WindowState] = {}
    for key, state in sorted(q.windows("m", start, end).items()):
        b = math.floor(key.start / step) * step
        buckets.setdefault(b, WindowState()).merge(state)
    out: dict[str, list[float | None]] = {n: [] for n in names}
    for k in range(math.ceil((end - first) / step)):
        t = first + k * step
        context = Step(step, buckets.get(t), Joined.empty(), "regression", False, lambda: None, {})
        for n in names:
            out[n].append(catalogue.lookup(n)[0].read(context))
    return out


def _same(got: list[float | None], want: list[float | None], name: str) -> None:
    assert len(got) == len(want), name
    for a, b in zip(got, want, strict=True):
        assert (a is None) == (b is None), (name, got, want)
        if a is not None and b is not None:
            assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12), (name, a, b)


RANGES = [
    (T0 - 24 * HOUR, T0, HOUR),  # a day in hours: 23 rollups, the late writer's hour on its windows
    (T0 - 24 * HOUR, T0, 900),  # quarter hours: no rollup fits a step
    (T0 - 29 * HOUR, T0, DAY),  # whole days: a day rollup where its hours agree
    (T0 - 3 * HOUR - 420, T0 - 60, 300),
    (T0 - 26 * HOUR + 1234, T0 - 7, 6 * HOUR),  # unaligned ends: partial hours at both
    (T0 - 30 * HOUR, T0, 30 * HOUR),  # one step, as an SLO reads
]


@pytest.mark.parametrize(("start", "end", "step"), RANGES)
def test_series_from_rollups_equal_every_window_merged(
    filled: Vigil, start: float, end: float, step: float
) -> None:
    got = filled.query.series("m", NAMES, start, end, step)
    want = _reference(filled.query, NAMES, start, end, step)
    assert sum(v or 0 for _, v in got["events"]) > 0
    for n in NAMES:
        assert [t for t, _ in got[n]] == [
            math.floor(start / step) * step + k * step for k in range(len(got[n]))
        ]
        _same([v for _, v in got[n]], want[n], n)


@pytest.mark.parametrize(("start", "end", "step"), RANGES)
def test_counts_alone_equal_the_states(filled: Vigil, start: float, end: float, step: float) -> None:
    """SLO availability reads events and errors from the rows' counts; a third metric makes it read states."""
    counted = filled.query.series("m", ["events", "errors"], start, end, step)
    read = filled.query.series("m", ["events", "errors", "latency_p95"], start, end, step)
    assert counted["events"] == read["events"] and counted["errors"] == read["errors"]


def test_rollups_are_used_where_they_hold_the_same_events(filled: Vigil) -> None:
    """Not just equal: the day reads 23 hour rows and the minutes of the hours they cannot stand for."""
    from vigil.monitoring.retention import coarse_counts

    start = T0 - 24 * HOUR

    def whole(p: int, size: int) -> bool:
        return math.floor(p / HOUR) == math.floor((p + size - 1) / HOUR)

    chosen, _ = coarse_counts(filled.store, "m", 60, start, T0, None, whole)
    hours = {(c.version, c.start) for c in chosen if c.resolution == HOUR and c.writer == ROLLUP_WRITER}
    minutes = {(c.version, math.floor(c.start / HOUR) * HOUR) for c in chosen if c.resolution == 60}
    late = next(c for c in filled.store.window_counts("m", 60, 0, T0) if c.writer == "w2")
    late_hour = (late.version, math.floor(late.start / HOUR) * HOUR)
    assert late_hour in minutes and late_hour not in hours  # its rollup lacks the late writer's window
    this_hour = math.floor(T0 / HOUR) * HOUR
    assert not any(t == this_hour for _, t in hours)  # not rolled up yet
    assert len(hours) >= 2 * 20  # both versions' hours, but for the late writer's
    assert any(c.resolution == HOUR and c.writer == "main" for c in chosen)  # the late events' hour row


def test_drift_and_reports_from_rollups_equal_those_of_every_window(filled: Vigil) -> None:
    start, end = T0 - 24 * HOUR, T0
    got = filled.query.series("m", ["drift:x", "drift:c", "drift_share"], start, end, 6 * HOUR)
    fine = filled.query.windows("m", start, end)
    for k, (t, share) in enumerate(got["drift_share"]):
        merged = WindowState()
        for key, state in sorted(fine.items()):
            if t <= key.start < t + 6 * HOUR:
                merged.merge(state)
        report = filled.query.report("m", merged)
        assert share == report.drift_share
        assert math.isclose(got["drift:x"][k][1] or math.nan, report.columns["x"].effect, rel_tol=1e-9)
    whole = WindowState()
    for _, state in sorted(fine.items()):
        whole.merge(state)
    assert filled.query.drift("m", start, end).columns["x"].effect == pytest.approx(
        filled.query.report("m", whole).columns["x"].effect, rel=1e-9
    )


def test_a_snapshot_reads_what_the_query_reads(filled: Vigil) -> None:
    page = filled.query.snapshot()
    for start, end, step in RANGES:
        assert page.series("m", NAMES, start, end, step) == filled.query.series("m", NAMES, start, end, step)
    again = page.series("m", NAMES, T0 - 24 * HOUR, T0, HOUR)  # answered from what it holds
    assert again == filled.query.series("m", NAMES, T0 - 24 * HOUR, T0, HOUR)
