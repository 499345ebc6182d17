"""Model quality from predictions and their labels: pure arithmetic over numpy arrays.

``classification`` (accuracy, precision, recall, F1 from the confusion counts) and ``regression`` (MAE, MSE,
RMSE, R²). Every function takes whole arrays (one element per labelled prediction) and answers NaN where the
metric is undefined (no rows, a zero denominator), never raising and never warning: the caller decides what
an undefined value means (the live metrics show no value). Checked against scikit-learn in the tests.
"""

from vigil.performance.classification import Confusion, accuracy, confusion, f1, precision, recall
from vigil.performance.regression import mae, mse, r2, rmse

__all__ = ["Confusion", "accuracy", "confusion", "f1", "mae", "mse", "precision", "r2", "recall", "rmse"]
