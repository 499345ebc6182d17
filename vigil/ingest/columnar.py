"""The vectorised ingest path: parsed records → one typed Arrow table, checked column by column.

``fast_table`` builds the table with Arrow (C++) and checks every rule of ``vigil.schema.Event`` over whole
columns: types, bounds, finite numbers, string lengths, no unknown fields. A batch that passes is
exactly what pydantic would accept, at a fraction of the cost; a batch that fails any rule returns None and
the caller takes the per-record path (pydantic), which names each bad record. Both paths end in the same
``events_table`` conversion, so what is stored does not depend on the path taken (a property test holds
the two paths to each other, value for value and type for type).

Arrow infers the types of every batch afresh. A cache of the last batch's type, converting with it instead,
saved about a tenth of the conversion but cannot be made exact: Arrow puts a boolean into a float column
as 0.0/1.0 and drops keys the type lacks, all without a word; checking for those costs what it saved.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from vigil.schema import MAX_FEATURES, MAX_NUMBER, MAX_STRING, MAX_TOKENS, Event

__all__ = ["checked_table", "fast_table", "from_events", "ndjson_table"]

_FIELDS = frozenset(Event.model_fields)
_NAME_MAX = 200
_NON_NEGATIVE = ("latency_ms", "cost")
_COUNTS = ("tokens_in", "tokens_out")
_FIRST = datetime(1, 1, 2, tzinfo=UTC).timestamp()
_LAST = datetime(9999, 12, 31, tzinfo=UTC).timestamp()


def from_events(events: Sequence[Event]) -> pa.Table:
    """Validated events (the per-record path) as the same table ``fast_table`` gives. A feature that is a
    number in one record and text in another becomes text (Arrow columns have one type)."""
    rows = [e.model_dump(exclude_none=True) for e in events]
    for row in rows:
        if "timestamp" in row:
            row["timestamp"] = row["timestamp"].timestamp()
    try:
        return _from_rows(rows)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        pass
    columns: dict[str, pa.Array] = {}
    for name in Event.model_fields:
        values = [row.get(name) for row in rows]
        if all(v is None for v in values):
            continue
        if name in ("features", "segments", "probabilities"):
            keys = list(dict.fromkeys(k for v in values if v for k in v))
            fields = [_array([None if v is None else v.get(k) for v in values]) for k in keys]
            columns[name] = pa.StructArray.from_arrays(fields, names=keys) if keys else pa.nulls(len(rows))
        else:
            columns[name] = _array(values)
    return pa.table(columns)


def _array(values: list[Any]) -> pa.Array:
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if v is None else _text(v) for v in values], pa.string())


def _text(v: Any) -> str:
    if isinstance(v, bool):
        return str(int(v))
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _from_rows(rows: Sequence[dict[str, Any]]) -> pa.Table:
    """Rows as a table with a column for every key of any row (``Table.from_pylist`` takes the keys of
    the first row only, and silently drops the others)."""
    return pa.Table.from_struct_array(pa.array(rows))


_CONVERSION_ERRORS = (
    pa.ArrowInvalid,
    pa.ArrowTypeError,
    pa.ArrowNotImplementedError,
    OverflowError,
    TypeError,
    ValueError,
)


def fast_table(records: Sequence[Any]) -> pa.Table | None:
    """The records as a table when every one of them is valid, else None."""
    if not records or not all(type(r) is dict for r in records):
        return None
    try:
        table = _from_rows(records)
    except _CONVERSION_ERRORS:
        return None  # mixed types in a column, nested values where scalars belong, ...
    return checked_table(table)


def ndjson_table(data: bytes) -> pa.Table | None:
    """NDJSON read by Arrow's JSON reader as the table ``fast_table`` makes of the same records parsed
    in Python, when every record is valid; else None (the caller then parses line by line).

    The reader is C++ and releases the GIL, so request threads parse on every core; parsing in Python
    held the GIL for 60% of a busy server's time. Where its reading could differ from the Python
    parser's, the body is left to the line-by-line path: a byte-order mark (Python refuses it), a line
    holding more than one record, a string the reader took for a timestamp, and a float column with a
    value of 2**53 or more (an integer literal that large is a Python ``int``, which Arrow would not
    round into a float column; the reader does).
    """
    if data.startswith(b"\xef\xbb\xbf"):
        return None
    try:
        table = pj.read_json(
            io.BytesIO(data),
            read_options=pj.ReadOptions(use_threads=False, block_size=max(len(data) + 1, 1 << 20)),
        )
    except _CONVERSION_ERRORS:
        return None
    if table.num_rows != _records_in(data) or not _unambiguous(table):
        return None
    return checked_table(table)


def _records_in(data: bytes) -> int:
    """The lines of ``data`` that are not blank: counted by two passes of ``bytes.count`` when every line
    starts with ``{`` (what clients send), else line by line."""
    lines = data.count(b"\n") + (not data.endswith(b"\n"))
    if data.startswith(b"{") and data.count(b"\n{") == lines - 1:
        return lines
    return sum(1 for line in data.splitlines() if line.strip())


def _unambiguous(table: pa.Table) -> bool:
    for name in table.column_names:
        column = table.column(name)
        if pa.types.is_struct(column.type):
            parts = [child for chunk in column.chunks for child in chunk.flatten()]
        else:
            parts = list(column.chunks)
        for part in parts:
            if pa.types.is_timestamp(part.type):
                return False
            floating = pa.types.is_floating(part.type) and len(part) > part.null_count
            # NaN is skipped by max (and refused by the checks); all NaN reads as NaN, and fails
            if floating and not pc.max(pc.abs(part)).as_py() < 2.0**53:
                return False
    return True


def checked_table(table: pa.Table) -> pa.Table | None:
    """A table of wire records (columns named like ``Event`` fields, ``features`` and ``segments`` structs)
    checked column by column as ``fast_table`` checks them: None when any value is not valid."""
    if not set(table.column_names) <= _FIELDS or "model" not in table.column_names:
        return None
    try:
        checked = {name: _check(name, table.column(name)) for name in table.column_names}
    except _Invalid:
        return None
    return pa.table(checked)


class _Invalid(Exception):
    pass


def _check(name: str, column: pa.ChunkedArray) -> pa.ChunkedArray:
    t = column.type
    if name == "model":
        _names(column, nullable=False)
    elif name in ("version", "request_id"):
        _names(column, nullable=True)
    elif name == "error":
        _strings(column)
    elif name == "timestamp":
        return _timestamps(column)
    elif name in _NON_NEGATIVE or name == "score":
        column = _floats(column)
        if name != "score" and pc.any(pc.less(column, 0.0)).as_py():
            raise _Invalid
    elif name in _COUNTS:
        if not (pa.types.is_integer(t) or pa.types.is_null(t)):
            raise _Invalid
        if pc.any(pc.or_(pc.less(column, 0), pc.greater(column, MAX_TOKENS))).as_py():
            raise _Invalid
    elif name == "prediction":
        _scalar(column)
    elif name in ("features", "segments"):
        _scalar_map(column)
    elif name == "probabilities":
        return _probabilities(column)
    return column


def _probabilities(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Named probabilities as float64 (an integer 0 or 1 too, as pydantic reads it)."""
    t = column.type
    if pa.types.is_null(t):
        return column
    if not pa.types.is_struct(t) or t.num_fields > 1_000:
        raise _Invalid
    _field_names(t)
    chunks = []
    for chunk in column.chunks:
        children = [_floats(child).cast(pa.float64()) for child in chunk.flatten()]
        chunks.append(pa.StructArray.from_arrays(children, [f.name for f in t], mask=chunk.is_null()))
    return pa.chunked_array(chunks, pa.struct([pa.field(f.name, pa.float64()) for f in t]))


def _field_names(t: pa.StructType) -> None:
    for i in range(t.num_fields):
        if not 1 <= len(t.field(i).name) <= _NAME_MAX:
            raise _Invalid


def _names(column: pa.ChunkedArray, *, nullable: bool) -> None:
    if pa.types.is_null(column.type) and nullable:
        return
    if not pa.types.is_string(column.type) or (not nullable and column.null_count):
        raise _Invalid
    lengths = pc.utf8_length(column)
    if pc.any(pc.or_(pc.less(lengths, 1), pc.greater(lengths, _NAME_MAX))).as_py():
        raise _Invalid


def _strings(column: pa.ChunkedArray) -> None:
    if pa.types.is_null(column.type):
        return
    if not pa.types.is_string(column.type) or pc.any(pc.greater(pc.utf8_length(column), MAX_STRING)).as_py():
        raise _Invalid


def _floats(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray:
    """The column as float64, every value finite and within ``MAX_NUMBER``."""
    t = column.type
    if pa.types.is_null(t):
        return column
    if pa.types.is_boolean(t) or not (pa.types.is_integer(t) or pa.types.is_floating(t)):
        raise _Invalid
    # an integer past 2**53 becomes the nearest float, as Python's float() makes it on the other path
    if t != pa.float64():
        column = pc.cast(column, pa.float64(), safe=False)
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    for chunk in chunks:
        values = chunk if not chunk.null_count else pc.fill_null(chunk, 0.0)
        # one numpy pass: NaN (the max of anything with NaN), infinity, or too large
        if len(values) and not np.abs(values.to_numpy(zero_copy_only=False)).max() <= MAX_NUMBER:
            raise _Invalid  # the standard library's parser reads NaN and Infinity tokens
    return column


def _timestamps(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Seconds since the epoch (float), to the microsecond as the per-record path has them (a datetime):
    numbers are rounded half to even to the microsecond; RFC 3339 strings are parsed."""
    t = column.type
    if pa.types.is_null(t):
        return column
    if pa.types.is_string(t):
        try:
            parsed = pc.cast(column, pa.timestamp("us", tz="UTC"))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise _Invalid from None
        micros = pc.cast(parsed, pa.int64())
        if pc.any(pc.greater_equal(pc.abs(micros), 2**53)).as_py():
            # years before 1685 or after 2255: float64 holds their microseconds only approximately,
            # and Python's int/int division rounds once where Arrow would round twice
            raise _Invalid
        raw = seconds = pc.divide(pc.cast(micros, pa.float64()), 1e6)
    else:
        raw = _floats(column)
        micros = pc.round(pc.multiply(raw, 1e6), round_mode="half_to_even")
        seconds = pc.divide(micros, 1e6)
    for values in (raw, seconds):
        if pc.any(pc.or_(pc.less(values, _FIRST), pc.greater(values, _LAST))).as_py():
            raise _Invalid  # past the years datetimes hold: the per-record path says so
    return seconds


def _scalar(column: pa.ChunkedArray | pa.Array) -> None:
    t = column.type
    if pa.types.is_string(t):
        if pc.any(pc.greater(pc.utf8_length(column), MAX_STRING)).as_py():
            raise _Invalid
    elif pa.types.is_floating(t):
        _floats(column)
    elif not (pa.types.is_null(t) or pa.types.is_boolean(t) or pa.types.is_integer(t)):
        raise _Invalid


def _scalar_map(column: pa.ChunkedArray) -> None:
    t = column.type
    if pa.types.is_null(t):
        return
    if not pa.types.is_struct(t) or t.num_fields > MAX_FEATURES:
        raise _Invalid
    _field_names(t)
    for chunk in column.chunks:
        for child in chunk.flatten():
            _scalar(child)
