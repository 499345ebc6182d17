"""Embedding columns: a list of numbers per row, read as one 2-d float array, and summarised in a
mergeable ``VectorProfile`` (counts, mean, per-axis variance, a bounded uniform sample).

>>> import pyarrow as pa
>>> m = as_matrix(pa.array([[1.0, 2.0], None, [3, 4]]), "e")
>>> m.vectors.tolist(), m.nulls
([[1.0, 2.0], [3.0, 4.0]], 1)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from vigil.errors import InputError

__all__ = ["SAMPLE_SIZE", "Matrix", "VectorProfile", "as_matrix", "is_vector_type"]

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


SAMPLE_SIZE = 1_000
"""Vectors a ``VectorProfile`` keeps, as float32: at dimension 384 a profile holds at most 1.5 MB."""


@dataclass
class VectorProfile:
    """A mergeable summary of an embedding column: counts, the running mean and per-axis variance, and a
    uniform sample of at most ``capacity`` vectors.

    The sample is a bottom-k sample: every vector gets an independent uniform priority and the ``capacity``
    smallest are kept, so the sample of a merge is exactly the sample the union would have kept (a uniform
    sample without replacement of all vectors folded in, whatever the order and grouping of the merges).
    Priorities come from a generator seeded by the batch's bytes: profiling the same data gives the same
    sample.
    """

    capacity: int = SAMPLE_SIZE
    rows: int = 0
    nulls: int = 0
    non_finite: int = 0
    count: int = 0
    total: FloatArray | None = None
    """Sum of the vectors (the mean is ``total / count``)."""
    m2: FloatArray | None = None
    """Per axis, the sum of squared deviations from the mean (Chan et al.'s parallel update)."""
    priorities: FloatArray = field(default_factory=lambda: np.zeros(0))
    sample: npt.NDArray[np.float32] = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    kind: str = "embedding"

    @property
    def dimensions(self) -> int | None:
        return None if self.total is None else int(self.total.size)

    @property
    def mean(self) -> FloatArray | None:
        return None if self.total is None or not self.count else self.total / self.count

    def update(self, column: Arrayish, name: str = "embedding") -> VectorProfile:
        """Add a list column (``as_matrix``); vectors of another length than before raise ``InputError``."""
        m = as_matrix(column, name, self.dimensions)
        self.rows += m.nulls + m.non_finite + len(m.vectors)
        self.nulls += m.nulls
        self.non_finite += m.non_finite
        return self.update_vectors(m.vectors)

    def update_vectors(self, x: FloatArray) -> VectorProfile:
        """Add finite vectors (one per row); the caller counts rows and nulls."""
        if not len(x):
            return self
        seed = int.from_bytes(hashlib.blake2b(np.ascontiguousarray(x).tobytes(), digest_size=8).digest())
        priorities = np.random.default_rng(seed).random(len(x))
        other = VectorProfile(capacity=self.capacity, count=len(x), total=x.sum(axis=0))
        other.m2 = ((x - x.mean(axis=0)) ** 2).sum(axis=0)
        keep = np.argsort(priorities)[: self.capacity]
        other.priorities, other.sample = priorities[keep], x[keep].astype(np.float32)
        return self._merge_state(other)

    def merge(self, other: VectorProfile) -> VectorProfile:
        self.rows += other.rows
        self.nulls += other.nulls
        self.non_finite += other.non_finite
        return self._merge_state(other)

    def _merge_state(self, other: VectorProfile) -> VectorProfile:
        if other.total is None or other.m2 is None or not other.count:
            return self
        if self.total is None or self.m2 is None or not self.count:
            self.count, self.total, self.m2 = other.count, other.total.copy(), other.m2.copy()
            self.priorities, self.sample = other.priorities.copy(), other.sample.copy()
            return self
        if other.total.size != self.total.size:
            raise InputError(
                f"vectors of {other.total.size} numbers cannot be merged with vectors of {self.total.size}: "
                "an embedding keeps one length (declare dimensions: to refuse the others at ingest)"
            )
        n, m = self.count, other.count
        delta = other.total / m - self.total / n
        self.m2 = self.m2 + other.m2 + delta**2 * (n * m / (n + m))
        self.total = self.total + other.total
        self.count = n + m
        priorities = np.concatenate([self.priorities, other.priorities])
        sample = np.concatenate([self.sample, other.sample])
        keep = np.argsort(priorities, kind="stable")[: self.capacity]
        self.priorities, self.sample = priorities[keep], sample[keep]
        return self

    def empty_like(self) -> VectorProfile:
        return VectorProfile(capacity=self.capacity)

    @property
    def null_share(self) -> float:
        return self.nulls / self.rows if self.rows else float("nan")
