"""Chi-square test of homogeneity on category (or bin) counts: ``scipy.stats.chi2_contingency``.

Effect size: Cramér's V = sqrt(chi2 / N) for the 2 × k table (0 = same mix, 1 = disjoint), which does not
grow with the sample size the way chi2 does. Categories absent from both samples are left out; with one
category in all there is nothing to test (p = 1).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from vigil.drift.base import Counts, Outcome

__all__ = ["chi2_counts"]


def chi2_counts(counts: Counts) -> Outcome:
    table = np.vstack([counts.reference, counts.current])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return Outcome(0.0, 1.0, 0.0)
    res = stats.chi2_contingency(table)
    chi2 = float(res.statistic)
    return Outcome(chi2, float(res.pvalue), math.sqrt(chi2 / table.sum()))
