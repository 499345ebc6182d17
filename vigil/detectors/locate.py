"""Where a change happened, once a detector has said that one did.

:func:`change_point` takes the values from the last restart up to the detection and returns the split that
best explains them as two levels: the ``k`` maximising ``|mean(x[:k]) - mean(x[k:])| × √(k (n - k) / n)``
(the likelihood-ratio statistic of a single shift in the mean with a common variance), both sides at least
``min_size`` long. A detector signals *after* the change; this is the estimate of *when* it began.

>>> change_point([0.0, 0.1, -0.1, 0.0, 2.0, 2.1, 1.9])
4
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["change_point"]


def change_point(values: npt.ArrayLike, min_size: int = 1) -> int:
    """The first position of the new level in ``values`` (``min_size`` .. n - ``min_size``); 0 for fewer
    than ``2 × min_size`` values."""
    x = np.asarray(values, dtype=np.float64).reshape(-1)
    n = x.shape[0]
    if n < 2 * min_size or n < 2:
        return 0
    k = np.arange(min_size, n - min_size + 1)
    c = np.cumsum(x)
    left = c[k - 1] / k
    right = (c[-1] - c[k - 1]) / (n - k)
    score = np.abs(left - right) * np.sqrt(k * (n - k) / n)
    return int(k[int(np.argmax(score))])
