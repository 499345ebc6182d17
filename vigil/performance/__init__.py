"""Model quality from predictions and their labels: pure arithmetic over numpy arrays.

``classification`` (accuracy, precision, recall, F1 from the confusion counts) and ``regression`` (MAE, MSE,
RMSE, R²) take whole arrays (one element per labelled prediction). ``ClassificationState`` and
``RegressionState`` hold the same figures (and ROC AUC, average precision, log loss, Brier score, MAPE and
the error distribution) as mergeable per-window state, so any range is the merge of its windows; ``curves``
computes the AUCs from score histograms with a bound on their distance from the exact value, ``reliability``
the reliability diagram and expected calibration error from the same histograms, ``interval`` the Wilson
interval of a proportion. ``fairness`` compares groups' confusion counts (parity and odds
differences, disparate impact); ``slices`` finds the slices whose errors are significantly worse than the
rest's, with a multiple-testing correction. ``estimation`` estimates classification metrics before the
labels arrive (from scores calibrated by ``calibration`` on a labelled reference), with ±3 SE bands and the
concept-shift check. Every figure is NaN where the metric is undefined (no rows, a zero
denominator), never raising and never warning: the caller decides what an undefined value means (the live
metrics show no value). Checked against scikit-learn in the tests.
"""

from vigil.performance.classification import Confusion, accuracy, confusion, f1, precision, recall
from vigil.performance.classification_state import ClassificationState
from vigil.performance.interval import wilson
from vigil.performance.regression import mae, mse, r2, rmse
from vigil.performance.regression_state import RegressionState
from vigil.performance.reliability import ReliabilityBin

__all__ = [
    "ClassificationState",
    "Confusion",
    "RegressionState",
    "ReliabilityBin",
    "accuracy",
    "confusion",
    "f1",
    "mae",
    "mse",
    "precision",
    "r2",
    "recall",
    "rmse",
    "wilson",
]
