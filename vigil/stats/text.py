"""Descriptors of free text, one number per value, so that text drifts the way numbers do.

A text column ``answer`` becomes four numeric columns, each tested for drift like any other:

* ``answer.length``: characters;
* ``answer.tokens``: words (runs of letters, digits and ``_``, lower-cased);
* ``answer.empty``: 1 for an empty or blank value, else 0 (its drift is the share of empty answers);
* ``answer.oov``: the share of the value's words missing from the reference's vocabulary (null for a
  value without words).

The vocabulary is the ``VOCABULARY_SIZE`` most frequent words of the reference's even rows (row 0, 2, ...),
and the reference's own ``oov`` is measured on its odd rows only: measured on the rows it was built from,
every word would be known and the reference's share would be 0, so that any fresh sample of the same
text would seem to drift. Both sides are thus measured against words chosen from other rows.

Nulls stay null in every descriptor. Everything runs over whole Arrow columns (no loop per value).

>>> import pyarrow as pa
>>> d = descriptors(pa.array(["Hello, world!", "", None, "the cat"]), frozenset({"hello", "the"}))
>>> [d[k].tolist() for k in ("length", "tokens", "empty", "oov")]
[[13.0, 0.0, nan, 7.0], [2.0, 0.0, nan, 2.0], [0.0, 1.0, nan, 0.0], [0.5, nan, nan, 0.5]]
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "DESCRIPTORS",
    "VOCABULARY_SIZE",
    "descriptor_table",
    "descriptors",
    "reference_descriptors",
    "vocabulary",
]

DESCRIPTORS: dict[str, str] = {
    "length": "characters per value",
    "tokens": "words per value",
    "empty": "share of empty or blank values",
    "oov": "share of words outside the reference's vocabulary",
}
"""Each descriptor's name (the column is ``NAME.descriptor``) and what it measures."""

VOCABULARY_SIZE = 50_000
"""Words kept in a reference vocabulary at most (the most frequent)."""

FloatArray = npt.NDArray[np.float64]
Arrayish = Any  # a pyarrow Array or ChunkedArray (pyarrow ships no type information)


def _strings(column: Arrayish) -> pa.Array:
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        column = pc.cast(column, pa.string())
    return column


def _words(text: pa.Array) -> tuple[pa.Array, npt.NDArray[np.intp]]:
    """Every word of every value, and the row each came from."""
    spaced = pc.replace_substring_regex(pc.utf8_lower(text), r"[^\pL\pN_\s]+", " ")
    lists = pc.utf8_split_whitespace(spaced)
    flat = pc.list_flatten(lists)
    rows = np.asarray(pc.list_parent_indices(lists).to_numpy(zero_copy_only=False), dtype=np.intp)
    keep = np.asarray(pc.greater(pc.utf8_length(flat), 0).to_numpy(zero_copy_only=False), dtype=bool)
    if not keep.all():
        flat = flat.filter(pa.array(keep))
        rows = rows[keep]
    return flat, rows


@functools.lru_cache(maxsize=32)
def _value_set(known: frozenset[str]) -> pa.Array:
    """A vocabulary as an Arrow array, made once per vocabulary (a frozenset keeps its hash): the live path
    describes every batch against the same one (50,000 words: 140 ms a batch to rebuild, measured)."""
    return pa.array(sorted(known), pa.string())


def vocabulary(column: Arrayish, size: int = VOCABULARY_SIZE) -> frozenset[str]:
    """The ``size`` most frequent words of a text column."""
    words, _ = _words(_strings(column))
    if len(words) == 0:
        return frozenset()
    counts = pc.value_counts(words)
    values = counts.field("values").to_numpy(zero_copy_only=False)
    n = counts.field("counts").to_numpy(zero_copy_only=False)
    if len(values) > size:
        values = values[np.argpartition(-n, size - 1)[:size]]
    return frozenset(str(v) for v in values)


def descriptors(column: Arrayish, known: frozenset[str] | None) -> dict[str, FloatArray]:
    """The descriptors of every value (``DESCRIPTORS``), NaN for nulls; ``oov`` is all NaN when ``known``
    (the vocabulary) is None."""
    text = _strings(column)
    size = len(text)
    valid = np.asarray(text.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    length = np.asarray(pc.utf8_length(text).to_numpy(zero_copy_only=False), dtype=np.float64)
    words, rows = _words(text)
    tokens = np.bincount(rows, minlength=size).astype(np.float64)
    oov = np.full(size, np.nan)
    if known is not None:
        # the vocabulary's words this column uses, then the column against those: hashing the column's few
        # thousand distinct words is cheaper than hashing a 50,000-word vocabulary at every call
        vocab = _value_set(known)
        used = vocab.filter(pc.is_in(vocab, value_set=pc.unique(words)))
        inside = pc.is_in(words, value_set=used)
        missing = ~np.asarray(inside.to_numpy(zero_copy_only=False), dtype=bool)
        unknown = np.bincount(rows, weights=missing.astype(np.float64), minlength=size)
        with np.errstate(invalid="ignore", divide="ignore"):
            oov = np.where(tokens > 0, unknown / tokens, np.nan)
    empty = (tokens == 0) & (
        pc.utf8_length(pc.utf8_trim_whitespace(text)).to_numpy(zero_copy_only=False) == 0
    )
    out = {"length": length, "tokens": tokens, "empty": empty.astype(np.float64), "oov": oov}
    for values in out.values():
        values[~valid] = np.nan
    return out


def descriptor_table(
    name: str, column: Arrayish, known: frozenset[str] | None, *, measure_oov: FloatArray | None = None
) -> pa.Table:
    """The descriptors as a table with columns ``name.length``, ``name.tokens``, ...; ``measure_oov``
    (a 0/1 mask) keeps ``oov`` only on those rows (the reference's odd rows), null elsewhere."""
    d = descriptors(column, known)
    if measure_oov is not None:
        d["oov"] = np.where(measure_oov > 0, d["oov"], np.nan)
    return pa.table({f"{name}.{key}": pa.array(values, from_pandas=True) for key, values in d.items()})


def reference_descriptors(
    name: str, column: Arrayish, size: int = VOCABULARY_SIZE
) -> tuple[pa.Table, frozenset[str]]:
    """A reference column's descriptor table and vocabulary: words from the even rows, ``oov`` measured on
    the odd rows (see the module docstring)."""
    text = _strings(column)
    known = vocabulary(text.take(pa.array(np.arange(0, len(text), 2))), size)
    odd = (np.arange(len(text)) % 2).astype(np.float64)
    return descriptor_table(name, text, known, measure_oov=odd), known
