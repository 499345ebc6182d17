"""Realised regression performance as mergeable state: sums, the labels' moments and an error sketch.

``RegressionState`` keeps, for the labelled numeric predictions of a window, the sums of absolute and
squared errors (MAE, MSE, RMSE), the labels' count, mean and squared deviations merged exactly (Chan et al.,
for R² = 1 - SSE / SST without the cancellation of ``Σy² - (Σy)²/n``), the sum of absolute percentage errors
over the rows whose label is not zero (MAPE leaves zero labels out, where it is undefined; scikit-learn
instead divides by 2.2e-16 there), and a quantile sketch of the errors (prediction - label), whose quantiles
are within 1% of their distance from zero. Merging adds, so any range is the merge of its windows (equal to
the state of its rows up to float rounding of the sums).

>>> import numpy as np
>>> s = RegressionState().update(np.array([1.0, 2.0, 3.0]), np.array([1.5, 2.0, 2.0]))
>>> s.mae(), round(s.rmse(), 4), s.r2()
(0.5, 0.6455, 0.375)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from vigil.sketches.quantiles import QuantileSketch
from vigil.stats import codec
from vigil.stats.moments import Moments

__all__ = ["RegressionState"]

_MAGIC = b"VGLR"
_VERSION = 1


@dataclass
class RegressionState:
    """Error sums, label moments and an error sketch; see the module docstring."""

    abs_error_sum: float = 0.0
    squared_error_sum: float = 0.0
    labels: Moments = field(default_factory=Moments)
    ape_sum: float = 0.0
    ape_rows: int = 0
    errors: QuantileSketch = field(default_factory=QuantileSketch)

    def update(self, y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> RegressionState:
        """Add labelled predictions (rows where either is not finite are left out). Returns ``self``."""
        y, p = np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)
        if y.shape != p.shape:
            raise ValueError(f"labels and predictions differ in length ({y.size} and {p.size})")
        keep = np.isfinite(y) & np.isfinite(p)
        y, p = y[keep], p[keep]
        err = p - y
        self.abs_error_sum += float(np.abs(err).sum())
        self.squared_error_sum += float(np.square(err).sum())
        self.labels.update(y)
        nonzero = y != 0.0
        with np.errstate(over="ignore"):  # a label near the smallest float: the ratio is inf, no warning
            self.ape_sum += float(np.sum(np.abs(err[nonzero] / y[nonzero])))
        self.ape_rows += int(np.count_nonzero(nonzero))
        self.errors.update(err)
        return self

    def merge(self, other: RegressionState) -> RegressionState:
        """Add ``other`` into this state. Returns ``self``."""
        self.abs_error_sum += other.abs_error_sum
        self.squared_error_sum += other.squared_error_sum
        self.labels.merge(other.labels)
        self.ape_sum += other.ape_sum
        self.ape_rows += other.ape_rows
        self.errors.merge(other.errors)
        return self

    def copy(self) -> RegressionState:
        return RegressionState(
            self.abs_error_sum,
            self.squared_error_sum,
            self.labels.copy(),
            self.ape_sum,
            self.ape_rows,
            self.errors.copy(),
        )

    def to_bytes(self) -> bytes:
        m, s = self.labels, self.errors
        header = {
            "abs_error_sum": self.abs_error_sum,
            "squared_error_sum": self.squared_error_sum,
            "labels": [m.count, m.mean, m.m2, m.min, m.max],
            "ape_sum": self.ape_sum,
            "ape_rows": self.ape_rows,
            "errors": [s.alpha, s.centre, s.scale, s.zero, s.min, s.max],
        }
        return codec.pack(_MAGIC, _VERSION, header, [s.positive, s.negative])

    @classmethod
    def from_bytes(cls, data: bytes) -> RegressionState:
        h, (positive, negative), _ = codec.unpack(_MAGIC, _VERSION, data, "regression state")
        alpha, centre, scale, zero, lo, hi = h["errors"]
        return cls(
            h["abs_error_sum"],
            h["squared_error_sum"],
            Moments(*h["labels"]),
            h["ape_sum"],
            h["ape_rows"],
            QuantileSketch(alpha, centre, scale, positive, negative, zero, lo, hi),
        )

    @property
    def rows(self) -> int:
        return self.labels.count

    def mae(self) -> float:
        """Mean absolute error; NaN for no rows."""
        return _ratio(self.abs_error_sum, self.rows)

    def mse(self) -> float:
        return _ratio(self.squared_error_sum, self.rows)

    def rmse(self) -> float:
        """Root mean squared error, in the labels' unit."""
        return math.sqrt(self.mse())

    def mape(self) -> float:
        """Mean absolute percentage error (a ratio: 0.1 is 10%) over the rows whose label is not zero."""
        return _ratio(self.ape_sum, self.ape_rows)

    def r2(self) -> float:
        """1 - SSE / SST; NaN for fewer than two rows or constant labels."""
        if self.rows < 2 or not self.labels.m2:
            return math.nan
        return 1.0 - self.squared_error_sum / self.labels.m2

    def error_quantile(self, q: float) -> float:
        """The ``q`` quantile of prediction - label (within 1% of its distance from zero); NaN for no rows."""
        return float(self.errors.quantile(q)) if self.rows else math.nan

    def abs_error_quantile(self, q: float) -> float:
        """The ``q`` quantile of |prediction - label| (within 1% of the exact value: the error sketch is
        centred on zero, so folding its negative buckets onto the positive ones keeps its guarantee); NaN
        for no rows."""
        s = self.errors
        if not self.rows:
            return math.nan
        if s.centre != 0.0:
            raise ValueError(f"absolute errors need an error sketch centred on 0, not {s.centre}")
        folded = QuantileSketch(
            s.alpha,
            0.0,
            s.scale,
            s.positive + s.negative,
            np.zeros_like(s.negative),
            s.zero,
            0.0,
            max(abs(s.min), abs(s.max)),
        )
        return float(folded.quantile(q))


def _ratio(num: float, den: float) -> float:
    return num / den if den else math.nan
