"""Embedding features at ingest: which records break the declaration (``type: embedding``,
``dimensions:``); ``vigil.events.as_vectors`` gives the values as the event table keeps them.

A batch whose records all sent lists arrives as an Arrow list column, checked over whole columns. A batch
mixing lists with scalars for one feature arrives as text (Arrow columns have one type; the per-record
path writes each value as text, lists as JSON): those values are read back one by one.

>>> import pyarrow as pa
>>> vector_problems(pa.array([[1.0, 2.0], [1.0], None]), 2)
{1: 'expected 2 numbers (declared dimensions: 2), got 1'}
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vigil.events import is_list_type, parsed_vector

__all__ = ["vector_problems"]


def _wrong_length(dimensions: int, got: int) -> str:
    return f"expected {dimensions} numbers (declared dimensions: {dimensions}), got {got}"


def vector_problems(values: Any, dimensions: int | None) -> dict[int, str]:
    """{row: reason} for each value that is not a list of numbers, or not of the declared length."""
    out: dict[int, str] = {}
    if pa.types.is_null(values.type):
        return out
    if is_list_type(values.type):
        if dimensions is not None:
            lengths = pc.fill_null(pc.list_value_length(values), dimensions).to_numpy(zero_copy_only=False)
            for row in np.flatnonzero(lengths != dimensions).tolist():
                out[row] = _wrong_length(dimensions, int(lengths[row]))
        return out
    for row, value in enumerate(values.to_pylist()):
        if value is None:
            continue
        parsed = parsed_vector(value) if isinstance(value, str) else None
        if parsed is None:
            out[row] = f"expected a list of numbers (declared type: embedding), got {value!r:.60}"
        elif dimensions is not None and len(parsed) != dimensions:
            out[row] = _wrong_length(dimensions, len(parsed))
    return out
