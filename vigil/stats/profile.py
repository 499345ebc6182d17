"""The profile of a table: one column profile per column, row count, duplicate rows. Mergeable.

``merge(profile(A), profile(B))`` equals ``profile(A + B)`` exactly for counts, nulls, moments (to float
rounding), sketches and category counts (within the bounds stated by each sketch), provided B was profiled
``like=`` A's profile (or both like a common baseline) so that their quantile buckets line up.
``duplicate_rows`` counts duplicates within each profiled batch, so after a merge it is a lower bound.

>>> import pandas as pd
>>> p = profile(pd.DataFrame({"x": [1.0, 2.0, None], "c": ["a", "b", "a"]}))
>>> p.rows, p.columns["x"].nulls, p.columns["c"].top.counts
(3, 1, {'a': 2, 'b': 1})
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from vigil.sketches.hashing import U64, combine, count_duplicates, finish
from vigil.stats import codec
from vigil.stats.column import (
    CategoricalProfile,
    ColumnProfile,
    NumericProfile,
    as_float,
    column_hashes,
    sketch_for,
)
from vigil.stats.vectors import VectorProfile, is_vector_type
from vigil.tables import ColumnKind, declared_type, kind_of, read_table

__all__ = ["Profile", "profile"]

_WORKERS = min(4, os.cpu_count() or 1)
_PARALLEL_FROM_ROWS = 50_000


@dataclass
class Profile:
    """Per-column profiles of a table, plus what is known about whole rows."""

    rows: int = 0
    columns: dict[str, ColumnProfile] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)
    """The Arrow type each column arrived with, as text (for schema checks)."""
    duplicate_rows: int = 0
    skipped: dict[str, str] = field(default_factory=dict)
    """Columns not profiled, with the reason."""
    vectors: dict[str, VectorProfile] = field(default_factory=dict)
    """Embedding columns (lists of numbers), kept apart: they are tested with MMD, not per value."""
    vocabularies: dict[str, frozenset[str]] = field(default_factory=dict)
    """A baseline's text features' vocabularies (``vigil.stats.text.vocabulary``), which live text's
    out-of-vocabulary share is measured against. Not data: merging and ``empty_like`` leave them out."""

    def update(
        self,
        table: pa.Table,
        *,
        progress: Callable[[str], None] | None = None,
        hash_only: Iterable[str] = (),
    ) -> Profile:
        """Add a table's rows. Columns unknown to this profile get a new column profile.

        Columns are profiled on a small thread pool: numpy and Arrow release the GIL over whole arrays,
        and each column profile is touched by one thread only. ``hash_only`` columns (identifiers,
        personal data) are not profiled; they only take part in telling duplicate rows apart.
        """
        extra = [n for n in hash_only if n in table.column_names]
        work: list[tuple[str, ColumnProfile]] = []
        for name in table.column_names:
            if name in extra:
                continue
            column = table.column(name)
            self.types.setdefault(name, declared_type(table.schema.field(name)))
            if self._vector(name, column, table.num_rows):
                continue
            col = self.columns.get(name)
            if col is None and name not in self.skipped:
                col = _new_column(name, column, self.skipped)
                if col is not None:
                    if self.rows:  # rows seen before this column existed count as nulls
                        col.rows = col.nulls = self.rows
                    self.columns[name] = col
            if col is not None:
                work.append((name, col))

        lock = threading.Lock()

        def run(item: tuple[str, ColumnProfile]) -> U64:
            name, col = item
            hashes = col.update(table.column(name))
            if progress is not None:
                with lock:  # the callback (a terminal progress bar) need not be thread-safe
                    progress(name)
            return hashes

        row_hash: U64 | None = None
        if len(work) > 1 and table.num_rows >= _PARALLEL_FROM_ROWS:
            with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
                for hashes in pool.map(run, work):  # in column order, so row hashes are deterministic
                    row_hash = combine(row_hash, hashes)
        else:
            for item in work:
                row_hash = combine(row_hash, run(item))
        missing = [c for n, c in self.columns.items() if n not in table.column_names]
        missing_v = [v for n, v in self.vectors.items() if n not in table.column_names]
        for counted in (*missing, *missing_v):  # a column missing from this batch: all null here
            counted.rows += table.num_rows
            counted.nulls += table.num_rows
        self.rows += table.num_rows
        for name in extra:
            row_hash = combine(row_hash, column_hashes(table.column(name)))
        if row_hash is not None:
            self.duplicate_rows += count_duplicates(finish(row_hash))
        return self

    def _vector(self, name: str, column: pa.ChunkedArray, rows: int) -> bool:
        """Fold an embedding column in; False when ``name`` is not one."""
        vec = self.vectors.get(name)
        if vec is None:
            if name in self.columns or name in self.skipped or not is_vector_type(column.type):
                return False
            vec = self.vectors[name] = VectorProfile(rows=self.rows, nulls=self.rows)
        if pa.types.is_null(column.type):
            vec.rows += rows
            vec.nulls += rows
        else:
            vec.update(column, name)
        return True

    def merge(self, other: Profile) -> Profile:
        for name, vec in other.vectors.items():
            mine_v = self.vectors.get(name)
            if mine_v is None:
                mine_v = self.vectors[name] = VectorProfile(rows=self.rows, nulls=self.rows)
            mine_v.merge(vec)
        for name, mine_v in self.vectors.items():
            if name not in other.vectors:
                mine_v.rows += other.rows
                mine_v.nulls += other.rows
        for name, col in other.columns.items():
            mine = self.columns.get(name)
            if mine is None:
                mine = col.empty_like()
                mine.rows = mine.nulls = self.rows
                self.columns[name] = mine
            if type(mine) is not type(col):
                raise ValueError(f"column {name!r} is {mine.kind} in one profile and {col.kind} in the other")
            mine.merge(col)  # type: ignore[arg-type]
        for name, col in self.columns.items():
            if name not in other.columns:
                col.rows += other.rows
                col.nulls += other.rows
        for name, dtype in other.types.items():
            self.types.setdefault(name, dtype)
        for name, why in other.skipped.items():
            self.skipped.setdefault(name, why)
        self.rows += other.rows
        self.duplicate_rows += other.duplicate_rows
        return self

    def empty_like(self, names: Iterable[str] | None = None) -> Profile:
        """An empty profile whose columns line up with this one's (kinds and sketch buckets)."""
        wanted = self.columns if names is None else {n: self.columns[n] for n in names if n in self.columns}
        vectors = self.vectors if names is None else {n: self.vectors[n] for n in names if n in self.vectors}
        return Profile(
            columns={n: c.empty_like() for n, c in wanted.items()},
            vectors={n: v.empty_like() for n, v in vectors.items()},
        )

    def to_bytes(self) -> bytes:
        """A compact, versioned binary form (``vigil.stats.codec``); its size does not grow with the row
        count."""
        parts = codec.ProfileParts(
            self.rows,
            self.columns,
            self.types,
            self.duplicate_rows,
            self.skipped,
            self.vectors,
            self.vocabularies,
        )
        return codec.dump_profile(parts)

    @staticmethod
    def from_bytes(data: bytes) -> Profile:
        """Read what ``to_bytes`` wrote; raises ``InputError`` for a foreign, newer or damaged blob."""
        p = codec.load_profile(data)
        return Profile(
            p.rows,
            dict(p.columns),
            dict(p.types),
            p.duplicate_rows,
            dict(p.skipped),
            dict(p.vectors),
            dict(p.vocabularies),
        )


def profile(
    data: Any,
    *,
    like: Profile | None = None,
    kinds: Mapping[str, ColumnKind] | None = None,
    columns: Iterable[str] | None = None,
    progress: Callable[[str], None] | None = None,
    hash_only: Iterable[str] = (),
) -> Profile:
    """Profile a table (pandas, polars, Arrow, or a Parquet/CSV/Feather path).

    ``like``: a baseline profile; columns it knows are profiled its way (same kind, aligned sketch buckets),
    which is what comparing with it requires. ``kinds``: force a column's kind (from the config).
    ``columns``: profile only these. ``hash_only``: columns not profiled but compared when telling
    duplicate rows apart (identifiers, timestamps, personal data: only 64-bit hashes are computed).
    """
    table = read_table(data) if not isinstance(data, pa.Table) else data
    hash_only = [c for c in hash_only if c in table.column_names]
    if columns is not None:
        keep = [c for c in columns if c in table.column_names and c not in hash_only]
        table = table.select(keep + hash_only)
    profiled = [c for c in table.column_names if c not in hash_only]
    result = like.empty_like(profiled) if like is not None else Profile()
    for name, kind in (kinds or {}).items():
        if name in profiled and name not in result.columns:
            result.columns[name] = _empty(kind, table.column(name))
    return result.update(table, progress=progress, hash_only=hash_only)


def _new_column(name: str, column: pa.ChunkedArray, skipped: dict[str, str]) -> ColumnProfile | None:
    kind = kind_of(column.type)
    if kind is None:
        skipped[name] = f"type {column.type} is not profiled (only numbers, text, booleans and dates are)"
        return None
    return _empty(kind, column)


def _empty(kind: ColumnKind, column: pa.ChunkedArray) -> ColumnProfile:
    if kind == "categorical":
        return CategoricalProfile()
    # the bucket mapping comes from the first rows: any centre works, a central one gives finer buckets
    values, _ = as_float(column.slice(0, 100_000), kind)
    return NumericProfile(sketch=sketch_for(values), kind=kind)
