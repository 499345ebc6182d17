"""Performance estimation on data whose truth is known: labels drawn as Bernoulli(true probability), the
model's scores a known function of that probability, covariate shift by moving the score distribution.

Tolerances (written down once, here):
* realised metrics equal scikit-learn's to 1e-12;
* the estimate's mean absolute error against the realised figure, over chunks of 1,000 rows, is under 0.02
  for ROC AUC and accuracy (the realised figure's own sampling SD at that size is about 0.014);
* in at least 95% of chunks every one of the five realised figures lies inside its band (±3 SE; the
  nominal coverage is 99.7% per metric);
* the band's SE is within 10% of the realised figure's SD over 1,000 Monte Carlo label draws (the Monte
  Carlo SD itself is uncertain by about 2.2%).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score

from vigil.errors import InputError
from vigil.performance.calibration import fit_calibration, needs_calibration
from vigil.performance.estimation import METRICS, Band, Estimator, concept_shift, outside, realised

Floats = npt.NDArray[np.float64]
CHUNK = 1000


def binary(rng: np.random.Generator, n: int, a: float = 2.0, b: float = 2.0) -> tuple[Floats, Floats]:
    """True probabilities ~ Beta(a, b) and labels drawn from them."""
    truth = rng.beta(a, b, n)
    return truth, (rng.uniform(size=n) < truth).astype(np.int64)


def multiclass(rng: np.random.Generator, n: int, shift: float = 0.0, k: int = 3) -> tuple[Floats, Floats]:
    logits = rng.normal(size=(n, k)) * 1.5
    logits[:, 0] += shift
    p = np.exp(logits)
    p /= p.sum(axis=1, keepdims=True)
    labels = (p.cumsum(axis=1) < rng.uniform(size=(n, 1))).sum(axis=1)
    return p, np.minimum(labels, k - 1)


def test_realised_metrics_are_scikit_learns() -> None:
    rng = np.random.default_rng(1)
    s, y = binary(rng, 3000)
    s = np.round(s, 2)  # ties
    pred = (s >= 0.5).astype(np.int64)
    got = realised(s, y, pred)
    want = {
        "roc_auc": roc_auc_score(y, s),
        "accuracy": accuracy_score(y, pred),
        "precision": precision_score(y, pred),
        "recall": recall_score(y, pred),
        "f1": f1_score(y, pred),
    }
    assert got == pytest.approx(want, abs=1e-12)
    p, labels = multiclass(rng, 3000)
    pred = p.argmax(axis=1)
    got = realised(p, labels, pred)
    want = {
        "roc_auc": roc_auc_score(labels, p, multi_class="ovr", average="macro"),
        "accuracy": accuracy_score(labels, pred),
        "precision": precision_score(labels, pred, average="macro"),
        "recall": recall_score(labels, pred, average="macro"),
        "f1": f1_score(labels, pred, average="macro"),
    }
    assert got == pytest.approx(want, abs=1e-12)


def test_calibration_is_scikit_learns_isotonic_regression_and_fitted_only_where_it_helps() -> None:
    rng = np.random.default_rng(2)
    truth, y = binary(rng, 5000)
    raw = truth**3  # over-confident towards 0: needs calibration
    c = fit_calibration(raw, y, check=False)
    want = IsotonicRegression(out_of_bounds="clip").fit(raw, y)
    grid = np.linspace(-0.1, 1.1, 2001).clip(0, 1)
    assert np.abs(c.apply(grid) - want.predict(grid)).max() < 1e-12
    assert c.knots.size < 400  # the blocks' ends, not the 5,000 rows
    assert needs_calibration(raw, y)
    assert not needs_calibration(truth, y)
    assert fit_calibration(truth, y).is_identity


@pytest.mark.parametrize("distort", ["calibrated", "cubed"])
def test_estimates_are_close_and_bands_cover_under_covariate_shift(distort: str) -> None:
    errors: dict[str, list[float]] = {"roc_auc": [], "accuracy": []}
    covered = chunks = 0
    for seed in range(5):
        rng = np.random.default_rng(100 + seed)
        truth, y = binary(rng, 50_000)
        scores = truth if distort == "calibrated" else truth**3
        est = Estimator.fit(scores, y)
        assert est.calibrated == [distort != "calibrated"]
        for a, b in [(2, 2), (4, 2), (2, 5), (1, 1)]:  # the score distribution moves, P(y | score) does not
            truth_c, y_c = binary(rng, 5 * CHUNK, a, b)
            s_c = truth_c if distort == "calibrated" else truth_c**3
            pred = (s_c >= (0.5 if distort == "calibrated" else 0.125)).astype(np.int64)
            for at in range(0, s_c.size, CHUNK):
                part = slice(at, at + CHUNK)
                e, r = est.estimate(s_c[part], pred[part]), realised(s_c[part], y_c[part], pred[part])
                for m in errors:
                    errors[m].append(abs(e[m].value - r[m]))
                covered += not outside(e, r)
                chunks += 1
    assert chunks == 100
    for m, errs in errors.items():
        assert np.mean(errs) < 0.02, (m, np.mean(errs))
    assert covered / chunks >= 0.95


def test_the_standard_error_is_the_realised_figures_spread() -> None:
    rng = np.random.default_rng(3)
    truth, y = binary(rng, 50_000)
    est = Estimator.fit(truth, y, calibration="never")
    s = rng.beta(4, 2, CHUNK)
    pred = (s >= 0.5).astype(np.int64)
    p = est.probabilities(s)[:, 1]
    e = est.estimate(s, pred)
    draws = [realised(s, (rng.uniform(size=s.size) < p).astype(np.int64), pred) for _ in range(1000)]
    for m in METRICS:
        sd = float(np.std([d[m] for d in draws]))
        assert e[m].se == pytest.approx(sd, rel=0.10), m
        assert e[m].lower == max(0.0, e[m].value - 3 * e[m].se)


def test_concept_shift_fires_when_the_relation_flips_and_rarely_otherwise() -> None:
    rng = np.random.default_rng(4)
    truth, y = binary(rng, 50_000)
    est = Estimator.fit(truth, y)
    fired_same = fired_flipped = 0
    for _ in range(40):
        s, y_c = binary(rng, CHUNK, 3, 2)
        pred = (s >= 0.5).astype(np.int64)
        e = est.estimate(s, pred)
        fired_same += bool(concept_shift(e, realised(s, y_c, pred)))
        fired_flipped += bool(concept_shift(e, realised(s, 1 - y_c, pred)))  # same scores, outcome reversed
    assert fired_flipped == 40
    assert fired_same <= 2  # 5% of 40
    assert concept_shift(e, None) is None


def test_a_milder_concept_shift_is_caught_by_the_check() -> None:
    """Labels drawn from a flatter relation (P(y | s) = 0.5 + 0.4·(s - 0.5)): the scores are as before."""
    rng = np.random.default_rng(5)
    truth, y = binary(rng, 50_000)
    est = Estimator.fit(truth, y)
    fired = 0
    for _ in range(20):
        s = rng.beta(2, 2, 2000)
        y_c = (rng.uniform(size=s.size) < 0.5 + 0.4 * (s - 0.5)).astype(np.int64)
        pred = (s >= 0.5).astype(np.int64)
        fired += bool(concept_shift(est.estimate(s, pred), realised(s, y_c, pred)))
    assert fired >= 18


def test_multiclass_estimates_cover_and_catch_swapped_classes() -> None:
    rng = np.random.default_rng(6)
    p, y = multiclass(rng, 60_000)
    est = Estimator.fit(p, y)
    assert not est.binary and est.n_classes == 3
    covered = fired = 0
    errs = []
    for shift in (0.0, 1.0, -1.0, 2.0):
        p_c, y_c = multiclass(rng, 5 * CHUNK, shift)
        pred = p_c.argmax(axis=1)
        for at in range(0, p_c.shape[0], CHUNK):
            part = slice(at, at + CHUNK)
            e = est.estimate(p_c[part], pred[part])
            r = realised(p_c[part], y_c[part], pred[part])
            errs.append(abs(e["accuracy"].value - r["accuracy"]))
            covered += not outside(e, r)
            swapped = realised(p_c[part], (y_c[part] + 1) % 3, pred[part])
            fired += bool(concept_shift(e, swapped))
    assert np.mean(errs) < 0.02
    assert covered >= 19 and fired == 20


def test_the_estimator_round_trips_through_bytes() -> None:
    rng = np.random.default_rng(7)
    truth, y = binary(rng, 20_000)
    est = Estimator.fit(truth**2, y)
    back = Estimator.from_bytes(est.to_bytes())
    s = rng.uniform(size=500)
    pred = (s > 0.3).astype(np.int64)
    assert back.estimate(s, pred) == est.estimate(s, pred)
    p, labels = multiclass(rng, 20_000)
    est3 = Estimator.fit(p, labels)
    assert Estimator.from_bytes(est3.to_bytes()).estimate(p[:300], p[:300].argmax(1)) == est3.estimate(
        p[:300], p[:300].argmax(1)
    )
    with pytest.raises(InputError, match="not a Vigil performance estimator"):
        Estimator.from_bytes(b"nonsense")


def test_bad_inputs_are_sentences() -> None:
    est = Estimator.fit(np.linspace(0, 1, 100), np.arange(100) % 2)
    with pytest.raises(InputError, match=r"score 1\.5 at row 2 is not a probability in \[0, 1\]"):
        est.estimate(np.array([0.1, 0.2, 1.5]), np.array([0, 0, 1]))
    with pytest.raises(InputError, match=r"predictions must be class indices 0\.\.1"):
        est.estimate(np.array([0.1, 0.2]), np.array([0, 2]))
    with pytest.raises(InputError, match="calibration must be auto, always or never, not 'sometimes'"):
        Estimator.fit(np.linspace(0, 1, 100), np.arange(100) % 2, calibration="sometimes")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="this estimator takes 3 columns"):
        Estimator.fit(np.full((10, 3), 1 / 3), np.arange(10) % 3).estimate(
            np.full((2, 2), 0.5), np.array([0, 1])
        )


def test_undefined_metrics_are_nan_with_a_nan_band() -> None:
    est = Estimator.fit(np.linspace(0, 1, 100), np.arange(100) % 2)
    e = est.estimate(np.array([0.1, 0.2]), np.array([0, 0]))  # nothing predicted positive
    assert math.isnan(e["precision"].value) and math.isnan(e["precision"].upper)
    assert Band.of(0.99, 0.01).upper == 1.0 and Band.of(0.01, 0.01).lower == 0.0
