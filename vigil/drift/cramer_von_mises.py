"""Two-sample Cramér–von Mises test: the mean squared gap between the CDFs over the pooled sample.

Unlike KS it weighs the whole distribution, not one point, so it is less jumpy on large samples.
Effect size: the root-mean-square CDF gap, sqrt(T (n + m) / (n m)), in [0, 1]; for a normal shift it is
about 0.76 × the KS D. On raw values it is ``scipy.stats.cramervonmises_2samp``. On sketches every value
is placed at its bucket's upper edge (so each gap is off by at most the bucket's share) and the p-value
comes from the same limiting distribution scipy uses for large samples (Anderson 1962; Csörgő & Faraway
1996 for the series).
"""

from __future__ import annotations

import math

import numpy as np

from vigil.drift.base import Buckets, FloatArray, Outcome

__all__ = ["cvm_buckets", "cvm_values", "limiting_sf"]


def cvm_values(reference: FloatArray, current: FloatArray) -> Outcome:
    from scipy import stats  # deferred: importing scipy.stats costs most of a second; only raw values need it

    res = stats.cramervonmises_2samp(reference, current)
    t = float(res.statistic)
    return Outcome(t, float(res.pvalue), _effect(t, reference.size, current.size))


def cvm_buckets(b: Buckets) -> Outcome:
    n, m = b.n_reference, b.n_current
    if n == 0 or m == 0:
        return Outcome(0.0, 1.0, 0.0)
    r, c = b.cdfs()
    gap2 = (r[1:] - c[1:]) ** 2
    t = float(n * m / (n + m) ** 2 * np.sum((b.reference + b.current) * gap2))
    return Outcome(t, _p_value(t, n, m), _effect(t, n, m), b.max_bucket_share())


def _effect(t: float, n: int, m: int) -> float:
    return math.sqrt(max(t, 0.0) * (n + m) / (n * m)) if n and m else 0.0


def _p_value(t: float, n: int, m: int) -> float:
    """Large-sample p-value: standardise T by its exact mean and variance, then the limiting law."""
    big_n, k = n + m, n * m
    mean = (1 + 1 / big_n) / 6
    var = (big_n + 1) * (4 * k * big_n - 3 * (n * n + m * m) - 2 * k) / (45 * big_n * big_n * 4 * k)
    tn = 1 / 6 + (t - mean) / math.sqrt(45 * var)
    return min(max(limiting_sf(tn), 0.0), 1.0)


def limiting_sf(x: float) -> float:
    """P(W > x) for the limiting Cramér–von Mises distribution W (series in modified Bessel K_1/4)."""
    if x <= 0:
        return 1.0
    from scipy import special  # deferred: a quarter second to import, for a method that is not a default

    cdf, k = 0.0, 0
    while True:
        y = 4 * k + 1
        q = y * y / (16 * x)
        coef = math.exp(special.gammaln(k + 0.5) - special.gammaln(k + 1)) / (math.pi**1.5 * math.sqrt(x))
        term = float(coef * math.sqrt(y) * math.exp(-q) * special.kv(0.25, q))
        cdf += term
        k += 1
        if abs(term) < 1e-12 or k > 200:
            break
    return 1.0 - cdf
