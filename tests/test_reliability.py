"""Calibration from score histograms against an exact numpy computation and scikit-learn.

Tolerances: bin counts and observed frequencies exactly (1e-12 relative: the same arithmetic); the mean
predicted score of each bin within ``½ / bins`` (5e-5 for 10,000 bins) of the raw scores' mean, and the ECE
within ``ece_bound`` = ``½ / bins`` of the exact ECE: the bounds the module states. Absolute-error
quantiles within 1% of the exact order statistic (the error sketch's relative error).
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.calibration import calibration_curve

from vigil.performance import ClassificationState, RegressionState
from vigil.performance.reliability import ece, reliability

EXACT = 1e-12


def _exact(y: np.ndarray, score: np.ndarray, n: int) -> tuple[list[tuple[int, float, float]], float]:
    """Per non-empty bin (count, observed, mean score) and the ECE of the raw scores, bins as
    ``floor(s · n)`` (1.0 in the last)."""
    b = np.minimum((score * n).astype(int), n - 1)
    rows, total = [], 0.0
    for k in range(n):
        at = b == k
        if at.any():
            rows.append((int(at.sum()), float(y[at].mean()), float(score[at].mean())))
            total += at.sum() / score.size * abs(y[at].mean() - score[at].mean())
    return rows, float(total)


def _scores(seed: int, n: int, shape: str) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    if shape == "calibrated":  # labels drawn with the score's own probability
        score = rng.random(n)
        return rng.random(n) < score, score
    if shape == "overconfident":
        y = rng.random(n) < 0.3
        return y, np.clip(np.where(y, rng.beta(6, 1, n), rng.beta(1, 3, n)), 0.0, 1.0)
    y = rng.random(n) < 0.5  # "ties": scores on a coarse grid, many sharing a value
    return y, np.round(np.where(y, rng.beta(3, 2, n), rng.beta(2, 3, n)), 2)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("shape", ["calibrated", "overconfident", "ties"])
@pytest.mark.parametrize("n_bins", [5, 10, 20])
def test_diagram_and_ece_against_exact(seed: int, shape: str, n_bins: int) -> None:
    y, score = _scores(seed, 20_000, shape)
    s = ClassificationState().update(np.where(y, "1", "0"), np.where(score >= 0.5, "1", "0"), score, ["1"])
    want, want_ece = _exact(y, score, n_bins)
    got = s.reliability(n_bins)
    assert [b.count for b in got] == [w[0] for w in want]
    for b, (_, observed, predicted) in zip(got, want, strict=True):
        assert b.observed == pytest.approx(observed, rel=EXACT)
        assert abs(b.predicted - predicted) <= 0.5 / s.bins + 1e-12  # float rounding at a bin edge
    assert abs(s.ece(n_bins) - want_ece) <= s.ece_bound() + 1e-12
    assert s.ece_bound() == 5e-5


@pytest.mark.parametrize("shape", ["calibrated", "overconfident"])
def test_diagram_matches_scikit_learn_calibration_curve(shape: str) -> None:
    y, score = _scores(7, 50_000, shape)
    s = ClassificationState().update(np.where(y, "1", "0"), np.full(y.size, "0"), score, ["1"])
    prob_true, prob_pred = calibration_curve(y, score, n_bins=10, strategy="uniform")
    got = s.reliability()
    assert np.allclose([b.observed for b in got], prob_true, rtol=EXACT, atol=0)
    assert np.max(np.abs(np.array([b.predicted for b in got]) - prob_pred)) <= 0.5 / s.bins


def test_merged_windows_equal_the_range() -> None:
    y, score = _scores(3, 30_000, "overconfident")
    labels, pred = np.where(y, "1", "0"), np.full(y.size, "0")
    whole = ClassificationState().update(labels, pred, score, ["1"])
    parts = [ClassificationState().update(labels[i::3], pred[i::3], score[i::3], ["1"]) for i in range(3)]
    merged = parts[0].copy().merge(parts[1]).merge(parts[2])
    assert merged.reliability() == whole.reliability()
    assert merged.ece() == pytest.approx(whole.ece(), rel=EXACT)
    restored = ClassificationState.from_bytes(merged.to_bytes())
    assert restored.reliability() == whole.reliability()


def test_a_miscalibrated_score_reads_a_large_ece() -> None:
    # the label is 1 with probability 0.2 whatever the score says (0.9): ECE = 0.7 to within the bound
    rng = np.random.default_rng(0)
    y = rng.random(10_000) < 0.2
    s = ClassificationState().update(np.where(y, "1", "0"), np.full(y.size, "1"), np.full(y.size, 0.9), ["1"])
    assert abs(s.ece() - abs(0.9 - y.mean())) <= s.ece_bound()
    assert s.ece() > 0.6


def test_no_scores_no_calibration_and_bins_must_divide() -> None:
    s = ClassificationState().update(np.array(["1", "0"]), np.array(["1", "1"]))
    assert np.isnan(s.ece()) and s.reliability() == [] and np.isnan(s.ece_bound())
    pos, neg = np.ones(10, np.int64), np.zeros(10, np.int64)
    with pytest.raises(ValueError, match="must divide the score histogram's 10 bins"):
        ece(pos, neg, 3)
    assert np.isnan(ece(np.zeros(10, np.int64), neg)) and reliability(np.zeros(10, np.int64), neg) == []


def test_multiclass_ece_is_the_mean_of_one_vs_rest() -> None:
    rng = np.random.default_rng(5)
    k, n = 3, 9_000
    y = rng.integers(0, k, n)
    probs = rng.dirichlet(np.ones(k), n)
    names = np.array(["a", "b", "c"])
    s = ClassificationState().update(names[y], names[probs.argmax(1)], probs, ["a", "b", "c"])
    each = [_exact((y == i).astype(float), probs[:, i], 10)[1] for i in range(k)]
    assert abs(s.ece() - np.mean(each)) <= s.ece_bound()
    assert abs(s.ece(of="b") - each[1]) <= s.ece_bound()
    assert s.reliability() == [] and len(s.reliability(of="a")) == 10


@pytest.mark.parametrize("seed", range(3))
def test_absolute_error_quantiles_within_one_percent(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.normal(100.0, 20.0, 20_000)
    p = y + rng.standard_t(3, y.size) * 5.0  # heavy tails on both sides
    s = RegressionState().update(y, p)
    for q in (0.5, 0.9, 0.99):
        exact = np.quantile(np.abs(p - y), q, method="lower")
        assert abs(s.abs_error_quantile(q) - exact) <= 0.01 * exact + 1e-12
    assert np.isnan(RegressionState().abs_error_quantile(0.5))
