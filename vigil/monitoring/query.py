"""Live metrics for any range: merge the windows that fall in it, then read them.

Windows come from the store (every writer's saved rows) and, for this process, from the aggregator's
memory (newer than what it last saved). A range is merged window by window; the merged state gives
service, LLM, data-quality and drift metrics; label-based metrics come from the prediction–label join.
Where a whole hour or day of the range falls in one step (or the range is merged whole), it is read from
its rollup row when that holds exactly the same events (``retention.coarse_rows``): a day at hourly steps
is 24 rows, not 1,440. The drift of a complete step is kept once worked out (``drifts.DriftKeep``). The
rows are read by ``reads``; merged profiles are compared with the baseline by ``comparisons``.

**Segments.** Windows are per model and version, not per segment, but the prediction log keeps each
prediction's segment tags, so the metrics computed from the prediction–label join (``SEGMENT_METRICS``)
can be read for one segment: ``series(..., segment={"region": "eu"})`` (or ``"region=eu"``) keeps the
joined rows whose tags include every ``key=value`` given (values compared as text: ``True`` is ``"1"``,
``3.0`` is ``"3"``). With a segment, ``score_mean`` and ``prediction_mean`` are means over those rows (the
predictions sent with a request id), not over the windows' profiles. Other metrics refuse a segment.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache, partial
from typing import Any, NamedTuple, TypeVar

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from vigil.comparison.report import Report
from vigil.errors import InputError
from vigil.events import PREDICTION, SCORE, SEGMENT_PREFIX, SERVICE_COLUMNS, from_ipc
from vigil.monitoring import catalogue, llm_content
from vigil.monitoring.aggregator import Aggregator, WindowKey
from vigil.monitoring.baselines import Baselines
from vigil.monitoring.catalogue import METRICS, SEGMENT_METRICS, Drift, Step, Support
from vigil.monitoring.comparisons import (
    BaselineRef,
    against_baseline,
    against_reference,
    baseline_profile,
    model_config,
    window_drift,
)
from vigil.monitoring.drifts import KEPT_STEPS, DriftKeep, Stamp
from vigil.monitoring.estimates import Estimators
from vigil.monitoring.multivariate import JointBaselines
from vigil.monitoring.partials import HourSoFar
from vigil.monitoring.predictions import Joined, join
from vigil.monitoring.reads import Reader, Snapshot, merge_buckets, sampled
from vigil.monitoring.retention import GRACE, HOUR
from vigil.monitoring.segments import Segment, parse_segment, segment_text
from vigil.monitoring.sources import feedback_by_step, host_means
from vigil.monitoring.window import WindowState
from vigil.registry import Registry
from vigil.spec import ModelSpec
from vigil.store.base import Store
from vigil.timefmt import format_time

__all__ = [
    "METRICS",
    "SEGMENT_METRICS",
    "Baselines",
    "Query",
    "Reading",
    "Segment",
    "parse_segment",
    "segment_text",
]

MAX_POINTS = 20_000
"""Most steps one series may have."""
_COUNTED = {"events": 0, "errors": 1}
"""Metrics read from the rows' counts alone (their position in ``Reader.counts``' pairs)."""


LABELS_BEFORE = 86_400.0
"""How long before its prediction a label may arrive and still join (a label sent first, by a clock ahead)."""


@dataclass
class Query:
    """A range's windows merged, and what they say: series, drift reports, event samples (see the module
    docstring)."""

    store: Store
    registry: Registry
    aggregator: Aggregator | None
    baselines: Baselines
    clock: Callable[[], float]
    kept: DriftKeep = field(init=False)
    """The drift of complete steps, kept in the store's records."""

    def __post_init__(self) -> None:
        self.kept = DriftKeep(self.store, self.clock)
        self._kept_steps: dict[tuple[str, float], float] = {}
        self._reader: Reader = Reader(self.store, self.aggregator)
        self.estimators = Estimators(self.registry, self.store, self.baselines, self.joined)
        """Each binary model's performance estimator (``estimated_*`` metrics, ``concept_shift``)."""
        self.hours = HourSoFar(self.store)
        """The current hour so far, kept by the server (``partials``)."""
        self.joint = JointBaselines(self.baselines)
        """Each model's baseline file fitted for the live reconstruction error."""

    # -- merging -------------------------------------------------------------------------------------------

    def windows(
        self, model: str, start: float, end: float, version: str | None = None
    ) -> dict[WindowKey, WindowState]:
        """Every window of ``model`` starting in ``[start, end)``, each merged over writers (with its event
        sample: ``reads.sampled``)."""
        res = int(self._spec(model).window.total_seconds())
        return sampled(self.store, self.aggregator, model, res, start, end, version)

    def merged(self, model: str, start: float, end: float, version: str | None = None) -> WindowState:
        """Every window of ``model`` starting in ``[start, end)`` merged into one (without the event
        sample: ``events`` reads that)."""
        total = WindowState()
        for _, state in sorted(self._read(model, start, end, version).items()):
            total.merge(state)
        return total

    def buckets(
        self, model: str, start: float, end: float, step: float, version: str | None = None
    ) -> dict[float, WindowState]:
        """The rows starting in ``[start, end)`` merged per step of ``step`` seconds (a multiple of the
        model's window; steps at whole multiples of it), as ``series`` reads them; steps without windows are
        left out. No event samples. (Only rows that start in the range: an hour row of events folded there
        late counts in the step of its hour's start, as in ``series``.)"""

        def bucket(t: float) -> float:
            return math.floor(t / step) * step

        found = self._read(model, start, end, version, bucket)
        return merge_buckets({k: v for k, v in found.items() if start <= k.start < end}, bucket)

    def states(
        self, model: str, start: float, end: float, version: str | None = None
    ) -> dict[WindowKey, WindowState]:
        """As ``windows``, without the event samples, and with each whole hour or day of the range read
        from its rollup when that holds the same events (a key then stands for the hour or the day). The
        states are not to be changed: merge them into new ones."""
        return self._read(model, start, end, version)

    def hour_so_far(self, model: str, hour: float) -> tuple[float, WindowState] | None:
        """The kept service part of ``model``'s rows starting in ``[hour, upto)`` as (upto, merged state),
        when still true of the rows and no window of the hour is newer in this process's memory
        (``partials.HourSoFar.read``); else None."""
        res = int(self._spec(model).window.total_seconds())
        if self.aggregator is not None and self.aggregator.live_windows(model, hour, hour + HOUR):
            return None
        return self.hours.read(self._reader.store, model, res, hour)

    def snapshot(self) -> Query:
        """This query reading through a ``reads.Snapshot``: for the work of one page, whose series, reports
        and SLOs read the same windows many times; drop it with the page."""
        view = copy.copy(self)
        view._reader = Snapshot(self.store, self.aggregator)
        return view

    def _read(
        self,
        model: str,
        start: float,
        end: float,
        version: str | None,
        bucket: Callable[[float], float] | None = None,
    ) -> dict[WindowKey, WindowState]:
        res = int(self._spec(model).window.total_seconds())
        return self._reader.states(model, res, start, end, version, bucket)

    # -- metrics -------------------------------------------------------------------------------------------

    def series(
        self,
        model: str,
        names: Sequence[str],
        start: float,
        end: float,
        step: float | None = None,
        version: str | None = None,
        segment: Segment | str | None = None,
        origin: float = 0.0,
    ) -> dict[str, list[tuple[float, float | None]]]:
        """``{name: [(step start, value), ...]}``; None where a step has no data for that metric (see
        :meth:`readings`)."""
        got = self.readings(model, names, start, end, step, version, segment, origin)
        return {n: [(r.start, r.value) for r in points] for n, points in got.items()}

    def readings(
        self,
        model: str,
        names: Sequence[str],
        start: float,
        end: float,
        step: float | None = None,
        version: str | None = None,
        segment: Segment | str | None = None,
        origin: float = 0.0,
        support: bool = False,
    ) -> dict[str, list[Reading]]:
        """``{name: [Reading, ...]}``, one per step: its start, its value (None where the step has no data
        for that metric) and, with ``support``, a label metric's ``Support`` (labels, coverage, Wilson
        interval).

        Steps start at ``origin + k × step`` (by default at whole multiples of the step since the epoch;
        an alert rule judging the latest windows passes the end of its range); ``origin`` should be a
        window boundary of the model, or steps split windows between them.
        ``segment`` (a selector, see :func:`parse_segment`) restricts ``SEGMENT_METRICS`` to the predictions
        of that segment; asking another metric for a segment raises ``InputError`` naming those that accept
        one."""
        spec = self._spec(model)
        res = spec.window.total_seconds()
        step = max(res, math.ceil((step or res) / res) * res)
        offset = origin % step

        def bucket(t: float) -> float:
            return math.floor((t - offset) / step) * step + offset

        wanted = {}
        for name in names:
            try:
                wanted[name] = catalogue.lookup(name)
            except KeyError:
                raise InputError(catalogue.problem(name) or f"unknown metric {name!r}") from None
        selector: dict[str, str] | None = None
        if segment is not None:
            try:
                selector = parse_segment(segment)
            except ValueError as exc:
                raise InputError(str(exc)) from None
            refused = [n for n in names if n not in SEGMENT_METRICS]
            if refused:
                raise InputError(
                    f"{', '.join(refused)} cannot be read per segment (metric windows are per model and "
                    f"version); metrics that accept a segment: {', '.join(SEGMENT_METRICS)}"
                )
        first = bucket(start)
        points = math.ceil((end - first) / step)
        if points > MAX_POINTS:
            raise InputError(
                f"{points} steps of {step:g} s is over the limit of {MAX_POINTS}; give a larger step "
                "or a shorter range"
            )
        if selector is None and set(names) <= _COUNTED.keys():  # SLO availability: no state to read
            counted = self._reader.counts(model, int(res), start, end, version, bucket)
            if counted is not None:
                return {
                    n: [
                        Reading(t, float(counted.get(t, (0, 0))[_COUNTED[n]]))
                        for t in (first + k * step for k in range(points))
                    ]
                    for n in names
                }
        buckets = merge_buckets(self._read(model, start, end, version, bucket), bucket)
        rows_needed = selector is not None or any(m.source == "rows" for m, _ in wanted.values())
        joined = self.joined(model, first, end, version) if rows_needed else Joined.empty()
        if selector is not None:
            joined = joined.in_segment(selector)
        # rows are in time order, so each step's rows are one slice (bucket keys as ``bucket`` computes them)
        keys = np.floor((joined.ts - offset) / step) * step + offset
        baseline = (
            self._baseline_ref(model, spec) if any(m.source == "drift" for m, _ in wanted.values()) else None
        )
        settings = self._settings(spec) if baseline is not None else ""
        hosts = host_means(self.store, model, [n for n in names if n.startswith("host_")], first, end, bucket)
        given = (
            feedback_by_step(self.store, model, first, end, bucket)
            if any(m.source == "feedback" for m, _ in wanted.values())
            else {}
        )
        out: dict[str, list[Reading]] = {n: [] for n in names}
        estimator = cache(partial(self.estimators.get, model))  # looked up once, by the first step that asks
        for k in range(points):
            t = first + k * step
            found = buckets.get(t)
            lo, hi = np.searchsorted(keys, t, side="left"), np.searchsorted(keys, t, side="right")
            context = Step(
                seconds=step,
                window=found,
                rows=joined.take(slice(int(lo), int(hi))),
                task=spec.task,
                segmented=selector is not None,
                drift=_once(partial(self._step_drift, model, version, step, t, found, baseline, settings)),
                hosts=hosts.get(t, {}),
                feedback=given.get(t, {}),
                min_group=spec.fairness.min_group if spec.fairness is not None else 30,
                estimator=estimator,
                joint=_once(partial(self.joint.step, self.windows, model, t, t + step, version)),
            )
            for name, (metric, feature) in wanted.items():
                shown = metric.support(context, feature) if support else None
                out[name].append(Reading(t, metric.read(context, feature), shown))
        return out

    def joined(self, model: str, start: float, end: float, version: str | None = None) -> Joined:
        """Predictions made in ``[start, end)`` with their labels (None until they arrive), joined by request
        id in Arrow: the first prediction of a request id counts (a replay may store a batch twice)."""
        batches = self.store.predictions(model, start, end)
        if not batches:
            return Joined.empty()
        table = pa.concat_tables([from_ipc(b.payload) for b in batches])
        keep = pc.and_(pc.greater_equal(table.column("ts"), start), pc.less(table.column("ts"), end))
        if version is not None:
            keep = pc.and_(keep, pc.equal(table.column("version"), version))
        return join(table.filter(keep), self.store.label_columns(model, start - LABELS_BEFORE))

    def drift(self, model: str, start: float, end: float, version: str | None = None) -> Report:
        """The core's drift report: the baseline against the merged windows of ``[start, end)``, in the
        user's words (see ``comparisons.in_user_words``: what was compared and what was not, and why)."""
        return self.report(model, self.merged(model, start, end, version))

    def report(self, model: str, merged: WindowState) -> Report:
        """``drift``'s report for windows merged already (``merged``: of a range, by ``merged``)."""
        spec = self._spec(model)
        baseline = baseline_profile(self.baselines, model, spec, self.merged)
        return against_baseline(model, baseline, merged.profile, spec)

    def compare(
        self,
        model: str,
        reference: tuple[float, float],
        current: tuple[float, float],
        version: str | None = None,
        labels: tuple[str, str] = ("reference", "current"),
    ) -> Report:
        """The drift report of the merged windows of the ``current`` range against those of the
        ``reference`` range (each ``(start, end)``), in the user's words as :meth:`drift`."""
        spec = self._spec(model)
        ref = self.merged(model, *reference, version).profile
        cur = self.merged(model, *current, version).profile
        return against_reference(model, ref, cur, spec, labels)

    def events(
        self, model: str, start: float, end: float, limit: int = 100, version: str | None = None
    ) -> list[dict[str, Any]]:
        """A uniform sample of raw events of the range (redacted as stored), newest first."""
        sample: list[tuple[float, str]] = []
        for state in self.windows(model, start, end, version).values():
            sample.extend(state.sample)
        sample.sort()
        rows = sorted((orjson.loads(raw) for _, raw in sample[:limit]), key=lambda r: -r.get("ts", 0.0))
        task = self._spec(model).task
        if task == "llm":  # content that came after its span, or to another process
            llm_content.fill(self.store, model, rows)
        return [_wire(row, task) for row in rows]

    def keep_drift(self, model: str, now: float) -> None:
        """Work out and keep the drift of the model's last complete step of each of ``drifts.KEPT_STEPS``
        (those the dashboard reads), unless this was done already; the aggregator calls this after each
        round of rollups."""
        spec = self.registry.get(model)
        if spec is None or spec.baseline is None:
            return
        res = spec.window.total_seconds()
        for step in KEPT_STEPS:
            if step % res:
                continue
            last = math.floor((now - GRACE) / step) * step - step
            if self._kept_steps.get((model, step)) == last:
                continue
            self.series(model, ["drift_share"], last, last + step, step)
            self._kept_steps[(model, step)] = last

    def _step_drift(
        self,
        model: str,
        version: str | None,
        step: float,
        start: float,
        window: WindowState | None,
        baseline: BaselineRef | None,
        settings: str,
    ) -> Drift | None:
        """The drift of one step: kept numbers when there are, else worked out (and kept if complete)."""
        if baseline is None or window is None:
            return None
        stamp = Stamp(window.events, baseline.digest, settings)
        found, drift = self.kept.read(model, version, step, start, stamp)
        if not found:
            profile = baseline.profile()
            drift = window_drift(profile, window, self._spec(model)) if profile is not None else None
            self.kept.keep(model, version, step, start, stamp, drift)
        return drift

    def _baseline_ref(self, model: str, spec: ModelSpec) -> BaselineRef | None:
        """The model's baseline as drift reads it: its digest now, its profile when a step is compared (a
        baseline file's profile, kept in the store, is then decoded only if some step's drift is not kept
        already)."""
        if spec.baseline is None:
            return None
        if spec.baseline.file is not None and spec.baseline.predictions is None:
            digest = self.baselines.file_digest(model)
            if digest is None:
                return None
            return BaselineRef(digest, partial(self.baselines.file_profile, model))
        profile = baseline_profile(self.baselines, model, spec, self.merged)
        if profile is None:
            return None
        return BaselineRef(self.kept.profile_digest(profile), lambda: profile)

    def _settings(self, spec: ModelSpec) -> str:
        return self.kept.settings(spec, lambda: model_config(spec).model_dump_json().encode())

    def _spec(self, model: str) -> ModelSpec:
        spec = self.registry.get(model)
        if spec is None:
            raise KeyError(model)
        return spec


class Reading(NamedTuple):
    """One step of a metric: its start, its value, and what a label metric's figure rests on."""

    start: float
    value: float | None
    support: Support | None = None


_T = TypeVar("_T")


def _once(compute: Callable[[], _T]) -> Callable[[], _T]:
    """``compute`` run on the first call only (a step's drift serves every drift metric)."""
    done: list[_T] = []

    def read() -> _T:
        if not done:
            done.append(compute())
        return done[0]

    return read


_BINARY = {"0": 0, "1": 1}


def _wire(row: dict[str, Any], task: str) -> dict[str, Any]:
    """A stored row back in the shape it was sent in (features and segments as maps; a binary model's
    predictions 0 and 1 as numbers: they are kept as class labels, ``True`` and ``1`` as ``"1"``)."""
    out: dict[str, Any] = {"features": {}, "segments": {}}
    for name, value in row.items():
        if name == "ts":
            out["timestamp"] = format_time(value, digits=6)
        elif name == PREDICTION:
            out["prediction"] = _BINARY.get(value, value) if task == "binary" else value
        elif name == SCORE:
            out["score"] = value
        elif name == "probabilities":
            out["probabilities"] = orjson.loads(value)
        elif name.startswith(SEGMENT_PREFIX):
            out["segments"][name[len(SEGMENT_PREFIX) :]] = value
        elif name in SERVICE_COLUMNS:
            out[name] = value
        else:
            out["features"][name] = value
    return out
