"""Multivariate drift: the PCA reconstruction error and the domain classifier, checked against scikit-learn,
quiet on two samples of one distribution at every size, and catching a correlation change that leaves every
column's marginal distribution unchanged.

False-alarm tolerance: the reconstruction band is mean ± 3 sd (0.27% per test under independence) and the
classifier's alpha is 0.001, so over the ~20 same-distribution runs here the expected number of alarms is
about 0.03; each test allows none, on fixed seeds.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn.decomposition import PCA
from sklearn.metrics import roc_auc_score

from vigil.drift.multivariate import Encoder, Reconstruction, domain_classifier_drift, reconstruction_drift
from vigil.drift.multivariate.domain import auc


def _table(
    rng: np.random.Generator, n: int, rho: float
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Four columns from a Gaussian copula with correlation ``rho`` between neighbours: skewed and
    heavy-tailed marginals and a categorical one. The marginals do not depend on ``rho``; only how the
    columns move together does."""
    cov = np.array([[rho ** abs(i - j) for j in range(4)] for i in range(4)])
    z = rng.multivariate_normal(np.zeros(4), cov, size=n)
    u = stats.norm.cdf(z)
    numeric = {
        "income": stats.lognorm.ppf(u[:, 0], 0.8, scale=40_000),
        "age": 18 + 60 * u[:, 1],
        "debt": stats.t.ppf(u[:, 2], 3),
    }
    categorical = {
        "channel": np.array(["web", "app", "branch"], dtype=object)[np.digitize(u[:, 3], [0.5, 0.8])]
    }
    return numeric, categorical


def _encoded(seed: int, n_ref: int, n_cur: int, rho_cur: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ref, cur = _table(rng, n_ref, 0.8), _table(rng, n_cur, rho_cur)
    enc = Encoder.fit(*ref)
    return enc.transform(*ref), enc.transform(*cur)


def test_encoder_standardises_numeric_and_frequency_encodes_categorical() -> None:
    x = np.array([1.0, np.nan, 3.0, np.inf, 5.0])
    c = np.array(["a", "b", "a", None, "a"], dtype=object)
    enc = Encoder.fit({"x": x}, {"c": c})
    filled = np.array([1.0, 3.0, 3.0, 3.0, 5.0])  # median of the finite values
    shares = np.array([0.6, 0.2, 0.6, 0.2, 0.6])  # a: 3/5, b: 1/5, null: 1/5
    want = np.column_stack([(filled - filled.mean()) / filled.std(), (shares - shares.mean()) / shares.std()])
    np.testing.assert_allclose(enc.transform({"x": x}, {"c": c}), want, rtol=1e-12)
    unseen = enc.transform({"x": np.array([3.0])}, {"c": np.array(["zzz"], dtype=object)})
    assert unseen[0, 1] == pytest.approx((0.0 - shares.mean()) / shares.std(), rel=1e-12)


def test_reconstruction_matches_scikit_learn_pca() -> None:
    x_ref, x_cur = _encoded(0, 5000, 3000, 0.8)
    model = Reconstruction(x_ref)
    pca = PCA(n_components=0.65, svd_solver="full").fit(x_ref)
    assert model.components == pca.n_components_
    want = np.linalg.norm(x_cur - pca.inverse_transform(pca.transform(x_cur)), axis=1)
    # same components, same centre: equal up to floating-point rounding (1e-9 relative)
    np.testing.assert_allclose(model.errors(x_cur), want, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(("n", "seeds"), [(1_000, 5), (10_000, 5), (100_000, 3), (1_000_000, 1)])
def test_reconstruction_quiet_on_one_distribution(n: int, seeds: int) -> None:
    for seed in range(seeds):
        x_ref, x_cur = _encoded(seed, n, n, 0.8)
        outcome = reconstruction_drift(x_ref, x_cur)
        assert not outcome.drift, (n, seed, outcome)
        assert outcome.lower_threshold is not None
        assert outcome.lower_threshold < outcome.statistic < outcome.threshold


@pytest.mark.parametrize(("n_ref", "n_cur"), [(2_000, 500), (50_000, 1_000), (1_000, 20_000)])
def test_reconstruction_quiet_when_sizes_differ(n_ref: int, n_cur: int) -> None:
    for seed in range(3):
        x_ref, x_cur = _encoded(100 + seed, n_ref, n_cur, 0.8)
        assert not reconstruction_drift(x_ref, x_cur).drift


@pytest.mark.parametrize("n", [1_000, 10_000, 100_000])
@pytest.mark.parametrize("rho", [0.0, 0.95])
def test_correlation_change_caught_though_no_column_moves(n: int, rho: float) -> None:
    rng = np.random.default_rng(7)
    ref, cur = _table(rng, n, 0.8), _table(rng, n, rho)
    # no per-column test sees it: every KS / chi-square p-value is above 0.001
    for name in ref[0]:
        assert stats.ks_2samp(ref[0][name], cur[0][name]).pvalue > 0.001, name
    _, counts = np.unique(np.r_[ref[1]["channel"], cur[1]["channel"]], return_inverse=True)
    table = np.stack([np.bincount(counts[:n], minlength=3), np.bincount(counts[n:], minlength=3)])
    assert stats.chi2_contingency(table).pvalue > 0.001
    enc = Encoder.fit(*ref)
    x_ref, x_cur = enc.transform(*ref), enc.transform(*cur)
    outcome = reconstruction_drift(x_ref, x_cur)
    assert outcome.drift, outcome
    # weaker correlation: rows leave the principal plane (error up); stronger: they hug it (error down)
    assert (outcome.statistic > outcome.threshold) == (rho < 0.8)
    assert domain_classifier_drift(x_ref, x_cur).drift


def test_auc_equals_scikit_learn_with_ties() -> None:
    rng = np.random.default_rng(3)
    scores = rng.integers(0, 20, 2000) / 20  # many ties
    labels = (rng.random(2000) < 0.3).astype(float)
    assert auc(scores, labels) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)


@pytest.mark.parametrize(("n", "seeds"), [(1_000, 3), (100_000, 2), (1_000_000, 1)])
def test_domain_classifier_quiet_on_one_distribution(n: int, seeds: int) -> None:
    for seed in range(seeds):
        x_ref, x_cur = _encoded(200 + seed, n, n, 0.8)
        outcome = domain_classifier_drift(x_ref, x_cur, seed=seed)
        assert not outcome.drift, (n, seed, outcome)
        assert outcome.details["reference_rows"] == min(n, 5000)  # bounded sample


def test_reference_too_small_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 100"):
        Reconstruction(np.zeros((50, 3)))
