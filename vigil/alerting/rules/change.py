"""``change``: a sequential change detector (:mod:`vigil.detectors`) over the metric's per-window series.

The rule reads its metric in steps of its window (``window``, rounded up to the model's resolution) from a
start on a fixed grid, ``s = floor(end / history) × history - history`` (so 1 to 2 × ``history`` of
steps, 7d by default), skips steps without a value and replays ``detector`` (``page_hinkley``, the
default, ``cusum`` or ``adwin``) over them:

* the first ``warmup`` values (20 by default) set the level m and scale σ (their mean and standard
  deviation; 1% of |m|, or 1, when they are all equal) and the detector reads ``(x - m) / σ``, so that
  ``arl`` means the same for every detector: the mean number of steps between false alarms on an
  in-control series (i.i.d. after that standardisation; :mod:`vigil.detectors`' docstrings give each one's
  figures, and how heavy-tailed or skewed series such as error rates of a few events depart from them).
  The warm-up's estimates are noisy, which spreads the run lengths: simulated over 10^6 steps of i.i.d.
  N(0, 1) at ``arl: 10000`` with restarts as below, the mean run between false alarms is 45,000 steps
  (page_hinkley), 43,000 (cusum) and 9,700 (adwin), but a run that starts with an underestimated scale
  alarms early; a longer ``warmup`` narrows the spread (page_hinkley: 23,000 at 50, 13,000 at 100);
* at a detection the change point is estimated (:func:`vigil.detectors.locate.change_point` over the
  values since the last restart) and the replay restarts after the detection with a new warm-up: the
  new level is the normal one from then on.

The rule breaches (at ``severity``, warning unless set) while the latest detection lies within ``hold``
(1h by default) of the end of the window: "change detected at <time>", with the estimated change point
(``change_at``) and the detection time (``detected_at``) as annotations, the level before the change as
the baseline, and the dashboard link starting before the change point.

**Why a replay, not stored detector state.** A rule's evaluation is a pure function of the stored metric
series and the time (:mod:`vigil.alerting.evaluate.round`): replaying the detector from a start fixed by
the time gives the same detections on every server, after any restart, and in ``/rules/replay`` alike,
without a write per evaluation; a restart loses nothing because the series is in the store. The cost is
one pass of the detector over at most 2 × ``history`` / ``window`` steps (4,032 for 5m and 7d: well under
a millisecond in numpy) per evaluation, through the engine's series cache. Where the start moves on (every
``history``), detections older than the new start are forgotten; a detection within ``hold`` of the end is
never older than that.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Annotated, ClassVar, Literal

import numpy as np
from pydantic import Field, model_validator

from vigil.alerting.evaluate.window import Window
from vigil.alerting.rules.base import Duration, Evaluation, MetricRule, fmt, problem, span
from vigil.alerting.state import Severity
from vigil.detectors import ADWIN, CUSUM, Detector, PageHinkley
from vigil.detectors.locate import change_point
from vigil.timefmt import format_time

__all__ = ["DETECTORS", "MAX_HISTORY_WINDOWS", "Change", "ChangeRule", "detect"]

MAX_HISTORY_WINDOWS = 10_000
"""The most windows ``history`` may hold: a replay reads up to twice that, within ``Query.series``' limit."""

DETECTORS = ("page_hinkley", "cusum", "adwin")
"""The detectors a change rule may run."""


def _detector(name: str, arl: float) -> Detector:
    if name == "cusum":
        return CUSUM(arl)
    if name == "adwin":
        return ADWIN(arl=arl)
    return PageHinkley(arl)


class Change:
    """One detection on a replayed series: the step it was detected at, the estimated first step of the
    new level, and the mean level before it."""

    __slots__ = ("change_at", "detected_at", "level_before")

    def __init__(self, detected_at: float, change_at: float, level_before: float) -> None:
        self.detected_at = detected_at
        self.change_at = change_at
        self.level_before = level_before


def detect(times: np.ndarray, values: np.ndarray, detector: str, arl: float, warmup: int) -> list[Change]:
    """The changes ``detector`` finds in ``values`` (finite, at ``times``), replayed as the module
    docstring says: a warm-up sets level and scale, and each detection restarts it."""
    found: list[Change] = []
    at = 0
    while at + warmup < values.shape[0]:
        head = values[at : at + warmup]
        level = float(np.mean(head))
        sd = float(np.std(head, ddof=1)) if warmup > 1 else 0.0
        scale = sd if sd > 0 else (0.01 * abs(level) or 1.0)
        hits = _detector(detector, arl).update((values[at + warmup :] - level) / scale)
        if hits.size == 0:
            break
        hit = at + warmup + int(hits[0])
        since = values[at : hit + 1]
        cp = at + change_point(since, min_size=2)  # the detection comes soon after: a short new side
        found.append(Change(float(times[hit]), float(times[cp]), float(np.mean(values[at:cp]))))
        at = hit + 1
    return found


class ChangeRule(MetricRule):
    REFUSED: ClassVar[dict[str, tuple[str, str]]] = {
        "op": ("change rules watch both directions", "remove op"),
        "warning": ("change rules have no levels: the detector decides", "use arl to trade delay for quiet"),
        "critical": ("change rules have no levels: the detector decides", "use severity: critical"),
        "baseline_window": ("change rules replay over history", "use history: e.g. 7d"),
    }

    kind: Literal["change"] = "change"
    detector: Literal["page_hinkley", "cusum", "adwin"] = "page_hinkley"
    arl: Annotated[float, Field(gt=1)] = 10_000
    """Mean steps between false alarms on an in-control series (the one setting of every detector)."""
    history: Duration = timedelta(days=7)
    warmup: Annotated[int, Field(ge=3)] = 20
    hold: Duration = timedelta(hours=1)
    severity: Severity = Severity.WARNING

    @model_validator(mode="after")
    def _check_spans(self) -> ChangeRule:
        if self.sliding:
            raise problem("sliding", "change rules read whole steps of their window", "remove sliding")
        if self.history < (self.warmup + 10) * self.window:
            raise problem(
                "history",
                f"history ({span(self.history)}) must hold warmup + 10 = {self.warmup + 10} windows of "
                f"{span(self.window)}",
                f"use e.g. history: {span(max(timedelta(days=7), (self.warmup + 10) * self.window))}",
            )
        longest = MAX_HISTORY_WINDOWS * self.window
        if self.history > longest:
            raise problem(
                "history",
                f"history ({span(self.history)}) holds more than {MAX_HISTORY_WINDOWS} windows of "
                f"{span(self.window)} (the replay reads up to twice history)",
                f"shorten history (e.g. history: {span(longest)}) or lengthen window",
            )
        if self.hold < self.window:
            raise problem("hold", "hold must be at least one window", f"use e.g. hold: {span(self.window)}")
        return self

    @property
    def severities(self) -> tuple[Severity, ...]:
        return (self.severity,)

    def condition(self) -> str:
        """``error_rate changes (page_hinkley, one false alarm per 10000 steps of 5m, held 1h)``."""
        return (
            f"{self.metric} changes ({self.detector}, one false alarm per {self.arl:g} steps of "
            f"{span(self.window)}, held {span(self.hold)})"
        )

    def breached(self, value: float | None, baseline: float | None = None) -> Severity | None:
        """For change rules ``value`` is the age of the latest detection in seconds (None: none)."""
        if value is None or math.isnan(value):
            return None
        return self.severity if value < self.hold.total_seconds() else None

    def changes(self, window: Window) -> tuple[float | None, list[Change]]:
        """The window's value and every change detected over the replay."""
        h = self.history.total_seconds()
        first = math.floor(window.end / h) * h - h
        lo = window.end - math.ceil((window.end - first) / window.width) * window.width
        points = [(t, v) for t, v in window.read(lo, window.end) if v is not None and math.isfinite(v)]
        value = points[-1][1] if points and points[-1][0] == window.start else None
        if not points:
            return value, []
        times = np.array([t for t, _ in points])
        values = np.array([v for _, v in points])
        return value, detect(times, values, self.detector, self.arl, self.warmup)

    def judge(self, window: Window) -> Evaluation:
        value, found = self.changes(window)
        if not found:
            return Evaluation(self, window.model, window.start, window.end, value, None, None, None)
        last = found[-1]
        breached = self.breached(window.end - (last.detected_at + window.width))
        return Evaluation(
            self,
            window.model,
            window.start,
            window.end,
            value,
            last.level_before,
            None,
            breached,
            points=len(found),
            change_at=last.change_at,
            detected_at=last.detected_at,
        )

    def describe(self, ev: Evaluation, where: str) -> tuple[str, dict[str, str]]:
        if ev.change_at is None or ev.detected_at is None:
            what = f"{self.metric} of {where} is {fmt(ev.value)}; no change detected ({self.detector})"
            return what, {"detector": self.detector}
        what = (
            f"{self.metric} of {where}: change detected at {format_time(ev.detected_at)}, starting "
            f"{format_time(ev.change_at)} (level before {fmt(ev.baseline)}, now {fmt(ev.value)}; "
            f"{self.detector}, one false alarm per {self.arl:g} steps)"
        )
        notes = {
            "change_at": format_time(ev.change_at),
            "detected_at": format_time(ev.detected_at),
            "detector": self.detector,
            "level_before": fmt(ev.baseline),
        }
        return what, notes

    def dashboard(self, ev: Evaluation) -> tuple[str, float, float]:
        metric, start, step = super().dashboard(ev)
        if ev.change_at is not None:
            start = min(start, ev.change_at - 6 * step)
        return metric, start, step
