"""Batch-scoring outputs (Parquet, CSV, Feather) as wire records: columns named like ``Event`` fields are
those fields (``prediction``, ``score``, ``request_id``, ``timestamp``, ``latency_ms``, ...); columns named
``segment.NAME`` are segment tags; every other column is a feature."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from vigil.schema import Event

__all__ = ["records"]

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
