"""ADWIN: adaptive windowing (Bifet & Gavaldà 2007), as river's ``drift.ADWIN`` runs it.

The window holds every value since the last detection, summarised as an exponential histogram: at most
``max_buckets + 1`` buckets of each size 2^i, the two oldest of a size merged into one of the next size when
a sixth arrives. Every ``clock`` values (once the window is over ``grace_period``) each bucket boundary
splits the window into an older W0 and the rest W1 (both of at least ``min_window_length`` values); a change
is detected at the first check where some split has ``|mean(W0) - mean(W1)| > ε`` with

    ε = sqrt(2 m σ² δ') + (2/3) δ' m,   m = 1/(n0 - L + 1) + 1/(n1 - L + 1),   δ' = ln(2 ln(n) / δ)

(σ² the window's variance, n its width, L = ``min_window_length``). The window is then emptied. With the
same settings the positions detected are those of river 0.26's ``ADWIN`` (``bench/detectors_bench.py``
compares them on every stream).

**How the buckets are kept.** With the window emptied at each detection, the histogram's shape (how many
buckets of each size) is a function of the width alone, so it is computed, not stored: the window's values
are kept as prefix sums of x and x² (16 bytes per value; a bucket's total is a difference of two), and each
check is a handful of numpy operations over its ≤ (``max_buckets`` + 1) × log2(n) boundaries, all the
checks of a batch at once. 0.12-0.20 µs per value read in large batches (``bench/README.md``); a call
costs some 20 µs more, so one value per call is far slower.

**False alarms.** ``delta`` bounds the chance of a false cut per check; the mean number of values between
false alarms (ARL0) at the defaults (``delta = 0.002``) on i.i.d. N(0, 1) is of the order of 10^6 (2
false alarms in 4 × 10^6 values), and none in 4 × 10^6 values of Bernoulli(0.01). ``ADWIN(arl=...)`` picks
the delta for a target ARL0 on N(0, 1) from the calibrated table (:mod:`vigil.detectors.calibration`;
checked at 5,000 within ±25%; ``arl = 10_000``: delta ≈ 0.18, which on Bernoulli(0.01) gives about
1.4 × 10^5). Delay at ``arl = 10_000`` on N(0, 1): about 39 values for a shift of 1σ, 67 for 0.5σ
(including up to 31 values waiting for the next check).

>>> rng = np.random.default_rng(7)
>>> stream = np.concatenate([rng.normal(0, 1, 1000), rng.normal(1, 1, 1000)])
>>> ADWIN().update(stream).tolist()
[1055]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from vigil.detectors.base import Detector, Positions

__all__ = ["ADWIN"]

_CHUNK = 4096  # values appended before their checks run together (a detection re-reads the rest)


def _boundaries(
    widths: npt.NDArray[np.int64], max_buckets: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """For windows of ``widths`` values (one row each): the width of W0 at each bucket boundary, oldest
    first, and whether a bucket ends there (padding slots repeat the previous boundary)."""
    levels = max(1, int(widths.max()).bit_length())
    arriving = widths.copy()
    counts = np.zeros((widths.shape[0], levels), dtype=np.int64)
    for level in range(levels):
        merges = np.maximum((arriving - max_buckets + 1) // 2, 0)  # a merge at each (max_buckets + 1)th
        counts[:, level] = arriving - 2 * merges
        arriving = merges
    slots = np.arange(max_buckets + 1)
    # slot j of level l holds a bucket of 2^l values when j < count; oldest (highest) level first
    present = slots[np.newaxis, np.newaxis, :] < counts[:, ::-1, np.newaxis]
    sizes = present * (1 << np.arange(levels - 1, -1, -1, dtype=np.int64))[np.newaxis, :, np.newaxis]
    n0 = np.cumsum(sizes.reshape(widths.shape[0], -1), axis=1)
    return n0, present.reshape(widths.shape[0], -1)


class ADWIN(Detector):
    """Adaptive windowing over a stream of numbers; see the module docstring for the exact test."""

    NAME = "adwin"

    def __init__(
        self,
        delta: float = 0.002,
        *,
        arl: float | None = None,
        clock: int = 32,
        max_buckets: int = 5,
        min_window_length: int = 5,
        grace_period: int = 10,
    ) -> None:
        if not 0 < delta < 1:
            raise ValueError(f"delta must be in (0, 1), got {delta!r}; river's default is 0.002")
        if clock < 1 or max_buckets < 1 or min_window_length < 1 or grace_period < 0:
            raise ValueError("clock, max_buckets and min_window_length must be >= 1, grace_period >= 0")
        if arl is not None:
            from vigil.detectors.calibration import adwin_delta

            delta = adwin_delta(arl)
        self.delta = float(delta)
        self.clock = int(clock)
        self.max_buckets = int(max_buckets)
        self.min_window_length = int(min_window_length)
        self.grace_period = int(grace_period)
        self._reset()

    def _reset(self) -> None:
        self._n = 0
        self._shift = 0.0  # values are kept minus the window's first value (sums of squares stay exact)
        self._s1 = np.zeros(1024)
        self._s2 = np.zeros(1024)

    @property
    def width(self) -> int:
        """Values in the window (since the last detection)."""
        return self._n

    def _append(self, x: npt.NDArray[np.float64]) -> None:
        n, k = self._n, x.shape[0]
        if n == 0:
            self._shift = float(x[0])
        need = n + k + 1
        if need > self._s1.shape[0]:
            grown = max(need, 2 * self._s1.shape[0])
            self._s1 = np.concatenate([self._s1[: n + 1], np.zeros(grown - n - 1)])
            self._s2 = np.concatenate([self._s2[: n + 1], np.zeros(grown - n - 1)])
        y = x - self._shift
        self._s1[n + 1 : n + k + 1] = self._s1[n] + np.cumsum(y)
        self._s2[n + 1 : n + k + 1] = self._s2[n] + np.cumsum(y * y)
        self._n = n + k

    def _first_cut(self, lo: int, hi: int) -> int | None:
        """The first width in ``(lo, hi]`` at which a check finds a cut, or None."""
        c = self.clock
        widths = [w for w in range((lo // c + 1) * c, hi + 1, c) if w > self.grace_period]
        if not widths:
            return None
        w = np.asarray(widths, dtype=np.int64)
        n0, present = _boundaries(w, self.max_buckets)
        w = w[:, np.newaxis]
        low = self.min_window_length
        valid = present & (n0 >= low) & (w - n0 >= low)
        if not valid.any():
            return None
        s1 = self._s1
        total = s1[w]
        u0 = s1[n0]
        a = np.where(valid, n0, 2 * low).astype(np.float64)
        b = np.where(valid, w - n0, 2 * low).astype(np.float64)
        wf = w.astype(np.float64)
        variance = np.maximum((self._s2[w] - total * total / wf) / wf, 0.0)
        d = np.log(2.0 * np.log(wf) / self.delta)
        m = 1.0 / (a - low + 1) + 1.0 / (b - low + 1)
        eps = np.sqrt(2.0 * m * variance * d) + (2.0 / 3.0) * d * m
        cut = valid & (np.abs(u0 / a - (total - u0) / b) > eps)
        rows = np.flatnonzero(cut.any(axis=1))
        return widths[int(rows[0])] if rows.size else None

    def update(self, values: npt.ArrayLike) -> Positions:
        x = self._values(values)
        found: list[int] = []
        at = 0
        while at < x.shape[0]:
            held = self._n
            piece = x[at : at + _CHUNK]
            self._append(piece)
            width = self._first_cut(held, self._n)
            if width is None:
                at += piece.shape[0]
                continue
            at += width - held
            found.append(at - 1)
            self._reset()
        return np.asarray(found, dtype=np.int64)

    def state(self) -> tuple[dict[str, Any], list[npt.NDArray[Any]]]:
        params = {
            "delta": self.delta,
            "clock": self.clock,
            "max_buckets": self.max_buckets,
            "min_window_length": self.min_window_length,
            "grace_period": self.grace_period,
        }
        n = self._n
        return {"params": params, "n": n, "shift": self._shift}, [self._s1[: n + 1], self._s2[: n + 1]]

    @classmethod
    def from_state(cls, header: dict[str, Any], arrays: list[npt.NDArray[Any]]) -> ADWIN:
        out = cls(**header["params"])
        n = int(header["n"])
        out._n, out._shift = n, float(header["shift"])
        size = max(1024, n + 1)
        out._s1, out._s2 = np.zeros(size), np.zeros(size)
        out._s1[: n + 1], out._s2[: n + 1] = arrays[0], arrays[1]
        return out
