"""Rollups and retention on a fake clock: old minutes become hours and days, ranges read the same."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import orjson
import pytest

from vigil.config import parse_config
from vigil.monitoring.retention import DAY, HOUR, maintain
from vigil.server.app import Vigil
from vigil.store.sqlite import SQLiteStore

CONFIG = """
models:
  m:
    task: binary
    owner: {team: t}
    window: 1m
    retention: {minutes: 2h, hours: 2d, days: 30d, events: 1h, predictions: 3d}
"""
T0 = 1_800_000_000.0 - 1_800_000_000.0 % DAY  # a midnight


def test_rollups_keep_ranges_exact_while_minutes_go(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    now = [T0]
    v = Vigil(parse_config(CONFIG), SQLiteStore(tmp_path / "v.db"), clock=lambda: now[0], flush_every=0.05)
    v.aggregator.start()
    rng = np.random.default_rng(0)
    latencies: list[float] = []
    for minute in range(0, 6 * 60, 7):  # six hours of traffic, some minutes empty
        ts = T0 + minute * 60 + rng.uniform(0, 59, 20)
        lat = rng.gamma(2.0, 10.0, 20)
        latencies.extend(lat)
        now[0] = T0 + minute * 60 + 60  # the clock moves with the traffic
        events = [
            {
                "model": "m",
                "timestamp": float(t),
                "request_id": f"{minute}-{i}",
                "latency_ms": float(x),
                "features": {"x": float(x)},
            }
            for i, (t, x) in enumerate(zip(ts, lat, strict=True))
        ]
        assert v.ingestor.events(orjson.dumps(events), "application/json", None).accepted == 20
        assert v.aggregator.wait_idle()  # folded before the clock moves on, as in real time
    v.aggregator.flush()
    now[0] = T0 + 6 * HOUR + 600
    store = v.store
    before = v.query.series("m", ["events", "latency_p95"], T0, T0 + 6 * HOUR, step=6 * HOUR)

    done = maintain(store, "m", v.registry.get("m"), "main", v.aggregator._flushed, now[0])  # type: ignore[arg-type]
    assert done["hours"] == 6  # every complete hour (the grace has passed for all six)
    hours = store.windows("m", HOUR, 0, 1e12)
    assert [r.start for r in hours] == [T0 + h * HOUR for h in range(6)]
    # minutes older than the 2-hour retention are gone, in whole hours; the last two hours keep theirs
    minutes = store.windows("m", 60, 0, 1e12)
    assert min(r.start for r in minutes) >= T0 + 4 * HOUR
    after = v.query.series("m", ["events", "latency_p95"], T0, T0 + 6 * HOUR, step=6 * HOUR)
    assert after == before  # merging is exact: the range reads the same from hours as from minutes
    assert after["events"][0][1] == len(latencies)
    exact = float(np.quantile(latencies, 0.95, method="lower"))
    p95 = after["latency_p95"][0][1]
    assert p95 is not None
    assert abs(p95 - exact) <= 0.01 * exact  # the sketch's 1% bound, after merges

    # days later: the day is rolled up from hours, and the hours past their retention go
    now[0] = T0 + 4 * DAY  # past the 2-day hour and 3-day prediction retention
    caplog.set_level(logging.INFO, logger="vigil.retention")
    done = maintain(store, "m", v.registry.get("m"), "main", v.aggregator._flushed, now[0])  # type: ignore[arg-type]
    assert done["days"] == 1
    assert store.windows("m", HOUR, 0, 1e12) == []
    assert store.windows("m", 60, 0, 1e12) == []
    days = v.query.series("m", ["events"], T0, T0 + DAY, step=DAY)
    assert days["events"][0][1] == len(latencies)
    # the ingest log was pruned up to the checkpoint, and predictions past their retention
    assert store.read_log("main", 0) == []
    assert store.predictions("m", 0, 1e12) == []
    # (the aggregator's own maintenance may have pruned too, at the moved clock: one line each time)
    pruned = [r for r in caplog.records if getattr(r, "event", None) == "retention.pruned"]
    assert pruned and all(r.getMessage().startswith("retention of m: deleted") for r in pruned)
    assert sum(r.rows for r in pruned) > 0  # type: ignore[attr-defined]
    v.aggregator.stop()
