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
        fill = {}
        for name, values in numeric.items():
            finite = values[np.isfinite(values)]
            fill[name] = float(np.median(finite)) if finite.size else 0.0
        freqs = {
            name: pd.Series(values, dtype=object).value_counts(normalize=True, dropna=False)
            for name, values in categorical.items()
        }
        raw = cls(tuple(numeric), tuple(categorical), fill, freqs, np.zeros(0), np.ones(0))
        x = raw._raw(numeric, categorical)
        centre = x.mean(axis=0) if len(x) else np.zeros(x.shape[1])
        scale = x.std(axis=0) if len(x) else np.ones(x.shape[1])
        scale = np.where(scale > 1e-12 * np.maximum(1.0, np.abs(centre)), scale, 1.0)
        return cls(raw.numeric, raw.categorical, fill, freqs, centre, scale)

    @property
    def names(self) -> tuple[str, ...]:
        """The matrix's columns, in order."""
        return self.numeric + self.categorical

    def transform(
        self, numeric: Mapping[str, np.ndarray], categorical: Mapping[str, np.ndarray]
    ) -> FloatArray:
        """The rows as a standardised ``(n, len(names))`` matrix."""
        return (self._raw(numeric, categorical) - self.centre) / self.scale

    def _raw(self, numeric: Mapping[str, np.ndarray], categorical: Mapping[str, np.ndarray]) -> FloatArray:
        parts: list[FloatArray] = []
        for name in self.numeric:
            v = np.asarray(numeric[name], dtype=np.float64)
            parts.append(np.where(np.isfinite(v), v, self.fill[name]))
        for name in self.categorical:
            series = pd.Series(categorical[name], dtype=object)
            freq = self.frequencies[name]
            mapped = np.array(series.map(freq).to_numpy(dtype=np.float64, na_value=np.nan))
            if series.isna().any():
                # map() skips nulls; they are a value of their own in the reference's shares
                null_share = float(freq[freq.index.isna()].sum())
                mapped[series.isna().to_numpy()] = null_share
            parts.append(np.nan_to_num(mapped, nan=0.0))
        if not parts:
            return np.zeros((0, 0))
        return np.column_stack(parts)
