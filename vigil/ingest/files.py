"""Batch-scoring outputs (Parquet, CSV, Feather) as wire records: columns named like ``Event`` fields are
those fields (``prediction``, ``score``, ``request_id``, ``timestamp``, ``latency_ms``, ...); columns named
``segment.NAME`` are segment tags; every other column is a feature.

A column of a type no event holds (binary, durations, structs, maps, lists of anything but numbers) is
refused up front, by ``check_types``, with what to do; a time Python cannot hold (before year 1, after
9999) is written out as text (``_outside``), which the server refuses with its row when it is the event's
``timestamp`` and keeps as text in a feature."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vigil.errors import InputError
from vigil.ingest.columnar import checked_table
from vigil.schema import Event

__all__ = ["check_types", "records", "wire"]

_FIELDS = set(Event.model_fields) - {"model", "features", "segments"}
_FIRST = int(datetime(1, 1, 2, tzinfo=UTC).timestamp())
_LAST = int(datetime(9999, 12, 31, tzinfo=UTC).timestamp())
"""Seconds since the epoch of the times every path holds (the server's range, a day inside Python's)."""
_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


def records(
    table: pa.Table, model: str, *, version: str | None = None, chunk: int = 5_000
) -> Iterator[list[dict[str, Any]]]:
    """The table's rows as Event records, ``chunk`` at a time (one conversion per chunk, in Arrow). Times in
    the ``timestamp`` column are written as UTC to the microsecond (``_microseconds``): text the server's
    column-by-column check parses (nanoseconds, or no zone, sent the whole request to the per-record one).

    Decimals are floats (``float``, as pydantic reads them); dates and times (of day) their ISO text; a
    date or time before year 1 or after 9999 its ISO text in numpy's form (``14645-06-30T15:06:40``, UTC
    with ``Z`` when the column has a zone): the server refuses it as the ``timestamp``, naming the row.
    ``InputError`` (before any row) when a column is of a type no event holds (``check_types``)."""
    check_types(table, "input")
    texts: dict[int, dict[str, str]] = {}  # row -> column -> the text of a time Python cannot hold
    for i, name in enumerate(table.column_names):
        column = given = table.column(i)
        outside = _outside(column)
        if outside is not None:
            raw = _raw(column)
            for row in np.flatnonzero(outside.to_numpy(zero_copy_only=False)):
                texts.setdefault(int(row), {})[name] = _iso(raw[int(row)].as_py(), column.type)
            column = pc.if_else(outside, pa.scalar(None, column.type), column)
        if name == "timestamp" and pa.types.is_timestamp(column.type):
            column = _microseconds(column)
        elif pa.types.is_decimal(column.type):
            column = pa.array([None if v is None else float(v) for v in column.to_pylist()], pa.float64())
        if column is not given:
            table = table.set_column(i, name, column)
    first = 0
    for batch in table.to_batches(max_chunksize=chunk):
        rows = batch.to_pylist()
        out = []
        for row in rows:
            record: dict[str, Any] = {"model": model, "features": {}, "segments": {}}
            if version is not None:
                record["version"] = version
            for name, value in row.items():
                _put(record, name, value)
            out.append(record)
        for at, record in enumerate(out) if texts else ():
            for name, text in texts.get(first + at, {}).items():
                _put(record, name, text)
        first += len(out)
        yield out


def check_types(table: pa.Table, source: str) -> None:
    """``InputError`` naming ``source``, each column of a type no event holds, its Arrow type and what to
    do: bytes, durations, structs, maps, lists of anything but numbers (a list is an embedding)."""
    problems = [
        f"column {name!r} is {column.type}, {advice}"
        for name, column in zip(table.column_names, table.columns, strict=True)
        if (advice := _unusable(column.type)) is not None
    ]
    if problems:
        raise InputError(f"{source}: {'; '.join(problems)}")


def _unusable(t: pa.DataType) -> str | None:
    """What to do with a column of type ``t``, when no event holds its values (None when one does)."""
    if pa.types.is_dictionary(t):
        t = t.value_type
    if (
        pa.types.is_binary(t)
        or pa.types.is_large_binary(t)
        or pa.types.is_fixed_size_binary(t)
        or pa.types.is_binary_view(t)
    ):
        return "bytes, which no event holds: decode it to text (UTF-8) before writing the file, or drop it"
    if pa.types.is_duration(t):
        return (
            "a duration: write it as a number in the unit you mean (seconds: .dt.total_seconds()), or drop it"
        )
    if pa.types.is_struct(t) or pa.types.is_map(t):
        return "several values in one: write each as a column of its own, or drop it"
    if _is_list(t):
        v = t.value_type
        if pa.types.is_integer(v) or pa.types.is_floating(v) or pa.types.is_null(v):
            return None
        return f"a list of {v}: a list is an embedding, of numbers: write numbers, or drop it"
    if (
        pa.types.is_null(t)
        or pa.types.is_boolean(t)
        or pa.types.is_integer(t)
        or pa.types.is_floating(t)
        or pa.types.is_decimal(t)
        or _text(t)
        or pa.types.is_timestamp(t)
        or pa.types.is_date(t)
        or pa.types.is_time(t)
    ):
        return None
    return "which no event holds: write it as a number or text, or drop it"


def _is_list(t: pa.DataType) -> bool:
    return bool(
        pa.types.is_list(t)
        or pa.types.is_large_list(t)
        or pa.types.is_fixed_size_list(t)
        or pa.types.is_list_view(t)
        or pa.types.is_large_list_view(t)
    )


def _put(record: dict[str, Any], name: str, value: Any) -> None:
    if name in _FIELDS:
        if value is not None:
            record[name] = value.isoformat() if hasattr(value, "isoformat") else value
    elif name.startswith("segment."):
        record["segments"][name[len("segment.") :]] = value
    else:
        record["features"][name] = value.isoformat() if hasattr(value, "isoformat") else value


def _outside(column: pa.ChunkedArray) -> pa.ChunkedArray | None:
    """Which values of a date or timestamp column are times Python cannot hold (before year 1, after 9999:
    a day inside, for the zones); None when none is (or the column holds no dates)."""
    t = column.type
    if pa.types.is_timestamp(t):
        per = _PER_SECOND[t.unit]
        low, high = _FIRST * per, _LAST * per
    elif pa.types.is_date32(t):
        low, high = _FIRST // 86_400, _LAST // 86_400
    elif pa.types.is_date64(t):
        low, high = _FIRST * 1_000, _LAST * 1_000
    else:
        return None
    raw = _raw(column)
    low, high = max(low, -(2**63)), min(high, 2**63 - 1)  # nanoseconds: 1677 to 2262, all held
    outside = pc.fill_null(pc.or_(pc.less(raw, low), pc.greater(raw, high)), False)
    return outside if pc.any(outside).as_py() else None


def _raw(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A date or timestamp column's stored integers (days, milliseconds, its unit since the epoch)."""
    return column.cast(pa.int32() if pa.types.is_date32(column.type) else pa.int64())


def _iso(value: int, t: pa.DataType) -> str:
    """A date or time of any year as ISO text (numpy's: ``14645-06-30T15:06:40``, ``-0001-01-01``)."""
    if pa.types.is_date32(t):
        return str(np.datetime_as_string(np.datetime64(value, "D")))
    if pa.types.is_date64(t):
        return str(np.datetime_as_string(np.datetime64(value // 86_400_000, "D")))
    text = str(np.datetime_as_string(np.datetime64(value, t.unit)))
    return text + "Z" if t.tz is not None else text


def wire(table: pa.Table, model: str, *, version: str | None = None) -> pa.Table | None:
    """The table's rows as the checked wire table ``fast_table`` makes of ``records`` (column by column,
    without a Python object per value), or None when some row is not valid or a column is of a type only
    ``records`` converts (a date or time among the features, decimals, embeddings, a time before 1685 or
    after 2255): then check ``records``, which names the rows at fault. ``InputError`` as ``records`` raises
    it for a column of a type no event holds (``check_types``).

    Text of any Arrow layout (``large_string`` and ``string_view`` as pandas and Polars write them) is read
    as ``string``, dictionaries (categoricals) decoded, the ``timestamp`` column of any unit and zone read as
    ``records`` gives it (``_microseconds``): the values are those ``records`` gives, column by column."""
    n = table.num_rows
    columns: dict[str, pa.ChunkedArray | pa.Array] = {"model": pa.array([model] * n, pa.string())}
    features: dict[str, pa.ChunkedArray] = {}
    segments: dict[str, pa.ChunkedArray] = {}
    check_types(table, "input")
    for name in table.column_names:
        column = _plain(table.column(name))
        if column is None or _outside(column) is not None:  # a time Python cannot hold: ``records``
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
