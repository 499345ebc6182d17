"""Rollups and retention: minute windows merge into hours, hours into days, and old data goes.

* An hour is rolled up once it is complete plus ``GRACE``: its windows, from every writer, merge into one
  row of resolution 3600 (writer ``rollup``). Days likewise from hours (rolled up and written directly).
  Merging is exact (every statistic merges), so a rolled-up range reads the same.
* An event arriving after its hour was rolled up, or older than the minute windows' retention, is folded
  by the aggregator straight into an hour row of its writer (a day row when its day was rolled up, or it
  is older than the hours' retention): rows of writers other than ``rollup`` at a coarse resolution hold
  events found in no finer row, and add to whatever else covers their period.
* Past ``retention.minutes`` the model's own windows are deleted, in whole hours, and only those hours
  already rolled up; just before, an hour whose windows gained events after its rollup was made (a
  writer's save that came late, or failed for a while) is rolled up again (``_remake``), so the rollup
  alone then holds every event; days likewise before their hours go. Hours go after ``retention.hours``,
  days after ``retention.days``. The ingest log is pruned up to this writer's checkpoint after
  ``retention.events`` (held batches stay), predictions (and the idempotency keys of their batches) after
  ``retention.predictions``.
* Queries read the finest rows that exist for each part of a range (``choose_rows``), or the same events
  from the rollups where those hold them exactly (``coarse_rows``).
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Callable, Iterable
from typing import Protocol

import numpy as np
import orjson

from vigil.monitoring.window import WindowState
from vigil.spec import ModelSpec
from vigil.store.base import Store, WindowCount, WindowRow, WindowSum

__all__ = [
    "DAY",
    "GRACE",
    "HOUR",
    "PRUNED_KIND",
    "ROLLUP_WRITER",
    "choose_rows",
    "coarse_counts",
    "coarse_rows",
    "maintain",
    "placement",
]

log = logging.getLogger("vigil.retention")

HOUR = 3600
DAY = 86_400
GRACE = 300.0
"""Seconds after a period ends before it is rolled up."""
ROLLUP_WRITER = "rollup"


class Rollups(Protocol):
    """What ``placement`` reads of the store: how far rollups went (a ``Store``, or those answers kept)."""

    def last_window_start(self, model: str, resolution: int, writer: str) -> int | None: ...


def placement(store: Rollups, model: str, spec: ModelSpec, ts: np.ndarray, now: float) -> np.ndarray:
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
    done = {"hours": 0, "days": 0, "remade": 0, "deleted": 0}
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
            before = min(cut, rolled + HOUR)
            done["remade"] = _remake(store, model, res, HOUR, before)
            done["deleted"] += _prune(store, model, res, before, now)
    if res < DAY:
        cut = math.floor((now - r.hours.total_seconds()) / DAY) * DAY
        rolled = store.last_window_start(model, DAY, ROLLUP_WRITER)
        if rolled is not None:
            done["remade"] += _remake(store, model, HOUR, DAY, min(cut, rolled + DAY))
        done["deleted"] += _prune(store, model, HOUR, cut, now)
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
    out = _merged(model, store.windows(model, source, oldest, last_complete + target), target)
    if out:
        store.save_windows(ROLLUP_WRITER, out, checkpoint=0)
        log.info("rolled up %d %s-second periods of %s", len(out), target, model)
    return len(out)


def _remake(store: Store, model: str, source: int, target: int, before: float) -> int:
    """Make each rolled-up ``target`` period before ``before`` hold every event of its ``source`` rows, just
    before those rows are pruned; returns the periods made again.

    A period whose rows still all exist (never pruned) but hold more events than its rollup had rows saved
    after the rollup was made (a writer's save that came late, or failed at the time): it is rolled up again
    from them, exactly. A period already pruned (before the watermark recorded at each prune) whose rows
    appear again holds only rows saved after the prune, by a writer that held them unsaved all that time: they
    are merged into the rollup. That is exact when the writer had saved none of those windows before; a part
    it had saved before is in the rollup already and is counted again (logged)."""
    pruned = _pruned(store, model, source)
    sums: dict[tuple[str, int], int] = {}
    for s in store.window_sums(model, source, 0, before, target):
        sums[(s.version, s.start)] = sums.get((s.version, s.start), 0) + s.events
    if not sums:
        return 0
    first = min(start for _, start in sums)
    rollups = {
        (c.version, c.start): c
        for c in store.window_counts(model, target, first, before)
        if c.writer == ROLLUP_WRITER
    }
    stale = sorted({k[1] for k, n in sums.items() if k not in rollups or rollups[k].events != n})
    out: list[WindowRow] = []
    for start in stale:
        rows = store.windows(model, source, start, start + target)
        if start < pruned:  # the rows saved after the prune, added to what the rollup holds
            rows += [r for r in store.windows(model, target, start, start + 1) if r.writer == ROLLUP_WRITER]
            log.warning(
                "windows of %s saved after the %s-second period at %d was pruned are added to its rollup "
                "(a part of them saved before the prune would be counted twice)",
                model,
                target,
                start,
                extra={"event": "retention.late_rows", "model": model, "start": start},
            )
        out += _merged(model, rows, target)
    if out:
        store.save_windows(ROLLUP_WRITER, out, checkpoint=0)
        log.warning(
            "rolled up %d %s-second periods of %s again: rows saved after their rollup",
            len(stale),
            target,
            model,
            extra={"event": "retention.remade", "model": model, "periods": len(stale)},
        )
    return len(stale)


PRUNED_KIND = "pruned"
"""Records of how far each model's rows of a resolution were pruned (id ``model:resolution``)."""


def _pruned(store: Store, model: str, resolution: int) -> float:
    record = store.record(PRUNED_KIND, f"{model}:{resolution}")
    return -math.inf if record is None else float(orjson.loads(record.body)["before"])


def _prune(store: Store, model: str, resolution: int, before: float, now: float) -> int:
    """Delete the rows of ``resolution`` before ``before`` and record how far that went."""
    deleted = store.delete_windows(model, resolution, before)
    if before > _pruned(store, model, resolution):
        store.put_record(PRUNED_KIND, f"{model}:{resolution}", orjson.dumps({"before": before}).decode(), now)
    return deleted


def _merged(model: str, rows: list[WindowRow], target: int) -> list[WindowRow]:
    """``rows`` merged into one rollup row per ``target`` period and version."""
    periods: dict[tuple[int, str], list[WindowRow]] = {}
    for row in rows:
        start = math.floor(row.start / target) * target
        periods.setdefault((start, row.version), []).append(row)
    out = []
    for (start, version), group in sorted(periods.items()):
        merged = WindowState()
        for row in group:
            merged.merge(WindowState.from_bytes(row.state))
        out.append(
            WindowRow(
                model, version, target, start, ROLLUP_WRITER, merged.events, merged.to_bytes(), merged.errors
            )
        )
    return out


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


def coarse_rows(
    store: Store,
    model: str,
    res: int,
    start: float,
    end: float,
    version: str | None,
    whole: Callable[[int, int], bool] = lambda start, size: True,
    live: Iterable[float] = (),
) -> list[WindowRow]:
    """The rows of ``choose_rows``, with each complete hour and day that a rollup holds exactly read from
    that one rollup row instead of its windows: for a range of a day, some 24 hour rows and the minutes at
    its ends, not 1,440 minutes. The merge of what it returns is the merge of what ``choose_rows`` returns.
    Which rows: see ``coarse_counts``; only those are fetched."""
    chosen, listed = coarse_counts(store, model, res, start, end, version, whole, live)
    return _fetch(store, model, version, chosen, listed)


def coarse_counts(
    store: Store,
    model: str,
    res: int,
    start: float,
    end: float,
    version: str | None,
    whole: Callable[[int, int], bool] = lambda start, size: True,
    live: Iterable[float] = (),
) -> tuple[list[WindowCount], dict[int, list[WindowCount]]]:
    """The rows ``coarse_rows`` reads, as their counts (no state is read), and the counts read of each
    resolution (runs of them are fetched together).

    A period is read from its rollup only when it lies wholly in the range, ``whole(period start, size)``
    (a series passes whether the period falls in one step), no window of it is in ``live`` (starts of
    windows the caller holds in memory, newer than their saved rows), and the rollup's event count equals
    that of the rows it stands for. Rows only ever grow, and a rollup is the merge of those rows as they
    were, so equal counts mean the same events: a window that gained events after its hour was rolled up
    (a late writer) keeps its hour on the windows. The model's own windows are first read as sums per
    hour (``Store.window_sums``); the counts of each window are read only for the hours not rolled up.
    """
    lo = math.floor(start / res) * res
    if res >= HOUR:  # hours or longer are the model's own windows: days, at most, stand for them
        finest = store.window_counts(model, res, lo, end, version)
        if res >= DAY:
            return list(finest), {res: finest}
        days = store.window_counts(model, DAY, math.floor(start / DAY) * DAY, end, version)
        covered = {math.floor(c.start / DAY) * DAY for c in finest}
        chosen = [*finest, *(c for c in days if c.writer != ROLLUP_WRITER or c.start not in covered)]
        parts: dict[tuple[str, int], list[WindowCount]] = {}
        for c in finest:
            parts.setdefault((c.version, math.floor(c.start / DAY) * DAY), []).append(c)
        gone: set[WindowCount] = set()
        busy_days = {math.floor(t / HOUR) * HOUR for t in live}
        for c in days:
            members = parts.get((c.version, c.start))
            if c.writer != ROLLUP_WRITER or not members or sum(f.events for f in members) != c.events:
                continue
            if _fits(c.start, DAY, lo, end, whole, busy_days):
                gone.update(members)
                chosen.append(c)
        return [c for c in chosen if c not in gone], {res: finest, DAY: days}
    sums = store.window_sums(model, res, lo, end, HOUR, version)
    hours = store.window_counts(model, HOUR, math.floor(start / HOUR) * HOUR, end, version)
    days = store.window_counts(model, DAY, math.floor(start / DAY) * DAY, end, version)
    # what choose_rows reads: the windows of each hour (as their sums, for now), hour rows where there are
    # no windows and those of events folded there directly, then the same for days
    covered = {s.start for s in sums}
    chosen_hours = [c for c in hours if c.writer != ROLLUP_WRITER or c.start not in covered]
    covered_days = {math.floor(t / DAY) * DAY for t in covered | {c.start for c in chosen_hours}}
    chosen_days = [c for c in days if c.writer != ROLLUP_WRITER or c.start not in covered_days]
    busy = {math.floor(t / HOUR) * HOUR for t in live}
    # an hour's windows (by version) stand as one part until the hour is rolled up or kept on its windows
    whole_hours: dict[tuple[str, int], WindowSum] = {(s.version, s.start): s for s in sums}
    rolled_up: set[tuple[str, int]] = set()
    for c in hours:
        key = (c.version, c.start)
        found = whole_hours.get(key)
        if (
            c.writer == ROLLUP_WRITER
            and found is not None
            and found.events == c.events
            and _fits(c.start, HOUR, lo, end, whole, busy)
        ):
            rolled_up.add(key)
            chosen_hours.append(c)
    # days: their rollup stands for all of the day's parts when the counts agree
    day_parts: dict[tuple[str, int], int] = {}
    for s in sums:
        if (s.version, s.start) not in rolled_up:
            key = (s.version, math.floor(s.start / DAY) * DAY)
            day_parts[key] = day_parts.get(key, 0) + s.events
    for c in chosen_hours:
        key = (c.version, math.floor(c.start / DAY) * DAY)
        day_parts[key] = day_parts.get(key, 0) + c.events
    rolled_days: set[tuple[str, int]] = set()
    for c in days:
        key = (c.version, c.start)
        if (
            c.writer == ROLLUP_WRITER
            and key in day_parts
            and day_parts[key] == c.events
            and c not in chosen_days
            and _fits(c.start, DAY, lo, end, whole, busy)
        ):
            rolled_days.add(key)
            chosen_days.append(c)

    def in_rolled_day(version: str, t: int) -> bool:
        return (version, math.floor(t / DAY) * DAY) in rolled_days

    chosen = [c for c in chosen_hours if not in_rolled_day(c.version, c.start)] + chosen_days
    # the windows of the hours still read from them, fetched as runs of consecutive hours
    fine = sorted(
        {
            s.start
            for s in sums
            if (s.version, s.start) not in rolled_up and not in_rolled_day(s.version, s.start)
        }
    )
    windows: list[WindowCount] = []
    for a, b in _runs(fine, HOUR):
        windows += [
            c
            for c in store.window_counts(model, res, max(lo, a), min(end, b), version)
            if (c.version, math.floor(c.start / HOUR) * HOUR) not in rolled_up
            and not in_rolled_day(c.version, c.start)
        ]
    return windows + chosen, {res: windows, HOUR: hours, DAY: days}


def _fits(
    p: int, size: int, lo: float, end: float, whole: Callable[[int, int], bool], busy: set[int]
) -> bool:
    """Whether the period ``[p, p + size)`` may be read from its rollup (see ``coarse_counts``)."""
    return p >= lo and p + size <= end and whole(p, size) and not any(p <= b < p + size for b in busy)


def _runs(starts: list[int], size: int) -> list[tuple[int, int]]:
    """Sorted period starts as ranges of consecutive periods."""
    out: list[tuple[int, int]] = []
    for t in starts:
        if out and out[-1][1] == t:
            out[-1] = (out[-1][0], t + size)
        else:
            out.append((t, t + size))
    return out


def _fetch(
    store: Store,
    model: str,
    version: str | None,
    chosen: list[WindowCount],
    listed: dict[int, list[WindowCount]],
) -> list[WindowRow]:
    """The rows of ``chosen``, fetched in runs of rows next to each other in ``listed`` (the counts read, by
    resolution and start: a row not chosen, or a gap of more than one period, ends a run), ordered by
    resolution then start."""
    wanted = set(chosen)
    out: list[WindowRow] = []
    for resolution, counts in sorted(listed.items()):
        runs: list[list[WindowCount]] = []
        last: WindowCount | None = None
        for c in counts:
            if c in wanted:
                if last is None or c.start - last.start > resolution:
                    runs.append([])
                runs[-1].append(c)
                last = c
            else:
                last = None
        for run in runs:
            keys = {(c.version, c.start, c.writer) for c in run}
            rows = store.windows(model, resolution, run[0].start, run[-1].start + 1, version)
            out += [r for r in rows if (r.version, r.start, r.writer) in keys]
    return out
