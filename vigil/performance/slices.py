"""Worst-slice search: the slices of the data whose errors are significantly worse than the rest's.

A candidate slice is a name and a boolean mask over the rows (every value of a segment tag, a quantile bin of
a numeric feature: :func:`quantile_slices`). Each slice with at least ``min_size`` rows, whose rest has as
many, is tested one-sided against the rest (H1: the slice is worse):

* classification (per-row correctness): the pooled two-proportion z-test of the error rates, or Fisher's
  exact test where an expected cell count of the 2×2 table is under 5 (the z-test's normal approximation
  is poor there);
* regression (per-row absolute error): Welch's t-test of the mean absolute errors (default), or the
  Mann–Whitney U test (``test="mann-whitney"``, asymptotic with ties corrected, as scipy computes it).

The p-values of all tested slices are adjusted together: Benjamini–Hochberg (false discovery rate at
``alpha``, 0.05 by default) or Holm (family-wise error rate at ``alpha``). A slice is reported when its
adjusted p-value is at most ``alpha``, ranked by effect: how much worse its metric is than the rest's, in
the metric's own units (accuracy points, or units of the label). With no slice truly worse, BH and Holm
both keep the chance of reporting any slice at most ``alpha`` (for independent or positively dependent
tests; slices of one tag are negatively dependent, which the tests measure: tests/test_slices.py).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import stats

__all__ = [
    "CORRECTIONS",
    "Candidate",
    "Search",
    "Slice",
    "adjust",
    "classification",
    "quantile_slices",
    "regression",
]

Correction = Literal["benjamini-hochberg", "holm"]
CORRECTIONS: tuple[Correction, ...] = ("benjamini-hochberg", "holm")
Test = Literal["welch", "mann-whitney"]
Candidate = tuple[str, npt.NDArray[np.bool_]]
"""A slice to test: its name and its rows (a boolean mask as long as the data)."""
Floats = npt.NDArray[np.float64]

SMALL_EXPECTED = 5.0
"""Below this expected count in any cell of the 2×2 table, the exact test is used."""


@dataclass(frozen=True)
class Slice:
    """One slice's figures: rows, its metric and the rest's, how much worse, and the test's p-values."""

    name: str
    n: int
    metric: float
    rest: float
    effect: float
    """How much worse the slice is than the rest, in the metric's units (negative: better)."""
    p_value: float
    p_adjusted: float
    test: str


@dataclass(frozen=True)
class Search:
    """What a search found: the slices significantly worse (ranked by effect, largest first), every
    slice tested, those too small to test (name -> rows), and how it decided."""

    worse: list[Slice]
    tested: list[Slice]
    metric: str
    """``accuracy`` (higher is better), ``error_rate`` or ``absolute_error`` (lower is better)."""
    correction: Correction
    alpha: float
    min_size: int
    too_small: dict[str, int] = field(default_factory=dict)


def classification(
    correct: npt.ArrayLike,
    candidates: Sequence[Candidate],
    *,
    min_size: int = 50,
    alpha: float = 0.05,
    correction: Correction = "benjamini-hochberg",
    metric: Literal["accuracy", "error_rate"] = "accuracy",
) -> Search:
    """The slices whose error rate is significantly higher than the rest's; ``correct``: one boolean a
    row. ``metric`` says which figure the slices report (accuracy, or its complement the error rate)."""
    wrong = ~np.asarray(correct, dtype=bool)
    masks, names, too_small = _sized(candidates, wrong.size, min_size)
    n = masks.sum(axis=1).astype(np.float64)
    m = wrong.size - n
    x = masks.astype(np.float64) @ wrong.astype(np.float64)
    y = float(wrong.sum()) - x
    p1, p2 = _ratio(x, n), _ratio(y, m)
    pooled = (x + y) / wrong.size if wrong.size else x  # n, m >= min_size: no zero denominators
    se = np.sqrt(pooled * (1 - pooled) * (1 / n + 1 / m))
    z = np.divide(p1 - p2, se, out=np.zeros_like(se), where=se > 0)
    p = np.where(se > 0, stats.norm.sf(z), 1.0)  # no errors anywhere, or errors everywhere: no difference
    tests = ["z"] * len(names)
    expected = np.minimum(np.minimum(n, m) * pooled, np.minimum(n, m) * (1 - pooled))
    for i in np.flatnonzero((expected < SMALL_EXPECTED) & (se > 0)):
        table = [[x[i], n[i] - x[i]], [y[i], m[i] - y[i]]]
        p[i] = stats.fisher_exact(np.asarray(table, dtype=np.int64), alternative="greater").pvalue
        tests[i] = "fisher"
    if metric == "accuracy":
        shown, rest, effect = 1 - p1, 1 - p2, p1 - p2
    else:
        shown, rest, effect = p1, p2, p1 - p2
    return _decide(names, n, shown, rest, effect, p, tests, too_small, metric, correction, alpha, min_size)


def regression(
    errors: npt.ArrayLike,
    candidates: Sequence[Candidate],
    *,
    min_size: int = 50,
    alpha: float = 0.05,
    correction: Correction = "benjamini-hochberg",
    test: Test = "welch",
) -> Search:
    """The slices whose mean absolute error is significantly higher than the rest's; ``errors``: one
    prediction error a row (its absolute value is compared)."""
    e = np.abs(np.asarray(errors, dtype=np.float64))
    if not np.all(np.isfinite(e)):
        raise ValueError("errors must be finite numbers; leave out rows without a label or a prediction")
    masks, names, too_small = _sized(candidates, e.size, min_size)
    centred = e - (e.mean() if e.size else 0.0)  # sums of squares without cancellation
    f = masks.astype(np.float64)
    n = f.sum(axis=1)
    m = e.size - n
    s1, q1 = f @ centred, f @ centred**2
    s2, q2 = centred.sum() - s1, float((centred**2).sum()) - q1
    mean1, mean2 = s1 / n, s2 / m  # n, m >= min_size >= 2
    var1 = np.maximum((q1 - n * mean1**2) / (n - 1), 0.0)
    var2 = np.maximum((q2 - m * mean2**2) / (m - 1), 0.0)
    shift = e.mean() if e.size else 0.0
    if test == "welch":
        se2 = var1 / n + var2 / m
        se = np.sqrt(se2)
        t = np.divide(mean1 - mean2, se, out=np.zeros_like(se), where=se > 0)
        # Welch–Satterthwaite degrees of freedom
        df = np.divide(
            se2**2, (var1 / n) ** 2 / (n - 1) + (var2 / m) ** 2 / (m - 1), out=np.ones_like(se), where=se > 0
        )
        p = np.where(se > 0, stats.t.sf(t, df), 1.0)
    elif test == "mann-whitney":
        p = np.array(
            [stats.mannwhitneyu(e[mask], e[~mask], alternative="greater").pvalue for mask in masks],
            dtype=float,
        )
    else:
        raise ValueError(f"unknown test {test!r}; use welch or mann-whitney")
    tests: list[str] = [test] * len(names)
    mae1, mae2 = mean1 + shift, mean2 + shift
    return _decide(
        names, n, mae1, mae2, mae1 - mae2, p, tests, too_small, "absolute_error", correction, alpha, min_size
    )


def quantile_slices(name: str, values: npt.ArrayLike, bins: int = 4) -> list[Candidate]:
    """Candidate slices of a numeric column: its ``bins`` quantile bins (``name in [lo, hi)``, the last
    closed), NaNs in none. Repeated edges (a column of few values) merge their bins."""
    v = np.asarray(values, dtype=np.float64)
    finite = v[np.isfinite(v)]
    if finite.size == 0 or bins < 1:
        return []
    edges = np.unique(np.quantile(finite, np.linspace(0, 1, bins + 1)))
    if edges.size == 1:
        return [(f"{name} = {edges[0]:.6g}", v == edges[0])]
    out: list[Candidate] = []
    for k, (lo, hi) in enumerate(itertools.pairwise(edges)):
        last = k == edges.size - 2
        mask = (v >= lo) & ((v <= hi) if last else (v < hi))
        out.append((f"{name} in [{lo:.6g}, {hi:.6g}{']' if last else ')'}", mask))
    return out


def adjust(p_values: npt.ArrayLike, correction: Correction = "benjamini-hochberg") -> Floats:
    """Adjusted p-values, in the order given: Benjamini–Hochberg (step-up, ``p(i) · m / i``) or Holm
    (step-down, ``p(i) · (m − i + 1)``), each made monotone and capped at 1."""
    p = np.asarray(p_values, dtype=np.float64)
    m = p.size
    if m == 0:
        return p.copy()
    order = np.argsort(p, kind="stable")
    ranked = p[order]
    if correction == "benjamini-hochberg":
        scaled = ranked * m / np.arange(1, m + 1)
        scaled = np.minimum.accumulate(scaled[::-1])[::-1]
    elif correction == "holm":
        scaled = np.maximum.accumulate(ranked * (m - np.arange(m)))
    else:
        raise ValueError(f"unknown correction {correction!r}; use one of {', '.join(CORRECTIONS)}")
    out = np.empty(m)
    out[order] = np.minimum(scaled, 1.0)
    return out


def _sized(
    candidates: Sequence[Candidate], rows: int, min_size: int
) -> tuple[npt.NDArray[np.bool_], list[str], dict[str, int]]:
    """The masks and names of the slices big enough to test (themselves and their rest), and the others."""
    if min_size < 2:
        raise ValueError(f"min_size must be at least 2 (a variance needs two rows), got {min_size}")
    masks, names, too_small = [], [], {}
    for name, mask in candidates:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (rows,):
            raise ValueError(f"slice {name!r} has a mask of shape {mask.shape}; expected ({rows},)")
        n = int(mask.sum())
        if n < min_size or rows - n < min_size:
            too_small[name] = n
            continue
        masks.append(mask)
        names.append(name)
    stacked = np.stack(masks) if masks else np.zeros((0, rows), dtype=bool)
    return stacked, names, too_small


def _ratio(num: Floats, den: Floats) -> Floats:
    out = np.full(num.shape, math.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _decide(
    names: list[str],
    n: Floats,
    metric: Floats,
    rest: Floats,
    effect: Floats,
    p: Floats,
    tests: list[str],
    too_small: dict[str, int],
    metric_name: str,
    correction: Correction,
    alpha: float,
    min_size: int,
) -> Search:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    adjusted = adjust(p, correction)
    tested = [
        Slice(
            name,
            int(n[i]),
            float(metric[i]),
            float(rest[i]),
            float(effect[i]),
            float(p[i]),
            float(adjusted[i]),
            tests[i],
        )
        for i, name in enumerate(names)
    ]
    worse = sorted((s for s in tested if s.p_adjusted <= alpha), key=lambda s: (-s.effect, s.name))
    return Search(worse, tested, metric_name, correction, alpha, min_size, too_small)
