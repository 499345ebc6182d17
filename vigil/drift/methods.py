"""The registry of drift methods: which column kinds each applies to, its default effect threshold, and how
it runs on profiles (sketches) or on raw values (exact).

Every method answers a p-value, so that a flag needs both significance and a large enough effect: the
tests their own, the distances that of the chi-square test on the same bins (PSI, Jensen–Shannon,
Hellinger) or of KS (Wasserstein). See ``vigil.drift.decide`` for the rule and the defaults' reasoning.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from vigil.drift import align
from vigil.drift.base import Buckets, Counts, FloatArray, Outcome
from vigil.drift.chi2 import chi2_counts
from vigil.drift.cramer_von_mises import cvm_buckets, cvm_values
from vigil.drift.hellinger import hellinger_counts
from vigil.drift.jensen_shannon import jensen_shannon_counts
from vigil.drift.ks import ks_buckets, ks_values
from vigil.drift.psi import psi_counts
from vigil.drift.wasserstein import wasserstein_buckets, wasserstein_values
from vigil.stats.column import CategoricalProfile, ColumnProfile, NumericProfile

__all__ = ["METHODS", "Method", "Pair"]


@dataclass(frozen=True)
class Pair:
    """A column on both sides: profiles always, raw values (nulls dropped) when the exact path is asked."""

    reference: ColumnProfile
    current: ColumnProfile
    values: tuple[FloatArray, FloatArray] | None = None
    bins: int = 10

    @property
    def discrete(self) -> bool:
        """Both sides are categorical, or numeric with few enough values to compare value by value."""
        r, c = self.reference, self.current
        if isinstance(r, CategoricalProfile):
            return True
        return isinstance(c, NumericProfile) and r.is_discrete and c.is_discrete

    def counts(self) -> Counts:
        """Categories (or exact values) when discrete, else the reference's equal-mass bins."""
        if self.discrete:
            return align.categories(self.reference, self.current)
        if self.values is not None:
            return align.bins_from_values(*self.values, self.bins)
        return align.bins_from_buckets(self.buckets(), self.bins)

    def buckets(self) -> Buckets:
        """Both numeric sketches' buckets on one grid (``align.buckets``): what the sketch path of the
        distribution tests reads."""
        assert isinstance(self.reference, NumericProfile) and isinstance(self.current, NumericProfile)
        return align.buckets(self.reference, self.current)

    @property
    def reference_std(self) -> float:
        """The reference's standard deviation (numeric columns): the scale of the Wasserstein effect."""
        assert isinstance(self.reference, NumericProfile)
        return self.reference.moments.std


@dataclass(frozen=True)
class Method:
    name: str
    title: str
    numeric: bool
    categorical: bool
    threshold: float
    """Default threshold on the effect size."""
    run: Callable[[Pair], Outcome]

    def applies_to(self, pair: Pair) -> bool:
        if isinstance(pair.reference, CategoricalProfile):
            return self.categorical
        return self.numeric or (self.categorical and pair.discrete)


def _ks(p: Pair) -> Outcome:
    return ks_values(*p.values) if p.values is not None else ks_buckets(p.buckets())


def _cvm(p: Pair) -> Outcome:
    return cvm_values(*p.values) if p.values is not None else cvm_buckets(p.buckets())


def _wasserstein(p: Pair) -> Outcome:
    ks = _ks(p)
    if p.values is not None:
        w = wasserstein_values(*p.values, p.reference_std)
    else:
        w = wasserstein_buckets(p.buckets(), p.reference_std)
    return Outcome(w.statistic, ks.p_value, w.effect, w.error_bound)


def _binned(distance: Callable[[Counts], float]) -> Callable[[Pair], Outcome]:
    def run(p: Pair) -> Outcome:
        counts = p.counts()
        value = distance(counts)
        return Outcome(value, chi2_counts(counts).p_value, value)

    return run


def _chi2(p: Pair) -> Outcome:
    return chi2_counts(p.counts())


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("ks", "Kolmogorov–Smirnov", True, False, 0.05, _ks),
        Method("cvm", "Cramér–von Mises", True, False, 0.04, _cvm),
        Method("wasserstein", "Wasserstein (normed)", True, False, 0.1, _wasserstein),
        Method("chi2", "chi-square", False, True, 0.1, _chi2),
        Method("psi", "PSI", True, True, 0.2, _binned(psi_counts)),
        Method("jensen_shannon", "Jensen–Shannon", True, True, 0.1, _binned(jensen_shannon_counts)),
        Method("hellinger", "Hellinger", True, True, 0.1, _binned(hellinger_counts)),
    )
}


def finite(values: np.ndarray) -> FloatArray:
    """Drop nulls and infinities (what every method expects of raw values)."""
    v = np.asarray(values, dtype=np.float64)
    return v[np.isfinite(v)]
