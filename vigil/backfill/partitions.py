"""Input files cut into partitions: the unit of work one Dask task profiles.

A Parquet file is cut at row-group boundaries into runs of about ``rows`` rows (a row group is never
split: write files with row groups of 100k-1M rows to spread one file over many workers); any other file
(CSV, Feather) is one partition. Each partition knows its first row in the file, so rejected rows are named
by their place in the file, the first data row being row 1, as ``vigil ingest`` names them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from vigil.errors import InputError
from vigil.tables import read_table

__all__ = ["Partition", "digest", "plan", "read"]


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


def digest(path: Path) -> str:
    """The SHA-256 of the file's content (hex)."""
    sha = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def plan(path: str, rows: int = 250_000) -> list[Partition]:
    """The partitions of one file (see the module docstring)."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{path}: no such file")
    sha = digest(p)
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
