"""Drift methods: exact on raw values (equal to scipy), and from sketches within their stated bounds."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from scipy.spatial import distance

from tests.distributions import SHAPES
from vigil.drift import align
from vigil.drift.base import Counts
from vigil.drift.chi2 import chi2_counts
from vigil.drift.cramer_von_mises import cvm_buckets, cvm_values
from vigil.drift.decide import adjust_p_values
from vigil.drift.hellinger import hellinger_counts
from vigil.drift.jensen_shannon import jensen_shannon_counts
from vigil.drift.ks import ks_buckets, ks_values
from vigil.drift.psi import EPSILON, psi_counts
from vigil.drift.wasserstein import wasserstein_buckets, wasserstein_values
from vigil.stats.column import NumericProfile, sketch_for

# (reference sampler, a current that differs) for a spread of shapes and sizes
CHANGES = {
    "none": lambda g, x: x,
    "shift": lambda g, x: x + 0.3 * np.std(x),
    "scale": lambda g, x: 1.5 * (x - np.median(x)) + np.median(x),
}


def _pair(shape: str, change: str, n: int, m: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    g = np.random.default_rng(seed)
    ref = SHAPES[shape](g, n)
    cur = CHANGES[change](g, SHAPES[shape](g, m))
    return ref, cur


def _profiles(ref: np.ndarray, cur: np.ndarray) -> tuple[NumericProfile, NumericProfile]:
    r = NumericProfile(sketch=sketch_for(ref))
    r.update_values(ref)
    c = r.empty_like()
    c.update_values(cur)
    return r, c


@pytest.mark.parametrize("n,m", [(7, 5), (200, 3_000), (20_000, 20_000)])
@pytest.mark.parametrize("shape", ["normal", "pareto", "poisson", "bimodal"])
def test_ks_on_raw_values_equals_scipy(shape: str, n: int, m: int) -> None:
    ref, cur = _pair(shape, "shift", n, m)
    got = ks_values(ref, cur)
    want = stats.ks_2samp(ref, cur)
    assert got.statistic == pytest.approx(want.statistic, abs=1e-9)
    assert got.p_value == pytest.approx(want.pvalue, abs=1e-9)


@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize("change", sorted(CHANGES))
def test_ks_from_sketches_within_stated_bound(shape: str, change: str) -> None:
    ref, cur = _pair(shape, change, 30_000, 12_000, seed=1)
    exact = stats.ks_2samp(ref, cur).statistic
    got = ks_buckets(align.buckets(*_profiles(ref, cur)))
    assert got.error_bound is not None
    # D read at the edges never exceeds the true D, and misses it by at most the largest bucket share
    assert got.statistic <= exact + 1e-12
    assert exact - got.statistic <= got.error_bound + 1e-12
    if change == "none" and shape != "poisson":  # integer data: a bucket holds a whole value
        assert got.error_bound <= 0.02  # near the reference, where buckets are fine, the bound is tight
    # the p-value is scipy's asymptotic one at the sketched D
    en = round(30_000 * 12_000 / 42_000)
    assert got.p_value == pytest.approx(stats.kstwo.sf(got.statistic, en), rel=1e-12, abs=1e-300)


@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize("change", sorted(CHANGES))
def test_wasserstein_from_sketches_within_stated_bound(shape: str, change: str) -> None:
    ref, cur = _pair(shape, change, 20_000, 15_000, seed=2)
    sd = float(np.std(ref, ddof=1))
    exact = wasserstein_values(ref, cur, sd)
    assert exact.statistic == pytest.approx(stats.wasserstein_distance(ref, cur), rel=1e-12)
    got = wasserstein_buckets(align.buckets(*_profiles(ref, cur)), sd)
    assert got.error_bound is not None
    assert abs(got.effect - exact.effect) <= got.error_bound + 1e-12


@pytest.mark.parametrize("shape", ["normal", "lognormal", "uniform", "student_t2"])
@pytest.mark.parametrize("change", sorted(CHANGES))
def test_cvm_raw_equals_scipy_and_sketch_is_close(shape: str, change: str) -> None:
    ref, cur = _pair(shape, change, 4_000, 3_000, seed=3)
    want = stats.cramervonmises_2samp(ref, cur)
    exact = cvm_values(ref, cur)
    assert exact.statistic == pytest.approx(want.statistic, rel=1e-12)
    assert exact.p_value == pytest.approx(want.pvalue, abs=1e-9)
    got = cvm_buckets(align.buckets(*_profiles(ref, cur)))
    assert got.error_bound is not None
    # every CDF gap is off by at most the bucket share, so the RMS gap is too
    assert abs(got.effect - exact.effect) <= got.error_bound + 1e-12
    # the sketch p-value uses scipy's large-sample distribution: compare with scipy's asymptotic method
    asym = stats.cramervonmises_2samp(ref, cur, method="asymptotic")
    if got.p_value is not None and abs(got.statistic - asym.statistic) < 1e-3 * max(asym.statistic, 1e-3):
        assert got.p_value == pytest.approx(asym.pvalue, abs=1e-3)


def _counts(seed: int, k: int, n: int, m: int, skew: float) -> Counts:
    g = np.random.default_rng(seed)
    p = g.dirichlet(np.ones(k))
    q = (1 - skew) * p + skew * g.dirichlet(np.ones(k))
    return Counts(
        [str(i) for i in range(k)], g.multinomial(n, p).astype(float), g.multinomial(m, q).astype(float)
    )


@pytest.mark.parametrize(
    "k,n,m,skew",
    [(2, 30, 40, 0.0), (2, 5_000, 5_000, 0.3), (12, 1_000, 9_000, 0.1), (50, 100_000, 80_000, 0.05)],
)
def test_chi2_equals_scipy(k: int, n: int, m: int, skew: float) -> None:
    c = _counts(k, k, n, m, skew)
    got = chi2_counts(c)
    table = np.vstack([c.reference, c.current])
    table = table[:, table.sum(axis=0) > 0]
    want = stats.chi2_contingency(table)
    assert got.statistic == pytest.approx(want.statistic, abs=1e-9)
    assert got.p_value == pytest.approx(want.pvalue, abs=1e-9)
    assert got.effect == pytest.approx(math.sqrt(want.statistic / table.sum()), rel=1e-12)


def test_chi2_with_a_single_category_has_nothing_to_test() -> None:
    got = chi2_counts(Counts(["a", "b"], np.array([10.0, 0.0]), np.array([7.0, 0.0])))
    assert (got.p_value, got.effect) == (1.0, 0.0)


@pytest.mark.parametrize("seed", range(5))
def test_distances_on_counts_match_their_formulas(seed: int) -> None:
    c = _counts(seed, 8, 5_000, 3_000, 0.2)
    c.reference[0] = 0.0  # an empty bin on one side
    p, q = c.reference / c.reference.sum(), c.current / c.current.sum()
    pe, qe = np.maximum(p, EPSILON), np.maximum(q, EPSILON)
    assert psi_counts(c) == pytest.approx(np.sum((qe - pe) * np.log(qe / pe)), rel=1e-12)
    m = (p + q) / 2

    def kl(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.sum(np.where(a > 0, a * np.log2(np.where(a > 0, a, 1) / b), 0.0)))

    assert jensen_shannon_counts(c) == pytest.approx(np.sqrt((kl(p, m) + kl(q, m)) / 2), rel=1e-9)
    assert jensen_shannon_counts(c) == pytest.approx(distance.jensenshannon(p, q, base=2), rel=1e-12)
    assert hellinger_counts(c) == pytest.approx(
        np.sqrt(0.5 * np.sum((np.sqrt(p) - np.sqrt(q)) ** 2)), rel=1e-9
    )


def test_identical_distributions_give_zero_distances() -> None:
    c = Counts(["a", "b", "c"], np.array([10.0, 20.0, 30.0]), np.array([1.0, 2.0, 3.0]))
    assert psi_counts(c) == pytest.approx(0.0, abs=1e-15)
    assert jensen_shannon_counts(c) == pytest.approx(0.0, abs=1e-7)
    assert hellinger_counts(c) == pytest.approx(0.0, abs=1e-7)


def test_equal_mass_bins_from_buckets_are_near_deciles() -> None:
    ref, cur = _pair("lognormal", "none", 50_000, 50_000, seed=4)
    counts = align.bins_from_buckets(align.buckets(*_profiles(ref, cur)), 10)
    shares = counts.reference / counts.reference.sum()
    assert len(shares) == 10
    assert np.all(np.abs(shares - 0.1) < 0.01)  # whole buckets of <= ~0.3% each
    assert counts.reference.sum() == ref.size and counts.current.sum() == cur.size


def test_p_value_corrections() -> None:
    p = [0.01, 0.04, 0.03, 0.005, 0.5]
    assert adjust_p_values(p, "none") == p
    assert adjust_p_values(p, "bonferroni") == pytest.approx([min(1, x * 5) for x in p])
    # Benjamini–Hochberg by hand: sort, p * m / rank, then the running minimum from the largest rank down
    order = np.argsort(p)
    ranked = np.array(p)[order] * 5 / np.arange(1, 6)
    bh = np.minimum.accumulate(ranked[::-1])[::-1]
    want = np.empty(5)
    want[order] = np.minimum(bh, 1)
    assert adjust_p_values(p, "bh") == pytest.approx(want.tolist())


@pytest.mark.parametrize("en", [20_000, 500_000])
@pytest.mark.parametrize("d", [0.001, 0.004, 0.008])
def test_large_sample_ks_p_value_is_the_kolmogorov_limit(en: int, d: float) -> None:
    from vigil.drift.ks import p_value

    got = p_value(d, 2 * en, 2 * en)  # en = n m / (n + m) = en
    want = stats.kstwo.sf(d, en)
    if want > 1e-10:
        assert got == pytest.approx(want, rel=0.01)


def test_benjamini_hochberg_equals_scipy() -> None:
    p = np.random.default_rng(3).random(40) ** 3
    assert adjust_p_values(p.tolist(), "bh") == pytest.approx(
        stats.false_discovery_control(p, method="bh").tolist(), rel=1e-12
    )


@pytest.mark.parametrize("d", [0.0005, 0.002, 0.01, 0.05])
def test_large_sample_ks_p_value_is_scipy_kstwobign(d: float) -> None:
    from vigil.drift.ks import p_value

    en = 250_000
    assert p_value(d, 2 * en, 2 * en) == pytest.approx(stats.kstwobign.sf(d * math.sqrt(en)), rel=1e-12)


def test_chi2_tail_equals_scipy() -> None:
    from scipy import special

    from vigil.drift.tails import chi2_sf

    for dof in [*range(1, 60), 99, 100, 499, 999]:
        for x in [*np.geomspace(1e-6, 5_000, 200), dof - 0.5, dof, dof + 0.5]:
            want = special.chdtrc(dof, x)
            if want > 1e-300:
                assert chi2_sf(float(x), dof) == pytest.approx(want, rel=1e-11, abs=0), (dof, x)
    with pytest.raises(ValueError, match="positive integer"):
        chi2_sf(1.0, 0)


def test_kolmogorov_tail_equals_scipy() -> None:
    from scipy import special

    from vigil.drift.tails import kolmogorov_sf

    for x in np.geomspace(1e-3, 30, 2_000):
        want = special.kolmogorov(x)
        if want > 1e-300:
            assert kolmogorov_sf(float(x)) == pytest.approx(want, rel=1e-11, abs=0), x
    assert kolmogorov_sf(0.0) == 1.0
