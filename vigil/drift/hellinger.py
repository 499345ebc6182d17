"""Hellinger distance over shared bins: sqrt(1 - sum sqrt(p q)), in [0, 1] (1 = disjoint supports).

>>> import numpy as np
>>> from vigil.drift.base import Counts
>>> hellinger_counts(Counts(["a", "b"], np.array([1.0, 0.0]), np.array([0.0, 1.0])))
1.0
"""

from __future__ import annotations

import math

import numpy as np

from vigil.drift.base import Counts

__all__ = ["hellinger_counts"]


def hellinger_counts(counts: Counts) -> float:
    r, c = counts.shares()
    bc = float(np.sum(np.sqrt(r * c)))
    return math.sqrt(max(0.0, 1.0 - bc))
