"""Jensen–Shannon distance (base 2, so in [0, 1]) between the two distributions over shared bins.

It is the square root of the JS divergence, a metric, finite even where one side has an empty bin.
The arithmetic is that of ``scipy.spatial.distance.jensenshannon`` (relative-entropy terms, zero where a
share is zero), without importing scipy, which is slow to import.
"""

from __future__ import annotations

import math

import numpy as np

from vigil.drift.base import Counts

__all__ = ["jensen_shannon_counts"]


def jensen_shannon_counts(counts: Counts) -> float:
    if not counts.reference.sum() or not counts.current.sum():
        return math.nan  # no distribution on one side (scipy's answer too)
    r, c = counts.shares()
    m = (r + c) / 2.0
    divergence = (_relative_entropy(r, m) + _relative_entropy(c, m)) / math.log(2.0)
    return math.sqrt(max(divergence, 0.0) / 2.0)


def _relative_entropy(p: np.ndarray, m: np.ndarray) -> float:
    """sum p log(p / m), terms with p = 0 counting 0 (m > 0 wherever p > 0 here: m is the mixture)."""
    has = p > 0
    return float(np.sum(p[has] * np.log(p[has] / m[has])))
