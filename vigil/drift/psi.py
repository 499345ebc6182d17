"""Population Stability Index: sum over bins of (current - reference) share times ln(current / reference).

Read as: < 0.1 stable, 0.1–0.25 moderate shift, > 0.25 large shift (the credit-scoring convention).
Empty bins are floored at a share of ``EPSILON`` (1e-4) so that the logarithm stays finite.

>>> import numpy as np
>>> from vigil.drift.base import Counts
>>> round(psi_counts(Counts(["a", "b"], np.array([50.0, 50.0]), np.array([30.0, 70.0]))), 4)
0.1695
"""

from __future__ import annotations

import numpy as np

from vigil.drift.base import Counts

__all__ = ["EPSILON", "psi_counts"]

EPSILON = 1e-4


def psi_counts(counts: Counts) -> float:
    r, c = counts.shares()
    r, c = np.maximum(r, EPSILON), np.maximum(c, EPSILON)
    return float(np.sum((c - r) * np.log(c / r)))
