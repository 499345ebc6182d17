"""Defaults for drift tests (``drift:``) and the drift methods each column type can use."""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import Field

from vigil.spec.fields import Section

__all__ = [
    "CATEGORICAL_METHODS",
    "DRIFT_METHODS",
    "METHODS_BY_TYPE",
    "NUMERIC_METHODS",
    "CategoricalMethod",
    "Correction",
    "DriftMethod",
    "DriftSettings",
    "MultivariateMode",
    "NumericMethod",
]

Correction = Literal["none", "bonferroni", "bh"]
NumericMethod = Literal["ks", "wasserstein", "psi", "jensen_shannon", "hellinger", "cvm"]
CategoricalMethod = Literal["chi2", "psi", "jensen_shannon", "hellinger"]
MultivariateMode = Literal["both", "reconstruction", "classifier", "off"]
"""Which joint tests ``vigil report`` runs over the features (``drift.multivariate``)."""
DriftMethod = Literal["ks", "chi2", "psi", "jensen_shannon", "hellinger", "wasserstein", "cvm"]

NUMERIC_METHODS: tuple[str, ...] = get_args(NumericMethod)
CATEGORICAL_METHODS: tuple[str, ...] = get_args(CategoricalMethod)
DRIFT_METHODS: tuple[str, ...] = get_args(DriftMethod)
METHODS_BY_TYPE: dict[str, tuple[str, ...]] = {
    "numeric": NUMERIC_METHODS,
    "categorical": CATEGORICAL_METHODS,
    "datetime": NUMERIC_METHODS,  # compared as timestamps
    "text": (),  # tested through its descriptors (length, words, empty, out-of-vocabulary share)
    "embedding": (),  # always MMD
}
"""Drift methods that apply to each column type (besides ``auto``)."""


class DriftSettings(Section):
    """Defaults for drift tests (``drift:``)."""

    alpha: Annotated[float, Field(gt=0, lt=1)] = 0.05
    correction: Correction = "none"
    drift_share: Annotated[float, Field(gt=0, le=1)] = 0.5
    numeric_method: Literal["auto", NumericMethod] = "auto"
    categorical_method: Literal["auto", CategoricalMethod] = "auto"
    thresholds: dict[DriftMethod, Annotated[float, Field(gt=0)]] = Field(default_factory=dict)
    calibrate: bool = False
    multivariate: MultivariateMode = "reconstruction"
    """The PCA reconstruction error by default (a second for 1M rows); ``both`` adds the domain classifier
    (a few seconds and scikit-learn's import per report), ``classifier`` runs it alone, ``off`` neither."""
