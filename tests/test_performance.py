"""``vigil.performance`` against scikit-learn: the same numbers to 1e-12 (relative) on random data of every
shape, and NaN where scikit-learn would warn and substitute a value (a zero denominator, no rows)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn import metrics

from vigil import performance

TOLERANCE = 1e-12
"""Relative tolerance against scikit-learn: the same arithmetic, so only float rounding may differ."""


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("classes", [2, 3, 7])
def test_classification_equals_scikit_learn(seed: int, classes: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 5_000))
    y_true = rng.integers(0, classes, n)
    y_pred = np.where(rng.random(n) < 0.7, y_true, rng.integers(0, classes, n))
    assert performance.accuracy(y_true, y_pred) == pytest.approx(
        metrics.accuracy_score(y_true, y_pred), rel=TOLERANCE
    )
    for positive in range(classes):
        got = performance.confusion(y_true, y_pred, positive)
        want = metrics.confusion_matrix(y_true == positive, y_pred == positive, labels=[True, False])
        assert (got.tp, got.fn, got.fp, got.tn) == tuple(want.ravel())
        for ours, theirs in [
            (performance.precision, metrics.precision_score),
            (performance.recall, metrics.recall_score),
            (performance.f1, metrics.f1_score),
        ]:
            expected = theirs(y_true == positive, y_pred == positive, zero_division=np.nan)
            value = ours(y_true, y_pred, positive)
            assert value == pytest.approx(expected, rel=TOLERANCE, nan_ok=True)


def test_classes_of_any_kind_and_undefined_cases() -> None:
    y_true = np.array(["cat", "dog", "dog", "cat"], dtype=object)
    y_pred = np.array(["cat", "cat", "dog", "bird"], dtype=object)
    assert performance.accuracy(y_true, y_pred) == 0.5
    assert performance.precision(y_true, y_pred, "dog") == 1.0
    assert performance.recall(y_true, y_pred, "dog") == 0.5
    assert math.isnan(performance.precision(y_true, y_pred, "fish"))  # never predicted
    assert math.isnan(performance.recall(y_true, y_pred, "bird"))  # never a label
    assert math.isnan(performance.f1(y_true, y_pred, "fish"))
    assert math.isnan(performance.accuracy(np.array([]), np.array([])))


@pytest.mark.parametrize("seed", range(6))
def test_regression_equals_scikit_learn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 10_000))
    y_true = rng.lognormal(2.0, 1.0, n)
    y_pred = y_true * rng.normal(1.0, 0.2, n) + rng.normal(0.0, 1.0, n)
    assert performance.mae(y_true, y_pred) == pytest.approx(
        metrics.mean_absolute_error(y_true, y_pred), rel=TOLERANCE
    )
    assert performance.mse(y_true, y_pred) == pytest.approx(
        metrics.mean_squared_error(y_true, y_pred), rel=TOLERANCE
    )
    assert performance.rmse(y_true, y_pred) == pytest.approx(
        metrics.root_mean_squared_error(y_true, y_pred), rel=TOLERANCE
    )
    assert performance.r2(y_true, y_pred) == pytest.approx(metrics.r2_score(y_true, y_pred), rel=TOLERANCE)


def test_regression_undefined_cases_and_bad_input() -> None:
    empty = np.array([], dtype=float)
    assert all(math.isnan(f(empty, empty)) for f in (performance.mae, performance.mse, performance.rmse))
    assert math.isnan(performance.r2(np.array([3.0, 3.0]), np.array([1.0, 2.0])))  # constant labels
    with pytest.raises(ValueError, match="differ in length"):
        performance.mae(np.array([1.0, 2.0]), np.array([1.0]))
