"""Realised model quality in the live catalogue: the figures of ``vigil.performance``'s mergeable states,
read from a step's labelled predictions (``Step.classification`` and ``Step.regression``, built once per
step and shared by every metric read there).

Names: ``<figure>_<average>`` for the averages of a classification figure over classes (``precision_macro``,
``recall_micro``, ``f1_weighted``...; ``precision``, ``recall`` and ``f1`` alone stay class ``1``'s for a
binary model and the macro average for a multiclass one), ``<figure>:<class>`` for one class
(``recall:cat``; classes as the labels name them). Score figures (``roc_auc``, ``pr_auc``, ``log_loss``,
``brier``, ``ece``) are binary only: the live event carries one score, the probability of class ``1``.
Guarantees: counts-based figures are exact; ROC AUC and PR AUC are within the bound their score histograms
state (at most ``½ · D / 10,000`` for ROC AUC, ``D`` the score densities' bound); ECE within 5e-5 of the
raw scores'; the absolute-error quantiles within 1%.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from vigil.monitoring.metric import Metric, Step

if TYPE_CHECKING:
    import vigil.performance as performance_types

__all__ = ["PER_CLASS", "REALISED", "confusion_of", "labelled_only"]

_CLASSES = ("binary", "multiclass")
_POSITIVE = "1"
"""The positive class of a binary model."""

Compute = Callable[[Step, str | None], float | None]
Counts = Callable[[Step, str | None], tuple[int, int] | None]


def labelled_only(fn: Callable[[Step, str | None], float]) -> Compute:
    """A figure of the step's labelled predictions: None without any."""
    return lambda step, feature: fn(step, feature) if step.labelled else None


def confusion_of(step: Step, of: str | None) -> performance_types.Confusion:
    """The one-vs-rest counts of class ``of`` (class ``1`` by default) among the labelled predictions."""
    return step.classification.confusion(of if of is not None else _POSITIVE)


def _classification(fn: Callable[[performance_types.ClassificationState], float]) -> Compute:
    return labelled_only(lambda step, feature: fn(step.classification))


def _regression(fn: Callable[[performance_types.RegressionState], float]) -> Compute:
    return labelled_only(lambda step, feature: fn(step.regression))


def _averaged(figure: str, average: str) -> Metric:
    what = {
        "macro": "unweighted mean over classes",
        "micro": "over all labelled predictions pooled",
        "weighted": "mean over classes weighted by their labelled count",
    }[average]
    proportion: Counts | None = None
    if average == "micro" and figure != "f1":  # pooled counts: one proportion
        proportion = (
            (lambda s, f: (s.classification.correct(), int(s.classification.matrix.sum())))
            if figure == "precision"
            else (lambda s, f: (s.classification.correct(), s.classification.rows))
        )
    return Metric(
        f"{figure}_{average}",
        f"{figure} of every class, {what}",
        "ratio",
        "rows",
        _classification(lambda c: getattr(c, figure)(average)),
        labels=True,
        segment=True,
        tasks=_CLASSES,
        proportion=proportion,
        sampled=True,
    )


def _positive_rate(step: Step, feature: str | None) -> tuple[int, int]:
    c = confusion_of(step, None)
    return c.tp + c.fp, step.classification.rows


REALISED: tuple[Metric, ...] = (
    *(
        _averaged(figure, average)
        for figure in ("precision", "recall", "f1")
        for average in ("macro", "micro", "weighted")
    ),
    Metric(
        "positive_rate",
        "share of labelled predictions that were class 1 (binary)",
        "ratio",
        "rows",
        _classification(lambda c: c.positive_rate(_POSITIVE)),
        labels=True,
        segment=True,
        tasks=("binary",),
        proportion=_positive_rate,
        sampled=True,
    ),
    Metric(
        "roc_auc",
        "area under the ROC curve of the score (binary; within its bound of exact, at most 5e-5 · D)",
        "ratio",
        "rows",
        _classification(lambda c: c.roc_auc()),
        labels=True,
        segment=True,
        tasks=("binary",),
        sampled=True,
    ),
    Metric(
        "pr_auc",
        "average precision (area under the precision-recall curve) of the score (binary)",
        "ratio",
        "rows",
        _classification(lambda c: c.average_precision()),
        labels=True,
        segment=True,
        tasks=("binary",),
        sampled=True,
    ),
    Metric(
        "log_loss",
        "mean log loss of the score (binary; probabilities clipped to [2.2e-16, 1 - 2.2e-16])",
        "score",
        "rows",
        _classification(lambda c: c.log_loss()),
        labels=True,
        segment=True,
        tasks=("binary",),
        sampled=True,
    ),
    Metric(
        "brier",
        "mean squared error of the score against the 0/1 label (binary)",
        "score",
        "rows",
        _classification(lambda c: c.brier()),
        labels=True,
        segment=True,
        tasks=("binary",),
        sampled=True,
    ),
    Metric(
        "ece",
        "expected calibration error of the score over 10 equal bins (binary; within 5e-5 of exact)",
        "ratio",
        "rows",
        _classification(lambda c: c.ece()),
        labels=True,
        segment=True,
        tasks=("binary",),
        sampled=True,
    ),
    Metric(
        "mape",
        "mean absolute percentage error (0.1 is 10%) over labels not zero (regression)",
        "ratio",
        "rows",
        _regression(lambda r: r.mape()),
        labels=True,
        segment=True,
        tasks=("regression",),
        sampled=True,
    ),
    Metric(
        "r2",
        "coefficient of determination, 1 - SSE / SST (regression)",
        "ratio",
        "rows",
        _regression(lambda r: r.r2()),
        labels=True,
        segment=True,
        tasks=("regression",),
        sampled=True,
    ),
    Metric(
        "error_p50",
        "median absolute error (regression; within 1%)",
        "label",
        "rows",
        _regression(lambda r: r.abs_error_quantile(0.5)),
        labels=True,
        segment=True,
        tasks=("regression",),
        sampled=True,
    ),
    Metric(
        "error_p90",
        "90th percentile absolute error (regression; within 1%)",
        "label",
        "rows",
        _regression(lambda r: r.abs_error_quantile(0.9)),
        labels=True,
        segment=True,
        tasks=("regression",),
        sampled=True,
    ),
    Metric(
        "labelled",
        "predictions with a label so far (the sample behind every label metric)",
        "predictions",
        "rows",
        lambda step, feature: float(step.labelled) if len(step.rows) else None,
        labels=True,
        segment=True,
    ),
)
"""The realised-quality metrics, listed by the API after the catalogue's first label metrics."""


def _class_figure(fn: Callable[[performance_types.Confusion], float]) -> Compute:
    return labelled_only(lambda step, of: fn(confusion_of(step, of)) if of else math.nan)


def _class_counts(fn: Callable[[performance_types.Confusion], tuple[int, int]]) -> Counts:
    """A proportion's (successes, trials) from one class's counts, for its Wilson interval."""
    return lambda step, of: fn(confusion_of(step, of))


PER_CLASS: dict[str, Metric] = {
    "precision": Metric(
        "precision",
        "labelled predictions of one class that were right",
        "ratio",
        "rows",
        _class_figure(lambda c: c.precision),
        labels=True,
        tasks=_CLASSES,
        proportion=_class_counts(lambda c: (c.tp, c.tp + c.fp)),
        sampled=True,
    ),
    "recall": Metric(
        "recall",
        "labelled cases of one class that were predicted so",
        "ratio",
        "rows",
        _class_figure(lambda c: c.recall),
        labels=True,
        tasks=_CLASSES,
        proportion=_class_counts(lambda c: (c.tp, c.tp + c.fn)),
        sampled=True,
    ),
    "f1": Metric(
        "f1",
        "harmonic mean of one class's precision and recall",
        "ratio",
        "rows",
        _class_figure(lambda c: c.f1),
        labels=True,
        tasks=_CLASSES,
        sampled=True,
    ),
}
"""Metrics of one class, read as ``name:<class>`` (``recall:cat``)."""
