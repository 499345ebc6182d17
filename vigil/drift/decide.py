"""Which method a column gets, and when a result counts as drift.

The rule: a column drifted when its p-value (after the optional multiple-testing correction) is below
``alpha`` **and** its effect size reaches the method's threshold.

Why both. A p-value alone answers "is there any difference at all?", and with 100k+ rows the answer is yes
for nearly every real column: a mean shift of 0.01 standard deviations is significant at a million rows.
That is the best-known complaint about the peers (every column flagged). An effect size alone is noisy on
small samples: two samples of 50 rows from one distribution show a KS distance near 0.2 by chance. Asking
for both keeps small samples honest (significance) and large ones quiet (effect).

The defaults, per column:

* numeric with more than 32 distinct values: **Kolmogorov–Smirnov**, effect = D (the largest gap between
  the CDFs), threshold 0.05: for a normal, a mean shift of 0.125 standard deviations or a spread 1.25×
  wider; in general, a twentieth of the population moved across some value. D is bounded, unit-free and
  reads the same for every column. Sampling noise stays below it from about 10,000 rows (D's 99.9%
  point is 0.028 at 10k per side); below that, the p-value does the guarding;
* categorical, boolean, or numeric with at most 32 distinct values: **chi-square**, effect = Cramér's V,
  threshold 0.1 (Cohen's "small" effect): e.g. one category's share moving from 10% to about 20%.
* ``alpha`` = 0.05, no correction (``bonferroni`` or ``bh`` (Benjamini–Hochberg) across columns on request).
* dataset drift when at least half the tested columns drifted (``drift_share`` 0.5).

Thresholds can instead be **calibrated** on the reference's own variability: the mean plus three standard
deviations of the effect between chunks of consecutive reference rows (the size of the current sample, at
most a fifth of the reference) and the whole reference: a reference kept in time order shows its natural
swings (daily cycles, slow trends), a shuffled one only its sampling noise. A column whose statistic
wanders on its own then needs a larger change to be flagged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from vigil.drift.methods import METHODS, Method, Pair
from vigil.stats.column import CategoricalProfile

__all__ = ["Correction", "DriftRule", "adjust_p_values", "choose_method"]

Correction = Literal["none", "bonferroni", "bh"]


@dataclass(frozen=True)
class DriftRule:
    """The knobs of the decision (the config's ``drift:`` section)."""

    alpha: float = 0.05
    correction: Correction = "none"
    drift_share: float = 0.5
    numeric_method: str = "auto"
    categorical_method: str = "auto"
    thresholds: Mapping[str, float] = field(default_factory=dict)
    bins: int = 10
    calibrate: bool = False

    def threshold(self, method: Method) -> float:
        return float(self.thresholds.get(method.name, method.threshold))


def choose_method(pair: Pair, rule: DriftRule, forced: str | None = None) -> Method | None:
    """The method for a column: ``forced`` (CLI/config) if it applies, else the type's default; None if
    the forced method does not apply to this column's type."""
    if forced is not None and forced != "auto":
        method = METHODS[forced]
        return method if method.applies_to(pair) else None
    categorical = isinstance(pair.reference, CategoricalProfile)
    configured = rule.categorical_method if categorical else rule.numeric_method
    if configured != "auto":
        method = METHODS[configured]
        if method.applies_to(pair):
            return method
    return METHODS["chi2"] if pair.discrete else METHODS["ks"]


def adjust_p_values(p_values: Sequence[float], correction: Correction) -> list[float]:
    """Adjust p-values for testing many columns: Bonferroni (family-wise error) or Benjamini–Hochberg
    (false discovery rate; the same values as ``scipy.stats.false_discovery_control``)."""
    if correction == "none" or not p_values:
        return list(p_values)
    p = np.asarray(p_values, dtype=np.float64)
    if correction == "bonferroni":
        return [float(x) for x in np.minimum(p * p.size, 1.0)]
    order = np.argsort(p)
    scaled = p[order] * p.size / np.arange(1, p.size + 1)
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    return [float(x) for x in adjusted]
