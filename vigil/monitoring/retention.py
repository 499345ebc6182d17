"""Rollups and retention: minute windows merge into hours, hours into days, and old data goes.

* An hour is rolled up once it is complete plus ``GRACE``: its windows, from every writer, merge into one
  row of resolution 3600 (writer ``rollup``). Days likewise from hours (rolled up and written directly).
  Merging is exact (every statistic merges), so a rolled-up range reads the same.
* An event arriving after its hour was rolled up, or older than the minute windows' retention, is folded
  by the aggregator straight into an hour row of its writer (a day row when its day was rolled up, or it
  is older than the hours' retention): rows of writers other than ``rollup`` at a coarse resolution hold
  events found in no finer row, and add to whatever else covers their period.
* Past ``retention.minutes`` the model's own windows are deleted, in whole hours, and only those hours
  already rolled up; hours go after ``retention.hours``, days after ``retention.days``. The ingest log is
  pruned up to this writer's checkpoint after ``retention.events`` (held batches stay), predictions (and
  the idempotency keys of their batches) after ``retention.predictions``.
* Queries read the finest rows that exist for each part of a range (``choose_rows``).
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Iterable

import numpy as np

from vigil.monitoring.window import WindowState
from vigil.spec import ModelSpec
from vigil.store.base import Store, WindowRow

__all__ = ["DAY", "GRACE", "HOUR", "ROLLUP_WRITER", "choose_rows", "maintain", "placement"]

log = logging.getLogger("vigil.retention")

HOUR = 3600
DAY = 86_400
GRACE = 300.0
"""Seconds after a period ends before it is rolled up."""
ROLLUP_WRITER = "rollup"


def placement(store: Store, model: str, spec: ModelSpec, ts: np.ndarray, now: float) -> np.ndarray:
    """The resolution each event (time ``ts``, seconds) is folded at: the finest whose rows will still be
    rolled up and are not past their retention (see the module docstring)."""
    res = int(spec.window.total_seconds())
    out = np.full(len(ts), res, dtype=np.int64)
    r = spec.retention
    levels = [res] + [lv for lv in (HOUR, DAY) if res < lv]
    for level, coarser in itertools.pairwise(levels):
        at = out == level
        if level < HOUR:
            oldest = math.floor((now - r.minutes.total_seconds()) / HOUR) * HOUR
        else:
            oldest = math.floor((now - r.hours.total_seconds()) / DAY) * DAY
        # periods of the coarser level that may be rolled up already (complete and past the grace)
        maybe_rolled = math.floor((now - GRACE) / coarser) * coarser
        late = at & (ts < maybe_rolled)
        move = at & (ts < oldest)
        if late.any():
            last = store.last_window_start(model, coarser, ROLLUP_WRITER)
            if last is not None:
                move |= late & (np.floor(ts / coarser) * coarser <= last)
        out[move] = coarser
    return out


def maintain(
    store: Store, model: str, spec: ModelSpec, writer: str, checkpoint: int, now: float
) -> dict[str, int]:
    """Roll up what is complete, then delete what is past retention. Returns counts, for the log."""
    res = int(spec.window.total_seconds())
    done = {"hours": 0, "days": 0, "deleted": 0}
    if res < HOUR:
        done["hours"] = _roll(store, model, res, HOUR, now)
    if res < DAY:
        source = HOUR if res < HOUR else res
        done["days"] = _roll(store, model, source, DAY, now)
    r = spec.retention
    if res < HOUR:
        # whole hours only, and only those already rolled up, so a range never loses coverage
        cut = math.floor((now - r.minutes.total_seconds()) / HOUR) * HOUR
        rolled = store.last_window_start(model, HOUR, ROLLUP_WRITER)
        if rolled is not None:
            done["deleted"] += store.delete_windows(model, res, min(cut, rolled + HOUR))
    if res < DAY:
        cut = math.floor((now - r.hours.total_seconds()) / DAY) * DAY
        done["deleted"] += store.delete_windows(model, HOUR, cut)
    done["deleted"] += store.delete_windows(model, DAY, now - r.days.total_seconds())
    store.forget_keys(model, now - r.predictions.total_seconds())
    done["deleted"] += store.delete_predictions(model, now - r.predictions.total_seconds())
    pruned = store.prune_log(writer, checkpoint, now - r.events.total_seconds())
    if done["deleted"] or pruned:
        log.info(
            "retention of %s: deleted %d window or prediction rows and %d logged batches",
            model,
            done["deleted"],
            pruned,
            extra={"event": "retention.pruned", "model": model, "rows": done["deleted"], "batches": pruned},
        )
    return done


def _roll(store: Store, model: str, source: int, target: int, now: float) -> int:
    """Merge complete ``target`` periods from ``source`` rows that exist and are not rolled up yet: from
    the last period rolled up on (from the start, the first time), so a long outage is caught up on."""
    last_complete = math.floor((now - GRACE) / target) * target - target  # the last period that is done
    last = store.last_window_start(model, target, ROLLUP_WRITER)
    oldest = 0 if last is None else last + target
    rows = store.windows(model, source, oldest, last_complete + target)
    periods: dict[tuple[int, str], list[WindowRow]] = {}
    for row in rows:
        start = math.floor(row.start / target) * target
        periods.setdefault((start, row.version), []).append(row)
    out = []
    for (start, version), group in sorted(periods.items()):
        merged = WindowState()
        for row in group:
            merged.merge(WindowState.from_bytes(row.state))
        out.append(WindowRow(model, version, target, start, ROLLUP_WRITER, merged.events, merged.to_bytes()))
    if out:
        store.save_windows(ROLLUP_WRITER, out, checkpoint=0)
        log.info("rolled up %d %s-second periods of %s", len(out), target, model)
    return len(out)


def choose_rows(
    store: Store, model: str, res: int, start: float, end: float, version: str | None
) -> Iterable[WindowRow]:
    """The finest rows covering ``[start, end)``: the model's windows, then rolled-up hours where those
    are gone, then rolled-up days where hours are gone too; and the hour and day rows of events folded
    there directly (writers other than ``rollup``), always."""
    lo = math.floor(start / res) * res
    finest = store.windows(model, res, lo, end, version)
    yield from finest
    if res >= DAY:
        return
    covered_hours = {math.floor(r.start / HOUR) * HOUR for r in finest}
    hours: list[WindowRow] = []
    if res < HOUR:
        hours = [
            r
            for r in store.windows(model, HOUR, math.floor(start / HOUR) * HOUR, end, version)
            if r.writer != ROLLUP_WRITER or r.start not in covered_hours
        ]
        yield from hours
    covered_days = {math.floor(s / DAY) * DAY for s in covered_hours | {r.start for r in hours}}
    yield from (
        r
        for r in store.windows(model, DAY, math.floor(start / DAY) * DAY, end, version)
        if r.writer != ROLLUP_WRITER or r.start not in covered_days
    )
