"""Classification quality: accuracy over any classes; precision, recall and F1 for one positive class.

Labels and predictions are arrays of class codes (integers, or anything numpy compares elementwise) of the
same length; a prediction that is missing should carry a code no label has (it then counts as wrong).

>>> import numpy as np
>>> y_true, y_pred = np.array([1, 0, 1, 1]), np.array([1, 1, 0, 1])
>>> accuracy(y_true, y_pred), precision(y_true, y_pred, 1), recall(y_true, y_pred, 1)
(0.5, 0.6666666666666666, 0.6666666666666666)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["Confusion", "accuracy", "confusion", "f1", "precision", "recall"]

Classes = npt.NDArray[Any]


@dataclass(frozen=True)
class Confusion:
    """The one-vs-rest confusion counts of a positive class."""

    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def precision(self) -> float:
        """tp / (tp + fp); NaN when nothing was predicted positive."""
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float:
        """tp / (tp + fn); NaN when no label is positive."""
        return _ratio(self.tp, self.tp + self.fn)

    @property
    def f1(self) -> float:
        """2 tp / (2 tp + fp + fn), the harmonic mean of precision and recall; NaN when both are undefined."""
        return _ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn)


def confusion(y_true: Classes, y_pred: Classes, positive: Any) -> Confusion:
    """Count true and false positives and negatives of ``positive``, in one pass over the arrays."""
    actual = np.asarray(y_true) == positive
    predicted = np.asarray(y_pred) == positive
    tp = int(np.count_nonzero(actual & predicted))
    fp = int(np.count_nonzero(predicted)) - tp
    fn = int(np.count_nonzero(actual)) - tp
    return Confusion(tp, fp, fn, int(actual.size) - tp - fp - fn)


def accuracy(y_true: Classes, y_pred: Classes) -> float:
    """The share of predictions equal to their label; NaN for no rows."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return _ratio(int(np.count_nonzero(y_true == y_pred)), int(y_true.size))


def precision(y_true: Classes, y_pred: Classes, positive: Any) -> float:
    """Of the predictions of ``positive``, the share that were right."""
    return confusion(y_true, y_pred, positive).precision


def recall(y_true: Classes, y_pred: Classes, positive: Any) -> float:
    """Of the labels ``positive``, the share predicted so."""
    return confusion(y_true, y_pred, positive).recall


def f1(y_true: Classes, y_pred: Classes, positive: Any) -> float:
    """The harmonic mean of precision and recall of ``positive``."""
    return confusion(y_true, y_pred, positive).f1


def _ratio(num: int, den: int) -> float:
    return num / den if den else math.nan
