"""Regression quality: errors of numeric predictions against numeric labels.

>>> import numpy as np
>>> y_true, y_pred = np.array([1.0, 2.0, 3.0]), np.array([1.5, 2.0, 2.0])
>>> mae(y_true, y_pred), mse(y_true, y_pred), round(rmse(y_true, y_pred), 4), r2(y_true, y_pred)
(0.5, 0.4166666666666667, 0.6455, 0.375)
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

__all__ = ["mae", "mse", "r2", "rmse"]

Values = npt.NDArray[np.float64]


def mae(y_true: Values, y_pred: Values) -> float:
    """Mean absolute error; NaN for no rows."""
    err = _errors(y_true, y_pred)
    return float(np.mean(np.abs(err))) if err.size else math.nan


def mse(y_true: Values, y_pred: Values) -> float:
    """Mean squared error; NaN for no rows."""
    err = _errors(y_true, y_pred)
    return float(np.mean(err**2)) if err.size else math.nan


def rmse(y_true: Values, y_pred: Values) -> float:
    """Root mean squared error, in the labels' unit; NaN for no rows."""
    return math.sqrt(mse(y_true, y_pred))


def r2(y_true: Values, y_pred: Values) -> float:
    """Coefficient of determination, 1 - SSE / SST: 1 is perfect, 0 is as good as predicting the mean;
    NaN for fewer than two rows or constant labels."""
    y = np.asarray(y_true, dtype=np.float64)
    err = _errors(y, y_pred)
    if y.size < 2:
        return math.nan
    total = float(np.sum((y - y.mean()) ** 2))
    return 1.0 - float(np.sum(err**2)) / total if total else math.nan


def _errors(y_true: Values, y_pred: Values) -> Values:
    y, p = np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)
    if y.shape != p.shape:
        raise ValueError(f"labels and predictions differ in length ({y.size} and {p.size})")
    return p - y
