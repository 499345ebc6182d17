"""The vectorised ingest path: parsed records → one typed Arrow table, checked column by column.

``fast_table`` builds the table with Arrow (C++) and checks every rule of ``vigil.schema.Event`` over whole
columns: types, bounds, finite numbers, string lengths, no unknown fields. A batch that passes is
exactly what pydantic would accept, at a fraction of the cost; a batch that fails any rule returns None and
the caller takes the per-record path (pydantic), which names each bad record. Both paths end in the same
``events_table`` conversion, so what is stored does not depend on the path taken.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from vigil.schema import MAX_FEATURES, MAX_STRING, Event

__all__ = ["SchemaCache", "fast_table", "from_events"]

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


class SchemaCache:
    """The last batch's Arrow type: converting with it skips type inference (half the cost). It is used
    only when every record's keys are known to it, since Arrow would silently drop unknown ones.

    Arrow converts a Python float into an integer type by truncating it (9.87 -> 9) without a word, so
    records are converted with every integer widened to float64 and narrowed back afterwards where every
    value is integral (as inference would have typed them), or left float64 where one is not. Integers
    beyond 2**53, which float64 cannot hold exactly, send the batch back to inference.
    """

    def __init__(self) -> None:
        self.type: pa.StructType | None = None
        self.wide: pa.StructType | None = None
        self._keys: tuple[frozenset[str], frozenset[str], frozenset[str]] = (frozenset(),) * 3

    def remember(self, schema: pa.Schema) -> None:
        def names(field: str) -> frozenset[str]:
            i = schema.get_field_index(field)
            t = schema.field(i).type if i >= 0 else None
            return frozenset(f.name for f in t) if t is not None and pa.types.is_struct(t) else frozenset()

        self.type = pa.struct(list(schema))
        self.wide = _widen(self.type)
        self._keys = (frozenset(schema.names), names("features"), names("segments"))

    def fits(self, records: Sequence[dict[str, Any]]) -> bool:
        top, features, segments = self._keys
        for r in records:
            if not r.keys() <= top:
                return False
            for value, known in ((r.get("features"), features), (r.get("segments"), segments)):
                if value and not (isinstance(value, dict) and value.keys() <= known):
                    return False  # new names, or not a map at all (the checks will say so)
        return True


def _widen(t: pa.DataType) -> pa.DataType:
    if pa.types.is_integer(t):
        return pa.float64()
    if pa.types.is_struct(t):
        return pa.struct([pa.field(f.name, _widen(f.type)) for f in t])
    return t


_EXACT = float(2**53)


class _Inexact(Exception):
    """An integer too large for float64: the cached conversion cannot be trusted."""


def _narrow(values: pa.Array, like: pa.DataType) -> pa.Array:
    """``values`` converted with :func:`_widen` (``like``) back to ``like`` where that loses nothing."""
    if pa.types.is_integer(like):
        if values.null_count == len(values):
            return values.cast(like)
        if pc.max(pc.abs(values)).as_py() >= _EXACT:
            raise _Inexact
        if pc.all(pc.equal(values, pc.floor(values))).as_py():
            return values.cast(like)
        return values  # a fraction: float64, as inference would type it
    if pa.types.is_struct(like) and len(values):
        children = [_narrow(values.field(i), f.type) for i, f in enumerate(like)]
        return pa.StructArray.from_arrays(children, [f.name for f in like], mask=values.is_null())
    return values


_CONVERSION_ERRORS = (
    pa.ArrowInvalid,
    pa.ArrowTypeError,
    pa.ArrowNotImplementedError,
    OverflowError,
    TypeError,
    ValueError,
)


def fast_table(records: Sequence[Any], cache: SchemaCache | None = None) -> pa.Table | None:
    """The records as a table when every one of them is valid, else None."""
    if not records or not all(type(r) is dict for r in records):
        return None
    table = None
    if cache is not None and cache.type is not None and cache.wide is not None and cache.fits(records):
        try:
            converted = pa.array(records, type=cache.wide)
            table = pa.Table.from_struct_array(_narrow(converted, cache.type))
        except (*_CONVERSION_ERRORS, _Inexact):
            table = None  # a value of another type than last time: infer again
    if table is None:
        try:
            table = _from_rows(records)
        except _CONVERSION_ERRORS:
            return None  # mixed types in a column, nested values where scalars belong, ...
        if cache is not None:
            cache.remember(table.schema)
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
        if not (pa.types.is_integer(t) or pa.types.is_null(t)) or pc.any(pc.less(column, 0)).as_py():
            raise _Invalid
    elif name == "prediction":
        _scalar(column)
    elif name in ("features", "segments"):
        _scalar_map(column)
    elif name == "probabilities":
        if not (pa.types.is_struct(t) or pa.types.is_null(t)):
            raise _Invalid
        if pa.types.is_struct(t):
            if t.num_fields > 1_000:
                raise _Invalid
            for i in range(t.num_fields):
                _floats(pc.struct_field(column, [i]))
    return column


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
    t = column.type
    if pa.types.is_null(t):
        return column
    if pa.types.is_boolean(t) or not (pa.types.is_integer(t) or pa.types.is_floating(t)):
        raise _Invalid
    column = pc.cast(column, pa.float64())
    if not pc.all(pc.is_finite(column)).as_py() and pc.any(pc.invert(pc.is_finite(column))).as_py():
        raise _Invalid  # NaN or infinity (the standard library's parser reads those tokens)
    return column


def _timestamps(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Seconds since the epoch (float); RFC 3339 strings are parsed."""
    t = column.type
    if pa.types.is_null(t):
        return column
    if pa.types.is_string(t):
        try:
            parsed = pc.cast(column, pa.timestamp("us", tz="UTC"))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise _Invalid from None
        seconds = pc.divide(pc.cast(pc.cast(parsed, pa.int64()), pa.float64()), 1e6)
    else:
        seconds = _floats(column)
    if pc.any(pc.or_(pc.less(seconds, _FIRST), pc.greater(seconds, _LAST))).as_py():
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
    for i in range(t.num_fields):
        if not 1 <= len(t.field(i).name) <= _NAME_MAX:
            raise _Invalid
        _scalar(pc.struct_field(column, [i]))
