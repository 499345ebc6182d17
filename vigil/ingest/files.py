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
    """The table's rows as Event records, ``chunk`` at a time (one conversion per chunk, in Arrow). Times in
    the ``timestamp`` column are written as UTC to the microsecond (``_microseconds``): text the server's
    column-by-column check parses (nanoseconds, or no zone, sent the whole request to the per-record one)."""
    if "timestamp" in table.column_names and pa.types.is_timestamp(table.column("timestamp").type):
        i = table.column_names.index("timestamp")
        table = table.set_column(i, "timestamp", _microseconds(table.column(i)))
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
    ``records`` converts (a date or time among the features, binary, a time before 1685 or after 2255):
    then check ``records``, which names the rows at fault.

    Text of any Arrow layout (``large_string`` and ``string_view`` as pandas and Polars write them) is read
    as ``string``, dictionaries (categoricals) decoded, the ``timestamp`` column of any unit and zone read as
    ``records`` gives it (``_microseconds``): the values are those ``records`` gives, column by column."""
    n = table.num_rows
    columns: dict[str, pa.ChunkedArray | pa.Array] = {"model": pa.array([model] * n, pa.string())}
    features: dict[str, pa.ChunkedArray] = {}
    segments: dict[str, pa.ChunkedArray] = {}
    for name in table.column_names:
        column = _plain(table.column(name))
        if column is None:
            return None
        if name in _FIELDS:
            if name == "timestamp" and pa.types.is_timestamp(column.type):
                micros = pc.cast(_microseconds(column), pa.int64())
                if pc.any(pc.greater_equal(pc.abs(micros), 2**53)).as_py():
                    # years before 1685 or after 2255: float64 holds their microseconds only approximately,
                    # and Python's int/int division (the other path) rounds once where Arrow would round twice
                    return None
                column = pc.divide(pc.cast(micros, pa.float64()), 1e6)
            elif pa.types.is_temporal(column.type):
                return None
            columns[name] = column
            continue
        if n and column.null_count == n:
            column = pa.chunked_array([pa.nulls(n)])  # no value: nulls, as the records' Nones make it
        elif pa.types.is_temporal(column.type):
            return None
        if name.startswith("segment."):
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


def _microseconds(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A timestamp column of any unit and zone as UTC microseconds, as the server reads the ``isoformat``
    text of its values: nanoseconds cut off (rounded down to the microsecond the time falls in, before 1970
    too, as pydantic reads nine digits), naive times taken as UTC (``vigil.schema``)."""
    if column.type.unit == "ns":  # floored on the UTC values (as naive times: no zone's rules to look up)
        column = pc.floor_temporal(column.cast(pa.int64()).cast(pa.timestamp("ns")), unit="microsecond")
    return pc.cast(column, pa.timestamp("us", "UTC"))


def _plain(column: pa.ChunkedArray) -> pa.ChunkedArray | None:
    """The column with its text as ``string`` (from ``large_string``, ``string_view``) and dictionaries
    decoded (categoricals): the values ``records`` gives are the same Python values. None when it cannot
    be (text over 2 GiB in one chunk: ``records`` then takes the rows)."""
    t = column.type
    try:
        if pa.types.is_dictionary(t):
            chunks = [_plain_array(c.dictionary).take(c.indices) for c in column.chunks]
            return pa.chunked_array(chunks, _plain_type(t.value_type))
        if _plain_type(t) == t:
            return column
        return pa.chunked_array([_plain_array(c) for c in column.chunks], _plain_type(t))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _plain_array(array: pa.Array) -> pa.Array:
    return array.cast(pa.string()) if _text(array.type) else array


def _plain_type(t: pa.DataType) -> pa.DataType:
    return pa.string() if _text(t) else t


def _text(t: pa.DataType) -> bool:
    return bool(pa.types.is_large_string(t) or pa.types.is_string_view(t) or pa.types.is_string(t))
