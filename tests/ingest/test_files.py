"""Files as pandas and Polars write them (``large_string``, ``string_view``, categoricals as dictionaries,
``timestamp[ns]`` of any zone or none) take the column-by-column path (``vigil.ingest.files.wire``), and it
stores exactly what the record path stores: the rows ``records`` makes of the file, checked by pydantic as
the server checks a request. The reference is the record path as it was before ``records`` normalised the
time column (each value's own ``isoformat``: nanoseconds, zones and naive times as pandas writes them)."""

from __future__ import annotations

import datetime as dt
import decimal
import io
from collections.abc import Callable
from typing import Any

import numpy as np
import orjson
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from tests.ingest.test_columnar import _schema, _stored
from vigil.cli.ingest import _encode
from vigil.errors import InputError
from vigil.ingest.columnar import fast_table, from_events
from vigil.ingest.files import check_types, records, wire
from vigil.ingest.validate import check_records
from vigil.schema import Event

_EVENTS: TypeAdapter[list[Event]] = TypeAdapter(list[Event])
_NS = 1_000_000_000


def _pandas_parquet(df: pd.DataFrame) -> pa.Table:
    buffer = io.BytesIO()
    df.to_parquet(buffer, engine="pyarrow", index=False)
    return pq.read_table(buffer)


def _pandas_feather(df: pd.DataFrame) -> pa.Table:
    buffer = io.BytesIO()
    df.to_feather(buffer)
    return feather.read_table(buffer)


def _polars_parquet(df: pd.DataFrame) -> pa.Table:
    buffer = io.BytesIO()
    pl.from_pandas(df).write_parquet(buffer)
    return pq.read_table(io.BytesIO(buffer.getvalue()))


def _polars_ipc(df: pd.DataFrame) -> pa.Table:
    buffer = io.BytesIO()
    pl.from_pandas(df).write_ipc(buffer)
    return feather.read_table(io.BytesIO(buffer.getvalue()))


def _parquet_as_dictionaries(df: pd.DataFrame) -> pa.Table:
    """Text read dictionary-encoded, as ``read_table(..., for_profiling=True)`` reads it."""
    buffer = io.BytesIO()
    df.to_parquet(buffer, engine="pyarrow", index=False)
    names = [n for n in df.columns if df[n].dtype.kind not in "Mfib"]
    return pq.read_table(buffer, read_dictionary=names)


WRITERS: dict[str, Callable[[pd.DataFrame], pa.Table]] = {
    "pandas parquet": _pandas_parquet,
    "pandas feather": _pandas_feather,
    "polars parquet": _polars_parquet,
    "polars ipc": _polars_ipc,
    "parquet read as dictionaries": _parquet_as_dictionaries,
}


def _reference(table: pa.Table) -> tuple[list[Event], list[tuple[int, str]]]:
    """The record path before this module's normalisation: every value as ``to_pylist`` gives it, times
    written out by their own ``isoformat`` (pandas' nanoseconds and zones), checked by pydantic."""
    rows = []
    for row in table.to_pylist():
        record: dict[str, Any] = {"model": "m", "features": {}, "segments": {}}
        for name, value in row.items():
            if getattr(value, "utcoffset", None) and (value.utcoffset() or dt.timedelta()).seconds % 60:
                value = value.astimezone(
                    dt.UTC
                )  # a local mean time (Paris before 1911): RFC 3339 has no seconds
            text = value.isoformat() if hasattr(value, "isoformat") else value
            if name.startswith("segment."):
                record["segments"][name[len("segment.") :]] = text
            elif name in ("timestamp", "request_id", "score", "prediction", "error", "version"):
                if value is not None:
                    record[name] = text
            else:
                record["features"][name] = text
        rows.append(record)
    checked = check_records(rows, _EVENTS)
    return list(checked.records), [(r.index, r.field) for r in checked.rejected]


def _record_path(table: pa.Table) -> tuple[pa.Table | None, list[tuple[int, str]]]:
    """``records`` as the backfill's record path (and the server) checks it: Arrow first, else pydantic."""
    [chunk] = list(records(table, "m", chunk=table.num_rows))
    fast = fast_table(chunk)
    if fast is not None:
        return fast, []
    checked = check_records(chunk, _EVENTS)
    events = from_events(checked.records) if checked.records else None
    return events, [(r.index, r.field) for r in checked.rejected]


_ZONES = st.sampled_from([None, "UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata"])
_NANOS = st.one_of(
    st.integers(1_700_000_000 * _NS, 1_900_000_000 * _NS),  # nanoseconds below the microsecond
    st.integers(-(2**53 - 1) * 1_000, 2**53 * 1_000 - 1),  # 1685 to 2255, before 1970 too (floored to the µs)
    st.sampled_from([-1, 0, 1, 999, 1_000, -999, -1_001, 1_800_000_000 * _NS + 999]),
)
_WORDS = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=8)


@st.composite
def _frames(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(1, 12))
    nanos = draw(st.lists(st.one_of(_NANOS, st.none()), min_size=n, max_size=n))
    stamps = pa.array(nanos, pa.timestamp("ns")).to_pandas()
    zone = draw(_ZONES)
    stamps = stamps if zone is None else stamps.dt.tz_localize("UTC").dt.tz_convert(zone)
    words = st.lists(st.one_of(_WORDS, st.none()), min_size=n, max_size=n)
    region = draw(words)
    return pd.DataFrame(
        {
            "timestamp": stamps,
            "request_id": pd.Series(draw(words), dtype="str"),
            "score": draw(st.lists(st.floats(0, 1), min_size=n, max_size=n)),
            "prediction": pd.Series(draw(words), dtype="str"),
            "error": pd.Series(draw(words), dtype="str"),
            "region": pd.Categorical(region) if draw(st.booleans()) else pd.Series(region, dtype="str"),
            "x": draw(st.lists(st.integers(-5, 5), min_size=n, max_size=n)),
            "segment.channel": pd.Series(draw(words), dtype="str"),
        }
    )


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(df=_frames(), writer=st.sampled_from(sorted(WRITERS)))
def test_files_of_pandas_and_polars_take_the_columnar_path_and_store_what_records_store(
    df: pd.DataFrame, writer: str
) -> None:
    table = WRITERS[writer](df)
    events, rejected = _reference(table)
    assert not rejected  # every row valid: the fast path must take the file
    fast = wire(table, "m")
    assert fast is not None, table.schema
    reference = from_events(events)
    assert _stored(fast) == _stored(reference)
    assert _schema(fast) == _schema(reference)
    by_records, refused = _record_path(table)
    assert by_records is not None and not refused
    assert _stored(by_records) == _stored(reference)


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_the_physical_types_pandas_and_polars_write_are_normalised(writer: str) -> None:
    """The types the fast path used to refuse are those the writers give (so the test above covers them)."""
    df = pd.DataFrame(
        {
            "timestamp": pd.to_datetime([1_800_000_000_123_456_789], unit="ns", utc=True),
            "request_id": pd.Series(["r1"], dtype="str"),
            "region": pd.Categorical(["eu"]),
        }
    )
    table = WRITERS[writer](df)
    assert table.schema.field("timestamp").type == pa.timestamp("ns", "UTC")
    text = {table.schema.field(n).type for n in ("request_id", "region")}
    assert text - {pa.string()}, text  # large_string, string_view or a dictionary
    fast = wire(table, "m")
    assert fast is not None
    assert fast.column("timestamp").to_pylist() == [1_800_000_000.123456]  # nanoseconds cut off, as pydantic
    assert fast.column("request_id").type == pa.string()


def test_bad_values_of_these_types_are_named_by_row() -> None:
    """A bad value in a large_string or nanosecond column sends the file to the record path, which names
    the row and field as before."""
    df = pd.DataFrame(
        {
            "timestamp": pd.to_datetime([1_800_000_000_000_000_001 + k for k in range(3)], unit="ns"),
            "request_id": pd.Series(["ok", "r" * 201, "ok"], dtype="str"),  # ids: at most 200 characters
            "segment.tier": pd.Series(["gold", "gold", "x" * 70_000], dtype="str"),  # text: 65,536
        }
    )
    for write in (_pandas_parquet, _polars_ipc):
        table = write(df)
        assert wire(table, "m") is None
        events, refused = _record_path(table)
        assert refused == [(1, "request_id"), (2, "segments.tier")] == _reference(table)[1]
        assert events is not None and events.num_rows == 1


def test_times_float64_cannot_hold_to_the_microsecond_go_to_the_record_path() -> None:
    """Years before 1685 or after 2255 (as the string path refuses them): this used to raise ArrowInvalid
    out of ``wire`` and stop the backfill's partition."""
    for year in (1600, 1684, 2256, 3000):
        stamp = pd.Timestamp(f"{year}-06-15T12:00:00.000001", tz="UTC")
        table = pa.table({"timestamp": pa.array([stamp.to_pydatetime()], pa.timestamp("us", "UTC"))})
        assert wire(table, "m") is None
        events, refused = _record_path(table)
        assert not refused and events is not None
        reference, _ = _reference(table)
        assert _stored(events) == _stored(from_events(reference))


def test_naive_times_are_utc_on_both_paths() -> None:
    naive = pd.DataFrame({"timestamp": pd.to_datetime(["2027-01-15 08:00:00.5"]), "x": [1]})
    aware = naive.assign(timestamp=naive["timestamp"].dt.tz_localize("UTC"))
    for df in (naive, aware):
        table = _pandas_parquet(df)
        fast = wire(table, "m")
        assert fast is not None
        assert fast.column("timestamp").to_pylist() == [pd.Timestamp("2027-01-15T08:00:00.5Z").timestamp()]
        events, _ = _record_path(table)
        assert events is not None and _stored(events) == _stored(fast)


def test_records_send_times_the_server_parses_column_by_column() -> None:
    """``vigil ingest`` sends ``records``: a time written with nanoseconds or without a zone made the
    server's Arrow parse fail, and the whole request took the per-record path."""
    df = pd.DataFrame({"timestamp": pd.to_datetime(np.array([1_800_000_000_123_456_789]), unit="ns")})
    for zone in (None, "Europe/Paris"):
        zoned = df if zone is None else df.assign(timestamp=df["timestamp"].dt.tz_localize(zone))
        table = _pandas_parquet(zoned)
        [chunk] = list(records(table, "m"))
        assert fast_table(chunk) is not None, chunk


def _checked(table: pa.Table) -> tuple[list[Event], list[tuple[int, str, str]]]:
    """``records`` as the server checks them (pydantic): the events and (row, field, reason) refused."""
    chunk = [r for part in records(table, "m", chunk=2) for r in part]  # chunks of 2: rows past the first
    checked = check_records(chunk, _EVENTS)
    return list(checked.records), [(r.index, r.field, r.reason) for r in checked.rejected]


_YEAR_14645 = 400_000_000_000
"""Seconds since the epoch in the year 14645 (past datetime's 9999)."""


@pytest.mark.parametrize("zone", [None, "UTC", "Europe/Paris"])
@pytest.mark.parametrize(
    ("unit", "seconds", "text"),
    [
        ("s", _YEAR_14645, "14645-06-30T15:06:40"),
        ("s", -_YEAR_14645, "-10706-07-03T08:53:20"),
        ("s", 2**62, "146138514283-06-19T07:45:04"),  # its microseconds overflow int64
        ("ms", _YEAR_14645, "14645-06-30T15:06:40.000"),
        ("us", -62_135_596_800 - 1, "0000-12-31T23:59:59.000000"),  # a second before year 1
    ],
)
def test_a_time_past_year_9999_or_before_year_1_is_refused_with_its_row(
    unit: str, seconds: int, text: str, zone: str | None
) -> None:
    """``records`` raised OverflowError (``to_pylist``), without naming the row, and stopped the file."""
    per = {"s": 1, "ms": 1_000, "us": 1_000_000}[unit]
    stamps = pa.array(
        [1_800_000_000 * per, seconds * per, None, 1_800_000_060 * per], pa.timestamp(unit, zone)
    )
    table = pa.table({"timestamp": stamps, "x": [1, 2, 3, 4]})
    assert wire(table, "m") is None  # the record path names the row
    events, refused = _checked(table)
    shown = text + ("Z" if zone else "")
    assert refused == [(1, "timestamp", f"Value error, time out of range (years 1 to 9999) (got {shown!r})")]
    assert [e.features["x"] for e in events] == [1, 3, 4]  # the file's good rows go in
    assert [e.timestamp.timestamp() if e.timestamp else None for e in events] == [
        1_800_000_000,
        None,
        1_800_000_060,
    ]


@pytest.mark.parametrize("kind", [pa.date32(), pa.date64()])
def test_a_date_past_year_9999_is_refused_as_the_time_and_kept_as_text_in_a_feature(
    kind: pa.DataType,
) -> None:
    days = [20_000, 3_000_000]  # 2024-10-04, and the year 10183
    values = days if kind == pa.date32() else [d * 86_400_000 for d in days]
    column = pa.array(values, pa.int32() if kind == pa.date32() else pa.int64()).cast(kind)
    table = pa.table({"timestamp": column, "due": column})
    events, refused = _checked(table)
    assert refused == [
        (1, "timestamp", "Value error, time out of range (years 1 to 9999) (got '10183-09-21')")
    ]
    assert [e.features["due"] for e in events] == ["2024-10-04"]
    text, _ = _checked(table.drop_columns(["timestamp"]))
    assert [e.features["due"] for e in text] == ["2024-10-04", "10183-09-21"]  # a feature: its ISO text


@pytest.mark.parametrize("value", [_YEAR_14645, -_YEAR_14645, 2**62, 1e300])
def test_seconds_since_the_epoch_out_of_range_are_refused_with_their_row(value: float) -> None:
    table = pa.table({"timestamp": [1_800_000_000, value, 1_800_000_060], "x": [1, 2, 3]})
    assert wire(table, "m") is None
    events, refused = _checked(table)
    assert refused == [
        (
            1,
            "timestamp",
            f"Value error, seconds since the epoch out of range (years 1 to 9999) (got {value!r})",
        )
    ]
    assert [e.features["x"] for e in events] == [1, 3]


def test_a_feature_time_past_year_9999_is_its_text() -> None:
    """A feature holds text of a time: one Python cannot hold is written out the same way, in UTC."""
    stamps = pa.array([1_800_000_000, _YEAR_14645], pa.timestamp("s", "UTC"))
    events, refused = _checked(pa.table({"seen": stamps}))
    assert not refused
    assert [e.features["seen"] for e in events] == ["2027-01-15T08:00:00+00:00", "14645-06-30T15:06:40Z"]


_ACCEPTED: dict[str, tuple[pa.Array, Any]] = {
    "date32": (pa.array([dt.date(2027, 1, 15)], pa.date32()), "2027-01-15"),
    "date64": (pa.array([dt.date(2027, 1, 15)], pa.date64()), "2027-01-15"),
    "time32": (pa.array([dt.time(8, 30)], pa.time32("s")), "08:30:00"),
    "time64": (pa.array([dt.time(8, 30, 0, 5)], pa.time64("us")), "08:30:00.000005"),
    "decimal128": (pa.array([decimal.Decimal("1.10")], pa.decimal128(10, 2)), 1.1),
    "decimal256": (pa.array([decimal.Decimal("-0.3")], pa.decimal256(40, 1)), -0.3),
    "float16": (pa.array(np.array([1.5], np.float16)), 1.5),
    "list<double>": (pa.array([[0.5, 2.0]], pa.list_(pa.float64())), [0.5, 2.0]),
    "large_list<int64>": (pa.array([[1, 2]], pa.large_list(pa.int64())), [1, 2]),
    "fixed_size_list<float>": (pa.array([[0.5, 1.0]], pa.list_(pa.float32(), 2)), [0.5, 1.0]),
    "null": (pa.nulls(1), None),
}
_REFUSED: dict[str, tuple[pa.Array, str]] = {
    "binary": (pa.array([b"1"], pa.binary()), "binary, bytes, which no event holds: decode it to text"),
    "large_binary": (pa.array([b"a"], pa.large_binary()), "large_binary, bytes"),
    "fixed_size_binary": (pa.array([b"ab"], pa.binary(2)), "fixed_size_binary[2], bytes"),
    "binary_view": (pa.array([b"a"], pa.binary_view()), "binary_view, bytes"),
    "dictionary<binary>": (pa.array([b"1"], pa.binary()).dictionary_encode(), "bytes"),
    "duration": (pa.array([dt.timedelta(seconds=3)], pa.duration("ns")), "duration[ns], a duration"),
    "struct": (pa.array([{"a": 1}], pa.struct([("a", pa.int64())])), "several values in one"),
    "map": (pa.array([[("a", 1)]], pa.map_(pa.string(), pa.int64())), "several values in one"),
    "list<string>": (pa.array([["a"]], pa.list_(pa.string())), "a list of string: a list is an embedding"),
    "list<list<double>>": (pa.array([[[1.0]]], pa.list_(pa.list_(pa.float64()))), "a list is an embedding"),
    "interval": (pa.array([pa.MonthDayNano([1, 2, 3])], pa.month_day_nano_interval()), "no event holds"),
}


@pytest.mark.parametrize("name", sorted(_ACCEPTED))
def test_feature_types_the_record_path_converts(name: str) -> None:
    """Dates and times of day are their ISO text, decimals floats, lists of numbers embeddings, a null
    column nulls: as ``vigil ingest`` sends them (JSON; decimals crashed orjson) and as the server keeps
    them; the columnar path (where it takes the file) stores the same."""
    column, value = _ACCEPTED[name]
    table = pa.table({"f": column, "x": [1]})
    [chunk] = list(records(table, "m"))
    assert orjson.loads(_encode(chunk))[0]["features"] == {"f": value, "x": 1}
    events, refused = _checked(table)
    assert not refused and events[0].features["f"] == value
    fast = wire(table, "m")
    if fast is not None:
        assert _stored(fast) == _stored(from_events(events))


@pytest.mark.parametrize("name", sorted(_REFUSED))
def test_columns_of_types_no_event_holds_are_refused_up_front(name: str) -> None:
    """bytes sent as orjson crashed ``vigil ingest`` (TypeError), and pydantic read b"1" as True; a
    duration crashed it too; structs and maps had every row refused as a bad embedding."""
    column, why = _REFUSED[name]
    table = pa.table({"x": [1], "blob": column})
    with pytest.raises(InputError) as raised:
        check_types(table, "scores.parquet")
    assert str(raised.value).startswith(f"scores.parquet: column 'blob' is {column.type}, ")
    assert why in str(raised.value) and "or drop it" in str(raised.value)
    for path in (lambda: list(records(table, "m")), lambda: wire(table, "m")):
        with pytest.raises(InputError, match="column 'blob'"):
            path()
