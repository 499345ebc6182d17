"""One cache of metric series for evaluation: the engine's rounds and replays over stored history.

Relative and anomaly rules compare the last window with days of past windows, and a replay evaluates a rule
at thousands of past times; reading those ranges again at every evaluation is most of their cost.
:class:`SeriesCache` is a :class:`~vigil.alerting.evaluate.source.MetricSource` over another (a ``Query``)
that keeps, per (model, metric, step, version, segment, step offset), contiguous ranges of whole steps:

* a read inside a held range is a slice of it; a read that starts inside one and ends past it extends it by
  fetching only the missing steps; any other read is fetched as a new range (up to ``_SEGMENTS`` per
  series: rules reading several lags keep one each, and a range that a new one covers is dropped);
* with a ``horizon`` (a replay, whose reads move forward in time up to it) each fetch reads ``_CHUNK``
  steps ahead, not past the horizon, and never more than ``_MOST`` steps beyond what was asked (``Query``
  refuses over 20,000);
* with ``fresh`` (the live engine, where late events and labels land in the newest windows) the newest
  ``fresh`` steps of a read are not held: they are read anew at most once per ``step / 12`` (5 minutes for
  hourly steps, 25 s for 5-minute steps; a complete window changes only through late data); so are reads
  no longer than ``fresh`` steps, and reads without a step;
* a range is dropped ``refresh`` seconds (by ``clock``) after it was first fetched, so late labels that
  change an old window's accuracy are taken in within that time.

So a live baseline may lag by up to ``refresh`` behind late data in windows older than ``fresh`` steps; the
value judged (the newest window) never does. A replay's answers are those of the source as stored now: a
step's value does not depend on the range it is read with. Reads off the step grid of a held range, and
``windows``, go straight to the source.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from vigil.alerting.evaluate.source import MetricSource, Models, Points

__all__ = ["SeriesCache"]

_CHUNK = 2_000  # steps fetched ahead per read (with a horizon)
_MOST = 16_000  # steps a fetch may total with its steps ahead; a longer read is fetched as asked
_SEGMENTS = 32  # ranges kept per series


class _Series(NamedTuple):
    """One series read: its model, metric, step, version and segment (as sorted pairs)."""

    model: str
    name: str
    step: float | None
    version: str | None
    segment: Hashable


@dataclass
class _Range:
    """Whole steps ``times[i]`` with ``values[i]``, covering ``[times[0], hi)`` on a grid of ``step``
    seconds, first fetched at ``read_at``."""

    step: float
    times: list[float]
    values: list[float | None]
    hi: float
    read_at: float

    @classmethod
    def of(
        cls, points: Points, lo: float, hi: float, read_at: float, grid: float | None = None
    ) -> _Range | None:
        """The steps of ``points`` (read over ``[lo, hi)``) that lie wholly inside it; None when none is, or
        (without ``grid``) there are fewer than two points to tell the grid from."""
        if grid is None:
            grid = points[1][0] - points[0][0] if len(points) > 1 else 0.0
        # a partial step at either end holds only part of its windows: its value depends on the range read
        whole = [(t, v) for t, v in points if t >= lo and t + grid <= hi]
        if grid <= 0 or not whole:
            return None
        return cls(grid, [t for t, _ in whole], [v for _, v in whole], hi, read_at)

    def holds(self, start: float) -> bool:
        """Whether a read from ``start`` begins inside this range, on its grid."""
        i = bisect.bisect_left(self.times, start)
        return (i < len(self.times) and self.times[i] == start) or start == self.hi

    def extend(self, more: _Range) -> bool:
        """Append ``more`` when it continues this range on the same grid."""
        if more.step != self.step or more.times[0] != self.hi:
            return False
        self.times.extend(more.times)
        self.values.extend(more.values)
        self.hi = more.hi
        return True

    def slice(self, start: float, end: float) -> Points | None:
        """The points of ``[start, end)``, or None unless both ends are on the grid and it is covered."""
        if end > self.hi or not self.holds(start):
            return None
        i = bisect.bisect_left(self.times, start)
        steps = (end - start) / self.step
        j = bisect.bisect_left(self.times, end)
        if steps != round(steps) or j - i != round(steps):
            return None
        return list(zip(self.times[i:j], self.values[i:j], strict=True))


class SeriesCache:
    """A :class:`~vigil.alerting.evaluate.source.MetricSource` over ``source``, holding what it read (see the
    module docstring). The live engine: ``SeriesCache(query, clock=clock, fresh=2, refresh=3600)``; a
    replay up to ``end``: ``SeriesCache(query, horizon=end)``."""

    def __init__(
        self,
        source: MetricSource,
        *,
        clock: Callable[[], float] | None = None,
        horizon: float | None = None,
        fresh: int = 0,
        refresh: float = math.inf,
    ) -> None:
        if fresh and clock is None:
            raise ValueError("a cache that reads the newest steps anew needs a clock")
        self.source = source
        self.clock = clock or (lambda: 0.0)
        self.horizon = horizon
        self.fresh = fresh
        self.refresh = refresh
        self._ranges: dict[tuple[Hashable, ...], list[_Range]] = {}
        self._recent: dict[tuple[Hashable, ...], tuple[float, Points]] = {}
        self._lock = threading.Lock()
        self.reads = 0
        """Calls made to the source's ``series`` (for tests and benchmarks)."""

    @property
    def registry(self) -> Models:
        return self.source.registry

    def windows(self, model: str, start: float, end: float, version: str | None = None) -> Mapping[Any, Any]:
        return self.source.windows(model, start, end, version)

    def series(
        self,
        model: str,
        names: Sequence[str],
        start: float,
        end: float,
        step: float | None = None,
        version: str | None = None,
        segment: Mapping[str, str] | None = None,
        origin: float = 0.0,
    ) -> dict[str, Points]:
        selector = tuple(sorted(segment.items())) if isinstance(segment, Mapping) else segment
        out: dict[str, Points] = {}
        for name in names:
            series = _Series(model, name, step, version, selector)
            split = end
            if step is not None and step > 0 and self.fresh:  # the newest steps are read anew
                split = math.floor((end - self.fresh * step - start) / step) * step + start
            if step is None or not step > 0 or split <= start:
                out[name] = self._newest(series, segment, start, end, origin)
                continue
            with self._lock:
                held = self._held(series, segment, start, split, origin)
            out[name] = held + (self._newest(series, segment, split, end, origin) if split < end else [])
        return out

    def _read(
        self, series: _Series, segment: Mapping[str, str] | None, lo: float, hi: float, origin: float
    ) -> Points:
        self.reads += 1
        grid = {"origin": origin} if origin else {}
        got = self.source.series(
            series.model, [series.name], lo, hi, series.step, series.version, segment=segment, **grid
        )
        return list(got[series.name])

    def _newest(
        self,
        series: _Series,
        segment: Mapping[str, str] | None,
        start: float,
        end: float,
        origin: float,
    ) -> Points:
        """Read from the source, or from a read of the same range less than ``step / 12`` ago."""
        if not self.fresh:
            return self._read(series, segment, start, end, origin)
        now = self.clock()
        key = (*series, start, end, origin)
        with self._lock:
            hit = self._recent.get(key)
        if hit is not None and now - hit[0] < (series.step or 0.0) / 12:
            return list(hit[1])
        got = self._read(series, segment, start, end, origin)
        with self._lock:
            if len(self._recent) > 10_000:
                self._recent = {k: v for k, v in self._recent.items() if now - v[0] < 3600}
            self._recent[key] = (now, got)
        return list(got)

    def _held(
        self, series: _Series, segment: Mapping[str, str] | None, start: float, end: float, origin: float
    ) -> Points:
        """The points of ``[start, end)`` from the held ranges of ``series``, fetching what they lack."""
        assert series.step is not None
        step = series.step
        key = (*series, origin % step)
        now = self.clock()
        ranges = [r for r in self._ranges.get(key, []) if now - r.read_at < self.refresh]
        self._ranges[key] = ranges
        for held in ranges:
            hit = held.slice(start, end)
            if hit is not None:
                return hit
        for held in ranges:
            if held.holds(start) and end > held.hi:
                hi = self._ahead(held.hi, end, step)
                more = _Range.of(
                    self._read(series, segment, held.hi, hi, origin), held.hi, hi, now, held.step
                )
                if more is not None and held.extend(more):
                    hit = held.slice(start, end)
                    if hit is not None:
                        return hit
                break
        hi = self._ahead(start, end, step)
        fresh = _Range.of(self._read(series, segment, start, hi, origin), start, hi, now)
        if fresh is None:
            return self._read(series, segment, start, end, origin)
        kept = [r for r in ranges if not (fresh.times[0] <= r.times[0] and r.hi <= fresh.hi)]
        self._ranges[key] = [*kept[-(_SEGMENTS - 1) :], fresh]
        hit = fresh.slice(start, end)
        return hit if hit is not None else self._read(series, segment, start, end, origin)

    def _ahead(self, lo: float, end: float, step: float) -> float:
        """Where a fetch from ``lo`` for a read to ``end`` stops: at most ``_CHUNK`` steps past ``end``, not
        past the horizon (none: at ``end``)."""
        if self.horizon is None:
            return end
        more = min(_CHUNK, math.ceil((self.horizon - end) / step), _MOST - math.ceil((end - lo) / step))
        return end + max(0, more) * step
