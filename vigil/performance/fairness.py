"""Group fairness of a binary classifier from per-group confusion counts.

For each group ``g`` of a protected attribute, from its counts ``tp, fp, fn, tn`` (positive: the class "1";
selected: predicted positive):

* selection rate ``(tp + fp) / n``, true-positive rate ``tp / (tp + fn)``, false-positive rate
  ``fp / (fp + tn)``, accuracy ``(tp + tn) / n``.

Across the groups kept (those with at least ``min_group`` rows; the others are left out and named), as
fairlearn defines them (``fairlearn.metrics``, ``agg="worst_case"``):

* demographic parity difference: max − min selection rate;
* equal opportunity difference: max − min true-positive rate;
* equalized odds difference: the larger of the true-positive-rate and false-positive-rate differences;
* disparate impact: min / max selection rate (fairlearn's demographic parity ratio). The four-fifths rule
  flags a ratio under 0.8.

Counts add, so the counts of a range are the sum of its windows' and the figures are exact arithmetic on
them. A rate with a zero denominator (a group without positives has no true-positive rate) is NaN and that
group is left out of that difference only; a figure needs two groups with the rate defined, else it is NaN
(one group is no comparison: fairlearn would answer 0). Disparate impact is NaN when no group is selected.

>>> import numpy as np
>>> f = fairness(["a", "b"], np.array([[8, 2, 2, 8], [4, 1, 6, 9]]), min_group=10)
>>> round(f.demographic_parity_difference, 4), round(f.disparate_impact, 4), f.four_fifths_flag
(0.25, 0.5, True)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

__all__ = ["FOUR_FIFTHS", "Fairness", "Group", "fairness", "group_counts"]

FOUR_FIFTHS = 0.8
"""The four-fifths rule: a disparate-impact ratio below this is flagged."""

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Group:
    """One group's counts and rates (rates NaN where their denominator is zero)."""

    name: str
    n: int
    tp: int
    fp: int
    fn: int
    tn: int
    selection_rate: float
    true_positive_rate: float
    false_positive_rate: float
    accuracy: float


@dataclass(frozen=True)
class Fairness:
    """The groups kept, the groups left out for size, and the four summary figures (see the module)."""

    groups: list[Group]
    demographic_parity_difference: float
    equal_opportunity_difference: float
    equalized_odds_difference: float
    disparate_impact: float
    min_group: int
    left_out: dict[str, int] = field(default_factory=dict)
    """Groups with fewer than ``min_group`` rows: name -> rows."""

    @property
    def four_fifths_flag(self) -> bool | None:
        """True when the disparate-impact ratio is under 0.8; None when it is undefined."""
        return None if math.isnan(self.disparate_impact) else self.disparate_impact < FOUR_FIFTHS


def group_counts(
    groups: npt.ArrayLike, y_true: npt.ArrayLike, y_pred: npt.ArrayLike
) -> tuple[list[str], Ints]:
    """The groups (sorted as text) and their ``[tp, fp, fn, tn]`` counts, one row per group, from per-row
    group names and booleans (true: positive; predicted: selected)."""
    g = np.asarray(groups).astype(str)
    t = np.asarray(y_true, dtype=bool)
    p = np.asarray(y_pred, dtype=bool)
    if not g.shape == t.shape == p.shape or g.ndim != 1:
        raise ValueError(f"groups, labels and predictions differ in shape ({g.shape}, {t.shape}, {p.shape})")
    names, at = np.unique(g, return_inverse=True)
    cell = np.where(t, np.where(p, 0, 2), np.where(p, 1, 3))  # tp, fp, fn, tn
    counts = np.bincount(at.ravel() * 4 + cell, minlength=4 * names.size).reshape(names.size, 4)
    return [str(n) for n in names], counts.astype(np.int64)


def fairness(names: Sequence[str], counts: npt.ArrayLike, min_group: int = 30) -> Fairness:
    """The fairness figures of groups ``names`` with ``counts`` (``[tp, fp, fn, tn]`` per group), keeping
    the groups of at least ``min_group`` rows."""
    c = np.asarray(counts, dtype=np.int64).reshape(-1, 4)
    if c.shape[0] != len(names):
        raise ValueError(f"{len(names)} group names for {c.shape[0]} rows of counts")
    if min_group < 1:
        raise ValueError(f"min_group must be at least 1, got {min_group}")
    n = c.sum(axis=1)
    keep = n >= min_group
    tp, fp, fn, tn = (c[keep, i].astype(np.float64) for i in range(4))
    kept_n = n[keep].astype(np.float64)
    selection = _rate(tp + fp, kept_n)
    tpr = _rate(tp, tp + fn)
    fpr = _rate(fp, fp + tn)
    accuracy = _rate(tp + tn, kept_n)
    kept = [str(name) for name, k in zip(names, keep, strict=True) if k]
    groups = [
        Group(
            name,
            int(kept_n[i]),
            *(int(x[i]) for x in (tp, fp, fn, tn)),
            *(float(r[i]) for r in (selection, tpr, fpr, accuracy)),
        )
        for i, name in enumerate(kept)
    ]
    tpr_gap, fpr_gap = _spread(tpr), _spread(fpr)
    odds = [g for g in (tpr_gap, fpr_gap) if not math.isnan(g)]
    defined = selection[~np.isnan(selection)]
    top = float(defined.max()) if defined.size >= 2 else math.nan
    return Fairness(
        groups=groups,
        demographic_parity_difference=_spread(selection),
        equal_opportunity_difference=tpr_gap,
        equalized_odds_difference=max(odds) if odds else math.nan,
        disparate_impact=float(defined.min()) / top if top > 0 else math.nan,
        min_group=min_group,
        left_out={str(name): int(k) for name, k, ok in zip(names, n, keep, strict=True) if not ok},
    )


def _rate(num: Floats, den: Floats) -> Floats:
    out = np.full(num.shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _spread(rates: Floats) -> float:
    """max − min of the defined rates; NaN with fewer than two."""
    defined = rates[~np.isnan(rates)]
    return float(defined.max() - defined.min()) if defined.size >= 2 else math.nan
