"""Two-sample Kolmogorov–Smirnov test: the largest gap between the two empirical CDFs.

Effect size: the statistic D itself, in [0, 1] ("the CDFs differ by at most D").
On raw values it is ``scipy.stats.ks_2samp``. On sketches D is read at the shared bucket edges, where both
CDFs are exact, so ``D_edges <= D <= D_edges + max bucket share``; the p-value uses scipy's asymptotic
distribution ``kstwo`` at ``round(n m / (n + m))``, as ``ks_2samp(method="asymp")`` does.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from vigil.drift.base import Buckets, FloatArray, Outcome

__all__ = ["ks_buckets", "ks_values", "p_value"]


def ks_values(reference: FloatArray, current: FloatArray) -> Outcome:
    """Exact test on raw values (nulls removed by the caller)."""
    res = stats.ks_2samp(reference, current)
    return Outcome(float(res.statistic), float(res.pvalue), float(res.statistic))


def ks_buckets(b: Buckets) -> Outcome:
    """Test on aligned sketch buckets; see the module docstring for the bound."""
    r, c = b.cdfs()
    d = float(np.max(np.abs(r - c)))
    return Outcome(d, p_value(d, b.n_reference, b.n_current), d, b.max_bucket_share())


def p_value(d: float, n: int, m: int) -> float:
    """Asymptotic two-sided p-value of D for samples of sizes n and m."""
    if n == 0 or m == 0:
        return 1.0
    en = round(n * m / (n + m))
    return float(np.clip(stats.kstwo.sf(d, en), 0.0, 1.0))
