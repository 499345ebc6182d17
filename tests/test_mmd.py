"""MMD: the statistic against a direct double loop, the vectorised permutations against explicit ones, the
false-alarm rate under the null over many seeds, and power on a mean shift."""

from __future__ import annotations

import numpy as np
import pytest

from vigil.drift.base import FloatArray
from vigil.drift.mmd import _permuted, bandwidth, gram, mmd2, mmd_test


def _loop_mmd2(x: FloatArray, y: FloatArray, sigma: float) -> float:
    def k(a: FloatArray, b: FloatArray) -> float:
        return float(np.exp(-np.sum((a - b) ** 2) / (2 * sigma * sigma)))

    n, m = len(x), len(y)
    kxx = sum(k(x[i], x[j]) for i in range(n) for j in range(n) if i != j)
    kyy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j)
    kxy = sum(k(x[i], y[j]) for i in range(n) for j in range(m))
    return kxx / (n * (n - 1)) + kyy / (m * (m - 1)) - 2 * kxy / (n * m)


def _loop_median_distance(z: FloatArray) -> float:
    d = [float(np.sqrt(np.sum((z[i] - z[j]) ** 2))) for i in range(len(z)) for j in range(i + 1, len(z))]
    return float(np.median(d))


@pytest.mark.parametrize("seed", range(5))
def test_statistic_matches_double_loop(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(9, 4))
    y = rng.normal(0.3, 1.5, size=(6, 4))
    z = np.concatenate([x, y])
    k, sigma = gram(z)
    assert sigma == pytest.approx(_loop_median_distance(z), rel=1e-12)
    assert abs(mmd2(k, 9) - _loop_mmd2(x, y, sigma)) <= 1e-12


def test_permutations_match_explicit_relabelling() -> None:
    rng = np.random.default_rng(3)
    z = rng.normal(size=(30, 5))
    k, _ = gram(z)
    fast = _permuted(k, 12, 250, np.random.default_rng(7))
    # the same draws, replayed: each permutation's first 12 indices form the first sample
    replay = np.random.default_rng(7)
    slow = []
    for start in range(0, 250, 100):
        p = min(100, 250 - start)
        order = np.argsort(replay.random((p, 30)), axis=1)
        for row in order:
            slow.append(mmd2(k[np.ix_(row, row)], 12))
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-12)


def test_constant_vectors_have_unit_bandwidth_and_no_drift() -> None:
    x = np.ones((20, 3))
    assert bandwidth(np.zeros((20, 20))) == 1.0
    out = mmd_test(x, x.copy())
    assert out.statistic == pytest.approx(0.0, abs=1e-12)
    assert out.p_value == 1.0


def test_false_alarm_rate_under_the_null() -> None:
    """400 seeded pairs from one distribution: the share with p < alpha stays within 3 binomial standard
    deviations (0.033 at alpha 0.05) of alpha, and at most alpha plus that tolerance at 0.01 and 0.10."""
    p_values: list[float] = []
    for seed in range(400):
        rng = np.random.default_rng(1000 + seed)
        x = rng.standard_t(5, size=(40, 6))
        y = rng.standard_t(5, size=(60, 6))
        found = mmd_test(x, y, permutations=199, seed=seed).p_value
        assert found is not None
        p_values.append(found)
    p = np.asarray(p_values)
    for alpha in (0.01, 0.05, 0.10):
        tolerance = 3 * np.sqrt(alpha * (1 - alpha) / p.size)
        assert abs(np.mean(p < alpha) - alpha) <= tolerance, (alpha, np.mean(p < alpha))


def test_power_on_a_mean_shift() -> None:
    """A shift of 0.5 standard deviations along every one of 8 axes, 100 vectors per side: detected at
    alpha 0.05 in at least 95 of 100 seeded runs (measured: 100)."""
    hits = 0
    for seed in range(100):
        rng = np.random.default_rng(seed)
        x = rng.normal(size=(100, 8))
        y = rng.normal(0.5, 1.0, size=(100, 8))
        p = mmd_test(x, y, permutations=199, seed=seed).p_value
        hits += p is not None and p < 0.05
    assert hits >= 95


def test_bounded_sample_and_seeded() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(3000, 4)), rng.normal(size=(2500, 4))
    a = mmd_test(x, y, max_samples=500, permutations=99, seed=5)
    b = mmd_test(x, y, max_samples=500, permutations=99, seed=5)
    assert a == b


def test_refuses_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="one dimension"):
        mmd_test(np.zeros((5, 3)), np.zeros((5, 4)))
    with pytest.raises(ValueError, match="at least 2 vectors"):
        mmd_test(np.zeros((1, 3)), np.zeros((5, 3)))
