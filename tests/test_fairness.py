"""``vigil.performance.fairness`` against fairlearn's definitions and exact pandas group-bys: per-group rates,
the three differences and the disparate-impact ratio, groups below ``min_group`` left out, undefined rates."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from fairlearn import metrics as fl

from vigil.performance.fairness import FOUR_FIFTHS, fairness, group_counts

TOL = 1e-12
"""Ratios of the same integer counts computed in another order: equal to 1e-12."""


def _data(seed: int, groups: int = 4, n: int = 3_000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    g = np.array([f"g{i}" for i in range(groups)])[rng.integers(0, groups, n)]
    base = rng.uniform(0.2, 0.7, groups)[np.searchsorted(np.sort(np.unique(g)), g)]
    y = rng.random(n) < base
    p = np.where(rng.random(n) < 0.7, y, rng.random(n) < base)
    return g, y, p


@pytest.mark.parametrize("seed", range(8))
def test_figures_equal_fairlearn(seed: int) -> None:
    g, y, p = _data(seed)
    f = fairness(*group_counts(g, y, p), min_group=1)
    yi, pi = y.astype(int), p.astype(int)
    assert f.demographic_parity_difference == pytest.approx(
        fl.demographic_parity_difference(yi, pi, sensitive_features=g), abs=TOL
    )
    assert f.disparate_impact == pytest.approx(
        fl.demographic_parity_ratio(yi, pi, sensitive_features=g), abs=TOL
    )
    assert f.equal_opportunity_difference == pytest.approx(
        fl.equal_opportunity_difference(yi, pi, sensitive_features=g), abs=TOL
    )
    assert f.equalized_odds_difference == pytest.approx(
        fl.equalized_odds_difference(yi, pi, sensitive_features=g), abs=TOL
    )
    assert f.four_fifths_flag == (f.disparate_impact < FOUR_FIFTHS)


@pytest.mark.parametrize("seed", range(4))
def test_group_rates_equal_a_pandas_groupby(seed: int) -> None:
    g, y, p = _data(seed, groups=6)
    frame = pd.DataFrame({"g": g, "y": y, "p": p, "ok": y == p})
    by = frame.groupby("g")
    f = fairness(*group_counts(g, y, p), min_group=1)
    assert [x.name for x in f.groups] == sorted(set(g))
    for group in f.groups:
        rows = by.get_group(group.name)
        assert group.n == len(rows)
        assert (group.tp, group.fp, group.fn, group.tn) == (
            int((rows.y & rows.p).sum()),
            int((~rows.y & rows.p).sum()),
            int((rows.y & ~rows.p).sum()),
            int((~rows.y & ~rows.p).sum()),
        )
        assert group.selection_rate == pytest.approx(rows.p.mean(), abs=TOL)
        assert group.true_positive_rate == pytest.approx(rows.p[rows.y].mean(), abs=TOL)
        assert group.false_positive_rate == pytest.approx(rows.p[~rows.y].mean(), abs=TOL)
        assert group.accuracy == pytest.approx(rows.ok.mean(), abs=TOL)


def test_small_groups_are_left_out_and_named() -> None:
    g, y, p = _data(3, groups=3, n=600)
    g = g.astype(object)
    g[:20] = "tiny"  # 20 rows, under min_group 30
    f = fairness(*group_counts(g, y, p), min_group=30)
    assert f.left_out == {"tiny": 20}
    kept = g != "tiny"
    want = fl.demographic_parity_difference(y[kept], p[kept], sensitive_features=g[kept])
    assert f.demographic_parity_difference == pytest.approx(want, abs=TOL)
    assert {x.name for x in f.groups} == {"g0", "g1", "g2"}


def test_undefined_rates_and_single_groups() -> None:
    # group b has no positive label: no true-positive rate; the other differences still read a and c
    names = ["a", "b", "c"]
    counts = np.array([[10, 5, 5, 30], [0, 10, 0, 40], [20, 2, 10, 18]])
    f = fairness(names, counts, min_group=1)
    assert math.isnan(f.groups[1].true_positive_rate)
    assert f.equal_opportunity_difference == pytest.approx(20 / 30 - 10 / 15, abs=TOL)
    fpr = [5 / 35, 10 / 50, 2 / 20]
    assert f.equalized_odds_difference == pytest.approx(max(20 / 30 - 10 / 15, max(fpr) - min(fpr)), abs=TOL)
    one = fairness(["a"], counts[:1], min_group=1)
    assert math.isnan(one.demographic_parity_difference) and one.four_fifths_flag is None
    none_selected = fairness(["a", "b"], np.array([[0, 0, 5, 5], [0, 0, 3, 7]]), min_group=1)
    assert none_selected.demographic_parity_difference == 0.0 and math.isnan(none_selected.disparate_impact)
    with pytest.raises(ValueError, match="differ in shape"):
        group_counts(["a"], [True, False], [True, False])
    with pytest.raises(ValueError, match="min_group must be at least 1"):
        fairness(names, counts, min_group=0)


def test_counts_add_over_windows() -> None:
    g, y, p = _data(5)
    whole = group_counts(g, y, p)
    halves = [group_counts(g[s], y[s], p[s]) for s in (slice(0, 1_000), slice(1_000, None))]
    assert halves[0][0] == halves[1][0] == whole[0]
    assert np.array_equal(halves[0][1] + halves[1][1], whole[1])
