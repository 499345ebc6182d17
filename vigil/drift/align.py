"""Put a reference and a current column profile on the same footing: shared buckets, bins or categories."""

from __future__ import annotations

import itertools

import numpy as np

from vigil.drift.base import Buckets, Counts
from vigil.stats.column import CategoricalProfile, NumericProfile

__all__ = ["OTHER", "bins_from_buckets", "bins_from_values", "buckets", "categories", "short_number"]

OTHER = "(other)"
"""The label of values folded out of the top categories."""


def buckets(ref: NumericProfile, cur: NumericProfile) -> Buckets:
    """The two quantile sketches as histograms on the same edges, trimmed to the occupied range."""
    edges, r = ref.sketch.buckets()
    cur_edges, c = cur.sketch.buckets()
    if edges.size != cur_edges.size or ref.sketch.centre != cur.sketch.centre:
        raise ValueError(
            "the current profile was not built like the reference (profile it with like=reference)"
        )
    occupied = np.flatnonzero((r + c) > 0)
    if occupied.size == 0:
        return Buckets(edges[:1], np.zeros(0), np.zeros(0))
    lo, hi = occupied[0], occupied[-1] + 1
    e = edges[lo : hi + 1].copy()
    e[0] = min(ref.sketch.min, cur.sketch.min, e[1])
    e[-1] = max(ref.sketch.max, cur.sketch.max, e[-2])
    return Buckets(e, r[lo:hi].astype(np.float64), c[lo:hi].astype(np.float64))


def bins_from_buckets(b: Buckets, n_bins: int) -> Counts:
    """About ``n_bins`` equal-mass bins of the reference, made of whole buckets (so counts are exact)."""
    if b.reference.size == 0:
        return Counts([], np.zeros(0), np.zeros(0))
    cum = np.cumsum(b.reference) / max(b.n_reference, 1)
    cuts = np.searchsorted(cum, np.arange(1, n_bins) / n_bins, side="left") + 1
    starts = np.unique(np.concatenate([[0], cuts[cuts < b.reference.size]]))
    ref = np.add.reduceat(b.reference, starts)
    cur = np.add.reduceat(b.current, starts)
    edges = np.append(b.edges[starts], b.edges[-1])
    return Counts(_labels(edges), ref, cur)


def bins_from_values(reference: np.ndarray, current: np.ndarray, n_bins: int) -> Counts:
    """Equal-mass bins at the reference's exact quantiles (for the exact, raw-data path)."""
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, n_bins + 1)))
    lo, hi = min(edges[0], current.min()), max(edges[-1], current.max())
    edges[0], edges[-1] = lo, hi
    if edges.size < 2:
        edges = np.array([lo, hi])
    ref, _ = np.histogram(reference, edges)
    cur, _ = np.histogram(current, edges)
    return Counts(_labels(edges), ref.astype(np.float64), cur.astype(np.float64))


def categories(ref: CategoricalProfile | NumericProfile, cur: CategoricalProfile | NumericProfile) -> Counts:
    """Counts over the union of both sides' categories (or exact numeric values), plus ``(other)``."""
    rf, cf = _items(ref), _items(cur)
    labels = sorted(set(rf[0]) | set(cf[0]), key=lambda k: (-rf[0].get(k, 0), str(k)))
    r = np.array([rf[0].get(k, 0) for k in labels] + [rf[1]], dtype=np.float64)
    c = np.array([cf[0].get(k, 0) for k in labels] + [cf[1]], dtype=np.float64)
    names = [_label(k) for k in labels] + [OTHER]
    if r[-1] == 0 and c[-1] == 0:
        return Counts(names[:-1], r[:-1], c[:-1])
    return Counts(names, r, c)


def _items(p: CategoricalProfile | NumericProfile) -> tuple[dict[object, int], int]:
    if isinstance(p, CategoricalProfile):
        return {k: n for k, n in p.top.counts.items()}, p.top.other
    if p.values is None:
        raise ValueError("this numeric column has too many distinct values to compare value by value")
    return {k: n for k, n in p.values.counts.items()}, p.values.other


def _label(k: object) -> str:
    if isinstance(k, float) and k.is_integer():
        return str(int(k))
    return str(k)


def _labels(edges: np.ndarray) -> list[str]:
    return [f"{short_number(a)} – {short_number(b)}" for a, b in itertools.pairwise(edges)]


def short_number(x: float) -> str:
    """A bin edge for a label: three significant digits, thousands as k/M/G.

    >>> short_number(21690.5), short_number(-0.000123), short_number(2.5e9), short_number(42.0)
    ('21.7k', '-0.000123', '2.5G', '42')
    """
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= size:
            return f"{x / size:.3g}{suffix}"
    return f"{x:.3g}"
