"""What every drift method returns, and the aligned distributions the methods read."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["Buckets", "Counts", "Outcome"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Outcome:
    """One method's answer for one column.

    ``statistic``: the method's own statistic (KS D, chi-square, PSI, ...). ``p_value``: its significance
    where defined. ``effect``: a size-free effect size in comparable units, the number thresholds apply to
    (for most methods the statistic itself; Cramér's V for chi-square). ``error_bound``: when computed from
    sketches, ``|effect - exact effect| <= error_bound``; ``None`` when exact.
    """

    statistic: float
    p_value: float | None
    effect: float
    error_bound: float | None = None


@dataclass(frozen=True)
class Counts:
    """Two count vectors over the same categories or bins (reference first)."""

    labels: list[str]
    reference: FloatArray
    current: FloatArray

    def shares(self) -> tuple[FloatArray, FloatArray]:
        r, c = self.reference.sum(), self.current.sum()
        return self.reference / (r or 1.0), self.current / (c or 1.0)


@dataclass(frozen=True)
class Buckets:
    """Two histograms on the same fine bucket edges: bucket ``i`` is ``(edges[i], edges[i+1]]``."""

    edges: FloatArray
    reference: FloatArray
    current: FloatArray

    @property
    def n_reference(self) -> int:
        return int(self.reference.sum())

    @property
    def n_current(self) -> int:
        return int(self.current.sum())

    def cdfs(self) -> tuple[FloatArray, FloatArray]:
        """Both empirical CDFs at every edge (exact there)."""
        zero = np.zeros(1)
        r = np.concatenate([zero, np.cumsum(self.reference)]) / max(self.n_reference, 1)
        c = np.concatenate([zero, np.cumsum(self.current)]) / max(self.n_current, 1)
        return r, c

    def max_bucket_share(self) -> float:
        """The largest share of either sample in one bucket: how far a CDF can move between two edges."""
        r = self.reference.max() / max(self.n_reference, 1)
        c = self.current.max() / max(self.n_current, 1)
        return float(max(r, c))
