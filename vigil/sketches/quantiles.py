"""A mergeable quantile sketch with a stated relative error: log-spaced buckets around a centre.

This is DDSketch's mapping (Masson, Rim & Lee, VLDB 2019) applied to ``z = (x - centre) / scale``:
a value falls in bucket ``k = ceil(log_gamma |z|)`` on its side of the centre, with
``gamma = (1 + alpha) / (1 - alpha)``. Buckets are dense arrays over a fixed index range, so an update is
one ``log`` and one ``bincount`` over the whole batch and a merge is an addition.

Guarantees (for sketches that share ``centre``, ``scale`` and ``alpha``):

* a quantile is returned within ``alpha * |q - centre|`` of the exact value ``q`` (1% of the distance from
  the centre by default), for ``|q - centre| / scale`` in ``[1e-9, 1e9]``; nearer the centre the error is at
  most ``1e-9 * scale``; it is also clamped to the exact ``[min, max]`` seen;
* the empirical CDF is exact at every bucket edge (below the centre, where buckets are ``[lo, hi)``, as
  the share strictly below the edge; above it, the share at or below), so a statistic computed on the
  edges (the KS distance, say) is off by at most the largest bucket's share of either sample
  (``max_bucket_share``).

Centring on the baseline's mean keeps buckets fine where the data is, which plain DDSketch (centre 0)
cannot do for values like ``N(1000, 1)``. With ``centre=0`` and ``scale=1`` it is plain DDSketch, the right
choice for latencies.

>>> import numpy as np
>>> s = QuantileSketch().update(np.arange(1.0, 1001.0))
>>> abs(s.quantile(0.5) - 500.5) <= 0.01 * 500.5
True
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

__all__ = ["QuantileSketch"]

FloatArray = npt.NDArray[np.float64]
CountArray = npt.NDArray[np.int64]

_MIN_Z = 1e-9
_MAX_Z = 1e9


@dataclass
class QuantileSketch:
    """Counts of values in log-spaced buckets either side of ``centre``; see the module docstring."""

    alpha: float = 0.01
    centre: float = 0.0
    scale: float = 1.0
    positive: CountArray = field(default_factory=lambda: np.zeros(0, np.int64))
    negative: CountArray = field(default_factory=lambda: np.zeros(0, np.int64))
    zero: int = 0
    min: float = math.inf
    max: float = -math.inf

    def __post_init__(self) -> None:
        if not 0.0 < self.alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1), got {self.alpha}")
        if not (math.isfinite(self.scale) and self.scale > 0):
            raise ValueError(f"scale must be a positive finite number, got {self.scale}")
        if not math.isfinite(self.centre):
            raise ValueError(f"centre must be finite, got {self.centre}")
        self._log_gamma, self._k_min, self._k_max = _mapping(self.alpha)
        n = self._k_max - self._k_min + 1
        if self.positive.size == 0:
            self.positive = np.zeros(n, np.int64)
        if self.negative.size == 0:
            self.negative = np.zeros(n, np.int64)
        if self.positive.size != n or self.negative.size != n:
            raise ValueError(f"bucket arrays must have {n} entries for alpha={self.alpha}")

    # -- the streaming verbs -------------------------------------------------------------------------------

    def update(self, values: npt.ArrayLike, weights: npt.ArrayLike | None = None) -> QuantileSketch:
        """Add a batch of finite values (the caller drops nulls and infinities), each counted once or
        ``weights[i]`` times. Returns ``self``."""
        x = np.asarray(values, dtype=np.float64)
        if x.size == 0:
            return self
        n = self.positive.size
        z = x - self.centre
        z *= 1.0 / self.scale
        # bucket number relative to the zero bucket, signed by the side of the centre; values nearer the
        # centre than the first bucket are clamped half a bucket below it, so they land in the zero bucket
        k = np.abs(z)
        np.maximum(k, math.exp((self._k_min - 1.5) * self._log_gamma), out=k)
        np.log(k, out=k)
        k *= 1.0 / self._log_gamma
        np.ceil(k, out=k)
        k -= self._k_min - 1
        np.minimum(k, n, out=k)
        np.copysign(k, z, out=k)
        k += n
        counts = np.bincount(k.astype(np.intp), weights=weights, minlength=2 * n + 1).astype(np.int64)
        self.positive += counts[n + 1 :]
        self.negative += counts[n - 1 :: -1]
        self.zero += int(counts[n])
        self.min = min(self.min, float(x.min()))
        self.max = max(self.max, float(x.max()))
        return self

    def merge(self, other: QuantileSketch) -> QuantileSketch:
        """Add ``other``'s counts into this sketch.

        Exact when both share alpha, centre and scale (build one with ``empty_like``). Otherwise each of
        ``other``'s buckets is re-counted at its representative value, and the quantile bound of the
        result becomes the sum of both alphas (relative to this sketch's centre).
        """
        if not self.aligned_with(other):
            edges, counts = other.buckets()
            keep = counts > 0
            reps = np.clip(other._representatives(edges[:-1][keep], edges[1:][keep]), other.min, other.max)
            saved_min, saved_max = self.min, self.max
            self.update(reps, counts[keep])
            self.min, self.max = min(saved_min, other.min), max(saved_max, other.max)
            return self
        self.positive += other.positive
        self.negative += other.negative
        self.zero += other.zero
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)
        return self

    def copy(self) -> QuantileSketch:
        return QuantileSketch(
            self.alpha,
            self.centre,
            self.scale,
            self.positive.copy(),
            self.negative.copy(),
            self.zero,
            self.min,
            self.max,
        )

    def empty_like(self) -> QuantileSketch:
        """A new empty sketch with this one's alpha, centre and scale (so the two align bucket for bucket)."""
        return QuantileSketch(self.alpha, self.centre, self.scale)

    @property
    def count(self) -> int:
        return int(self.positive.sum() + self.negative.sum()) + self.zero

    def aligned_with(self, other: QuantileSketch) -> bool:
        """True when both sketches share their buckets (same alpha, centre and scale)."""
        return (self.alpha, self.centre, self.scale) == (other.alpha, other.centre, other.scale)

    def _representatives(self, lo: FloatArray, hi: FloatArray) -> FloatArray:
        """Each bucket's value of least worst-case relative error (the centre for the zero bucket)."""
        zlo, zhi = (lo - self.centre) / self.scale, (hi - self.centre) / self.scale
        same_side = zlo * zhi > 0
        rep_z = np.where(same_side, 2.0 * zlo * zhi / np.where(same_side, zlo + zhi, 1.0), 0.0)
        return self.centre + self.scale * rep_z

    # -- reading -----------------------------------------------------------------------------------------

    def buckets(self) -> tuple[FloatArray, CountArray]:
        """Bucket edges in ascending value order and the counts between them.

        Returns ``(edges, counts)`` with ``len(edges) == len(counts) + 1``; bucket ``i`` holds the values in
        ``(edges[i], edges[i+1]]`` (the outermost edges are clamped to the exact min and max).
        """
        z_edges = _z_edges(self._k_min, self._k_max, self._log_gamma)
        counts = np.concatenate([self.negative[::-1], [self.zero], self.positive]).astype(np.int64)
        edges = self.centre + self.scale * z_edges
        # z-edges between two buckets are shared: drop the duplicate inner ones
        # layout: neg buckets (n), zero (1), pos (n) -> 2n + 1 buckets, 2n + 2 edges
        if self.count:
            edges[0] = min(edges[0], self.min)
            edges[-1] = max(edges[-1], self.max)
        return edges, counts

    def cdf_at_edges(self) -> tuple[FloatArray, FloatArray]:
        """(edges, F(edges)): the share of values <= each edge (< for edges below the centre); exact."""
        edges, counts = self.buckets()
        total = counts.sum()
        cum = np.concatenate([[0], np.cumsum(counts)]).astype(np.float64)
        return edges, cum / total if total else cum

    def quantile(self, q: float | npt.ArrayLike) -> FloatArray | float:
        """Estimated quantile(s) ``q`` in [0, 1]; NaN when empty. Error bound: see the module docstring."""
        if isinstance(q, float | int):
            return self._quantile(float(q))
        qs = np.atleast_1d(np.asarray(q, dtype=np.float64))
        if np.any((qs < 0) | (qs > 1)):
            raise ValueError("quantiles must be in [0, 1]")
        n = self.count
        if n == 0:
            out = np.full(qs.shape, np.nan)
        else:
            cum = np.cumsum(np.concatenate((self.negative[::-1], [self.zero], self.positive)))
            rank = np.clip(np.floor(qs * (n - 1)), 0, n - 1)
            b = np.searchsorted(cum, rank, side="right")
            # the edges of those buckets alone, as ``buckets`` has them (the outermost clamped to min, max)
            z = _z_edges(self._k_min, self._k_max, self._log_gamma)
            lo = self.centre + self.scale * z[b]
            hi = self.centre + self.scale * z[b + 1]
            lo = np.where(b == 0, np.minimum(lo, self.min), lo)
            hi = np.where(b + 1 == z.size - 1, np.maximum(hi, self.max), hi)
            out = np.clip(self._representatives(lo, hi), self.min, self.max)
        return float(out[0]) if np.ndim(q) == 0 else out

    def _quantile(self, q: float) -> float:
        """``quantile`` of one ``q``, the same arithmetic in scalars (a dashboard reads thousands)."""
        if not 0.0 <= q <= 1.0:
            raise ValueError("quantiles must be in [0, 1]")
        n = self.count
        if n == 0:
            return math.nan
        rank = float(min(max(math.floor(q * (n - 1)), 0), n - 1))
        cum = np.cumsum(np.concatenate((self.negative[::-1], [self.zero], self.positive)))
        b = int(np.searchsorted(cum, rank, side="right"))
        z = _z_edges(self._k_min, self._k_max, self._log_gamma)
        lo = self.centre + self.scale * float(z[b])
        hi = self.centre + self.scale * float(z[b + 1])
        if b == 0:
            lo = min(lo, self.min)
        if b + 1 == z.size - 1:
            hi = max(hi, self.max)
        zlo, zhi = (lo - self.centre) / self.scale, (hi - self.centre) / self.scale
        rep = self.centre + self.scale * (2.0 * zlo * zhi / (zlo + zhi) if zlo * zhi > 0 else 0.0)
        return min(max(rep, self.min), self.max)

    def rank(self, x: float) -> float:
        """Estimated number of values <= x (linear within the bucket that holds x)."""
        if self.count == 0:
            return 0.0
        if x < self.min:
            return 0.0
        if x >= self.max:
            return float(self.count)
        edges, counts = self.buckets()
        cum = np.concatenate([[0], np.cumsum(counts)])
        b = int(np.searchsorted(edges, x, side="left")) - 1
        b = min(max(b, 0), counts.size - 1)
        width = edges[b + 1] - edges[b]
        frac = (x - edges[b]) / width if width > 0 else 1.0
        return float(cum[b] + frac * counts[b])

    def max_bucket_share(self) -> float:
        """The largest share of values held by one bucket: the resolution of statistics on the edges."""
        n = self.count
        if n == 0:
            return 0.0
        return float(max(self.positive.max(), self.negative.max(), self.zero)) / n


@functools.lru_cache(maxsize=64)
def _mapping(alpha: float) -> tuple[float, int, int]:
    """``log(gamma)`` and the first and last bucket numbers for ``alpha`` (alike for every sketch of it)."""
    log_gamma = math.log((1.0 + alpha) / (1.0 - alpha))
    return log_gamma, math.floor(math.log(_MIN_Z) / log_gamma) + 1, math.ceil(math.log(_MAX_Z) / log_gamma)


@functools.lru_cache(maxsize=64)
def _z_edges(k_min: int, k_max: int, log_gamma: float) -> FloatArray:
    """The bucket edges in units of ``scale`` around the centre, ascending (the same for every sketch of
    one ``alpha``: worked out once). Read-only."""
    ks = np.arange(k_min, k_max + 1, dtype=np.float64)
    upper = np.exp(ks * log_gamma)  # |z| upper edge of bucket k
    lower = np.exp((ks - 1) * log_gamma)
    edges = np.concatenate([-upper[::-1], [-lower[0], lower[0]], upper])
    edges.flags.writeable = False
    return edges
