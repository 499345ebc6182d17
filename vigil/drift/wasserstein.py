"""Wasserstein-1 (earth mover's) distance, divided by the reference's standard deviation.

The normalised value reads "the current data moved by this many reference standard deviations": a shift of
the mean by 0.5 sd gives 0.5. On raw values it is ``scipy.stats.wasserstein_distance``. On sketches the
integral of |F_ref - F_cur| is taken with both CDFs linear inside each bucket; each true CDF stays within
its bucket's share of that line, so the error is at most sum(width_i * max share_i) / sd (reported).
"""

from __future__ import annotations

import math

import numpy as np

from vigil.drift.base import Buckets, FloatArray, Outcome

__all__ = ["wasserstein_buckets", "wasserstein_values"]


def wasserstein_values(reference: FloatArray, current: FloatArray, reference_std: float) -> Outcome:
    from scipy import stats  # deferred: importing scipy.stats costs most of a second; only raw values need it

    w = float(stats.wasserstein_distance(reference, current))
    return Outcome(w, None, _normalise(w, reference_std))


def wasserstein_buckets(b: Buckets, reference_std: float) -> Outcome:
    r, c = b.cdfs()
    d = r - c
    width = np.diff(b.edges)
    a, z = d[:-1], d[1:]
    same_sign = a * z >= 0
    absum = np.abs(a) + np.abs(z)
    # integral of |linear function| over each bucket, with or without a zero crossing inside it
    crossing = (a * a + z * z) / (2.0 * np.where(absum > 0, absum, 1.0))
    area = np.where(same_sign, (np.abs(a) + np.abs(z)) / 2.0, crossing) * width
    w = float(area.sum())
    share = np.maximum(b.reference / max(b.n_reference, 1), b.current / max(b.n_current, 1))
    bound = float(np.sum(width * share))
    return Outcome(w, None, _normalise(w, reference_std), _normalise(bound, reference_std))


def _normalise(w: float, sd: float) -> float:
    """W / sd; a constant reference (sd 0) has no spread to measure by, so W is left in the data's units."""
    if not math.isfinite(sd) or sd <= 0:
        return w
    return w / sd
