"""Mergeable realised-performance state against scikit-learn on the raw rows.

Tolerances: counts-based figures (accuracy, precision, recall, F1, confusion matrix, positive rate) to 1e-12
relative, as the arithmetic is the same; log loss, Brier, MAE, RMSE, MAPE and R² to 1e-9 relative (sums in
another order); ROC AUC and average precision within the bound the state computes from its histograms
(``roc_auc_bound``, ``average_precision_bound``), which for 10,000 bins on these data stays under 1e-3.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binomtest
from sklearn import metrics

from vigil.errors import InputError
from vigil.performance import ClassificationState, RegressionState, wilson

EXACT = 1e-12
SUMS = 1e-9


def _classes(k: int) -> list[str]:
    return [f"c{i}" for i in range(k)]


def _multiclass(seed: int, k: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    names = np.array(_classes(k))
    y = rng.integers(0, k, n)
    logits = rng.normal(0.0, 1.0, (n, k))
    logits[np.arange(n), y] += 1.5
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    pred = probs.argmax(axis=1)
    return names[y], names[pred], probs


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("k", [2, 3, 7])
def test_counts_equal_scikit_learn(seed: int, k: int) -> None:
    y, pred, _ = _multiclass(seed, k, 3_000)
    pred[:5] = "never-a-label"  # a predicted class without support: its recall is undefined
    s = ClassificationState().update(y, pred)
    classes, matrix = s.confusion_matrix()
    assert classes == sorted({*y.tolist(), *pred.tolist()})
    assert (matrix == metrics.confusion_matrix(y, pred, labels=classes)).all()
    assert s.accuracy() == pytest.approx(metrics.accuracy_score(y, pred), rel=EXACT)
    for average in ("macro", "micro", "weighted"):
        for ours, theirs in [
            (s.precision, metrics.precision_score),
            (s.recall, metrics.recall_score),
            (s.f1, metrics.f1_score),
        ]:
            want = theirs(y, pred, average=average, zero_division=np.nan)
            assert ours(average) == pytest.approx(want, rel=EXACT), (ours.__name__, average)
    for c, counts in s.per_class().items():
        want_p = metrics.precision_score(y == c, pred == c, zero_division=np.nan)
        assert counts.precision == pytest.approx(want_p, rel=EXACT, nan_ok=True)
        assert s.positive_rate(c) == pytest.approx(np.mean(pred == c), rel=EXACT)


def test_missing_predictions_count_as_wrong() -> None:
    s = ClassificationState().update(np.array(["1", "1", "0", "0"]), np.array(["1", None, "0", "1"], object))
    assert s.accuracy() == 0.5  # the missing one is wrong
    assert s.confusion("1").recall == 0.5  # one of two positives was predicted 1
    assert s.confusion("1").precision == 0.5  # of the two predicted 1, one was right
    assert s.rows == 4 and s.confusion_matrix()[1].sum() == 3


@pytest.mark.parametrize("seed", range(4))
def test_binary_scores_within_the_stated_bound(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 20_000
    y = rng.random(n) < 0.3
    score = np.where(y, rng.beta(4, 2, n), rng.beta(2, 4, n))
    score[:50] = np.round(score[:50], 2)  # some exact ties
    score[50], score[51] = 0.0, 1.0  # the clipped ends of the log loss
    pred = np.where(score >= 0.5, "1", "0")
    labels = np.where(y, "1", "0")
    s = ClassificationState().update(labels, pred, score, ["1"])
    auc, bound = s.roc_auc(), s.roc_auc_bound()
    assert bound < 1e-3
    assert abs(auc - metrics.roc_auc_score(y, score)) <= bound
    ap, ap_bound = s.average_precision(), s.average_precision_bound()
    assert ap_bound < 1e-3
    assert abs(ap - metrics.average_precision_score(y, score)) <= ap_bound
    assert s.log_loss() == pytest.approx(metrics.log_loss(y, score), rel=SUMS)
    assert s.brier() == pytest.approx(metrics.brier_score_loss(y, score), rel=SUMS)


@pytest.mark.parametrize("bins", [5, 20, 100])
def test_coarse_bins_stay_within_their_bound(bins: int) -> None:
    rng = np.random.default_rng(bins)
    y = rng.random(5_000) < 0.5
    score = np.clip(rng.normal(np.where(y, 0.6, 0.4), 0.2), 0.0, 1.0)
    s = ClassificationState(bins=bins).update(np.where(y, "1", "0"), np.full(5_000, "0"), score, ["1"])
    exact_auc, exact_ap = metrics.roc_auc_score(y, score), metrics.average_precision_score(y, score)
    assert 0 < abs(s.roc_auc() - exact_auc) <= s.roc_auc_bound()
    assert abs(s.average_precision() - exact_ap) <= s.average_precision_bound()


@pytest.mark.parametrize("bins", [100, 1_000, 10_000])
def test_auc_bound_follows_the_bin_width(bins: int) -> None:
    # densities at most D = 1.25: the stated bound is at most D / (2 bins), the observed error within it
    rng = np.random.default_rng(bins)
    n = 200_000
    y = rng.random(n) < 0.5
    score = np.where(y, rng.uniform(0.2, 1.0, n), rng.uniform(0.0, 0.8, n))
    s = ClassificationState(bins=bins).update(np.where(y, "1", "0"), np.full(n, "0"), score, ["1"])
    assert s.roc_auc_bound() <= 1.1 * 1.25 / (2 * bins)  # 10% for sampling noise in the bins
    assert abs(s.roc_auc() - metrics.roc_auc_score(y, score)) <= s.roc_auc_bound()


@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.5, 0.77, 1.0])
def test_counts_across_thresholds(threshold: float) -> None:
    rng = np.random.default_rng(3)
    y = rng.random(5_000) < 0.4
    score = np.where(y, rng.beta(4, 2, y.size), rng.beta(2, 4, y.size))
    s = ClassificationState(bins=1_000).update(np.where(y, "1", "0"), np.full(y.size, "0"), score, ["1"])
    got, unsure = s.confusion_at(threshold)
    want = metrics.confusion_matrix(y, score >= threshold, labels=[False, True]).ravel()  # tn, fp, fn, tp
    assert sum(abs(a - b) for a, b in zip((got.tn, got.fp, got.fn, got.tp), want, strict=True)) <= 2 * unsure
    assert unsure == np.count_nonzero(
        np.minimum((score * 1_000).astype(int), 999) == min(int(threshold * 1_000), 999)
    )
    if threshold in (0.0, 0.5):  # a bin edge: its bin's rows are all at or above it, so every count is exact
        assert (got.tn, got.fp, got.fn, got.tp) == tuple(want)
    with pytest.raises(ValueError, match="no score for class 'x'"):
        s.confusion_at(0.5, "x")


@pytest.mark.parametrize("k", [3, 5])
def test_multiclass_scores_one_vs_rest(k: int) -> None:
    y, pred, probs = _multiclass(k, k, 10_000)
    classes = _classes(k)
    s = ClassificationState().update(y, pred, probs, classes)
    want = metrics.roc_auc_score(y, probs, multi_class="ovr", average="macro", labels=classes)
    assert abs(s.roc_auc() - want) <= s.roc_auc_bound() < 1e-3
    per_class_ap = [metrics.average_precision_score(y == c, probs[:, i]) for i, c in enumerate(classes)]
    assert abs(s.average_precision() - np.mean(per_class_ap)) <= s.average_precision_bound() < 1e-3
    assert abs(s.roc_auc("c1") - metrics.roc_auc_score(y == "c1", probs[:, 1])) <= s.roc_auc_bound("c1")
    assert s.log_loss() == pytest.approx(metrics.log_loss(y, probs, labels=classes), rel=SUMS)
    assert math.isnan(s.brier())  # binary only


def test_bad_scores_say_what_and_where() -> None:
    with pytest.raises(ValueError, match=r"row 1 has \[1.5\]"):
        ClassificationState().update(np.array(["1", "0"]), np.array(["1", "0"]), np.array([0.2, 1.5]), ["1"])
    with pytest.raises(ValueError, match="need score_classes"):
        ClassificationState().update(np.array(["1"]), np.array(["1"]), np.array([0.2]))
    with pytest.raises(ValueError, match="differ in shape"):
        ClassificationState().update(np.array(["1"]), np.array(["1", "0"]))
    with pytest.raises(ValueError, match="score bins"):
        ClassificationState(bins=10).merge(ClassificationState())


Row = tuple[str, str | None, float]

_rows = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c", "d"]),
        st.one_of(st.none(), st.sampled_from(["a", "b", "c", "e"])),
        st.one_of(st.just(math.nan), st.floats(0.0, 1.0)),
    ),
    max_size=60,
)


def _classification(rows: list[Row]) -> ClassificationState:
    s = ClassificationState(bins=50)
    if rows:
        y, p, score = zip(*rows, strict=True)
        s.update(np.array(y), np.array(p, dtype=object), np.array(score), ["a"])
    return s


def _same(a: ClassificationState, b: ClassificationState) -> None:
    assert a.classes == b.classes
    assert (a.matrix == b.matrix).all() and (a.unpredicted == b.unpredicted).all()
    assert a.score_classes in (b.score_classes, []) or b.score_classes == []
    if a.score_classes and b.score_classes:
        assert (a.histograms == b.histograms).all()
    assert a.scored == b.scored
    assert a.log_loss_sum == pytest.approx(b.log_loss_sum, rel=SUMS, abs=1e-9)
    assert a.brier_sum == pytest.approx(b.brier_sum, rel=SUMS, abs=1e-9)


@settings(max_examples=150, deadline=None)
@given(_rows, st.lists(st.integers(0, 60), max_size=4))
def test_classification_merge_of_parts_is_the_whole(rows: list[Row], cuts: list[int]) -> None:
    edges = [0, *sorted(min(c, len(rows)) for c in cuts), len(rows)]
    parts = [_classification(rows[a:b]) for a, b in itertools.pairwise(edges)]
    whole = _classification(rows)
    left = ClassificationState(bins=50)
    for part in parts:
        left.merge(part.copy())
    right = ClassificationState(bins=50)
    for part in reversed(parts):
        right = part.copy().merge(right)
    for merged in (left, right):
        _same(merged, whole)
        assert merged.accuracy() == pytest.approx(whole.accuracy(), nan_ok=True)
    again = ClassificationState.from_bytes(whole.to_bytes())
    _same(again, whole)
    assert again.to_bytes() == whole.to_bytes()


@pytest.mark.parametrize("seed", range(4))
def test_regression_equals_scikit_learn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.lognormal(2.0, 1.0, 5_000)
    p = y * rng.normal(1.0, 0.2, y.size) + rng.normal(0.0, 1.0, y.size)
    s = RegressionState().update(y[:2_000], p[:2_000]).merge(RegressionState().update(y[2_000:], p[2_000:]))
    assert s.mae() == pytest.approx(metrics.mean_absolute_error(y, p), rel=SUMS)
    assert s.rmse() == pytest.approx(metrics.root_mean_squared_error(y, p), rel=SUMS)
    assert s.r2() == pytest.approx(metrics.r2_score(y, p), rel=SUMS)
    assert s.mape() == pytest.approx(metrics.mean_absolute_percentage_error(y, p), rel=SUMS)
    err = p - y
    for q in (0.01, 0.25, 0.5, 0.9, 0.99):
        exact = float(np.quantile(err, q, method="lower"))
        assert abs(s.error_quantile(q) - exact) <= 0.01 * abs(exact) + 1e-9


def test_mape_leaves_zero_labels_out() -> None:
    s = RegressionState().update(np.array([0.0, 2.0, 4.0]), np.array([1.0, 3.0, 3.0]))
    assert s.mape() == pytest.approx((0.5 + 0.25) / 2)
    assert s.mae() == pytest.approx(1.0)  # every row counts elsewhere
    assert math.isnan(RegressionState().mape()) and math.isnan(RegressionState().r2())


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.floats(-1e6, 1e6), st.floats(-1e6, 1e6)), max_size=40),
    st.integers(0, 40),
)
def test_regression_merge_of_parts_is_the_whole(rows: list[tuple[float, float]], cut: int) -> None:
    def state(part: list[tuple[float, float]]) -> RegressionState:
        y, p = (np.array(c, dtype=float) for c in zip(*part, strict=True)) if part else (np.zeros(0),) * 2
        return RegressionState().update(y, p)

    whole, merged = state(rows), state(rows[:cut]).merge(state(rows[cut:]))
    assert merged.rows == whole.rows and merged.ape_rows == whole.ape_rows
    assert (merged.errors.positive == whole.errors.positive).all() and merged.errors.zero == whole.errors.zero
    for f in ("mae", "rmse", "mape"):
        assert getattr(merged, f)() == pytest.approx(getattr(whole, f)(), rel=1e-9, abs=1e-6, nan_ok=True)
    assert merged.labels.m2 == pytest.approx(whole.labels.m2, rel=1e-6, abs=1e-3)
    again = RegressionState.from_bytes(whole.to_bytes())
    assert again.to_bytes() == whole.to_bytes() and again.mae() == pytest.approx(whole.mae(), nan_ok=True)


def test_codec_refuses_another_kind_of_state() -> None:
    with pytest.raises(InputError, match="not a Vigil classification state"):
        ClassificationState.from_bytes(RegressionState().to_bytes())


def test_wilson_against_a_hand_computed_case_and_scipy() -> None:
    # 8 of 10, z = 1.959964: centre (8 + 1.920729) / 13.841459 = 0.716740, half 0.226578
    low, high = wilson(8, 10)
    assert low == pytest.approx(0.490162, abs=1e-6) and high == pytest.approx(0.943318, abs=1e-6)
    for k, n in [(0, 40), (3, 40), (40, 40), (512, 1000), (1, 3)]:
        want = binomtest(k, n).proportion_ci(confidence_level=0.9, method="wilson")
        assert wilson(k, n, 0.9) == pytest.approx((want.low, want.high), rel=1e-12, abs=1e-15)
    assert all(math.isnan(v) for v in wilson(0, 0))
    with pytest.raises(ValueError, match="successes must be in"):
        wilson(5, 4)
