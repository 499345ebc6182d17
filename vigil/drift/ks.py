"""Two-sample Kolmogorov–Smirnov test: the largest gap between the two empirical CDFs.

Effect size: the statistic D itself, in [0, 1] ("the CDFs differ by at most D").
On raw values it is ``scipy.stats.ks_2samp``. On sketches D is read at the shared bucket edges, where both
CDFs are exact, so ``D_edges <= D <= D_edges + max bucket share``; the p-value uses scipy's distribution
``kstwo`` at ``en = round(n m / (n + m))``, as ``ks_2samp(method="asymp")`` does, up to ``en`` = 10,000.
Beyond, it uses the Kolmogorov limit ``kstwobign`` at ``D sqrt(en)`` (``tails.kolmogorov_sf``):
``kstwo`` then takes up to a second per column, and the two differ by under 1% (relative) wherever
p > 1e-10.

``scipy.stats`` is imported only where it is used (raw values, small samples): it costs most of a second,
which a report on large tables otherwise need not pay.
"""

from __future__ import annotations

import numpy as np

from vigil.drift.base import Buckets, FloatArray, Outcome
from vigil.drift.tails import kolmogorov_sf

__all__ = ["ks_buckets", "ks_values", "p_value"]

_EXACT_UP_TO = 10_000


def ks_values(reference: FloatArray, current: FloatArray) -> Outcome:
    """Exact test on raw values (nulls removed by the caller)."""
    from scipy import stats  # deferred: heavy to import (see the module docstring)

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
    if en > _EXACT_UP_TO:
        p = kolmogorov_sf(d * float(np.sqrt(en)))
    else:
        from scipy import stats  # deferred: heavy to import (see the module docstring)

        p = stats.kstwo.sf(d, en)
    return float(np.clip(p, 0.0, 1.0))
