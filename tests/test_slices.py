"""``vigil.performance.slices``: each test's p-value against scipy's own, the corrections against their
definitions, a planted bad slice found, and the chance of any false discovery on data without one measured
over many seeds."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from vigil.performance import slices
from vigil.performance.slices import Candidate, adjust, quantile_slices

REL = 1e-9
"""p-values computed from sums instead of scipy's own passes over the rows: equal to 1e-9 relative."""


def _candidates(rng: np.random.Generator, n: int) -> tuple[list[Candidate], np.ndarray]:
    """Two tags (region: 4 values, tier: 3) and the quartiles of a numeric feature: 11 slices."""
    region = np.array(["eu", "us", "apac", "latam"])[rng.integers(0, 4, n)]
    tier = rng.integers(1, 4, n)
    income = rng.lognormal(10, 1, n)
    out: list[Candidate] = [(f"region={r}", region == r) for r in ("eu", "us", "apac", "latam")]
    out += [(f"tier={t}", tier == t) for t in (1, 2, 3)]
    out += quantile_slices("income", income)
    return out, region


def test_proportion_test_is_the_pooled_z_test() -> None:
    rng = np.random.default_rng(1)
    cands, _ = _candidates(rng, 1_500)
    correct = rng.random(1_500) > 0.25
    search = slices.classification(correct, cands, min_size=50)
    assert len(search.tested) == 11 and all(s.test == "z" for s in search.tested)
    for s, (_, mask) in zip(search.tested, cands, strict=True):
        wrong = ~correct
        table = [[wrong[mask].sum(), (~wrong[mask]).sum()], [wrong[~mask].sum(), (~wrong[~mask]).sum()]]
        chi2 = stats.chi2_contingency(table, correction=False).statistic  # = z² of the pooled z-test
        z = np.sign(wrong[mask].mean() - wrong[~mask].mean()) * np.sqrt(chi2)
        assert s.p_value == pytest.approx(stats.norm.sf(z), rel=REL)
        assert s.metric == pytest.approx(correct[mask].mean(), abs=1e-12)
        assert s.rest == pytest.approx(correct[~mask].mean(), abs=1e-12)
        assert s.effect == pytest.approx(s.rest - s.metric, abs=1e-12)


def test_small_expected_counts_use_fishers_exact_test() -> None:
    rng = np.random.default_rng(2)
    n = 400
    mask = np.zeros(n, bool)
    mask[:60] = True
    correct = np.ones(n, bool)
    correct[rng.choice(n, 8, replace=False)] = False  # 8 errors: expected 1.2 in the slice
    search = slices.classification(correct, [("small", mask)], min_size=50)
    (s,) = search.tested
    table = np.array(
        [[(~correct[mask]).sum(), correct[mask].sum()], [(~correct[~mask]).sum(), correct[~mask].sum()]]
    )
    assert s.test == "fisher"
    assert s.p_value == stats.fisher_exact(table, alternative="greater").pvalue


@pytest.mark.parametrize("test", ["welch", "mann-whitney"])
def test_regression_tests_equal_scipy(test: slices.Test) -> None:
    rng = np.random.default_rng(3)
    cands, region = _candidates(rng, 1_200)
    errors = rng.normal(0, 1 + 0.3 * (region == "us"), 1_200) + 50.0  # offset: sums of squares stay exact
    search = slices.regression(errors, cands, test=test)
    e = np.abs(errors)
    for s, (_, mask) in zip(search.tested, cands, strict=True):
        if test == "welch":
            want = stats.ttest_ind(e[mask], e[~mask], equal_var=False, alternative="greater").pvalue
        else:
            want = stats.mannwhitneyu(e[mask], e[~mask], alternative="greater").pvalue
        assert s.p_value == pytest.approx(want, rel=REL)
        assert s.metric == pytest.approx(e[mask].mean(), rel=1e-12)
        assert s.effect == pytest.approx(e[mask].mean() - e[~mask].mean(), abs=1e-9)


def test_corrections_equal_their_definitions() -> None:
    rng = np.random.default_rng(4)
    for m in (1, 2, 7, 40):
        p = np.concatenate([rng.uniform(0, 1, m - m // 3), rng.uniform(0, 0.01, m // 3)])
        assert adjust(p, "benjamini-hochberg") == pytest.approx(stats.false_discovery_control(p), rel=1e-12)
        holm = adjust(p, "holm")
        for alpha in (0.001, 0.01, 0.05, 0.2):
            # Holm's step-down: reject the i-th smallest while p(i) <= alpha / (m - i)
            rejected = set()
            for i, k in enumerate(np.argsort(p)):
                if p[k] > alpha / (m - i):
                    break
                rejected.add(int(k))
            assert set(np.flatnonzero(holm <= alpha).tolist()) == rejected


def test_a_planted_bad_slice_is_found_first() -> None:
    rng = np.random.default_rng(5)
    n = 3_000
    cands, region = _candidates(rng, n)
    error_rate = np.where(region == "eu", 0.32, 0.20)
    correct = rng.random(n) > error_rate
    for correction in slices.CORRECTIONS:
        search = slices.classification(correct, cands, correction=correction)
        assert [s.name for s in search.worse] == ["region=eu"], search.worse
        assert search.correction == correction and search.metric == "accuracy"
        eu = search.worse[0]
        assert eu.p_adjusted <= 0.05 and eu.metric < eu.rest
    errors = rng.normal(0, np.where(region == "latam", 1.5, 1.0), n)
    found = slices.regression(errors, cands)
    assert [s.name for s in found.worse] == ["region=latam"]


def test_too_small_slices_are_named_not_tested() -> None:
    rng = np.random.default_rng(6)
    cands, _ = _candidates(rng, 180)  # about 45 rows a region, 60 a tier
    search = slices.classification(rng.random(180) > 0.2, cands, min_size=50)
    assert set(search.too_small) == {name for name, mask in cands if mask.sum() < 50}
    assert {s.name for s in search.tested} == {name for name, mask in cands if mask.sum() >= 50}
    with pytest.raises(ValueError, match="expected \\(180,\\)"):
        slices.classification(np.ones(180, bool), [("bad", np.ones(10, bool))])


def test_quantile_slices_partition_the_finite_values() -> None:
    v = np.concatenate([np.random.default_rng(7).normal(size=999), [np.nan]])
    bins = quantile_slices("x", v, bins=4)
    stacked = np.stack([mask for _, mask in bins])
    assert len(bins) == 4 and np.array_equal(stacked.sum(axis=0), np.isfinite(v).astype(int))
    assert sorted(int(mask.sum()) for _, mask in bins) == [249, 250, 250, 250]  # 999 values in quarters
    assert quantile_slices("flag", np.ones(10))[0][0] == "flag = 1"


SEEDS = 400
TOLERANCE = 0.05 + 3 * np.sqrt(0.05 * 0.95 / SEEDS)
"""alpha plus three binomial standard deviations of a share over 400 runs: 0.083."""


@pytest.mark.parametrize("correction", slices.CORRECTIONS)
def test_without_a_bad_slice_any_discovery_is_rare(correction: slices.Correction) -> None:
    any_found = 0
    for seed in range(SEEDS):
        rng = np.random.default_rng(1_000 + seed)
        cands, _ = _candidates(rng, 1_000)
        found = slices.classification(rng.random(1_000) > 0.2, cands, correction=correction)
        any_found += bool(found.worse)
    assert any_found / SEEDS <= TOLERANCE, any_found


@pytest.mark.parametrize("test", ["welch", "mann-whitney"])
def test_regression_without_a_bad_slice_any_discovery_is_rare(test: slices.Test) -> None:
    seeds = 200
    any_found = 0
    for seed in range(seeds):
        rng = np.random.default_rng(5_000 + seed)
        cands, _ = _candidates(rng, 800)
        any_found += bool(slices.regression(rng.standard_t(5, 800), cands, test=test).worse)
    assert any_found / seeds <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / seeds), any_found  # 0.096
