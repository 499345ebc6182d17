"""Embedding columns: a list of numbers per row, read as one 2-d float array.

>>> import pyarrow as pa
>>> m = as_matrix(pa.array([[1.0, 2.0], None, [3, 4]]), "e")
>>> m.vectors.tolist(), m.nulls
([[1.0, 2.0], [3.0, 4.0]], 1)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from vigil.errors import InputError

__all__ = ["Matrix", "as_matrix", "is_vector_type"]

FloatArray = npt.NDArray[np.float64]
Arrayish = Any  # a pyarrow Array or ChunkedArray (pyarrow ships no type information)


def is_vector_type(dtype: pa.DataType) -> bool:
    """A list (variable, large or fixed-size) of integers or floats."""
    if not (pa.types.is_list(dtype) or pa.types.is_large_list(dtype) or pa.types.is_fixed_size_list(dtype)):
        return False
    inner = dtype.value_type
    return bool(pa.types.is_integer(inner) or pa.types.is_floating(inner))


@dataclass(frozen=True)
class Matrix:
    """The usable vectors of a column (one per row), and what was left out."""

    vectors: FloatArray
    nulls: int
    """Null rows (no vector)."""
    non_finite: int
    """Rows whose vector holds a NaN, an infinity or a null element."""


def as_matrix(column: Arrayish, name: str, dimensions: int | None = None, *, what: str = "input") -> Matrix:
    """The rows of a list column as a ``rows x dimensions`` float64 array; null rows and rows holding a
    non-finite element are left out (and counted). Raises ``InputError`` when rows differ in length or
    differ from ``dimensions``, naming the first such row."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks else pa.array([], column.type)
    if not is_vector_type(column.type):
        raise InputError(
            f"{what}: column {name!r} is {column.type}, not a list of numbers; an embedding column holds "
            "one list (or array) of numbers per row"
        )
    valid = np.asarray(column.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    present = column.filter(pa.array(valid)) if not valid.all() else column
    lengths = np.asarray(pc.list_value_length(present).to_numpy(zero_copy_only=False), dtype=np.int64)
    width = dimensions if dimensions is not None else (int(lengths[0]) if lengths.size else 0)
    wrong = np.flatnonzero(lengths != width)
    if wrong.size:
        row = int(np.flatnonzero(valid)[wrong[0]])
        expected = f"{width} (declared dimensions)" if dimensions is not None else f"{width} (as row 0)"
        raise InputError(
            f"{what}: column {name!r} row {row} has {int(lengths[wrong[0]])} numbers where {expected} were "
            f"expected ({wrong.size} rows differ); every vector of an embedding must have the same length"
        )
    flat = pc.list_flatten(present)
    values = np.asarray(pc.cast(flat, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)
    vectors = values.reshape(-1, width) if width else np.zeros((len(present), 0))
    finite = np.isfinite(vectors).all(axis=1)
    return Matrix(vectors[finite], int((~valid).sum()), int((~finite).sum()))
