"""``anomaly``: the robust z-score of the value against the same metric's own history, plain or seasonal.

The rule: the history is every window of the trailing ``baseline_window`` (7d by default) before the
evaluation window; with ``seasonality`` ``S`` (e.g. ``1d`` or ``1w``) only the steps starting within one
window of ``start - j × S`` for ``j = 1 .. baseline_window / S`` (3 per season). ``warning`` and ``critical``
are z levels (3.5 and 5 when neither is given; give one to alert at that level only); ``direction: up``
breaches when z > level, ``down`` when z < -level, ``both`` (the default) when |z| > level. No breach before
``min_baseline_points`` history windows have a value. The evaluation's ``baseline`` is the history's median
and its ``threshold`` the metric value at the level shown (``median ± level × scale``, on the side of the
value for ``direction: both``).

The score, pure numpy:

* :func:`robust_z`: ``z = (x - median) / scale`` over a history row, where ``scale = 1.4826 × MAD`` (the
  median absolute deviation from the median; 1.4826 makes it estimate σ for normal data). Vectorised: one
  value per row of a 2-D history, NaN marking missing points.
* **MAD = 0** (more than half the history is one value, e.g. an error rate that is usually exactly 0):
  ``scale = 1.2533 × mean absolute deviation from the median`` (√(π/2) makes it estimate σ for normal data;
  the "modified z-score" fallback). When that is 0 too (a constant history) the scale is 0 and
  ``z = 0`` if the value equals the constant, else ``±inf``: any departure from a history that never moved
  is as anomalous as it gets, so it breaches every level in its direction.
* No history point: everything is NaN (callers also wait for a minimum count).
* Seasonal history: :func:`seasonal_lags` gives, for a series with ``period`` steps per season, the lags of
  the same phase in each of the last ``seasons`` seasons and one step either side of it; :func:`lagged`
  builds the history matrix of a regular series for any lags (plain history: lags ``1..k``).

>>> scores = robust_z([10.0, 30.0], [[9, 10, 11, 10, 12], [9, 10, 11, 10, 12]])
>>> [round(float(z), 3) for z in scores.z], float(scores.median[0]), float(scores.mad[0])
([0.0, 13.49], 10.0, 1.0)
>>> float(robust_z([3.0], [[2.0, 2.0, 2.0]]).z[0])
inf
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, ClassVar, Literal

import numpy as np
import numpy.typing as npt
from pydantic import Field, model_validator

from vigil.alerting.evaluate.window import Window
from vigil.alerting.rules.base import (
    Duration,
    Evaluation,
    MetricRule,
    by_rank,
    finite,
    fmt,
    levels_of,
    problem,
    span,
)
from vigil.alerting.state import Severity
from vigil.timefmt import format_span

__all__ = [
    "ANOMALY_LEVELS",
    "MAD_SCALE",
    "MEAN_AD_SCALE",
    "AnomalyRule",
    "RobustZ",
    "lagged",
    "robust_z",
    "seasonal_lags",
]

ANOMALY_LEVELS = {Severity.WARNING: 3.5, Severity.CRITICAL: 5.0}
"""The z levels of an anomaly rule that gives neither ``warning`` nor ``critical``."""

MAD_SCALE = 1.4826
"""σ ≈ 1.4826 × MAD for normal data (1 / Φ⁻¹(3/4))."""
MEAN_AD_SCALE = 1.2533
"""σ ≈ 1.2533 × mean absolute deviation for normal data (√(π/2)); used when the MAD is 0."""

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class RobustZ:
    """Per value: ``z``, the history's ``median``, its ``mad`` (unscaled), the ``scale`` divided by
    (``MAD_SCALE × mad``, or the mean-absolute-deviation fallback, or 0 for a constant history) and the
    number of history ``points`` (non-NaN)."""

    z: Floats
    median: Floats
    mad: Floats
    scale: Floats
    points: npt.NDArray[np.int64]


def robust_z(values: npt.ArrayLike, history: npt.ArrayLike) -> RobustZ:
    """Robust z-scores of ``values`` (shape ``(n,)``) against the rows of ``history`` (shape ``(n, k)``,
    NaN = missing; a 1-D history is one row for a single value). See the module docstring for the exact
    definition, the MAD = 0 fallback and empty rows (NaN)."""
    x = np.atleast_1d(np.asarray(values, dtype=np.float64))
    h = np.asarray(history, dtype=np.float64)
    if h.ndim == 1:
        h = h[np.newaxis, :]
    if h.ndim != 2 or h.shape[0] != x.shape[0]:
        raise ValueError(f"history must have one row per value: got {h.shape} for {x.shape[0]} values")
    points = np.sum(~np.isnan(h), axis=1).astype(np.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: NaN is the answer
        median = np.nanmedian(h, axis=1) if h.shape[1] else np.full(x.shape, np.nan)
        deviation = np.abs(h - median[:, np.newaxis])
        mad = np.nanmedian(deviation, axis=1) if h.shape[1] else np.full(x.shape, np.nan)
        mean_ad = np.nanmean(deviation, axis=1) if h.shape[1] else np.full(x.shape, np.nan)
    scale = np.where(mad > 0, MAD_SCALE * mad, MEAN_AD_SCALE * mean_ad)
    diff = x - median
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(scale > 0, diff / scale, np.where(diff == 0, 0.0, np.sign(diff) * np.inf))
    z = np.where(points > 0, z, np.nan)
    return RobustZ(z.astype(np.float64), median, mad, scale, points)


def seasonal_lags(period: int, seasons: int, tolerance: int = 1) -> npt.NDArray[np.int64]:
    """Lags (in steps, ascending) of the same phase ``j × period`` for ``j = 1..seasons``, each with the
    ``tolerance`` steps either side: ``3 × seasons`` lags with the default tolerance of one step.

    >>> seasonal_lags(24, 2).tolist()
    [23, 24, 25, 47, 48, 49]
    """
    if not (period > 2 * tolerance and seasons >= 1 and tolerance >= 0):
        raise ValueError(
            f"need period > 2 × tolerance and seasons >= 1, got {period}, {seasons}, {tolerance}"
        )
    j = np.arange(1, seasons + 1, dtype=np.int64)[:, np.newaxis] * period
    d = np.arange(-tolerance, tolerance + 1, dtype=np.int64)[np.newaxis, :]
    return np.sort((j + d).ravel())


def lagged(values: npt.ArrayLike, lags: npt.ArrayLike) -> Floats:
    """The history matrix of a regular series: row ``i`` holds ``values[i - lag]`` for each lag (NaN before
    the series starts). With ``lags = 1..k`` that is the plain trailing history of ``k`` steps.

    >>> lagged([1.0, 2.0, 3.0], [1, 2]).tolist()
    [[nan, nan], [1.0, nan], [2.0, 1.0]]
    """
    v = np.asarray(values, dtype=np.float64)
    lag = np.asarray(lags, dtype=np.int64)
    if np.any(lag < 1):
        raise ValueError("lags must be >= 1 (a value is never its own history)")
    idx = np.arange(v.shape[0])[:, np.newaxis] - lag[np.newaxis, :]
    out = np.full(idx.shape, np.nan)
    ok = idx >= 0
    out[ok] = v[idx[ok]]
    return out


# -- the rule ----------------------------------------------------------------------------------------------


class AnomalyRule(MetricRule):
    REFUSED: ClassVar[Mapping[str, tuple[str, str]]] = {
        "op": ("anomaly rules have no op", "use direction: up, down or both"),
        "baseline": ("anomaly rules compare with the median (a robust z-score)", "remove baseline"),
    }

    kind: Literal["anomaly"] = "anomaly"
    warning: float | None = None
    critical: float | None = None
    direction: Literal["up", "down", "both"] = "both"
    seasonality: Duration | None = None
    baseline_window: Duration = timedelta(days=7)
    min_baseline_points: Annotated[int, Field(ge=1)] = 5

    @model_validator(mode="after")
    def _check_history(self) -> AnomalyRule:
        if self.warning is None and self.critical is None:
            object.__setattr__(self, "warning", ANOMALY_LEVELS[Severity.WARNING])
            object.__setattr__(self, "critical", ANOMALY_LEVELS[Severity.CRITICAL])
        for key in ("warning", "critical"):
            level = getattr(self, key)
            if level is not None and not level > 0:
                raise problem(key, f"{key} is a z level and must be > 0 (got {level:g})", "use e.g. 3.5")
        if self.warning is not None and self.critical is not None and not self.warning < self.critical:
            raise problem(
                "warning",
                f"warning ({self.warning:g}) must be below critical ({self.critical:g})",
                "lower warning or raise critical",
            )
        if self.baseline_window <= self.window:
            raise problem(
                "baseline_window",
                "baseline_window must be longer than window",
                "use e.g. baseline_window: 7d",
            )
        season = self.seasonality
        baseline, window = (format_span(d, weeks=True) for d in (self.baseline_window, self.window))
        if season is None:
            points = int(self.baseline_window / self.window)
            where = f"baseline_window {baseline} holds {points} windows of {window}"
        else:
            if season < 3 * self.window:
                raise problem(
                    "seasonality",
                    f"seasonality ({format_span(season, weeks=True)}) must be at least 3 windows "
                    f"({format_span(3 * self.window, weeks=True)})",
                    "use e.g. seasonality: 1d",
                )
            if self.baseline_window < season:
                raise problem(
                    "baseline_window",
                    f"baseline_window ({baseline}) must hold at least one season "
                    f"({format_span(season, weeks=True)})",
                    f"use e.g. baseline_window: {format_span(4 * season, weeks=True)}",
                )
            points = 3 * self.seasons
            where = f"{self.seasons} season(s) of {format_span(season, weeks=True)} give {points} windows"
        if points < self.min_baseline_points:
            raise problem(
                "baseline_window",
                f"{where}, fewer than min_baseline_points ({self.min_baseline_points}): it could never alert",
                "lengthen baseline_window or lower min_baseline_points",
            )
        return self

    @property
    def seasons(self) -> int:
        """How many past seasons a seasonal rule compares with: floor(baseline_window / seasonality)
        (0 without seasonality)."""
        return int(self.baseline_window // self.seasonality) if self.seasonality else 0

    @property
    def lower_is_worse(self) -> bool:
        return self.direction == "down"

    def levels(self) -> dict[Severity, float]:
        """The z levels, by severity."""
        return levels_of(self.warning, self.critical)

    @property
    def severities(self) -> tuple[Severity, ...]:
        return by_rank(self.levels())

    def condition(self) -> str:
        """``throughput robust z < -3.5 warning, < -5 critical over 7d (seasonality 1d)``."""
        side = "< -" if self.direction == "down" else "> "
        levels = ", ".join(f"{side}{z:g} {s.value}" for s, z in self.levels().items())
        z = "|robust z|" if self.direction == "both" else "robust z"
        season = f", seasonality {span(self.seasonality)}" if self.seasonality else ""
        return f"{self.metric} {z} {levels} over {span(self.baseline_window)}{season}"

    def breached_z(self, z: float | None) -> Severity | None:
        """The severity a z-score gives: the highest level passed (strictly) in the rule's direction; None
        for no z (NaN included)."""
        if z is None or math.isnan(z):
            return None
        signed = z if self.direction == "up" else -z if self.direction == "down" else abs(z)
        for level in (Severity.CRITICAL, Severity.WARNING):
            limit = self.levels().get(level)
            if limit is not None and signed > limit:
                return level
        return None

    def breached(self, value: float | None, baseline: float | None = None) -> Severity | None:
        """For anomaly rules ``value`` is the z-score: see :meth:`breached_z`."""
        return self.breached_z(value) if finite(value) else None

    def history(self, window: Window) -> tuple[float | None, list[float]]:
        """The value of ``window`` and the finite history values it is scored against."""
        if self.seasonality is None:
            return window.trailing(self.baseline_window)
        value = window.value()
        width, season = window.width, self.seasonality.total_seconds()
        history: list[float] = []
        for j in range(1, self.seasons + 1):
            phase = math.floor((window.start - j * season) / width) * width  # the whole step holding it
            history.extend(
                v
                for t, v in window.read(phase - width, phase + 2 * width)
                if abs(t - phase) <= width and v is not None and math.isfinite(v)
            )
        return value, history

    def judge(self, window: Window) -> Evaluation:
        model, start, end = window.model, window.start, window.end
        value, history = self.history(window)
        if value is None or not math.isfinite(value) or len(history) < self.min_baseline_points:
            return Evaluation(self, model, start, end, value, None, None, None, points=len(history))
        scores = robust_z([value], [history])
        z, median = float(scores.z[0]), float(scores.median[0])
        mad, scale = float(scores.mad[0]), float(scores.scale[0])
        breached = self.breached_z(z)
        levels = self.levels()
        shown = breached or (Severity.WARNING if Severity.WARNING in levels else Severity.CRITICAL)
        up = self.direction == "up" or (self.direction == "both" and value >= median)
        threshold = median + (1 if up else -1) * levels[shown] * scale
        return Evaluation(
            self, model, start, end, value, median, threshold, breached, z, mad, scale, len(history)
        )

    def describe(self, ev: Evaluation, where: str) -> tuple[str, dict[str, str]]:
        against = (
            f"the same phase of the last {self.seasons} seasons of {format_span(self.seasonality)}"
            if self.seasonality is not None
            else f"the last {format_span(self.baseline_window)}"
        )
        if ev.z is None:
            seen = ev.points or 0
            what = f"{self.metric} of {where} is {fmt(ev.value)}; {seen} history windows over {against}"
            return what, {"baseline_points": str(ev.points or 0)}
        what = (
            f"{self.metric} of {where} is {fmt(ev.value)}: z = {ev.z:+.3g} against the median "
            f"{fmt(ev.baseline)} (MAD {fmt(ev.mad)}, scale {fmt(ev.scale)}) of {ev.points} windows over "
            f"{against}"
        )
        notes = {
            "z": f"{ev.z:.4g}",
            "median": fmt(ev.baseline),
            "mad": fmt(ev.mad),
            "scale": fmt(ev.scale),
            "baseline_points": str(ev.points),
        }
        if self.seasonality is not None:
            notes["seasonality"] = format_span(self.seasonality)  # as annotations write it: 7d, not 1w
        return what, notes
