"""One setting for every detector: ``arl``, the mean number of values between false alarms on the null
stream, mapped to each algorithm's own threshold.

* CUSUM: ``h`` solves Siegmund's approximation (see :func:`cusum_h`).
* Page-Hinkley: the same formula with ``k = delta`` (its estimated mean changes the run length by under
  5% at ``arl`` 10^3-10^4: simulated 1,005 and 9,950 for 1,000 and 10,000).
* ADWIN: ``delta`` interpolated (log-log) in :data:`ADWIN_TABLE`, simulated on i.i.d. N(0, 1).

The ADWIN table counts false alarms over 4 × 10^6 values of i.i.d. N(0, 1) per entry (so 2 of them at
0.002: that entry is a rough figure); ``tests/detectors/test_arl.py`` checks each mapping by simulation.
"""

from __future__ import annotations

import functools
import math

import numpy as np

__all__ = ["ADWIN_TABLE", "adwin_delta", "cusum_h", "page_hinkley_threshold", "siegmund"]

ADWIN_TABLE: tuple[tuple[float, float], ...] = (
    (0.002, 2.0e6),
    (0.02, 1.1e5),
    (0.1, 2.0e4),
    (0.3, 5.3e3),
    (0.6, 2.1e3),
    (0.9, 1.2e3),
)
"""(delta, mean values between false alarms on i.i.d. N(0, 1)) for ADWIN at river's other defaults."""


def siegmund(h: float, k: float) -> float:
    """Siegmund's approximation of a one-sided CUSUM's in-control ARL on N(0, 1)."""
    b = 2 * k * (h + 1.166)
    return (math.exp(b) - b - 1) / (2 * k * k)


@functools.lru_cache(maxsize=256)
def _solve(arl: float, k: float) -> float:
    if not arl > 1:
        raise ValueError(f"arl must be > 1 (mean values between false alarms), got {arl!r}")
    lo, hi = 0.0, 1.0
    while siegmund(hi, k) < 2 * arl:
        hi *= 2
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if siegmund(mid, k) < 2 * arl else (lo, mid)
    return (lo + hi) / 2


def cusum_h(arl: float, k: float) -> float:
    """The ``h`` of a two-sided CUSUM with reference ``k`` whose mean run between false alarms on N(0, 1)
    is ``arl`` (one side's is twice that)."""
    return _solve(arl, k)


def page_hinkley_threshold(arl: float, delta: float) -> float:
    """The λ of a two-sided Page-Hinkley test with ``delta`` for a mean run of ``arl`` on N(μ, 1)."""
    return _solve(arl, delta) if delta > 0 else math.sqrt(arl)


def adwin_delta(arl: float) -> float:
    """ADWIN's ``delta`` for a mean run of ``arl`` values between false alarms on N(0, 1)."""
    deltas, arls = (np.log([row[i] for row in ADWIN_TABLE]) for i in (0, 1))
    return float(np.exp(np.interp(math.log(arl), arls[::-1], deltas[::-1])))
