"""Reading a model's windows for a range, as ``Query`` merges them: the stored rows (every writer's; a whole
hour or day from its rollup row where that holds the same events, ``retention.coarse_rows``) and this
process's newer windows in memory, decoded without their event samples. ``sampled`` reads every window
with its sample (for drill-downs), under the same rule of which rows and which windows in memory count.

A ``Snapshot`` is the same reader for the work of one page: the rows' event counts are read once per
model and resolution (later reads of a narrower range are answered from them), the rows once, and each row
decoded once (of the last 1,024 read), however many series, steps, SLO windows and reports of the page read
it. A snapshot serves
one request and is dropped with it: what it holds is as fresh as its first read.
"""

from __future__ import annotations

import bisect
import math
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from typing import Any, cast

from vigil.monitoring.aggregator import Aggregator, WindowKey
from vigil.monitoring.retention import choose_rows, coarse_counts, coarse_rows
from vigil.monitoring.window import WindowState
from vigil.store.base import Store, WindowCount, WindowRow, WindowSum

__all__ = ["Reader", "Snapshot", "merge_buckets", "sampled"]

Bucket = Callable[[float], float]


class Reader:
    """Decoded windows of a range (see the module docstring)."""

    def __init__(self, store: Store, aggregator: Aggregator | None) -> None:
        self.store = store
        self.aggregator = aggregator

    def states(
        self,
        model: str,
        res: int,
        start: float,
        end: float,
        version: str | None,
        bucket: Bucket | None = None,
    ) -> dict[WindowKey, WindowState]:
        """Every window of ``model`` (of ``res`` seconds) starting in ``[start, end)``, each merged over
        writers, without the event samples; each whole hour or day that falls in one ``bucket`` (all of
        them, without one) is read from its rollup when that holds the same events, so the merge of each
        bucket is the same. The states returned are not to be changed (a snapshot hands them out again):
        merge them into new ones."""
        live, mine = _live(self.aggregator, model, res, start, end)

        def whole(p: int, size: int) -> bool:
            return bucket is None or bucket(p) == bucket(p + size - 1)

        merged: dict[WindowKey, WindowState] = {}
        rows = coarse_rows(self.store, model, res, start, end, version, whole, [k.start for k in live])
        for key, state in _pieces(model, res, version, rows, live, mine, self.decode):
            _add(merged, key, state)
        return merged

    def counts(
        self, model: str, res: int, start: float, end: float, version: str | None, bucket: Bucket
    ) -> dict[float, tuple[int, int]] | None:
        """Events and errors per ``bucket`` of the windows ``states`` would merge, from the rows' counts
        alone (no state is read); None when a row does not say its errors (saved by an older Vigil)."""
        live, mine = _live(self.aggregator, model, res, start, end)

        def whole(p: int, size: int) -> bool:
            return bucket(p) == bucket(p + size - 1)

        chosen, _ = coarse_counts(self.store, model, res, start, end, version, whole, [k.start for k in live])
        out: dict[float, tuple[int, int]] = {}
        rolled: list[tuple[int, int]] = []
        for c in chosen:
            if c.writer == mine and WindowKey(model, c.version, c.start, c.resolution) in live:
                continue
            if c.errors is None:
                return None
            if c.resolution > res:
                rolled.append((c.start, c.start + c.resolution))
            b = bucket(c.start)
            events, errors = out.get(b, (0, 0))
            out[b] = (events + c.events, errors + c.errors)
        for key, state in live.items():
            if any(a <= key.start < z for a, z in rolled) or (version is not None and key.version != version):
                continue
            b = bucket(key.start)
            events, errors = out.get(b, (0, 0))
            out[b] = (events + state.events, errors + state.errors)
        return out

    def decode(self, row: WindowRow) -> WindowState:
        return WindowState.from_bytes(row.state, sample=False)


class Snapshot(Reader):
    """A ``Reader`` for one page: counts, rows and decoded states read once (see the module docstring)."""

    def __init__(self, store: Store, aggregator: Aggregator | None) -> None:
        self.held = _HeldRows(store)
        super().__init__(cast(Store, self.held), aggregator)
        self._decoded: OrderedDict[tuple[str, WindowCount], WindowState] = OrderedDict()

    def decode(self, row: WindowRow) -> WindowState:
        key = (row.model, WindowCount(row.version, row.resolution, row.start, row.writer, row.events))
        found = self._decoded.get(key)
        if found is None:
            found = self._decoded[key] = super().decode(row)
            if len(self._decoded) > _DECODED:
                self._decoded.popitem(last=False)
        else:
            self._decoded.move_to_end(key)
        return found


_DECODED = 1024
"""Most decoded windows a snapshot holds (the least recently read go first): a window's latency buckets
are 33 KB in memory, and a page reads one model after the other."""
_Counted = tuple[float, float, list[WindowCount], list[int]]
"""A range read, its counts and their starts."""
_RowKey = tuple[str, int, str, int]
"""A row's version, start, writer and event count."""


class _HeldRows:
    """The store as a snapshot reads it: ``window_counts``, ``window_sums`` and ``windows`` answered from
    what was read before when that covers the range asked; everything else passed through."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._counts: dict[tuple[str, int, str | None], list[_Counted]] = {}
        self._sums: dict[tuple[str, int, int, str | None], tuple[int, int, dict[int, list[WindowSum]]]] = {}
        self._rows: dict[tuple[str, int], dict[_RowKey, WindowRow]] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def window_counts(
        self, model: str, resolution: int, start: float, end: float, version: str | None = None
    ) -> list[WindowCount]:
        ranges = self._counts.setdefault((model, resolution, version), [])
        for lo, hi, counts, starts in ranges:
            if lo <= start and end <= hi:
                return counts[bisect.bisect_left(starts, start) : bisect.bisect_left(starts, end)]
        if ranges and resolution >= _WIDE:  # few rows a period: widen the one range read to cover this
            lo, hi, counts, _ = ranges[0]
            before = self._store.window_counts(model, resolution, start, lo, version) if start < lo else []
            after = self._store.window_counts(model, resolution, hi, end, version) if end > hi else []
            counts = before + counts + after
            ranges[0] = (min(start, lo), max(end, hi), counts, [c.start for c in counts])
            return self.window_counts(model, resolution, start, end, version)
        counts = self._store.window_counts(model, resolution, start, end, version)
        ranges.append((start, end, counts, [c.start for c in counts]))
        return counts

    def window_sums(
        self, model: str, resolution: int, start: float, end: float, period: int, version: str | None = None
    ) -> list[WindowSum]:
        """Whole periods from one widening read of them; the partial ones at the ends from the counts."""
        first, last = math.ceil(start / period) * period, math.floor(end / period) * period
        out: list[WindowSum] = []
        if first >= last:
            return _summed(self.window_counts(model, resolution, start, end, version), period)
        key = (model, resolution, period, version)
        held = self._sums.get(key)
        lo, hi, by_period = (first, last, {}) if held is None else held
        parts = [(first, last)] if held is None else []
        if held is not None and first < lo:
            parts.append((first, lo))  # one range held: what lies between is read too
        if held is not None and last > hi:
            parts.append((hi, last))
        for a, b in parts:
            for found in self._store.window_sums(model, resolution, a, b, period, version):
                by_period.setdefault(found.start, []).append(found)
        held = self._sums[key] = (min(first, lo), max(last, hi), by_period)
        if start < first:
            out += _summed(self.window_counts(model, resolution, start, first, version), period)
        for p in range(first, last, period):
            out += held[2].get(p, [])
        if last < end:
            out += _summed(self.window_counts(model, resolution, last, end, version), period)
        return out

    def windows(
        self, model: str, resolution: int, start: float, end: float, version: str | None = None
    ) -> list[WindowRow]:
        rows = self._rows.setdefault((model, resolution), {})
        wanted = self.window_counts(model, resolution, start, end, version)
        keys = [(c.version, c.start, c.writer, c.events) for c in wanted]
        if keys and all(k in rows for k in keys):
            return [rows[k] for k in keys]
        fetched = self._store.windows(model, resolution, start, end, version)
        for r in fetched:
            rows[(r.version, r.start, r.writer, r.events)] = r
        return fetched


_WIDE = 3600
"""Resolutions at least this long are few enough a period that a snapshot widens one read of their counts
rather than keep several (minutes are read at the ends of ranges, far apart)."""


def _summed(counts: list[WindowCount], period: int) -> list[WindowSum]:
    """Counts summed as ``Store.window_sums`` sums them (by period, then version)."""
    sums: dict[tuple[int, str], list[int | None]] = {}
    for c in counts:
        p = c.start - c.start % period
        found = sums.setdefault((p, c.version), [0, 0, 0])
        found[0] = (found[0] or 0) + 1
        found[1] = (found[1] or 0) + c.events
        found[2] = None if found[2] is None or c.errors is None else found[2] + c.errors
    return [WindowSum(v, p, int(n or 0), int(e or 0), r) for (p, v), (n, e, r) in sorted(sums.items())]


def sampled(
    store: Store,
    aggregator: Aggregator | None,
    model: str,
    res: int,
    start: float,
    end: float,
    version: str | None,
) -> dict[WindowKey, WindowState]:
    """Every window of ``model`` (of ``res`` seconds) starting in ``[start, end)``, each merged over writers,
    with its event sample: every row ``retention.choose_rows`` reads (no rollup in place of its windows),
    from ``store`` itself, and this process's newer windows in memory. The states are the caller's."""
    live, mine = _live(aggregator, model, res, start, end)
    merged: dict[WindowKey, WindowState] = {}
    rows = choose_rows(store, model, res, start, end, version)
    for key, state in _pieces(
        model, res, version, rows, live, mine, lambda row: WindowState.from_bytes(row.state)
    ):
        found = merged.get(key)
        merged[key] = state if found is None else found.merge(state)
    return merged


def _live(
    aggregator: Aggregator | None, model: str, res: int, start: float, end: float
) -> tuple[dict[WindowKey, WindowState], str | None]:
    """Copies of this process's windows in memory that a read of ``[start, end)`` merges, and the writer
    whose saved rows they are newer than (none without an aggregator)."""
    if aggregator is None:
        return {}, None
    return aggregator.live_windows(model, math.floor(start / res) * res, end), aggregator.writer


def _pieces(
    model: str,
    res: int,
    version: str | None,
    rows: Iterable[WindowRow],
    live: dict[WindowKey, WindowState],
    mine: str | None,
    decode: Callable[[WindowRow], WindowState],
) -> Iterator[tuple[WindowKey, WindowState]]:
    """What a read merges, under each window's key: every row decoded, but this writer's that memory holds
    newer; then the windows in memory of ``version`` (any, without one), but those a rollup row read holds."""
    rolled: list[tuple[int, int]] = []
    for row in rows:
        key = WindowKey(model, row.version, row.start, row.resolution)
        if row.writer == mine and key in live:
            continue  # memory is newer than the saved copy
        if row.resolution > res:
            rolled.append((row.start, row.start + row.resolution))
        yield key, decode(row)
    for key, state in live.items():
        if any(a <= key.start < b for a, b in rolled):
            continue  # saved, rolled up and pruned while still in memory: the rollup holds it
        if version is None or key.version == version:
            yield key, state


def _add(merged: dict[WindowKey, WindowState], key: WindowKey, state: WindowState) -> None:
    """Merge ``state`` in under ``key``, changing neither it nor a state already there."""
    found = merged.get(key)
    merged[key] = state if found is None else WindowState(sample_size=0).merge(found).merge(state)


def merge_buckets(windows: dict[WindowKey, WindowState], bucket: Bucket) -> dict[float, WindowState]:
    """The windows merged per ``bucket`` of their start: a bucket of one window is that window (not to be
    changed either), one of several a new state."""
    out: dict[float, WindowState] = {}
    shared: set[float] = set()
    for key, state in sorted(windows.items()):
        b = bucket(key.start)
        found = out.get(b)
        if found is None:
            out[b] = state
            shared.add(b)
        elif b in shared:
            out[b] = WindowState(sample_size=0).merge(found).merge(state)
            shared.discard(b)
        else:
            found.merge(state)
    return out
