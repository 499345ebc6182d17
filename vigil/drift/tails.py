"""Upper-tail probabilities of the chi-square and Kolmogorov distributions, from their classic series.

They give the p-values of the default tests (chi-square, and KS on large samples) with ``math`` alone:
``scipy.special`` would cost every ``vigil report`` about a quarter of a second to import (it brings in
numpy's f2py and testing packages). Both agree with ``scipy.special`` to 1e-11 relative wherever the
probability is above 1e-300 (checked in the tests).
"""

from __future__ import annotations

import math

__all__ = ["chi2_sf", "kolmogorov_sf"]


def chi2_sf(x: float, dof: int) -> float:
    """P(X > x) for X chi-square with ``dof`` (a positive integer) degrees of freedom.

    Closed forms for whole degrees of freedom (Abramowitz & Stegun 26.4.4 and 26.4.5): for even ``dof``,
    ``exp(-x/2)`` times the first ``dof/2`` terms of the series of ``exp(x/2)``; for odd ``dof``,
    ``erfc(sqrt(x/2))`` plus a similar sum. Terms are positive and summed in order, so the value keeps its
    relative accuracy far into the tail.
    """
    if dof < 1 or dof != int(dof):
        raise ValueError(f"degrees of freedom must be a positive integer, got {dof}")
    if x <= 0:
        return 1.0
    half = x / 2.0
    if dof % 2 == 0:
        # exp(-h) * sum_{i < dof/2} h^i / i!
        return min(1.0, _poisson_tail(half, dof // 2))
    # erfc(sqrt(h)) + exp(-h) * sum_{i=1}^{(dof-1)/2} h^(i-1/2) / Gamma(i+1/2)
    total = math.erfc(math.sqrt(half))
    log_h = math.log(half)
    for i in range(1, (dof - 1) // 2 + 1):
        total += math.exp((i - 0.5) * log_h - half - math.lgamma(i + 0.5))
    return min(1.0, total)


def _poisson_tail(h: float, n: int) -> float:
    """exp(-h) * sum_{i=0}^{n-1} h^i / i! (each term in logs, so neither factor overflows)."""
    log_h = math.log(h)
    return math.fsum(math.exp(i * log_h - h - math.lgamma(i + 1.0)) for i in range(n))


def kolmogorov_sf(x: float) -> float:
    """P(K > x) for the Kolmogorov distribution (the limit of sqrt(n) D_n).

    For x >= 1: ``2 sum (-1)^(k-1) exp(-2 k^2 x^2)``, a few terms; below, one minus the theta-function form
    of the CDF, ``sqrt(2 pi) / x sum exp(-(2k-1)^2 pi^2 / (8 x^2))``, which converges fast there.
    """
    if x <= 0:
        return 1.0
    if x >= 1.0:
        total, k = 0.0, 1
        while True:
            term = math.exp(-2.0 * k * k * x * x)
            total += term if k % 2 else -term
            if term < 1e-300 or term < 1e-17 * total:
                return max(0.0, min(1.0, 2.0 * total))
            k += 1
    cdf, k = 0.0, 1
    while True:
        term = math.exp(-((2 * k - 1) ** 2) * math.pi**2 / (8.0 * x * x))
        cdf += term
        if term < 1e-17 * cdf or term == 0.0:
            break
        k += 1
    return max(0.0, min(1.0, 1.0 - math.sqrt(2.0 * math.pi) / x * cdf))
