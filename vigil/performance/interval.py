"""Confidence intervals for a proportion (accuracy, precision, recall over a window's labels).

The Wilson score interval (Wilson 1927) keeps its coverage near the nominal level for small counts and
proportions near 0 or 1, where the normal approximation does not; it never leaves ``[0, 1]``. For ``k``
successes in ``n`` trials and ``z`` the two-sided normal quantile::

    centre = (k + z²/2) / (n + z²)
    half   = z / (n + z²) · sqrt(k (n - k) / n + z²/4)

>>> low, high = wilson(8, 10)
>>> round(low, 4), round(high, 4)
(0.4902, 0.9433)
"""

from __future__ import annotations

import math
from statistics import NormalDist

__all__ = ["wilson"]


def wilson(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval ``(lower, upper)`` of ``successes / trials``; NaNs for no trials."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if not 0 <= successes <= trials:
        raise ValueError(f"successes must be in [0, trials], got {successes} of {trials}")
    if trials == 0:
        return math.nan, math.nan
    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    z2 = z * z
    centre = (successes + z2 / 2.0) / (trials + z2)
    half = z / (trials + z2) * math.sqrt(successes * (trials - successes) / trials + z2 / 4.0)
    return max(0.0, centre - half), min(1.0, centre + half)
