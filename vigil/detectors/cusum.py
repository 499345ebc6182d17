"""CUSUM: Page's two-sided cumulative sum against a known in-control mean.

With ``zₜ = (xₜ - target) / scale``, ``S⁺ₜ = max(0, S⁺ₜ₋₁ + zₜ - k)`` and ``S⁻ₜ = max(0, S⁻ₜ₋₁ - zₜ - k)``
(both 0 at the start); a change is detected at the first t where either exceeds ``h``, and both restart
from 0. ``k`` (in units of ``scale``) is half the shift it is tuned to (0.25: a shift of 0.5σ); ``h``
follows from ``arl``.

**False alarms.** ``arl`` is the mean number of values between false alarms on i.i.d. N(target, scale²):
``h`` solves Siegmund's approximation ARL⁺ = (e^{2kb} - 2kb - 1) / (2k²), b = h + 1.166, with ARL⁺ = 2 ×
``arl`` for two sides (:mod:`vigil.detectors.calibration`), checked by simulation within ±20%
(``tests/detectors/test_arl.py``). The default ``arl = 10_000``, ``k = 0.25`` gives h ≈ 14.5 (simulated:
10,300 values between false alarms over 2 × 10^6). Delay at the defaults on N(0, 1): about 19 values for a
shift of 1σ, 50 for 0.5σ. On Bernoulli(p) error rates (``target = p``, ``scale = √(p(1-p))``) false alarms
come far more often: every ~780 values at p = 0.01 and the defaults (one error is a +9.9σ step); raise
``arl`` or watch a windowed rate instead.

Vectorised: between detections Sₜ is a Lindley recursion, ``Sₜ = Cₜ - min(−S₀, min_{i≤t} Cᵢ)`` over the
cumulative sum C of the increments, so a batch is a few numpy cumulative operations (blocks of 4096).

>>> rng = np.random.default_rng(7)
>>> stream = np.concatenate([rng.normal(0, 1, 1000), rng.normal(1, 1, 1000)])
>>> CUSUM().update(stream)[:3].tolist()  # the mean stays off target: it keeps firing
[1020, 1041, 1061]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from vigil.detectors.base import Detector, Positions

__all__ = ["CUSUM"]

_BLOCK = 4096


def _lindley(start: float, increments: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """``S_t = max(0, S_{t-1} + increment_t)`` from ``S_0 = start``, for every t."""
    c = np.cumsum(increments)
    return c - np.minimum(-start, np.minimum.accumulate(c))


class CUSUM(Detector):
    """Two-sided CUSUM; see the module docstring for the exact statistic."""

    NAME = "cusum"

    def __init__(
        self,
        arl: float = 10_000,
        *,
        k: float = 0.25,
        target: float = 0.0,
        scale: float = 1.0,
        h: float | None = None,
    ) -> None:
        from vigil.detectors.calibration import cusum_h

        if not (k > 0 and scale > 0):
            raise ValueError("need k > 0 and scale > 0")
        self.arl = float(arl)
        self.k = float(k)
        self.target = float(target)
        self.scale = float(scale)
        self.h = float(h) if h is not None else cusum_h(arl, k)
        self._up = 0.0
        self._down = 0.0

    def update(self, values: npt.ArrayLike) -> Positions:
        z = (self._values(values) - self.target) / self.scale
        found: list[int] = []
        at = 0
        while at < z.shape[0]:
            piece = z[at : at + _BLOCK]
            up = _lindley(self._up, piece - self.k)
            down = _lindley(self._down, -piece - self.k)
            hits = np.flatnonzero((up > self.h) | (down > self.h))
            if hits.size == 0:
                self._up, self._down = float(up[-1]), float(down[-1])
                at += piece.shape[0]
                continue
            found.append(at + int(hits[0]))
            at += int(hits[0]) + 1
            self._up = self._down = 0.0
        return np.asarray(found, dtype=np.int64)

    def state(self) -> tuple[dict[str, Any], list[npt.NDArray[Any]]]:
        params = {"arl": self.arl, "k": self.k, "target": self.target, "scale": self.scale, "h": self.h}
        return {"params": params, "up": self._up, "down": self._down}, []

    @classmethod
    def from_state(cls, header: dict[str, Any], arrays: list[npt.NDArray[Any]]) -> CUSUM:
        out = cls(**header["params"])
        out._up, out._down = float(header["up"]), float(header["down"])
        return out
