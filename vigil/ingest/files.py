"""Batch-scoring outputs (Parquet, CSV, Feather) as wire records: columns named like ``Event`` fields are
those fields (``prediction``, ``score``, ``request_id``, ``timestamp``, ``latency_ms``, ...); columns named
``segment.NAME`` are segment tags; every other column is a feature."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from vigil.ingest.columnar import checked_table
from vigil.schema import Event

__all__ = ["records", "wire"]

_FIELDS = set(Event.model_fields) - {"model", "features", "segments"}


def records(
    table: pa.Table, model: str, *, version: str | None = None, chunk: int = 5_000
) -> Iterator[list[dict[str, Any]]]:
    """The table's rows as Event records, ``chunk`` at a time (one conversion per chunk, in Arrow)."""
    for batch in table.to_batches(max_chunksize=chunk):
        rows = batch.to_pylist()
        out = []
        for row in rows:
            record: dict[str, Any] = {"model": model, "features": {}, "segments": {}}
            if version is not None:
                record["version"] = version
            for name, value in row.items():
                if name in _FIELDS:
                    if value is not None:
                        record[name] = value.isoformat() if hasattr(value, "isoformat") else value
                elif name.startswith("segment."):
                    record["segments"][name[len("segment.") :]] = value
                else:
                    record["features"][name] = value.isoformat() if hasattr(value, "isoformat") else value
            out.append(record)
        yield out


def wire(table: pa.Table, model: str, *, version: str | None = None) -> pa.Table | None:
    """The table's rows as the checked wire table ``fast_table`` makes of ``records`` (column by column,
    without a Python object per value), or None when some row is not valid or a column is of a type only
    ``records`` converts (a date or time among the features, a large string): then check ``records``, which
    names the rows at fault."""
    n = table.num_rows
    columns: dict[str, pa.ChunkedArray | pa.Array] = {"model": pa.array([model] * n, pa.string())}
    features: dict[str, pa.ChunkedArray] = {}
    segments: dict[str, pa.ChunkedArray] = {}
    for name in table.column_names:
        column = table.column(name)
        if name in _FIELDS:
            if name == "timestamp" and pa.types.is_timestamp(column.type):
                # as the text ``records`` writes is read back: to the microsecond, naive times as UTC
                try:
                    micros = pc.cast(pc.cast(column, pa.timestamp("us", column.type.tz or "UTC")), pa.int64())
                except pa.ArrowInvalid:
                    return None  # nanoseconds: as ``records`` writes them out and the server reads them
                column = pc.divide(pc.cast(micros, pa.float64()), 1e6)
            elif pa.types.is_temporal(column.type):
                return None
            columns[name] = column
        elif pa.types.is_temporal(column.type):
            return None
        elif name.startswith("segment."):
            segments[name[len("segment.") :]] = column
        else:
            features[name] = column
    if version is not None:
        given = pa.array([version] * n, pa.string())
        columns["version"] = (
            pc.coalesce(pc.cast(columns["version"], pa.string()), given) if "version" in columns else given
        )
    for name, parts in (("features", features), ("segments", segments)):
        if parts:
            columns[name] = pa.StructArray.from_arrays(
                [pc.cast(c, c.type).combine_chunks() for c in parts.values()], list(parts)
            )
    return checked_table(pa.table(columns))
