"""Input files cut into partitions: the unit of work one Dask task profiles.

A Parquet file is cut at row-group boundaries into runs of about ``rows`` rows (a row group is never
split: write files with row groups of 100k-1M rows to spread one file over many workers); any other file
(CSV, Feather) is one partition. Each partition knows its first row in the file, so rejected rows are named
by their place in the file, the first data row being row 1, as ``vigil ingest`` names them.

``head`` and ``sample`` read the rows the model's template is fixed from: the first ``SAMPLE`` rows (as the
live path fixes a column's buckets from the first batch that has it), then about as many spread over the
file (the first rows of up to ``SPREAD`` row groups evenly spaced from the first to the last, for Parquet;
as many slices evenly spaced over the rows of any other file), so that a column empty at the file's start
but filled further on still gets its buckets.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from vigil.errors import InputError
from vigil.tables import read_table

__all__ = ["SAMPLE", "SPREAD", "Partition", "head", "plan", "read", "sample"]

SAMPLE = 5_000
"""Rows of a file read to fix the template."""
SPREAD = 10
"""Places of a file those rows come from."""


@dataclass(frozen=True)
class Partition:
    path: str
    digest: str
    """The file's content hash (SHA-256, hex)."""
    index: int
    """Its place among the file's partitions."""
    first_row: int
    """Row of the file its first row is (0-based)."""
    row_groups: tuple[int, ...] | None
    """Parquet row groups; None: the whole file."""


def plan(path: str, rows: int = 250_000) -> list[Partition]:
    """The partitions of one file (see the module docstring)."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{path}: no such file")
    with p.open("rb") as f:
        sha = hashlib.file_digest(f, "sha256").hexdigest()
    if p.suffix.lower() != ".parquet":
        return [Partition(str(p), sha, 0, 0, None)]
    try:
        meta = pq.ParquetFile(p).metadata
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"{path}: not a readable Parquet file ({exc})") from None
    out: list[Partition] = []
    groups: list[int] = []
    first = size = 0
    for g in range(meta.num_row_groups):
        groups.append(g)
        size += meta.row_group(g).num_rows
        if size >= rows or g == meta.num_row_groups - 1:
            out.append(Partition(str(p), sha, len(out), first, tuple(groups)))
            first += size
            groups, size = [], 0
    return out or [Partition(str(p), sha, 0, 0, ())]


def read(part: Partition) -> pa.Table:
    """The rows of one partition."""
    if part.row_groups is None:
        return read_table(part.path, what="input")
    return pq.ParquetFile(part.path).read_row_groups(list(part.row_groups))


def head(parts: list[Partition], rows: int = SAMPLE) -> pa.Table:
    """The first ``rows`` rows of the file of ``parts`` (of its first row group, for Parquet)."""
    first = parts[0]
    groups = first.row_groups and first.row_groups[:1]
    return read(Partition(first.path, first.digest, 0, 0, groups)).slice(0, rows)


def sample(parts: list[Partition], rows: int = SAMPLE, spread: int = SPREAD) -> pa.Table:
    """About ``rows`` rows of the file of ``parts`` (its partitions, in order) spread over it (see the module
    docstring)."""
    first = parts[0]
    if first.row_groups is None:
        table = read(first)
        n = table.num_rows
        if n <= rows:
            return table
        each = -(-rows // spread)  # slices that do not overlap: n > rows
        return pa.concat_tables([table.slice(at, each) for at in _spread(n - each + 1, spread)])
    groups = [g for part in parts for g in part.row_groups or ()]
    if not groups:
        return read(first)
    chosen = [groups[i] for i in _spread(len(groups), spread)]
    each = -(-rows // len(chosen))
    f = pq.ParquetFile(first.path)
    firsts = (next(f.iter_batches(batch_size=each, row_groups=[g]), None) for g in chosen)
    batches = [b for b in firsts if b is not None]
    return pa.Table.from_batches(batches) if batches else f.schema_arrow.empty_table()


def _spread(n: int, places: int) -> list[int]:
    """Up to ``places`` distinct positions evenly spaced over ``range(n)``, the first and last included."""
    if n <= 0:
        return []
    k = min(places, n)
    return sorted({round(i * (n - 1) / max(k - 1, 1)) for i in range(k)})
