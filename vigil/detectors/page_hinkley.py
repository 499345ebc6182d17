"""Page-Hinkley: a two-sided cumulative test of the mean against the running mean (Page 1954).

For each value since the last detection, with x̄ₜ the mean of the values so far (xₜ included) and σ the
``scale`` of the stream, ``dₜ = (xₜ - x̄ₜ) / σ``; ``Uₜ = Σ (dᵢ - δ)`` and ``Lₜ = Σ (dᵢ + δ)``. A change is
detected at the first t (from the ``min_instances``-th value on) where ``Uₜ - min Uᵢ > λ`` (the mean
went up) or ``max Lᵢ - Lₜ > λ`` (down), i ≤ t; the detector then starts afresh. ``δ`` (``delta``, in units of
σ) is the smallest shift worth reacting to; ``λ`` (``threshold``) follows from ``arl``.

Unlike river's ``PageHinkley`` there is no fading factor and δ, λ are in units of σ, so one setting means
the same on any stream once its scale is given.

**False alarms.** ``arl`` is the mean number of values between false alarms on i.i.d. N(μ, σ²) (any μ;
``scale = σ``): λ solves Siegmund's approximation with k = δ (:mod:`vigil.detectors.calibration`), checked
by simulation within ±20% (``tests/detectors/test_arl.py``). The default ``arl = 10_000`` with ``delta =
0.1`` gives λ ≈ 28.9 (simulated: 9,950 values between false alarms over 2 × 10^6). On Bernoulli(p) error
rates (``scale = √(p(1-p))``) false alarms come about 2.3x as often at p = 0.01 (skewed increments: 4,300
values between them). Delay at the defaults on N(0, 1): about 41 values for a shift of 1σ, 91 for 0.5σ (the
running mean takes in part of the shift).

Vectorised: between detections the running mean, both sums and their running extremes are numpy cumulative
operations over the batch (blocks of 4096 values).

>>> rng = np.random.default_rng(7)
>>> stream = np.concatenate([rng.normal(0, 1, 1000), rng.normal(1, 1, 1000)])
>>> PageHinkley().update(stream).tolist()
[1004]
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from vigil.detectors.base import Detector, Positions

__all__ = ["PageHinkley"]

_BLOCK = 4096


class PageHinkley(Detector):
    """Two-sided Page-Hinkley test; see the module docstring for the exact statistic."""

    NAME = "page_hinkley"

    def __init__(
        self,
        arl: float = 10_000,
        *,
        delta: float = 0.1,
        scale: float = 1.0,
        min_instances: int = 30,
        threshold: float | None = None,
    ) -> None:
        from vigil.detectors.calibration import page_hinkley_threshold

        if not (delta >= 0 and scale > 0 and min_instances >= 1):
            raise ValueError("need delta >= 0, scale > 0 and min_instances >= 1")
        self.arl = float(arl)
        self.delta = float(delta)
        self.scale = float(scale)
        self.min_instances = int(min_instances)
        self.threshold = float(threshold) if threshold is not None else page_hinkley_threshold(arl, delta)
        self._reset()

    def _reset(self) -> None:
        self._n = 0
        self._sum = 0.0  # of the values since the last detection
        self._up = 0.0
        self._up_min = math.inf
        self._down = 0.0
        self._down_max = -math.inf

    def _block(self, x: npt.NDArray[np.float64]) -> int | None:
        """Read ``x``; the position of the first detection in it (state then left for a reset), or None."""
        k = x.shape[0]
        count = self._n + np.arange(1, k + 1, dtype=np.float64)
        sums = self._sum + np.cumsum(x)
        d = (x - sums / count) / self.scale
        cd = np.cumsum(d)
        up = self._up + cd - self.delta * np.arange(1, k + 1)
        down = self._down + cd + self.delta * np.arange(1, k + 1)
        up_min = np.minimum(self._up_min, np.minimum.accumulate(up))
        down_max = np.maximum(self._down_max, np.maximum.accumulate(down))
        alarm = ((up - up_min > self.threshold) | (down_max - down > self.threshold)) & (
            count >= self.min_instances
        )
        hits = np.flatnonzero(alarm)
        if hits.size:
            return int(hits[0])
        self._n += k
        self._sum, self._up, self._down = float(sums[-1]), float(up[-1]), float(down[-1])
        self._up_min, self._down_max = float(up_min[-1]), float(down_max[-1])
        return None

    def update(self, values: npt.ArrayLike) -> Positions:
        x = self._values(values)
        found: list[int] = []
        at = 0
        while at < x.shape[0]:
            piece = x[at : at + _BLOCK]
            hit = self._block(piece)
            if hit is None:
                at += piece.shape[0]
                continue
            found.append(at + hit)
            at += hit + 1
            self._reset()
        return np.asarray(found, dtype=np.int64)

    def state(self) -> tuple[dict[str, Any], list[npt.NDArray[Any]]]:
        params = {
            "arl": self.arl,
            "delta": self.delta,
            "scale": self.scale,
            "min_instances": self.min_instances,
            "threshold": self.threshold,
        }
        state = [self._n, self._sum, self._up, self._up_min, self._down, self._down_max]
        return {"params": params}, [np.asarray(state, dtype=np.float64)]

    @classmethod
    def from_state(cls, header: dict[str, Any], arrays: list[npt.NDArray[Any]]) -> PageHinkley:
        out = cls(**header["params"])
        n, out._sum, out._up, out._up_min, out._down, out._down_max = (float(v) for v in arrays[0])
        out._n = int(n)
        return out
