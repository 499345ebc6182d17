"""A metric source that remembers the history baselines are computed from, across evaluation rounds.

Relative and anomaly rules compare the last window with days of past windows; reading those days again
every round (every 30 s) is most of the cost of a round. :class:`HistoryCache` wraps a metric source
(``vigil.monitoring.query.Query``) and, per (model, metric, step, version, segment):

* reads the **newest** ``fresh`` steps anew (default: the last two steps; late events and labels land
  there), at most once per ``step / 12`` (5 minutes for hourly steps, 25 s for 5-minute steps): a
  complete window changes only through late data, so an hourly drift share is not recomputed every
  round;
* serves older steps from memory, reading only the steps not held yet, and reads everything again once
  the held values are older than ``refresh`` seconds (default one hour), so late labels that change an
  old window's accuracy are taken in within the hour.

So a baseline may lag by up to ``refresh`` behind late data in windows older than ``fresh`` steps; the
value judged (the newest window) never does. Every other method goes to the wrapped source.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["HistoryCache"]

Points = list[tuple[float, float | None]]


@dataclass
class _Held:
    lo: float
    hi: float
    read_at: float
    values: dict[float, float | None] = field(default_factory=dict)


class HistoryCache:
    def __init__(self, source: Any, clock: Callable[[], float], *, refresh: float = 3600.0, fresh: int = 2):
        self.source = source
        self.clock = clock
        self.refresh = refresh
        self.fresh = fresh
        self._held: dict[tuple[Any, ...], _Held] = {}
        self._recent: dict[tuple[Any, ...], tuple[float, dict[str, Points]]] = {}
        self._lock = threading.Lock()
        self.reads = 0
        """Calls made to the wrapped source's ``series`` (for tests and benchmarks)."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.source, name)

    @property
    def registry(self) -> Any:
        return self.source.registry

    def _newest(
        self,
        model: str,
        names: Sequence[str],
        lo: float,
        hi: float,
        step: float | None,
        version: str | None,
        segment: Mapping[str, str] | None,
        origin: float = 0.0,
    ) -> dict[str, Points]:
        """Read from the source, or from a read of the same range less than ``step / 12`` ago."""
        now = self.clock()
        key = (model, tuple(names), lo, hi, step, version, tuple(sorted((segment or {}).items())), origin)
        with self._lock:
            hit = self._recent.get(key)
        if hit is not None and now - hit[0] < (step or 0.0) / 12:
            return {name: list(points) for name, points in hit[1].items()}
        got = self._source_series(model, names, lo, hi, step, version, segment, origin)
        with self._lock:
            if len(self._recent) > 10_000:
                self._recent = {k: v for k, v in self._recent.items() if now - v[0] < 3600}
            self._recent[key] = (now, got)
        return {name: list(points) for name, points in got.items()}

    def _source_series(
        self,
        model: str,
        names: Sequence[str],
        lo: float,
        hi: float,
        step: float | None,
        version: str | None,
        segment: Mapping[str, str] | None,
        origin: float = 0.0,
    ) -> dict[str, Points]:
        self.reads += 1
        kwargs: dict[str, Any] = {"segment": segment} if segment is not None else {}
        if origin:
            kwargs["origin"] = origin
        got = self.source.series(model, names, lo, hi, step, version, **kwargs)
        return {name: list(points) for name, points in got.items()}

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
        if step is None or end - start <= self.fresh * step or origin % step:
            return self._newest(model, names, start, end, step, version, segment, origin)
        split = math.floor((end - self.fresh * step - start) / step) * step + start  # on the step grid
        now = self.clock()
        out: dict[str, Points] = {}
        for name in names:
            key = (model, name, step, version, tuple(sorted((segment or {}).items())), start % step)
            with self._lock:
                held = self._held.get(key)
            if held is None or now - held.read_at >= self.refresh or start < held.lo or held.hi > split:
                held = _Held(
                    start,
                    split,
                    now,
                    dict(self._source_series(model, [name], start, split, step, version, segment)[name]),
                )
            else:
                if held.hi < split:
                    points = self._source_series(model, [name], held.hi, split, step, version, segment)[name]
                    held.values.update(points)
                    held.hi = split
                for t in [t for t in held.values if t < start]:  # the baseline's window moved on
                    del held.values[t]
                held.lo = start
            with self._lock:
                self._held[key] = held
            newest = self._newest(model, [name], split, end, step, version, segment)[name]
            past = [(t, v) for t, v in sorted(held.values.items()) if start <= t < split]
            out[name] = past + newest
        return out
