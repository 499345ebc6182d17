"""How well a probability score is calibrated, from its histograms: the reliability diagram and the
expected calibration error (ECE).

A histogram pair (``pos``, ``neg``: per fine bin, the rows of the class and the other rows, ``bins`` equal
bins over ``[0, 1]``, as ``curves`` keeps them) is regrouped into ``n`` equal calibration bins (10 by
default; ``n`` must divide ``bins``, so every fine bin lies in exactly one calibration bin). Per calibration
bin the diagram gives the row count, the observed frequency of the class and the mean predicted score;
``ECE = Σ_b (count_b / N) · |observed_b - predicted_b|`` over the non-empty bins.

Exactness:

* the counts and the observed frequencies are exact (a score within float rounding of a bin edge may fall
  on the other side of it than ``np.linspace`` edges put it, as ``curves.bin_of`` computes ``floor(s ·
  bins)``);
* the mean predicted score of a bin is taken at the middle of each fine bin, so it is within
  ``½ / bins`` of the mean of the raw scores (5e-5 for 10,000 bins; up to float rounding when scores sit
  on a fine-bin edge), and the ECE is within the same
  ``ece_bound = ½ / bins`` of the ECE of the raw scores (each term moves by at most its weight times
  that).

Merging states adds histograms, so the diagram and ECE of a range are those of its rows, to the same bound.

>>> import numpy as np
>>> pos, neg = np.zeros(100, np.int64), np.zeros(100, np.int64)
>>> pos[[15, 85]], neg[[15, 85]] = (1, 3), (3, 1)  # 0.155: 1 of 4 was the class; 0.855: 3 of 4
>>> [(b.count, b.observed, round(b.predicted, 3)) for b in reliability(pos, neg)]
[(4, 0.25, 0.155), (4, 0.75, 0.855)]
>>> round(ece(pos, neg), 3)  # half the rows off by 0.095, half by 0.105
0.1
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["DEFAULT_BINS", "ReliabilityBin", "ece", "ece_bound", "reliability"]

DEFAULT_BINS = 10
"""Equal-width calibration bins unless told otherwise."""

Counts = npt.NDArray[np.int64]


@dataclass(frozen=True)
class ReliabilityBin:
    """One bar of the reliability diagram: scores in ``[lower, upper)`` (the last bin includes 1)."""

    lower: float
    upper: float
    count: int
    predicted: float
    """Mean predicted score of the bin's rows (within ``½ / bins`` of the raw scores' mean)."""
    observed: float
    """Share of the bin's rows that were the class (exact)."""


def _grouped(pos: Counts, neg: Counts, n: int) -> tuple[Counts, Counts, npt.NDArray[np.float64]]:
    """Per calibration bin: the rows, the rows of the class, and the sum of fine-bin midpoints."""
    bins = pos.size
    if n < 1 or bins % n:
        raise ValueError(
            f"calibration bins ({n}) must divide the score histogram's {bins} bins; "
            f"choose a divisor of {bins}"
        )
    rows = pos + neg
    mid = (np.arange(bins, dtype=np.float64) + 0.5) / bins
    per = bins // n
    count = rows.reshape(n, per).sum(axis=1)
    hits = pos.reshape(n, per).sum(axis=1)
    score_sum = (rows * mid).reshape(n, per).sum(axis=1)
    return count, hits, score_sum


def reliability(pos: Counts, neg: Counts, n: int = DEFAULT_BINS) -> list[ReliabilityBin]:
    """The reliability diagram's non-empty bins, in ascending score order (empty bins are left out, as
    ``sklearn.calibration.calibration_curve`` does)."""
    count, hits, score_sum = _grouped(pos, neg, n)
    return [
        ReliabilityBin(
            b / n, (b + 1) / n, int(count[b]), float(score_sum[b] / count[b]), float(hits[b] / count[b])
        )
        for b in np.flatnonzero(count).tolist()
    ]


def ece(pos: Counts, neg: Counts, n: int = DEFAULT_BINS) -> float:
    """The expected calibration error over ``n`` equal bins (within ``ece_bound`` of the raw scores'); NaN
    without rows."""
    count, hits, score_sum = _grouped(pos, neg, n)
    total = int(count.sum())
    if not total:
        return math.nan
    full = count > 0
    gap = np.abs(hits[full] - score_sum[full])  # count · |observed - predicted|
    return float(gap.sum() / total)


def ece_bound(bins: int) -> float:
    """How far ``ece`` may be from the ECE of the raw scores, for histograms of ``bins`` fine bins."""
    return 0.5 / bins
