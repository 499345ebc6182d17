"""Cached service rollups for the overview: each model's windows merged per step, kept between requests,
so a page over 50 models × 24 hours reads a few windows per model, not thousands.

A step's merged state keeps the service part only (events, errors, latency sketch, tokens, cost: small);
the metrics are read from it by the catalogue, as ``Query.series`` reads them, so values agree with
``GET /v1/models/{m}/metrics`` at the same step.

* **Complete steps** (ended more than ``GRACE`` ago) are read once, together (``Query.buckets``: a
  rolled-up hour or day from its one rollup row when that holds the same events), and kept with the
  metric values read from them for ``refresh`` seconds (late events that land in an old window are taken
  in within that time).
* **The newest step** grows: its windows older than two windows are merged once and kept, the newer ones
  read anew at each request.
"""

from __future__ import annotations

import copy
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from vigil.alerting.rules.error_budget import Slo, SloStatus, slo_status
from vigil.monitoring import catalogue
from vigil.monitoring.catalogue import Step
from vigil.monitoring.partials import service
from vigil.monitoring.predictions import Joined
from vigil.monitoring.query import Query
from vigil.monitoring.retention import GRACE, HOUR
from vigil.monitoring.window import WindowState

__all__ = ["Rollups"]

Points = list[tuple[float, float | None]]
_MOST = 100_000
"""Most cached steps (all models): past it, the oldest half is forgotten."""


@dataclass
class _Held:
    state: WindowState
    read_at: float
    upto: float
    """Windows starting before this are merged in (the step's end for a complete step)."""
    values: dict[str, float | None] = field(default_factory=dict)
    """Metrics read from ``state`` (complete steps only: a growing step is read anew)."""


class Rollups:
    """Merged service states per (model, step), cached as the module docstring says."""

    def __init__(self, query: Query, clock: Callable[[], float], refresh: float = 600.0) -> None:
        self.query = query
        self.clock = clock
        self.refresh = refresh
        self._held: dict[tuple[str, float, float], _Held] = {}
        self._latest: dict[
            tuple[str, tuple[str, ...], float, float], tuple[float, dict[str, float | None]]
        ] = {}
        self._slos: dict[tuple[Slo, float], SloStatus] = {}
        self._lock = threading.Lock()

    def through(self, query: Query) -> Rollups:
        """These rollups (the same cache) reading what they lack through ``query`` (a page's snapshot)."""
        view = copy.copy(self)
        view.query = query
        return view

    def steps(self, model: str, start: float, end: float, step: float) -> dict[float, WindowState]:
        """Each step of ``step`` seconds (aligned to multiples of it) from the one holding ``start`` to the
        one holding ``end``, merged (an empty state where there were no windows)."""
        return {t: held.state for t, held in self._steps(model, start, end, step).items()}

    def series(
        self, model: str, names: Sequence[str], start: float, end: float, step: float
    ) -> dict[str, Points]:
        """Service metrics (``source`` ``window``) per step, as ``Query.series`` gives them."""
        return self.read(model, names, (), start, end, step)[0]

    def total(
        self, model: str, names: Sequence[str], start: float, end: float, step: float
    ) -> dict[str, float | None]:
        """Service metrics over the steps covering ``[start, end)`` merged into one."""
        return self.read(model, (), names, start, end, step)[1]

    def read(
        self,
        model: str,
        trends: Sequence[str],
        totals: Sequence[str],
        start: float,
        end: float,
        step: float,
    ) -> tuple[dict[str, Points], dict[str, float | None]]:
        """``series`` of ``trends`` and ``total`` of ``totals`` from one reading of the steps."""
        task = self._task(model)
        step = self._step_of(model, step)
        steps = self._steps(model, start, end, step)
        out: dict[str, Points] = {n: [] for n in trends}
        for t, held in steps.items():
            context = _context(held.state, step, task)
            for n in trends:
                if n not in held.values:
                    value = catalogue.lookup(n)[0].read(context)
                    if held.upto < t + step:
                        out[n].append((t, value))
                        continue  # the growing step: read anew each time
                    held.values[n] = value
                out[n].append((t, held.values[n]))
        if not totals:
            return out, {}
        merged = WindowState(sample_size=0)
        for held in steps.values():
            merged.merge(held.state)
        context = _context(merged, len(steps) * step, task)
        return out, {n: catalogue.lookup(n)[0].read(context) for n in totals}

    # -- internals -----------------------------------------------------------------------------------

    def _resolution(self, model: str) -> int:
        spec = self.query.registry.get(model)
        if spec is None:
            raise KeyError(model)
        return int(spec.window.total_seconds())

    def _step_of(self, model: str, step: float) -> float:
        res = self._resolution(model)
        return float(max(res, math.ceil(step / res) * res))

    def _task(self, model: str) -> str:
        spec = self.query.registry.get(model)
        return spec.task if spec is not None else ""

    def _steps(self, model: str, start: float, end: float, step: float) -> dict[float, _Held]:
        res = self._resolution(model)
        step = self._step_of(model, step)
        now = self.clock()
        out: dict[float, _Held] = {}
        missing: list[float] = []
        t = math.floor(start / step) * step
        while t < end:
            if t + step + GRACE > now:
                out[t] = self._growing(model, t, step, res, now)
            else:
                with self._lock:
                    held = self._held.get((model, step, t))
                if held is not None and now - held.read_at < self.refresh:
                    out[t] = held
                else:
                    missing.append(t)
            t += step
        if missing:  # read together: one read of the store for a cold page, not one per step
            read = self.query.buckets(model, missing[0], missing[-1] + step, step)
            for t in missing:
                found = read.get(t)
                held = _Held(
                    service(found) if found is not None else WindowState(sample_size=0), now, t + step
                )
                self._keep((model, step, t), held)
                out[t] = held
        return dict(sorted(out.items()))

    def _growing(self, model: str, t: float, step: float, res: int, now: float) -> _Held:
        """The newest step: windows older than two windows are merged once, the rest read anew."""
        key = (model, step, t)
        with self._lock:
            held = self._held.get(key)
        settled = min(t + step, max(t, math.floor(now / res) * res - 2 * res))
        if held is None or held.upto > settled or now - held.read_at >= self.refresh:
            older, fresh = self._cold(model, t, step, settled)
            held = _Held(older, now, settled)
        else:
            if held.upto < settled:
                grown = held.state.copy().merge(self._merge(model, held.upto, settled, settled)[0])
                held = _Held(grown, held.read_at, settled)
            fresh = self._merge(model, settled, t + step, settled)[1]
        self._keep(key, held)
        state = held.state.copy().merge(fresh) if fresh.events else held.state
        return _Held(state, held.read_at, settled)

    def _cold(self, model: str, t: float, step: float, settled: float) -> tuple[WindowState, WindowState]:
        """The newest step read anew, split at ``settled``: the hours not rolled up yet (this one and, for
        a few minutes after it ends, the last) from what the server kept of them (``Query.hour_so_far``)
        when it can, the rest from the windows and rollups."""
        last = math.floor((settled - 1) / HOUR) * HOUR  # the hour of the last settled window
        older = WindowState(sample_size=0)
        cursor = t
        for hour in (last - HOUR, last):
            kept = self.query.hour_so_far(model, hour) if cursor <= hour < settled else None
            if kept is None or kept[0] > settled:
                continue
            older.merge(self._merge(model, cursor, hour, hour)[0]).merge(kept[1])
            cursor = kept[0]
        rest, fresh = self._merge(model, cursor, t + step, settled)
        return older.merge(rest), fresh

    def _merge(self, model: str, start: float, end: float, split: float) -> tuple[WindowState, WindowState]:
        """The service part of the rows starting in ``[start, end)``, merged: those before ``split``, and
        the others."""
        before, after = WindowState(sample_size=0), WindowState(sample_size=0)
        if end <= start:
            return before, after
        for key, state in sorted(self.query.states(model, start, end).items()):
            if start <= key.start < end:
                (before if key.start < split else after).merge(service(state))
        return before, after

    def latest(self, model: str, names: Sequence[str], start: float, step: float) -> dict[str, float | None]:
        """Metrics of any kind (drift, labels) for the complete step at ``start``, from ``Query.series``,
        kept for ``refresh`` seconds."""
        key = (model, tuple(names), start, step)
        now = self.clock()
        with self._lock:
            found = self._latest.get(key)
        if found is not None and now - found[0] < self.refresh:
            return found[1]
        read = self.query.series(model, list(names), start, start + step, step)
        values = {n: (pts[0][1] if pts else None) for n, pts in read.items()}
        with self._lock:
            if len(self._latest) > _MOST:
                self._latest.clear()
            self._latest[key] = (now, values)
        return values

    def slo_statuses(self, slos: Sequence[Slo], now: float) -> list[SloStatus]:
        """``error_budget.slo_statuses`` of ``slos`` at ``now``: each SLO is judged at the end of its
        model's last complete window, so its status is kept until the next window ends."""
        out = []
        for slo in slos:
            spec = self.query.registry.get(slo.model)
            if spec is None:
                continue
            res = spec.window.total_seconds()
            end = math.floor(now / res) * res
            with self._lock:
                found = self._slos.get((slo, end))
            if found is None:
                found = slo_status(self.query, slo, end)
                with self._lock:
                    if len(self._slos) > _MOST:
                        self._slos.clear()
                    self._slos[(slo, end)] = found
            out.append(found)
        return out

    def _keep(self, key: tuple[str, float, float], held: _Held) -> None:
        with self._lock:
            self._held[key] = held
            if len(self._held) > _MOST:
                for old in sorted(self._held, key=lambda k: self._held[k].read_at)[: _MOST // 2]:
                    del self._held[old]


def _context(state: WindowState, seconds: float, task: str) -> Step:
    return Step(
        seconds=seconds,
        window=state,
        rows=Joined.empty(),
        task=task,
        segmented=False,
        drift=lambda: None,
        hosts={},
    )
