"""Profiles of one column: a numeric (or datetime) summary, or a categorical one. Both update from a whole
Arrow column at once and merge with a profile of the same column from other rows.

A numeric profile holds moments (exact), a quantile sketch (see ``QuantileSketch`` for its bound), a
distinct-count sketch (1.6% standard error), and exact value counts while the column has at most
``DISCRETE_LIMIT`` distinct values (so a 0/1 flag or a small count is compared value by value). A
categorical profile holds the top ``capacity`` categories exactly plus an ``other`` bucket.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from vigil.sketches import FrequentItems, HyperLogLog, QuantileSketch
from vigil.sketches.hashing import NULL_HASH, hash_floats, hash_strings
from vigil.stats.moments import Moments

__all__ = [
    "DISCRETE_LIMIT",
    "CategoricalProfile",
    "ColumnProfile",
    "NumericProfile",
    "as_float",
    "column_hashes",
    "sketch_for",
]

DISCRETE_LIMIT = 32
"""Numeric columns with at most this many distinct values also keep exact value counts."""

FEATURE_ALPHA = 0.005
"""Relative accuracy of feature quantile sketches: 0.5% of the distance from the baseline's median."""

Arrayish = Any  # a pyarrow Array or ChunkedArray (pyarrow ships no type information)
U64 = npt.NDArray[np.uint64]


def sketch_for(values: npt.NDArray[np.float64]) -> QuantileSketch:
    """An empty quantile sketch centred on a sample median of ``values`` and scaled by their spread.

    Only the mapping is taken from ``values``; later batches and other tables reuse it (``empty_like``) so
    that their buckets line up with the baseline's.
    """
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return QuantileSketch(alpha=FEATURE_ALPHA)
    sample = finite[:: max(1, finite.size // 20_000)]
    centre = float(np.median(sample))
    q25, q75 = np.quantile(sample, [0.25, 0.75])
    scale = float(q75 - q25) or float(np.std(sample)) or max(abs(centre), 1.0)
    return QuantileSketch(alpha=FEATURE_ALPHA, centre=centre, scale=scale)


@dataclass
class NumericProfile:
    """Summary of a numeric or datetime column (datetimes as seconds since the epoch)."""

    sketch: QuantileSketch
    kind: Literal["numeric", "datetime"] = "numeric"
    rows: int = 0
    nulls: int = 0
    non_finite: int = 0
    type_mismatches: int = 0
    moments: Moments = field(default_factory=Moments)
    distinct: HyperLogLog = field(default_factory=HyperLogLog)
    values: FrequentItems[float] | None = field(
        default_factory=lambda: FrequentItems[float](capacity=DISCRETE_LIMIT)
    )

    def update(self, column: Arrayish) -> U64:
        """Add a column of values; returns one 64-bit hash per row (for duplicate-row detection)."""
        x, mismatches = as_float(column, self.kind)
        self.type_mismatches += mismatches
        exact = None
        if pa.types.is_integer(column.type) and np.nanmax(np.abs(x), initial=0.0) >= 2**53:
            exact = column_hashes(column)  # integers past 2**53 share floats: hash their exact bits
            self.values = None  # ... and exact value counts keyed by float would merge them
        return self.update_values(x, exact)

    def update_values(self, x: npt.NDArray[np.float64], hashes: U64 | None = None) -> U64:
        """Add float64 values, NaN meaning null; returns one hash per row (``hashes`` if given: exact
        per-row hashes of values that float64 cannot tell apart)."""
        self.rows += x.size
        finite_mask = np.isfinite(x)
        finite = x if finite_mask.all() else x[finite_mask]
        nan_count = int(np.isnan(x).sum()) if finite.size != x.size else 0
        self.nulls += nan_count
        self.non_finite += x.size - finite.size - nan_count
        self.moments.update(finite)
        self.sketch.update(finite)
        hashes = hash_floats(x) if hashes is None else hashes
        self.distinct.update(hashes if finite.size == x.size else hashes[finite_mask])
        if finite.size != x.size:
            hashes[np.isnan(x)] = NULL_HASH
        if self.values is not None:
            self._count_values(finite)
        return hashes

    def _count_values(self, x: npt.NDArray[np.float64]) -> None:
        if x.size == 0 or self.values is None:
            return
        lo, hi = float(x.min()), float(x.max())
        if hi - lo < 100_000 and np.array_equal(x, np.floor(x)):
            counts = np.bincount((x - lo).astype(np.intp))
            keys = np.flatnonzero(counts)
            if keys.size > DISCRETE_LIMIT:
                self.values = None
                return
            self.values.update((keys + lo).tolist(), counts[keys])
        else:
            if np.unique(x[:4096]).size > DISCRETE_LIMIT:
                self.values = None
                return
            uniq, counts = np.unique(x, return_counts=True)
            if uniq.size > DISCRETE_LIMIT:
                self.values = None
                return
            self.values.update(uniq.tolist(), counts)
        if not self.values.exact:
            self.values = None

    def merge(self, other: NumericProfile) -> NumericProfile:
        self.rows += other.rows
        self.nulls += other.nulls
        self.non_finite += other.non_finite
        self.type_mismatches += other.type_mismatches
        self.moments.merge(other.moments)
        self.sketch.merge(other.sketch)
        self.distinct.merge(other.distinct)
        if self.values is not None and other.values is not None:
            self.values.merge(other.values)
            if not self.values.exact:
                self.values = None
        else:
            self.values = None
        return self

    def empty_like(self) -> NumericProfile:
        """An empty profile whose sketch lines up with this one's (for a current window vs a baseline)."""
        return NumericProfile(sketch=self.sketch.empty_like(), kind=self.kind)

    @property
    def count(self) -> int:
        """Finite, non-null values."""
        return self.moments.count

    @property
    def null_share(self) -> float:
        return self.nulls / self.rows if self.rows else math.nan

    @property
    def distinct_estimate(self) -> float:
        if self.values is not None:
            return float(len(self.values.counts))
        return min(self.distinct.estimate(), float(self.count))

    @property
    def is_discrete(self) -> bool:
        """True when exact value counts exist (at most ``DISCRETE_LIMIT`` distinct values)."""
        return self.values is not None and self.count > 0


@dataclass
class CategoricalProfile:
    """Summary of a categorical column (strings; booleans and declared categories cast to strings)."""

    kind: Literal["categorical"] = "categorical"
    rows: int = 0
    nulls: int = 0
    top: FrequentItems[str] = field(default_factory=FrequentItems[str])
    distinct: HyperLogLog = field(default_factory=HyperLogLog)

    def update(self, column: Arrayish) -> U64:
        """Add a column of values; returns one 64-bit hash per row (for duplicate-row detection)."""
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks()
        if not pa.types.is_dictionary(column.type):
            if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
                column = pc.cast(column, pa.string())
            column = pc.dictionary_encode(column)
        dictionary = column.dictionary
        if not (pa.types.is_string(dictionary.type) or pa.types.is_large_string(dictionary.type)):
            dictionary = pc.cast(dictionary, pa.string())
        indices = column.indices.to_numpy(zero_copy_only=False)
        null_mask = None
        if column.null_count:
            null_mask = ~np.asarray(column.indices.is_valid())
            indices = np.where(null_mask, 0, indices).astype(np.intp)
        self.rows += len(column)
        self.nulls += column.null_count
        if len(dictionary) == 0:  # nothing but nulls
            return np.full(len(column), NULL_HASH)
        counts = np.bincount(indices, minlength=len(dictionary)).astype(np.int64)
        if null_mask is not None:
            counts[0] -= int(null_mask.sum())
        seen = np.flatnonzero(counts)
        capacity = self.top.capacity
        if seen.size > capacity:
            keep = seen[np.argpartition(-counts[seen], capacity - 1)[:capacity]]
            self.top.other += int(counts.sum() - counts[keep].sum())
            seen = keep
        keys = dictionary.take(pa.array(seen)).to_pylist()
        self.top.update(keys, counts[seen])
        dict_hashes = hash_strings(dictionary.to_numpy(zero_copy_only=False))
        self.distinct.update(dict_hashes[np.flatnonzero(counts)] if seen.size else dict_hashes[:0])
        row_hashes = dict_hashes[indices] if len(dictionary) else np.full(len(column), NULL_HASH)
        if null_mask is not None:
            row_hashes[null_mask] = NULL_HASH
        return row_hashes

    def merge(self, other: CategoricalProfile) -> CategoricalProfile:
        self.rows += other.rows
        self.nulls += other.nulls
        self.top.merge(other.top)
        self.distinct.merge(other.distinct)
        return self

    def empty_like(self) -> CategoricalProfile:
        return CategoricalProfile(top=FrequentItems[str](capacity=self.top.capacity))

    @property
    def count(self) -> int:
        """Non-null values."""
        return self.rows - self.nulls

    @property
    def null_share(self) -> float:
        return self.nulls / self.rows if self.rows else math.nan

    @property
    def distinct_estimate(self) -> float:
        if self.top.exact:
            return float(len(self.top.counts))
        return min(self.distinct.estimate(), float(self.count))


ColumnProfile = NumericProfile | CategoricalProfile


def as_float(column: Arrayish, kind: str) -> tuple[npt.NDArray[np.float64], int]:
    """Values as float64 with NaN for nulls, and how many non-null values could not be read as numbers."""
    dtype = column.type
    if kind == "datetime" and (pa.types.is_timestamp(dtype) or pa.types.is_date(dtype)):
        micros = pc.cast(pc.cast(column, pa.timestamp("us"), safe=False), pa.int64())
        return pc.cast(micros, pa.float64(), safe=False).to_numpy(zero_copy_only=False) / 1e6, 0
    if (
        pa.types.is_integer(dtype)
        or pa.types.is_floating(dtype)
        or pa.types.is_decimal(dtype)
        or pa.types.is_boolean(dtype)
    ):
        # unsafe: integers beyond 2**53 (snowflake ids) round to the nearest float instead of failing
        arr = pc.cast(column, pa.float64(), safe=False).to_numpy(zero_copy_only=False)
        return np.asarray(arr, dtype=np.float64), 0
    # text where numbers were expected (a CSV column with a stray word): read what parses, count the rest
    text = pd.Series(pc.cast(column, pa.string()).to_numpy(zero_copy_only=False), dtype=object)
    values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    mismatches = int((text.notna() & np.isnan(values)).sum())
    return values, mismatches


def column_hashes(column: Arrayish) -> U64:
    """One 64-bit hash per row of any column, nulls as ``NULL_HASH``: for duplicate rows over columns that
    are not profiled (identifiers, timestamps, personal data). Only the hashes are kept."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    dtype = column.type
    if pa.types.is_integer(dtype) or pa.types.is_timestamp(dtype) or pa.types.is_date(dtype):
        ints = pc.cast(column, pa.int64(), safe=False) if not pa.types.is_integer(dtype) else column
        ints = pc.cast(ints, pa.int64(), safe=False)
        values = np.asarray(pc.fill_null(ints, 0).to_numpy(zero_copy_only=False), dtype=np.int64)
        hashes = hash_floats(values.view(np.float64))  # the integer's bits, exactly
    elif pa.types.is_floating(dtype) or pa.types.is_boolean(dtype) or pa.types.is_decimal(dtype):
        hashes = hash_floats(as_float(column, "numeric")[0])
    else:
        encoded = pc.dictionary_encode(
            pc.cast(column, pa.string()) if not pa.types.is_dictionary(dtype) else column
        )
        dictionary = pc.cast(encoded.dictionary, pa.string())
        indices = np.asarray(pc.fill_null(encoded.indices, 0).to_numpy(zero_copy_only=False), dtype=np.intp)
        dict_hashes = hash_strings(dictionary.to_numpy(zero_copy_only=False))
        hashes = dict_hashes[indices] if len(dictionary) else np.full(len(column), NULL_HASH)
    if column.null_count:
        hashes[~np.asarray(column.is_valid())] = NULL_HASH
    return hashes
