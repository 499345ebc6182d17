"""64-bit hashes of whole columns, vectorised: the input of distinct counts and duplicate-row detection.

Numbers are hashed by their float64 bits through the SplitMix64 finaliser (Steele, Lea & Flood 2014), a
bijection with full avalanche, so distinct values give distinct hashes. Strings go through pandas'
``hash_array`` (SipHash-based). ``-0.0`` is folded into ``0.0``; the caller decides what a null hashes to.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = ["NULL_HASH", "combine", "count_duplicates", "finish", "hash_floats", "hash_strings"]

U64 = npt.NDArray[np.uint64]

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_ROW = np.uint64(0x9E3779B97F4A7C15)
NULL_HASH = np.uint64(0x6A09E667F3BCC909)


def _mix(v: U64) -> U64:
    v = v ^ (v >> np.uint64(30))
    v = v * _M1
    v = v ^ (v >> np.uint64(27))
    v = v * _M2
    return v ^ (v >> np.uint64(31))


def hash_floats(values: npt.NDArray[np.float64]) -> U64:
    """SplitMix64 of each value's bits (``-0.0`` hashes as ``0.0``)."""
    v = np.ascontiguousarray(values, dtype=np.float64) + 0.0
    with np.errstate(over="ignore"):
        return _mix(v.view(np.uint64))


def hash_strings(values: npt.ArrayLike) -> U64:
    """A stable 64-bit hash per string (pandas ``hash_array``, SipHash with a fixed key)."""
    arr = np.asarray(values, dtype=object)
    return pd.util.hash_array(arr, categorize=False).astype(np.uint64, copy=False)


def combine(row_hash: U64 | None, column_hash: U64) -> U64:
    """Fold one column's hashes into per-row hashes: ``h * K + c`` (mod 2**64), order-sensitive.

    Column hashes are already well mixed, so a multiply-add per column suffices; ``finish`` mixes once.
    """
    if row_hash is None:
        return column_hash.copy()
    with np.errstate(over="ignore"):
        row_hash *= _ROW
        row_hash += column_hash
    return row_hash


def finish(row_hash: U64) -> U64:
    """The final mix of combined row hashes."""
    with np.errstate(over="ignore"):
        return _mix(row_hash)


def count_duplicates(hashes: U64) -> int:
    """How many entries repeat an earlier one (sort, then compare neighbours)."""
    s = np.sort(hashes)
    return int(np.count_nonzero(s[1:] == s[:-1]))
