"""Performance estimated before the labels arrive, and the concept-shift check, in the live catalogue.

``estimated_<metric>`` (``roc_auc``, ``accuracy``, ``precision``, ``recall``, ``f1``) is
``vigil.performance.estimation`` over all of a step's scored predictions, labelled or not, with the model's
estimator (``vigil.monitoring.estimates``: fitted on its baseline's labelled scores); the metrics API gives
its band (``value ∓ 3 SE``) as the reading's ``lower`` and ``upper``. Once labels arrive the realised
figure (``accuracy``, ...) takes over; ``concept_shift`` then compares the two on the labelled predictions
of the step: 1 when a realised figure lies outside the band estimated for those same predictions (the
relation between score and outcome changed since the baseline, which no estimate from scores can see), 0
when all lie inside. Binary models only (the live event carries one score).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vigil.monitoring.metric import Metric, Step

if TYPE_CHECKING:
    from vigil.performance.estimation import Band

__all__ = ["ESTIMATED", "estimates", "shift"]

_WHAT = {
    "roc_auc": "ROC AUC",
    "accuracy": "accuracy",
    "precision": "precision of class 1",
    "recall": "recall of class 1",
    "f1": "F1 of class 1",
}


def estimates(step: Step) -> dict[str, Band] | None:
    """The step's estimated metrics over its scored predictions (None without an estimator or rows)."""
    estimator = step.estimator()
    if estimator is None or not len(step.rows):
        return None
    from vigil.monitoring.estimates import positive_rows  # numpy only once a step is read

    scores, predictions, _, _ = positive_rows(step.rows)
    return estimator.estimate(scores, predictions) if len(scores) else None


def shift(step: Step) -> tuple[dict[str, Band], dict[str, float]] | None:
    """The estimate and the realised figures over the step's labelled, scored predictions (None without
    an estimator or such rows)."""
    estimator = step.estimator()
    if estimator is None or not step.labelled:
        return None
    from vigil.monitoring.estimates import against_labels

    return against_labels(estimator, step.rows)


def _estimated(name: str) -> Metric:
    def compute(step: Step, feature: str | None) -> float | None:
        found = step.estimates
        return None if found is None else found[name].value

    def band(step: Step, feature: str | None) -> tuple[float, float] | None:
        found = step.estimates
        return None if found is None else (found[name].lower, found[name].upper)

    return Metric(
        f"estimated_{name}",
        f"{_WHAT[name]} estimated from the scores before labels arrive (binary; needs a baseline with "
        "labelled scores); its band ±3 SE as lower and upper",
        "ratio",
        "rows",
        compute,
        segment=True,
        tasks=("binary",),
        band=band,
    )


def _concept_shift(step: Step, feature: str | None) -> float | None:
    found = step.shift
    if found is None:
        return None
    from vigil.performance.estimation import concept_shift

    return 1.0 if concept_shift(*found) else 0.0


ESTIMATED: tuple[Metric, ...] = (
    *(_estimated(name) for name in ("roc_auc", "accuracy", "precision", "recall", "f1")),
    Metric(
        "concept_shift",
        "1 when a realised figure of the labelled predictions lies outside the band estimated for them "
        "from their scores (the relation between score and outcome changed), else 0 (binary; needs a "
        "baseline with labelled scores)",
        "ratio",
        "rows",
        _concept_shift,
        labels=True,
        segment=True,
        tasks=("binary",),
        sampled=True,
    ),
)
"""The estimated metrics and the concept-shift check, in catalogue order."""
