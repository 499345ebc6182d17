"""Chi-square test of homogeneity on category (or bin) counts, as ``scipy.stats.chi2_contingency`` computes it
(Yates' continuity correction when there is one degree of freedom), with the p-value of ``tails.chi2_sf``:
importing scipy would cost a command line run most of a second.

Effect size: Cramér's V = sqrt(chi2 / N) for the 2 × k table (0 = same mix, 1 = disjoint), which does not
grow with the sample size the way chi2 does. Categories absent from both samples are left out; with one
category in all there is nothing to test (p = 1).
"""

from __future__ import annotations

import math

import numpy as np

from vigil.drift.base import Counts, Outcome
from vigil.drift.tails import chi2_sf

__all__ = ["chi2_counts"]


def chi2_counts(counts: Counts) -> Outcome:
    table = np.vstack([counts.reference, counts.current])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return Outcome(0.0, 1.0, 0.0)
    chi2, dof = _statistic(table)
    return Outcome(chi2, chi2_sf(chi2, dof), math.sqrt(chi2 / table.sum()))


def _statistic(observed: np.ndarray) -> tuple[float, int]:
    """Pearson's chi-square of a 2 × k table with positive margins, and its degrees of freedom."""
    total = observed.sum()
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / total
    dof = (observed.shape[0] - 1) * (observed.shape[1] - 1)
    if dof == 1:  # Yates: move each count half a unit towards its expectation (never past it)
        diff = expected - observed
        observed = observed + np.sign(diff) * np.minimum(0.5, np.abs(diff))
    return float(np.sum((observed - expected) ** 2 / expected)), dof
