"""Anomaly scores: a robust z-score of a value against its own history, plain or seasonal.

Pure numpy functions, no I/O; ``vigil.alerting.evaluate.round`` reads the history and calls them.

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

import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["MAD_SCALE", "MEAN_AD_SCALE", "RobustZ", "lagged", "robust_z", "seasonal_lags"]

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
