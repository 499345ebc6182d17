"""Rows of mixed columns as one numeric matrix, fitted on the reference: what the multivariate tests read.

Numeric columns: nulls and infinities take the reference median, then standardised with the reference mean
and standard deviation (a constant column keeps scale 1). Categorical columns: each value becomes its share
of the reference (a null is a value of its own; a value the reference never had becomes 0), standardised the
same way. Frequency encoding keeps one matrix column per table column, whatever the cardinality.

>>> import numpy as np
>>> enc = Encoder.fit({"x": np.array([1.0, 2.0, 3.0, np.nan])}, {"c": np.array(["a", "a", "b", None])})
>>> enc.transform({"x": np.array([2.0])}, {"c": np.array(["z"])}).round(3).tolist()
[[0.0, -3.0]]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = ["Encoder"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Encoder:
    """The reference's fill values, frequencies and scales; ``transform`` applies them to any rows."""

    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    fill: dict[str, float]
    frequencies: dict[str, pd.Series]
    centre: FloatArray
    scale: FloatArray

    @classmethod
    def fit(cls, numeric: Mapping[str, np.ndarray], categorical: Mapping[str, np.ndarray]) -> Encoder:
        """Fit on the reference's columns (numeric as float arrays with NaN for nulls; categorical as any
        array of values, ``None`` for nulls). Every array must have the same length."""
        return cls.fit_transform(numeric, categorical)[0]

    @classmethod
    def fit_transform(
        cls, numeric: Mapping[str, np.ndarray], categorical: Mapping[str, np.ndarray]
    ) -> tuple[Encoder, FloatArray]:
        """``fit``, and the reference's own matrix (one pass instead of two)."""
        fill = {}
        for name, values in numeric.items():
            finite = np.isfinite(values)
            kept = values if finite.all() else values[finite]
            fill[name] = float(np.median(kept)) if kept.size else 0.0
        freqs = {
            name: pd.Series(values, dtype=object).value_counts(normalize=True, dropna=False)
            for name, values in categorical.items()
        }
        raw = cls(tuple(numeric), tuple(categorical), fill, freqs, np.zeros(0), np.ones(0))
        x = raw._raw(numeric, categorical)
        centre = x.mean(axis=0) if len(x) else np.zeros(x.shape[1])
        scale = x.std(axis=0) if len(x) else np.ones(x.shape[1])
        scale = np.where(scale > 1e-12 * np.maximum(1.0, np.abs(centre)), scale, 1.0)
        x -= centre
        x /= scale
        return cls(raw.numeric, raw.categorical, fill, freqs, centre, scale), np.ascontiguousarray(x)

    @property
    def names(self) -> tuple[str, ...]:
        """The matrix's columns, in order."""
        return self.numeric + self.categorical

    def transform(
        self, numeric: Mapping[str, np.ndarray], categorical: Mapping[str, np.ndarray]
    ) -> FloatArray:
        """The rows as a standardised ``(n, len(names))`` matrix."""
        x = self._raw(numeric, categorical)
        x -= self.centre
        x /= self.scale
        return np.ascontiguousarray(x)  # row-major for the row-wise sums that follow

    def _raw(self, numeric: Mapping[str, np.ndarray], categorical: Mapping[str, np.ndarray]) -> FloatArray:
        names = self.numeric + self.categorical
        if not names:
            return np.zeros((0, 0))
        n = len(numeric[names[0]]) if self.numeric else len(categorical[names[0]])
        # column-major: each column is written in one contiguous run
        out = np.empty((n, len(names)), dtype=np.float64, order="F")
        for j, name in enumerate(self.numeric):
            out[:, j] = numeric[name]
            finite = np.isfinite(out[:, j])
            if not finite.all():
                out[~finite, j] = self.fill[name]
        for j, name in enumerate(self.categorical, start=len(self.numeric)):
            series = pd.Series(categorical[name], dtype=object)
            freq = self.frequencies[name]
            mapped = np.array(series.map(freq).to_numpy(dtype=np.float64, na_value=np.nan))
            if series.isna().any():
                # map() skips nulls; they are a value of their own in the reference's shares
                null_share = float(freq[freq.index.isna()].sum())
                mapped[series.isna().to_numpy()] = null_share
            out[:, j] = np.nan_to_num(mapped, nan=0.0)
        return out
