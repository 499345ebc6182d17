"""Cached service rollups for the overview: each model's windows merged per step, kept between requests,
so a page over 50 models × 24 hours reads a few windows per model, not thousands.

A step's merged state keeps the service part only (events, errors, latency sketch, tokens, cost: small);
the metrics are read from it by the catalogue, as ``Query.series`` reads them, so values agree with
``GET /v1/models/{m}/metrics`` at the same step.

* **Complete steps** (ended more than ``GRACE`` ago) are read once and kept for ``refresh`` seconds (late
  events that land in an old window are taken in within that time). A complete hour or day that was
  rolled up is read from its rollup rows (one row, not 60 or 1,440; exact: a rollup is the merge of its
  windows, and events folded there directly are in rows of other writers, read with it); otherwise from
  the model's windows (``Query.windows``).
* **The newest step** grows: its windows older than two windows are merged once and kept, the newer ones
  read anew at each request.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from vigil.monitoring import catalogue
from vigil.monitoring.catalogue import Step
from vigil.monitoring.predictions import Joined
from vigil.monitoring.query import Query
from vigil.monitoring.retention import DAY, GRACE, HOUR, ROLLUP_WRITER
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


def _service(state: WindowState) -> WindowState:
    """The service part of ``state`` (no profile, no sample): what the overview reads."""
    return WindowState(
        events=state.events,
        errors=state.errors,
        latency=state.latency,
        latency_moments=state.latency_moments,
        tokens_in=state.tokens_in,
        tokens_out=state.tokens_out,
        cost=state.cost,
        sample_size=0,
    )


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
        self._lock = threading.Lock()

    def steps(self, model: str, start: float, end: float, step: float) -> dict[float, WindowState]:
        """Each step of ``step`` seconds (aligned to multiples of it) from the one holding ``start`` to the
        one holding ``end``, merged (an empty state where there were no windows)."""
        res = self._resolution(model)
        step = max(res, math.ceil(step / res) * res)
        now = self.clock()
        first = math.floor(start / step) * step
        out: dict[float, WindowState] = {}
        t = first
        while t < end:
            out[t] = self._step(model, t, step, res, now)
            t += step
        return out

    def series(
        self, model: str, names: Sequence[str], start: float, end: float, step: float
    ) -> dict[str, Points]:
        """Service metrics (``source`` ``window``) per step, as ``Query.series`` gives them."""
        task = self._task(model)
        steps = self.steps(model, start, end, step)
        out: dict[str, Points] = {n: [] for n in names}
        for t, state in steps.items():
            context = _context(state, step, task)
            for n in names:
                out[n].append((t, catalogue.lookup(n)[0].read(context)))
        return out

    def total(
        self, model: str, names: Sequence[str], start: float, end: float, step: float
    ) -> dict[str, float | None]:
        """Service metrics over the steps covering ``[start, end)`` merged into one."""
        steps = self.steps(model, start, end, step)
        merged = WindowState(sample_size=0)
        for state in steps.values():
            merged.merge(state)
        seconds = len(steps) * max(step, self._resolution(model))
        context = _context(merged, seconds, self._task(model))
        return {n: catalogue.lookup(n)[0].read(context) for n in names}

    # -- internals -----------------------------------------------------------------------------------

    def _resolution(self, model: str) -> int:
        spec = self.query.registry.get(model)
        if spec is None:
            raise KeyError(model)
        return int(spec.window.total_seconds())

    def _task(self, model: str) -> str:
        spec = self.query.registry.get(model)
        return spec.task if spec is not None else ""

    def _step(self, model: str, t: float, step: float, res: int, now: float) -> WindowState:
        key = (model, step, t)
        complete = t + step + GRACE <= now
        with self._lock:
            held = self._held.get(key)
        if held is not None and complete and held.upto >= t + step and now - held.read_at < self.refresh:
            return held.state
        if complete:
            state = self._rolled(model, t, step) or self._parts(model, t, step, res, now)
            self._keep(key, _Held(state, now, t + step))
            return state
        # the newest step: windows older than two windows are merged once, the rest read anew
        settled = min(t + step, max(t, math.floor(now / res) * res - 2 * res))
        if held is None or held.upto > settled or now - held.read_at >= self.refresh:
            held = _Held(self._merge(model, t, settled), now, settled)
        elif held.upto < settled:
            grown = held.state.copy().merge(self._merge(model, held.upto, settled))
            held = _Held(grown, held.read_at, settled)
        self._keep(key, held)
        fresh = self._merge(model, settled, t + step)
        return held.state.copy().merge(fresh) if fresh.events else held.state

    def _parts(self, model: str, t: float, step: float, res: int, now: float) -> WindowState:
        """A complete step of whole days or hours as the merge of those (each cached), else its windows."""
        for size in (DAY, HOUR):
            if step > size and step % size == 0 and t % size == 0 and res <= size:
                merged = WindowState(sample_size=0)
                for k in range(int(step // size)):
                    merged.merge(self._step(model, t + k * size, size, res, now))
                return merged
        return self._merge(model, t, t + step)

    def _rolled(self, model: str, t: float, step: float) -> WindowState | None:
        """An aligned complete hour or day from its rollup rows (None when it was not rolled up)."""
        for size in (DAY, HOUR):
            if step != size or t % size:
                continue
            rows = self.query.store.windows(model, size, t, t + size)
            if not any(r.writer == ROLLUP_WRITER for r in rows):
                return None
            merged = WindowState(sample_size=0)
            for row in rows:
                merged.merge(_service(WindowState.from_bytes(row.state)))
            return merged
        return None

    def _merge(self, model: str, start: float, end: float) -> WindowState:
        merged = WindowState(sample_size=0)
        if end <= start:
            return merged
        for key, state in sorted(self.query.windows(model, start, end).items()):
            if start <= key.start < end:
                merged.merge(_service(state))
        return merged

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
