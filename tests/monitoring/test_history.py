"""Old events are counted where they belong: history older than the minute windows' retention goes
straight into hour rows (older than the hours' retention, into day rows), and so does an event arriving
after its hour was rolled up; nothing of it is lost when minutes and hours are pruned, nothing counted
twice after a restart. On a fake clock, against the real SQLite store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from vigil.config import parse_config
from vigil.monitoring.retention import DAY, HOUR, ROLLUP_WRITER
from vigil.server.app import Vigil
from vigil.store.sqlite import SQLiteStore

CONFIG = parse_config(
    """
models:
  m:
    task: binary
    owner: {team: t}
    window: 1m
    retention: {minutes: 2h, hours: 2d, days: 30d, events: 1h, predictions: 3d}
"""
)
T0 = 1_800_000_000.0 - 1_800_000_000.0 % DAY + 12 * HOUR  # noon


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _vigil(path: Path, clock: Clock) -> Vigil:
    v = Vigil(CONFIG, SQLiteStore(path), clock=clock, flush_every=3600)
    v.aggregator.start()
    return v


def _send(v: Vigil, times: list[float], tag: str) -> Any:
    events = [
        {"model": "m", "timestamp": t, "request_id": f"{tag}{i}", "latency_ms": 10.0, "features": {"x": 1.0}}
        for i, t in enumerate(times)
    ]
    result = v.ingestor.events(orjson.dumps(events), "application/json", None)
    assert v.aggregator.wait_idle(10)
    return result


def _total(v: Vigil, start: float, end: float) -> float:
    series = v.query.series("m", ["events"], start, end, step=DAY * 40)
    return sum(value or 0 for _, value in series["events"])


def _settle(v: Vigil, clock: Clock, at: float) -> None:
    """Time passes to ``at``: save, then roll up and prune."""
    clock.now = at
    v.aggregator.flush()
    v.aggregator.maintain()


def test_history_is_counted_in_hours_and_days_and_survives_pruning(tmp_path: Path) -> None:
    clock = Clock(T0)
    v = _vigil(tmp_path / "v.db", clock)
    live = [T0 - 60 + i for i in range(30)]
    hours_ago = [T0 - 5 * HOUR + 60 * i for i in range(40)]  # past the 2-hour minute retention
    days_ago = [T0 - 5 * DAY + 600 * i for i in range(25)]  # past the 2-day hour retention
    too_old = [T0 - 31 * DAY]  # past the 30-day day retention: refused, and said why
    assert _send(v, live, "live").accepted == 30
    result = _send(v, hours_ago + days_ago + too_old, "old")
    assert result.accepted == 65
    assert [(r.field, "retention of day windows" in r.reason) for r in result.rejected] == [
        ("timestamp", True)
    ]
    v.aggregator.flush()
    rows = {(r.resolution, r.writer) for r in v.store.windows("m", HOUR, 0, 1e12)}
    assert rows == {(HOUR, "main")}  # straight into an hour row of this writer, no minute windows
    assert {r.resolution for r in v.store.windows("m", DAY, 0, 1e12)} == {DAY}
    assert v.store.windows("m", 60, 0, T0 - 3 * HOUR) == []
    start = T0 - 30 * DAY
    assert _total(v, start, T0 + HOUR) == 95

    _settle(v, clock, T0 + HOUR)  # rollups and pruning of minutes
    assert _total(v, start, T0 + HOUR) == 95
    _settle(v, clock, T0 + 3 * DAY)  # hours rolled into days, then pruned
    assert v.store.windows("m", HOUR, 0, T0 - DAY) == []
    assert _total(v, start, T0 + HOUR) == 95
    v.aggregator.stop()
    v.store.close()

    again = _vigil(tmp_path / "v.db", clock)  # a restart replays nothing twice
    assert _total(again, start, T0 + HOUR) == 95
    again.aggregator.stop()
    again.store.close()


def test_an_event_arriving_after_its_hour_was_rolled_up_is_not_lost(tmp_path: Path) -> None:
    clock = Clock(T0 + 30 * 60)
    v = _vigil(tmp_path / "v.db", clock)
    _send(v, [T0 + 60 * i for i in range(20)], "a")  # the hour T0..T0+1h, live
    _settle(v, clock, T0 + HOUR + 600)  # the hour is complete and past the grace: rolled up
    assert [r.start for r in v.store.windows("m", HOUR, 0, 1e12) if r.writer == ROLLUP_WRITER] == [T0]
    assert _send(v, [T0 + 1800.5], "late").accepted == 1  # 40 minutes late, within the minute retention
    v.aggregator.flush()
    assert _total(v, T0, T0 + HOUR) == 21
    _settle(v, clock, T0 + 4 * HOUR)  # the hour's minutes are pruned: the rollup alone must not be all
    assert v.store.windows("m", 60, T0, T0 + HOUR) == []
    assert _total(v, T0, T0 + HOUR) == 21
    v.aggregator.stop()
    v.store.close()


def test_windows_saved_after_their_hour_was_rolled_up_are_in_it_before_minutes_go(tmp_path: Path) -> None:
    """A rollup made while a writer still held unsaved windows of the hour (another server's save came
    later, or this one's failed at the time) is made again from the minutes before they are pruned: the
    hour row alone then holds every event."""
    clock = Clock(T0 + 30 * 60)
    path = tmp_path / "v.db"
    a = _vigil(path, clock)
    b = Vigil(CONFIG, SQLiteStore(path), clock=clock, flush_every=3600, writer="b")
    b.aggregator.start()
    _send(a, [T0 + 60 * i for i in range(20)], "a")
    _send(b, [T0 + 60 * i + 30 for i in range(7)], "b")  # b holds its windows: not saved yet
    _settle(a, clock, T0 + HOUR + 600)  # a rolls the hour up from what is saved: its own 20
    rollup = [r for r in a.store.windows("m", HOUR, 0, 1e12) if r.writer == ROLLUP_WRITER]
    assert [(r.start, r.events) for r in rollup] == [(T0, 20)]
    b.aggregator.flush()  # b's save comes after the rollup
    assert _total(a, T0, T0 + HOUR) == 27  # read from the minutes while they disagree with the rollup
    _settle(a, clock, T0 + 4 * HOUR)  # the hour's minutes are pruned
    assert a.store.windows("m", 60, T0, T0 + HOUR) == []
    assert _total(a, T0, T0 + HOUR) == 27
    rollup = [r for r in a.store.windows("m", HOUR, 0, 1e12) if r.writer == ROLLUP_WRITER]
    assert [(r.start, r.events) for r in rollup] == [(T0, 27)]
    for v in (a, b):
        v.aggregator.stop()
        v.store.close()


def test_an_hour_made_again_is_made_again_in_its_day_before_hours_go(tmp_path: Path) -> None:
    """Windows saved even after their hour's minutes were pruned (the writer held them unsaved all that
    time) are added to the hour's rollup, and the day rolled up from that hour is made again from its hours
    before those are pruned: nothing is lost at either level."""
    clock = Clock(T0 + 30 * 60)
    path = tmp_path / "v.db"
    a = _vigil(path, clock)
    b = Vigil(CONFIG, SQLiteStore(path), clock=clock, flush_every=3600, writer="b")
    b.aggregator.start()
    _send(a, [T0 + 60 * i for i in range(20)], "a")
    _send(b, [T0 + 60 * i + 30 for i in range(7)], "b")
    _settle(a, clock, DAY * (T0 // DAY + 1) + 600)  # the day is complete: hour and day rolled up (20)
    days = [r for r in a.store.windows("m", DAY, 0, 1e12) if r.writer == ROLLUP_WRITER]
    assert [r.events for r in days] == [20]
    b.aggregator.flush()
    _settle(a, clock, T0 + 4 * DAY)  # minutes, then hours pruned
    assert a.store.windows("m", HOUR, 0, T0 + DAY) == []
    assert _total(a, T0 - DAY, T0 + DAY) == 27
    for v in (a, b):
        v.aggregator.stop()
        v.store.close()
