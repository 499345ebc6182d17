"""The vectorised path (``fast_table``) and the per-record path (pydantic's ``check_records`` +
``from_events``) agree: a batch the vectorised path takes is one pydantic accepts whole, and what is
stored from it is the same table, value for value and type for type."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from vigil.config import parse_config
from vigil.ingest.batch import events_table
from vigil.ingest.columnar import fast_table, from_events, ndjson_table
from vigil.ingest.redact import Redactor
from vigil.ingest.validate import Limits, check_records, parse_body
from vigil.schema import Event

NOW = 1_800_000_000.0
_EVENTS: TypeAdapter[list[Event]] = TypeAdapter(list[Event])
_SPEC = parse_config("models:\n  m: {task: binary, owner: {team: t}}\n").models["m"]
_REDACTOR = Redactor(None, {}, set())

_floats = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-1e6, max_value=1e6),
    st.sampled_from([0.0, -0.0, 0.5, 1e100, -1e100, 1.0000000000000002e100, 1e101, 1e308, -1e308, 5e-324]),
)
_ints = st.one_of(
    st.integers(min_value=-1000, max_value=1000),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([2**53, 2**53 + 1, 2**63 - 1, -(2**63), 2**63, 10**9, 10**9 + 1]),
)
_text = st.one_of(st.text(max_size=6), st.sampled_from(["", "x" * 201, "1", "2.5", "eu"]))
_scalars = st.one_of(st.none(), st.booleans(), _ints, _floats, _text)
_names = st.sampled_from(["x", "y", "z", "", "a" * 201])
_maps = st.one_of(
    st.dictionaries(_names, _scalars, max_size=3),
    st.dictionaries(st.sampled_from(["x", "y"]), st.one_of(st.none(), _ints, _floats), max_size=2),
    st.none(),
    st.just([1]),
)


def _rfc3339(year: int, fraction: int, zone: str, sep: str) -> str:
    base = datetime(year, 6, 15, 12, 30, 45, tzinfo=UTC)
    text = base.strftime(f"%Y-%m-%d{sep}%H:%M:%S").rjust(19, "0")
    return text + ("." + "123456789"[:fraction] if fraction else "") + zone


_timestamp_strings = st.one_of(
    st.builds(
        _rfc3339,
        st.one_of(st.integers(1, 9999), st.sampled_from([1, 1677, 1678, 1969, 1970, 2027, 2262, 2263, 9999])),
        st.integers(0, 9),
        st.sampled_from(["Z", "", "+00:00", "+05:30", "-08:00"]),
        st.sampled_from(["T", " "]),
    ),
    st.sampled_from(["2027-01-15", "garbage", "2027-13-01T00:00:00Z", "0001-01-01T00:00:00Z"]),
    _text,
)
_timestamps = st.one_of(
    st.none(),
    st.booleans(),
    _floats,
    _ints,
    st.floats(min_value=-7e10, max_value=3e11),  # years 1 to 9999, and past them
    st.floats(min_value=NOW - 1e5, max_value=NOW + 1e5),
    _timestamp_strings,
)
_records = st.fixed_dictionaries(
    {"model": st.sampled_from(["m", "m", "m", "", None])},
    optional={
        "version": st.sampled_from(["v1", "v2", "", None, 2]),
        "request_id": st.one_of(st.none(), _text, st.integers(0, 9)),
        "timestamp": _timestamps,
        "features": _maps,
        "segments": _maps,
        "prediction": _scalars,
        "score": _scalars,
        "probabilities": st.one_of(
            st.none(), st.dictionaries(st.sampled_from(["a", "b", ""]), st.one_of(_floats, _ints), max_size=2)
        ),
        "latency_ms": st.one_of(st.none(), _floats, _ints),
        "cost": st.one_of(st.none(), _floats, _ints),
        "tokens_in": st.one_of(st.none(), _ints, _floats),
        "tokens_out": st.one_of(st.none(), _ints),
        "error": st.one_of(st.none(), _text),
    },
)


@st.composite
def _uniform(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A batch whose every field keeps one kind of value across records (what clients send, and what
    the vectorised path takes), with keys left out and values out of range here and there."""
    kinds: dict[str, st.SearchStrategy[Any]] = {
        "timestamp": draw(
            st.sampled_from(
                [
                    st.floats(min_value=NOW - 1e5, max_value=NOW + 1e5),
                    st.integers(0, 2**34),
                    _timestamp_strings,
                    st.builds(
                        _rfc3339, st.integers(1680, 2260), st.integers(0, 6), st.just("Z"), st.just("T")
                    ),
                ]
            )
        ),
        "score": draw(st.sampled_from([_floats, st.floats(0, 1), st.integers(0, 1)])),
        "latency_ms": draw(st.sampled_from([_floats, st.floats(0, 1e4), _ints])),
        "cost": st.floats(0, 1),
        "tokens_in": draw(st.sampled_from([_ints, st.integers(0, 10**4)])),
        "prediction": draw(st.sampled_from([st.integers(0, 3), st.floats(-10, 10), _text, st.booleans()])),
        "request_id": st.text(min_size=1, max_size=4),
        "version": st.sampled_from(["v1", "v2"]),
        "error": st.one_of(st.none(), st.text(max_size=4)),
    }
    values: list[st.SearchStrategy[Any]] = [
        _floats,
        st.floats(-1e3, 1e3),
        _ints,
        st.integers(-5, 5),
        _text,
        st.booleans(),
    ]
    feature_kinds: dict[str, st.SearchStrategy[Any]] = {
        name: draw(st.sampled_from(values))
        for name in draw(st.lists(st.sampled_from(["x", "y", "z"]), unique=True, max_size=3))
    }
    present = draw(st.lists(st.sampled_from(sorted(kinds)), unique=True))
    batch = []
    for _ in range(draw(st.integers(1, 5))):
        record: dict[str, Any] = {"model": "m"}
        for name in present:
            if draw(st.integers(0, 9)):  # now and then a record leaves a key out
                record[name] = draw(st.one_of(st.none(), kinds[name]) if name != "version" else kinds[name])
        features = {k: draw(st.one_of(st.none(), v)) for k, v in feature_kinds.items() if draw(st.booleans())}
        if bool(features) or draw(st.booleans()):
            record["features"] = features
        if draw(st.integers(0, 3)) == 0:
            record["probabilities"] = {"a": draw(st.floats(0, 1)), "b": draw(st.one_of(st.none(), _floats))}
        batch.append(record)
    return batch


_batches = st.one_of(st.lists(_records, min_size=1, max_size=5), _uniform())


def _stored(wire: pa.Table) -> list[dict[str, Any]]:
    """The event table stored for a wire table, as Python values (NaN made comparable)."""
    table = events_table(wire, _SPEC, NOW, _REDACTOR)
    return [
        {k: ("NaN" if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
        for row in table.to_pylist()
    ]


def _schema(wire: pa.Table) -> pa.Schema:
    return events_table(wire, _SPEC, NOW, _REDACTOR).schema


@settings(max_examples=600, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(batch=_batches)
@example(batch=[{"model": "m"}, {"model": "m", "features": None}])
@example(batch=[{"model": "m", "timestamp": "1500-01-01T00:00:00Z"}])
@example(batch=[{"model": "m", "timestamp": NOW + 0.1234567}])
@example(batch=[{"model": "m", "score": 1e308}])
@example(batch=[{"model": "m", "tokens_in": 2**62}, {"model": "m", "tokens_in": 2**62}])
@example(batch=[{"model": "m", "probabilities": {"a": 0, "b": None}}])
@example(batch=[{"model": "m", "probabilities": {"": 0.5}}])
def test_vectorised_and_per_record_paths_agree(batch: list[Any]) -> None:
    fast = fast_table(batch)
    event("vectorised" if fast is not None else "per record")
    if fast is None:
        return  # the pipeline then takes the per-record path
    checked = check_records(batch, _EVENTS)
    assert not checked.rejected, f"the vectorised path took what pydantic refuses: {checked.rejected}"
    per_record = from_events(checked.records)
    assert _stored(fast) == _stored(per_record)
    assert _schema(fast) == _schema(per_record)


@settings(max_examples=600, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(batch=_batches)
@example(batch=[{"model": "m", "features": {"x": 2**53 + 1, "y": 0.5}}])
@example(batch=[{"model": "m", "features": {"x": 2**63}}, {"model": "m", "features": {"x": 0.5}}])
@example(batch=[{"model": "m", "features": {"x": "2027-01-15"}}])
@example(batch=[{"model": "m", "score": math.inf}])
def test_ndjson_read_by_arrow_is_what_the_python_parser_reads(batch: list[Any]) -> None:
    """A body Arrow's JSON reader takes whole is one the line-by-line path takes whole, stored alike.
    Bodies are written as a lax client writes them (NaN and Infinity tokens included)."""
    body = "\n".join(json.dumps(record) for record in batch).encode()
    arrow = ndjson_table(body)
    event("arrow" if arrow is not None else "line by line")
    if arrow is None:
        return
    records = parse_body(body, "application/x-ndjson", Limits())
    assert not check_records(records, _EVENTS).rejected, "Arrow's path took what pydantic refuses"
    fast = fast_table(records)
    assert fast is not None
    assert _stored(arrow) == _stored(fast)
    assert _schema(arrow) == _schema(fast)


def test_ndjson_bodies_arrow_could_misread_go_line_by_line() -> None:
    """A byte-order mark, two records on one line, huge integer literals, strings Arrow would read as
    times: the line-by-line path decides (and rejects or keeps them as Python reads them)."""
    good = b'{"model": "m", "features": {"x": 1.5}}'
    assert ndjson_table(good) is not None
    assert ndjson_table(good + b"\n\n" + good + b"\r\n") is not None
    for body in (
        b"\xef\xbb\xbf" + good,
        good + b" " + good,
        b'{"model": "m", "features": {"x": 99999999999999999999}}',
        b'{"model": "m", "features": {"x": 9007199254740993}}\n{"model": "m", "features": {"x": 0.5}}',
        b'{"model": "m", "features": {"x": "2027-01-15"}}',
        b'{"model": "m", "score": NaN}',
    ):
        assert ndjson_table(body) is None, body


def test_timestamps_are_stored_alike_by_both_paths() -> None:
    """Seconds and RFC 3339 strings, to the microsecond; a string of a year float64 cannot hold to the
    microsecond (before 1685, after 2255) leaves it to the per-record path, which takes years 1 to 9999."""
    moments = [datetime.fromtimestamp(NOW, UTC) + timedelta(microseconds=k * 123_457) for k in range(5)]
    moments += [datetime(1686, 1, 1, tzinfo=UTC), datetime(2254, 12, 31, tzinfo=UTC)]
    strings: list[Any] = [{"model": "m", "timestamp": t.isoformat()} for t in moments]
    numbers: list[Any] = [{"model": "m", "timestamp": NOW + k / 7} for k in range(7)]
    numbers += [{"model": "m", "timestamp": 1e11 + 0.5e-6}, {"model": "m", "timestamp": -6e10}]
    for records in (strings, numbers):
        fast = fast_table(records)
        assert fast is not None
        checked = check_records(records, _EVENTS)
        assert not checked.rejected
        assert _stored(fast) == _stored(from_events(checked.records))
    for year in (1, 1500, 1684, 2256, 9999):
        far = [*strings, {"model": "m", "timestamp": f"{year:04}-06-15T12:00:00.000001Z"}]
        assert fast_table(far) is None
        assert not check_records(far, _EVENTS).rejected
