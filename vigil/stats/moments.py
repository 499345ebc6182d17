"""Count, mean, variance, min and max of a stream, mergeable exactly (Chan, Golub & LeVeque 1979).

>>> import numpy as np
>>> a, b = np.arange(10.0), np.arange(10.0, 25.0)
>>> m = Moments().update(a).merge(Moments().update(b))
>>> bool(np.isclose(m.variance, np.var(np.arange(25.0), ddof=1)))
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["Moments"]


@dataclass
class Moments:
    """Running count, mean, sum of squared deviations (``m2``), min and max of finite values."""

    count: int = 0
    mean: float = 0.0
    m2: float = 0.0
    min: float = math.inf
    max: float = -math.inf

    def update(self, values: npt.NDArray[np.float64]) -> Moments:
        """Add a batch of finite values. Returns ``self``."""
        n = int(values.size)
        if n == 0:
            return self
        mean = float(values.mean())
        m2 = float(np.square(values - mean).sum())
        return self._combine(n, mean, m2, float(values.min()), float(values.max()))

    def merge(self, other: Moments) -> Moments:
        return self._combine(other.count, other.mean, other.m2, other.min, other.max)

    def copy(self) -> Moments:
        return Moments(self.count, self.mean, self.m2, self.min, self.max)

    def _combine(self, n: int, mean: float, m2: float, lo: float, hi: float) -> Moments:
        if n == 0:
            return self
        total = self.count + n
        delta = mean - self.mean
        self.mean += delta * n / total
        self.m2 += m2 + delta * delta * self.count * n / total
        self.count = total
        self.min = min(self.min, lo)
        self.max = max(self.max, hi)
        return self

    @property
    def variance(self) -> float:
        """Sample variance (ddof=1); NaN below two values."""
        return self.m2 / (self.count - 1) if self.count > 1 else math.nan

    @property
    def std(self) -> float:
        return math.sqrt(self.variance) if self.count > 1 else math.nan
