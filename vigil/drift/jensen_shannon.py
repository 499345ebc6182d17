"""Jensen–Shannon distance (base 2, so in [0, 1]) between the two distributions over shared bins.

It is the square root of the JS divergence, a metric, finite even where one side has an empty bin.
``scipy.spatial.distance.jensenshannon`` does the arithmetic.
"""

from __future__ import annotations

from scipy.spatial import distance

from vigil.drift.base import Counts

__all__ = ["jensen_shannon_counts"]


def jensen_shannon_counts(counts: Counts) -> float:
    r, c = counts.shares()
    return float(distance.jensenshannon(r, c, base=2.0))
