"""POST /v1/events, /v1/labels, /v1/host-metrics through the real HTTP app (in process) on a real SQLite
store: every kind of bad input gets a clear answer (never a 500), the good records of a batch are kept,
API keys guard the routes, and personal data never reaches the store in the clear."""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
import logging
import sys
import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fakes import FakeClock
from vigil.config import parse_config
from vigil.ingest.batch import from_ipc
from vigil.ingest.validate import Limits
from vigil.schema import MAX_STRING
from vigil.server.app import create_app
from vigil.store.sqlite import SQLiteStore

NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z, a whole hour
JSON = {"content-type": "application/json"}
NDJSON = {"content-type": "application/x-ndjson"}

CONFIG = """
models:
  credit:
    task: binary
    owner: {team: risk}
    versions: [v1, v2]
    live: v2
    features:
      income: {type: numeric}
      region: {type: categorical}
      note: {type: text}
"""


@dataclass
class Server:
    client: TestClient
    app: FastAPI
    store: SQLiteStore
    clock: FakeClock

    def post(self, path: str, body: Any, headers: dict[str, str] | None = None) -> Any:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.client.post(path, content=content, headers={**JSON, **(headers or {})})

    def events(self, body: Any, headers: dict[str, str] | None = None) -> Any:
        return self.post("/v1/events", body, headers)

    def settle(self) -> None:
        assert self.app.state.vigil.aggregator.wait_idle(10)

    def count(self, model: str = "credit") -> int:
        """Events of ``model`` counted in its windows (the last three days)."""
        self.settle()
        r = self.client.get(
            f"/v1/models/{model}/metrics",
            params={"names": "events", "step": "1d", "from": NOW - 3 * 86_400, "to": NOW + 86_400},
        )
        assert r.status_code == 200, r.text
        return int(sum(v or 0 for _, v in r.json()["series"]["events"]))

    def logged_rows(self) -> list[dict[str, Any]]:
        """Every row in the store's ingest log, decoded."""
        rows: list[dict[str, Any]] = []
        for entry in self.store.read_log("main", 0, limit=100_000):
            rows.extend(from_ipc(entry.payload).to_pylist())
        return rows


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    with ExitStack() as stack:
        count = 0

        def start(config: str = CONFIG, *, limits: Limits | None = None) -> Server:
            nonlocal count
            count += 1
            store = SQLiteStore(tmp_path / f"vigil{count}.db")
            stack.callback(store.close)
            clock = FakeClock(NOW)
            app = create_app(parse_config(config), store, clock=clock, limits=limits, flush_every=3600)
            client = stack.enter_context(TestClient(app))
            return Server(client, app, store, clock)

        yield start


@pytest.fixture
def server(serve: Callable[..., Server]) -> Server:
    return serve()


def event(i: int, **extra: Any) -> dict[str, Any]:
    return {
        "model": "credit",
        "request_id": f"r{i}",
        "timestamp": NOW - 60 + i,
        "features": {"income": 1000.0 + i, "region": "eu"},
        "prediction": i % 2,
        "score": 0.5,
        "latency_ms": 10.0,
        **extra,
    }


def rejected(response: Any) -> dict[int, list[tuple[str, str]]]:
    out: dict[int, list[tuple[str, str]]] = {}
    for r in response.json()["rejected"]:
        out.setdefault(r["index"], []).append((r["field"], r["reason"]))
    return out


# -- a batch with bad records: the good ones are kept, each bad one is named ---------------------------------


def test_partial_batch_keeps_the_good_records_and_names_each_bad_one(server: Server) -> None:
    batch = [
        event(0),
        event(1, latency_ms=-1),
        event(2),
        event(3, features={"income": "abc"}),
        event(4, colour="red"),
        event(5),
    ]
    r = server.events(batch)
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 3
    bad = rejected(r)
    assert sorted(bad) == [1, 3, 4]
    assert bad[1] == [("latency_ms", bad[1][0][1])] and "greater than or equal to 0" in bad[1][0][1]
    assert bad[3] == [("features.income", bad[3][0][1])] and "number" in bad[3][0][1]
    assert bad[4] == [("colour", bad[4][0][1])] and "unknown field" in bad[4][0][1]
    assert server.count() == 3
    assert sorted(row["request_id"] for row in server.logged_rows()) == ["r0", "r2", "r5"]


def test_every_record_bad_is_422_and_nothing_is_stored(server: Server) -> None:
    r = server.events([event(0, score="high"), event(1, latency_ms="fast")])
    assert r.status_code == 422
    assert r.json()["accepted"] == 0
    assert rejected(r).keys() == {0, 1}
    assert server.logged_rows() == []


def test_nan_and_infinity_tokens_are_rejected_record_by_record(server: Server) -> None:
    body = (
        b"["
        + orjson.dumps(event(0))
        + b',{"model":"credit","request_id":"r1","features":{"income":NaN}}'
        + b',{"model":"credit","request_id":"r2","score":Infinity}'
        + b',{"model":"credit","request_id":"r3","latency_ms":-Infinity}'
        + b","
        + orjson.dumps(event(4))
        + b"]"
    )
    r = server.events(body)
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 2
    bad = rejected(r)
    assert sorted(bad) == [1, 2, 3]
    # one rejection per bad value, on the field that holds it, saying what to send instead
    assert [f for f, _ in bad[1]] == ["features.income"]
    assert [f for f, _ in bad[2]] == ["score"]
    assert [f for f, _ in bad[3]] == ["latency_ms"]
    assert all("NaN" in reason for problems in bad.values() for _, reason in problems)
    assert sorted(row["request_id"] for row in server.logged_rows()) == ["r0", "r4"]


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ({"model": 5}, "model"),
        ({"model": "credit", "features": [1, 2]}, "features"),
        ({"model": "credit", "features": {"extra": ["a", "b"]}}, "features.extra"),  # numbers: an embedding
        ({"model": "credit", "features": {"extra": {"a": 1}}}, "features.extra"),
        ({"model": "credit", "segments": {"tier": ["gold"]}}, "segments.tier"),
        ({"model": "credit", "latency_ms": "fast"}, "latency_ms"),
        ({"model": "credit", "tokens_in": 1.5}, "tokens_in"),
        ({"model": "credit", "tokens_in": -3}, "tokens_in"),
        ({"model": "credit", "tokens_in": 2**64}, "tokens_in"),
        ({"model": "credit", "prediction": [1]}, "prediction"),
        ({"model": "credit", "probabilities": {"a": "x"}}, "probabilities.a"),
        ({"model": "credit", "request_id": ""}, "request_id"),
        ({"model": "credit", "features": {"": 1}}, "features"),
        ({}, "model"),
        ({"features": {"income": 1.0}}, "model"),
    ],
)
def test_wrong_types_and_missing_fields_are_named(server: Server, record: dict[str, Any], field: str) -> None:
    assert server.events([event(9)]).status_code == 200  # a clean batch first: its shape is remembered
    r = server.events([event(0), record])
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 1
    bad = rejected(r)
    assert list(bad) == [1]
    assert [f for f, _ in bad[1]] == [field], bad  # one rejection, on the field at fault
    assert all(reason for _, reason in bad[1])


def test_a_record_that_is_not_an_object_is_rejected(server: Server) -> None:
    r = server.events([event(0), 42, "text", None, [event(1)]])
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 1
    assert sorted(rejected(r)) == [1, 2, 3, 4]


def test_integers_past_64_bits_are_not_a_crash(server: Server) -> None:
    big = str(2**70).encode()
    body = b"[%s,%s,%s,%s]" % (
        orjson.dumps(event(0)),
        b'{"model":"credit","features":{"income":%s}}' % big,
        b'{"model":"credit","features":{"count":%s}}' % big,
        b'{"model":"credit","tokens_out":%s}' % big,
    )
    r = server.events(body)
    assert r.status_code == 200, r.text
    bad = rejected(r)
    assert 0 not in bad
    assert [f for f, _ in bad[3]] == ["tokens_out"]
    for i, field in ((1, "features.income"), (2, "features.count")):  # a float, or a named rejection
        assert i not in bad or [f for f, _ in bad[i]] == [field]
    assert server.count() == r.json()["accepted"] == len(server.logged_rows())


def test_label_without_request_id_or_model_is_named(server: Server) -> None:
    r = server.post(
        "/v1/labels",
        [
            {"model": "credit", "request_id": "r0", "label": 1},
            {"model": "credit", "label": 1},
            {"request_id": "r2", "label": 0},
            {"model": "credit", "request_id": "r3"},
        ],
    )
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 1
    bad = rejected(r)
    assert [f for f, _ in bad[1]] == ["request_id"]
    assert [f for f, _ in bad[2]] == ["model"]
    assert [f for f, _ in bad[3]] == ["label"]
    assert all("missing" in reason for problems in bad.values() for _, reason in problems)


@pytest.mark.parametrize(
    ("path", "record"),
    [
        ("/v1/labels", {"request_id": "r0", "label": 1}),
        ("/v1/host-metrics", {"host": "gpu-1", "cpu_percent": 5}),
    ],
)
def test_records_that_lack_only_their_model_are_named(
    server: Server, path: str, record: dict[str, Any]
) -> None:
    r = server.post(path, [record, record])
    assert r.status_code == 422, r.text
    missing = {"field": "model", "reason": "required field is missing"}
    assert r.json() == {"accepted": 0, "rejected": [{"index": 0, **missing}, {"index": 1, **missing}]}


def test_a_null_label_is_rejected_not_stored_as_text(server: Server) -> None:
    r = server.post("/v1/labels", [{"model": "credit", "request_id": "r0", "label": None}])
    assert r.status_code == 422, r.text
    assert [r["field"] for r in r.json()["rejected"]] == ["label"]


# -- timestamps ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("timestamp", "accepted"),
    [
        ("2027-01-15T07:59:00Z", True),
        ("2027-01-15T07:59:00", True),  # no offset: UTC
        (NOW - 10, True),
        (NOW + 1800, True),  # clock skew within the hour is fine
        ("garbage", False),
        ("2027-13-01T00:00:00Z", False),
        (NOW + 2 * 3600, False),  # over an hour ahead
        ("2027-01-15T10:00:01Z", False),
        (NOW - 3 * 86_400, True),  # older than the minute windows' 2 days: folded into an hour row
        (NOW - 401 * 86_400, False),  # older than the 400-day retention of day windows
        (1e20, False),
        (-1e15, False),
        (1e12, False),  # milliseconds sent as seconds: year 33658
        (True, False),
        ([NOW], False),
    ],
)
def test_timestamps(server: Server, timestamp: Any, accepted: bool) -> None:
    r = server.events([event(0), {"model": "credit", "request_id": "t", "timestamp": timestamp}])
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == (2 if accepted else 1)
    if not accepted:
        assert [f for f, _ in rejected(r)[1]] == ["timestamp"]


def test_non_finite_timestamps_are_rejected(server: Server) -> None:
    body = b'[{"model":"credit","timestamp":Infinity},{"model":"credit","timestamp":NaN}]'
    r = server.events(body)
    assert r.status_code == 422, r.text
    assert [(x["index"], x["field"]) for x in r.json()["rejected"]] == [(0, "timestamp"), (1, "timestamp")]
    r = server.post("/v1/host-metrics", b'[{"model":"credit","host":"h","timestamp":-Infinity}]')
    assert r.status_code == 422, r.text
    r = server.post("/v1/labels", b'[{"model":"credit","request_id":"r","label":1,"timestamp":1e300}]')
    assert r.status_code == 422, r.text


# -- sizes ---------------------------------------------------------------------------------------------------


def test_strings_over_max_string_are_rejected(server: Server) -> None:
    long = "x" * (MAX_STRING + 1)
    r = server.events(
        [
            event(0, error="e" * MAX_STRING),  # exactly the limit: fine
            event(1, error=long),
            event(2, features={"note": long}),
            event(3, prediction=long),
        ]
    )
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 1
    bad = rejected(r)
    assert {i: [f for f, _ in p] for i, p in bad.items()} == {
        1: ["error"],
        2: ["features.note"],
        3: ["prediction"],
    }
    assert all(str(MAX_STRING) in reason for problems in bad.values() for _, reason in problems)


def test_body_over_the_limit_is_413_with_the_limit(serve: Callable[..., Server]) -> None:
    server = serve(limits=Limits(max_body_bytes=10_000, max_records=1_000))
    body = orjson.dumps([event(i) for i in range(200)])
    assert len(body) > 10_000
    r = server.events(body)
    assert r.status_code == 413
    assert r.json()["limit"] == 10_000
    streamed = (body[i : i + 4096] for i in range(0, len(body), 4096))  # chunked: no Content-Length
    r = server.client.post("/v1/events", content=streamed, headers=JSON)
    assert r.status_code == 413
    assert r.json()["limit"] == 10_000
    assert server.logged_rows() == []


def test_too_many_records_is_413_with_the_limit(serve: Callable[..., Server]) -> None:
    server = serve(limits=Limits(max_body_bytes=1_000_000, max_records=50))
    assert server.events([event(i) for i in range(50)]).status_code == 200
    r = server.events([event(i) for i in range(51)])
    assert r.status_code == 413
    assert r.json()["limit"] == 50
    r = server.events(b"\n".join(orjson.dumps(event(i)) for i in range(51)), NDJSON)
    assert r.status_code == 413
    assert server.count() == 50


# -- encodings -----------------------------------------------------------------------------------------------


def test_gzip_body_is_accepted(server: Server) -> None:
    body = gzip.compress(orjson.dumps([event(i) for i in range(20)]))
    r = server.events(body, {"content-encoding": "gzip"})
    assert r.status_code == 200, r.text
    assert r.json() == {"accepted": 20, "rejected": []}
    ndjson = gzip.compress(b"\n".join(orjson.dumps(event(i)) for i in range(20, 30)))
    r = server.events(ndjson, {"content-encoding": "gzip", **NDJSON})
    assert r.json() == {"accepted": 10, "rejected": []}
    assert server.count() == 30


def test_corrupt_or_truncated_gzip_is_400(server: Server) -> None:
    rng = np.random.default_rng(0)
    r = server.events(rng.bytes(500), {"content-encoding": "gzip"})
    assert r.status_code == 400
    assert "gzip" in r.json()["error"]
    whole = gzip.compress(b"\n".join(orjson.dumps(event(i)) for i in range(200)))
    for cut in (len(whole) // 2, len(whole) - 4):  # part of the stream / no trailer (size, CRC)
        r = server.events(whole[:cut], {"content-encoding": "gzip", **NDJSON})
        assert r.status_code == 400, (cut, r.text)
        assert "gzip" in r.json()["error"]
    assert server.logged_rows() == []


def test_gzip_bomb_is_413_without_inflating_it_all(
    serve: Callable[..., Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    limit = 1_000_000
    server = serve(limits=Limits(max_body_bytes=limit))
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = b"[" + b" " * (1 << 20)
    bomb = b"".join(packer.compress(chunk) for _ in range(64)) + packer.flush()  # 64 MiB inflated
    assert len(bomb) < 100_000

    inflated = 0
    real = zlib.decompressobj

    class Spy:
        def __init__(self, *args: Any) -> None:
            self.inner = real(*args)

        def decompress(self, data: bytes, max_length: int = 0) -> bytes:
            nonlocal inflated
            out = self.inner.decompress(data, max_length)
            inflated += len(out)
            return out

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

    monkeypatch.setattr(zlib, "decompressobj", Spy)  # the module vigil.ingest.validate inflates with
    r = server.events(bomb, {"content-encoding": "gzip"})
    assert r.status_code == 413
    assert r.json()["limit"] == limit
    assert inflated <= 2 * limit


def test_unsupported_content_encoding_is_415(server: Server) -> None:
    r = server.events(orjson.dumps([event(0)]), {"content-encoding": "br"})
    assert r.status_code == 415
    assert "gzip" in r.json()["error"]


# -- unreadable bodies ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [b"", b"   \n\t "])
def test_empty_body_is_400(server: Server, body: bytes) -> None:
    r = server.events(body)
    assert r.status_code == 400
    assert "empty" in r.json()["error"]


def test_malformed_json_is_400_naming_the_line(server: Server) -> None:
    body = b'[\n  {"model": "credit"},\n  {"model": },\n  {"model": "credit"}\n]'
    r = server.events(body)
    assert r.status_code == 400
    assert "line 3" in r.json()["error"]
    assert server.logged_rows() == []


@pytest.mark.parametrize(
    "body",
    [b"[" * 100_000, b"[" + b"1" * 5000 + b"]", b"\xff\xfe\x00", b'[{"model": "\\ud800"}]'],
    ids=["deep", "huge-int", "not-utf8", "lone-surrogate"],
)
def test_pathological_json_is_a_client_error(server: Server, body: bytes) -> None:
    r = server.events(body)
    assert 400 <= r.status_code < 500, r.text


def test_ndjson_with_one_malformed_line_names_that_line(server: Server) -> None:
    lines = [orjson.dumps(event(i)) for i in range(5)]
    lines[3] = b'{"model": "credit", "request_id": '
    r = server.events(b"\n".join(lines), NDJSON)
    assert r.status_code == 400
    assert "line 4" in r.json()["error"]
    assert server.logged_rows() == []


def test_ndjson_with_one_invalid_record_keeps_the_others(server: Server) -> None:
    lines = [orjson.dumps(event(i)) for i in range(5)]
    lines[2] = orjson.dumps(event(2, latency_ms="slow"))
    r = server.events(b"\n".join(lines) + b"\n", NDJSON)
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 4
    assert [(x["index"], x["field"]) for x in r.json()["rejected"]] == [(2, "latency_ms")]


def test_a_single_object_body_is_one_record(server: Server) -> None:
    r = server.events(event(0))
    assert r.json() == {"accepted": 1, "rejected": []}


# -- models, versions, declared types ------------------------------------------------------------------------


def test_unknown_model_is_404_naming_the_known_ones(server: Server) -> None:
    r = server.events([{"model": "nope"}, {"model": "nope", "request_id": "x"}])
    assert r.status_code == 404
    assert r.json()["known_models"] == ["credit"]
    assert "nope" in r.json()["error"]
    r = server.post("/v1/labels", [{"model": "nope", "request_id": "x", "label": 1}])
    assert r.status_code == 404
    assert r.json()["known_models"] == ["credit"]
    # mixed with a known model's events: a per-record rejection naming the known models
    r = server.events([event(0), {"model": "nope"}])
    assert r.status_code == 200
    assert r.json()["accepted"] == 1
    [(field, reason)] = rejected(r)[1]
    assert field == "model" and "credit" in reason


def test_auto_register_accepts_and_lists_a_new_model(serve: Callable[..., Server]) -> None:
    server = serve(CONFIG + "security: {auto_register: true}\n")
    r = server.events([{"model": "fresh", "request_id": "a", "score": 0.3, "prediction": 1}])
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 1
    models = {m["name"]: m for m in server.client.get("/v1/models").json()["models"]}
    assert set(models) == {"credit", "fresh"}
    assert models["fresh"]["source"] == "auto"
    assert models["credit"]["source"] == "config"
    assert server.count("fresh") == 1


def test_unknown_version_is_rejected_when_versions_are_declared(server: Server) -> None:
    r = server.events([event(0, version="v1"), event(1, version="v9"), event(2)])
    assert r.status_code == 200
    assert r.json()["accepted"] == 2
    [(field, reason)] = rejected(r)[1]
    assert field == "version" and "v9" in reason and "v1, v2" in reason
    versions = sorted(row["version"] for row in server.logged_rows())
    assert versions == ["v1", "v2"]  # no version given: the live one


def test_numeric_feature_given_a_string_or_boolean_is_rejected(server: Server) -> None:
    r = server.events(
        [
            event(0, features={"income": "12k"}),
            event(1, features={"income": "twelve"}),
            event(2, features={"income": 12}),  # an integer is a number
            event(3, features={"income": None}),  # a null is a missing value
        ]
    )
    assert r.status_code == 200
    assert r.json()["accepted"] == 2
    bad = rejected(r)
    assert {i: [f for f, _ in p] for i, p in bad.items()} == {0: ["features.income"], 1: ["features.income"]}


@pytest.mark.parametrize("name", ["ts", "version", "error", "cost", "@prediction", "@score", "#region"])
def test_a_feature_named_like_an_internal_column_cannot_corrupt_the_metrics(
    server: Server, name: str
) -> None:
    r = server.events([event(0), event(1, features={name: "oops"}), event(2, error="boom")])
    assert r.status_code == 200, r.text
    accepted = r.json()["accepted"]
    if accepted == 2:
        assert [f for f, _ in rejected(r)[1]] == [f"features.{name}"]
    assert server.count() == accepted
    series = server.client.get(
        "/v1/models/credit/metrics", params={"names": "errors", "step": "1d", "to": NOW + 60}
    ).json()["series"]
    assert sum(v or 0 for _, v in series["errors"]) == 1


def test_features_of_mixed_types_across_records_are_kept(server: Server) -> None:
    r = server.events(
        [
            event(0, features={"extra": 1}),
            event(1, features={"extra": "one"}),
            event(2, features={"extra": 1.5}),
            event(3, features={"extra": True}),
            event(4, latency_ms=-5),  # forces the record-by-record path
        ]
    )
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 4
    r = server.events([event(5, features={"extra": "two"})])
    assert r.json()["accepted"] == 1
    assert server.count() == 5


# -- property: random bodies never get a server error --------------------------------------------------------

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
)
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
_fields = st.sampled_from(
    [
        "model",
        "version",
        "request_id",
        "timestamp",
        "features",
        "prediction",
        "score",
        "probabilities",
        "latency_ms",
        "error",
        "tokens_in",
        "tokens_out",
        "cost",
        "segments",
        "label",
        "host",
        "other",
    ]
)
_names = st.sampled_from(["income", "region", "note", "x", "ts", "@score", "#region", "", "a" * 201])
_maps = st.dictionaries(_names, _scalars, max_size=4)
_records = st.fixed_dictionaries(
    {"model": st.sampled_from(["credit", "credit", "credit", "nope", 3, None])},
    optional={
        "version": st.sampled_from(["v1", "v2", "v3", None, 2]),
        "request_id": st.one_of(st.text(max_size=5), st.integers()),
        "timestamp": st.one_of(
            st.floats(allow_nan=True, allow_infinity=True),
            st.floats(min_value=NOW - 7200, max_value=NOW + 7200),
            st.text(max_size=25),
            st.sampled_from(["2027-01-15T07:30:00Z", "2027-01-15T07:30:00", "2027-01-15"]),
        ),
        "features": st.one_of(_maps, _json),
        "segments": st.one_of(_maps, _json),
        "prediction": _json,
        "score": _scalars,
        "probabilities": st.one_of(st.dictionaries(st.text(max_size=3), _scalars, max_size=3), _json),
        "latency_ms": _scalars,
        "error": _scalars,
        "tokens_in": _scalars,
        "tokens_out": _scalars,
        "cost": _scalars,
    },
)
_bodies = st.one_of(
    st.lists(_records, max_size=6),
    st.lists(st.dictionaries(_fields, _json, max_size=5), max_size=4),
    _json,
)


def _dump(value: Any) -> bytes:
    """JSON as the standard library writes it: NaN/Infinity tokens, integers of any size."""
    return json.dumps(value).encode()


@settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=_bodies, path=st.sampled_from(["/v1/events", "/v1/events", "/v1/labels", "/v1/host-metrics"]))
def test_random_bodies_never_get_a_server_error(
    server: Server, caplog: pytest.LogCaptureFixture, body: Any, path: str
) -> None:
    with caplog.at_level(logging.ERROR, logger="vigil"):
        before = len(server.logged_rows())
        r = server.post(path, _dump(body))
        assert r.status_code < 500, r.text
        assert r.status_code in (200, 400, 404, 413, 422), r.text
        if path == "/v1/events" and r.status_code == 200:
            assert len(server.logged_rows()) == before + r.json()["accepted"]
        server.settle()
        assert not [rec for rec in caplog.records if rec.levelno >= logging.ERROR], caplog.text
    assert server.count() == len(server.logged_rows())  # every accepted event is counted, once


# -- API keys ------------------------------------------------------------------------------------------------


def test_api_keys_guard_the_routes(serve: Callable[..., Server], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_INGEST_KEY", "ingest-secret")
    monkeypatch.setenv("TEST_ADMIN_KEY", "admin-secret")
    server = serve(
        CONFIG + "security:\n  api_keys: {ingest: ['${TEST_INGEST_KEY}'], admin: ['${TEST_ADMIN_KEY}']}\n"
    )
    c = server.client
    body = orjson.dumps([event(0)])
    bearer = {
        "ingest": {"authorization": "Bearer ingest-secret"},
        "admin": {"authorization": "Bearer admin-secret"},
    }

    # no key: 401 everywhere but the open routes
    assert c.post("/v1/events", content=body, headers=JSON).status_code == 401
    assert c.post("/v1/labels", content=b"[]", headers=JSON).status_code == 401
    assert c.get("/v1/models").status_code == 401
    assert c.get("/v1/models/credit/metrics").status_code == 401
    assert c.get("/healthz").status_code == 200
    assert c.get("/openapi.json").status_code == 200
    # a key nobody issued, or the name of the variable instead of its value
    for wrong in ("Bearer nope", "Bearer ${TEST_ADMIN_KEY}", "Basic admin-secret"):
        assert c.get("/v1/models", headers={"authorization": wrong}).status_code == 401, wrong
    assert c.get("/v1/models", headers={"x-api-key": "nope"}).status_code == 401
    # an ingest key sends data but reads nothing
    r = c.post("/v1/events", content=body, headers={**JSON, **bearer["ingest"]})
    assert r.status_code == 200 and r.json()["accepted"] == 1
    assert (
        c.post("/v1/events", content=body, headers={**JSON, "x-api-key": "ingest-secret"}).status_code == 200
    )
    assert c.get("/v1/models", headers=bearer["ingest"]).status_code == 403
    assert c.get("/v1/models/credit/events", headers=bearer["ingest"]).status_code == 403
    assert c.post("/v1/models", json={"name": "x"}, headers=bearer["ingest"]).status_code == 403
    # an admin key does both
    assert c.post("/v1/events", content=body, headers={**JSON, **bearer["admin"]}).status_code == 200
    assert c.get("/v1/models", headers=bearer["admin"]).status_code == 200
    assert c.get("/v1/models", headers={"x-api-key": "admin-secret"}).status_code == 200
    assert c.get("/v1/models", headers={"authorization": "bearer admin-secret"}).status_code == 200
    server.settle()
    r = c.get("/v1/models/credit/metrics", params={"names": "events", "step": "1d"}, headers=bearer["admin"])
    assert sum(v or 0 for _, v in r.json()["series"]["events"]) == 3


def test_without_keys_everything_is_open(server: Server) -> None:
    c = server.client
    assert server.events([event(0)]).status_code == 200
    assert c.get("/v1/models").status_code == 200
    assert c.get("/v1/models/credit").status_code == 200
    assert c.get("/v1/models/credit/events").status_code == 200


# -- personal data -------------------------------------------------------------------------------------------

PII_CONFIG = """
security: {pii_key: "${TEST_PII_KEY}"}
models:
  credit:
    task: binary
    owner: {team: risk}
    features:
      income: {type: numeric}
      email: {role: pii}
      account: {role: pii, type: numeric}
      phone: {role: pii, redact: drop}
      note: {type: text, scrub: true}
"""


def _pii_event(i: int, email: str, **features: Any) -> dict[str, Any]:
    return {
        "model": "credit",
        "request_id": f"r{i}",
        "timestamp": NOW - 30,
        "features": {"income": 10.0 * i, "email": email, "phone": "+44 20 7946 0958", **features},
        "prediction": 1,
    }


def _all_text(server: Server) -> str:
    sample: str = server.client.get("/v1/models/credit/events", params={"limit": 1000, "to": NOW + 60}).text
    return sample + repr(server.logged_rows())


def test_pii_is_pseudonymised_with_the_key(
    serve: Callable[..., Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "k3y-for-tests"
    monkeypatch.setenv("TEST_PII_KEY", key)
    server = serve(PII_CONFIG)
    emails = ["ann@example.com", "bob@example.org", "ann@example.com"]
    for i, email in enumerate(emails):  # one request each: the pseudonym is stable across requests
        r = server.events([_pii_event(i, email, account=12345678 + i % 2)])
        assert r.json() == {"accepted": 1, "rejected": []}, r.text
    server.settle()

    def expected(value: object) -> str:
        return "pii:" + hmac.new(key.encode(), str(value).encode(), hashlib.sha256).hexdigest()[:32]

    sample = server.client.get("/v1/models/credit/events", params={"limit": 100, "to": NOW + 60}).json()
    by_id = {e["request_id"]: e["features"] for e in sample["events"]}
    assert {rid: f["email"] for rid, f in by_id.items()} == {
        f"r{i}": expected(email) for i, email in enumerate(emails)
    }
    assert by_id["r0"]["email"] == by_id["r2"]["email"] != by_id["r1"]["email"]
    assert by_id["r0"]["account"] == expected(12345678) != by_id["r1"]["account"]
    assert all("phone" not in f for f in by_id.values())  # redact: drop
    assert {row["email"] for row in server.logged_rows()} == {expected(e) for e in emails}
    text = _all_text(server)
    for raw in (*emails, "7946", "12345678"):
        assert raw not in text


def test_pii_sent_as_a_segment_tag_is_redacted_too(
    serve: Callable[..., Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_PII_KEY", "k")
    server = serve(PII_CONFIG)
    record = _pii_event(0, "ann@example.com")
    record["segments"] = {"email": "carl@example.net", "phone": "+1 415 555 0100", "tier": "gold"}
    r = server.events([record])
    assert r.json() == {"accepted": 1, "rejected": []}, r.text
    server.settle()
    [row] = server.logged_rows()
    assert row["#email"].startswith("pii:") and "#phone" not in row and row["#tier"] == "gold"
    text = _all_text(server)
    assert "carl@example.net" not in text and "555 0100" not in text


def test_pii_is_dropped_without_a_key(serve: Callable[..., Server]) -> None:
    server = serve(PII_CONFIG.replace('security: {pii_key: "${TEST_PII_KEY}"}\n', ""))
    r = server.events([_pii_event(0, "ann@example.com", account=99887766)])
    assert r.json() == {"accepted": 1, "rejected": []}
    server.settle()
    [row] = server.logged_rows()
    assert "email" not in row and "phone" not in row and "account" not in row
    assert row["income"] == 0.0
    text = _all_text(server)
    assert "ann@example.com" not in text and "99887766" not in text


def test_scrubbed_text_loses_emails_phones_cards_and_ips(
    serve: Callable[..., Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_PII_KEY", "k")
    server = serve(PII_CONFIG)
    notes = {
        "mail jo.smith+x@mail.example.co.uk now": "mail [EMAIL] now",
        "call +44 20 7946 0958 or (555) 123-4567": "call [PHONE] or [PHONE]",
        "card 4111 1111 1111 1111 and 5500-0000-0000-0004": "card [CARD] and [CARD]",
        "from 192.168.10.20 via 2001:db8::8a2e:370:7334": "from [IP] via [IP]",
        "order 1234 5678 9012 3456 shipped": "order 1234 5678 9012 3456 shipped",  # fails Luhn
        "nothing to hide": "nothing to hide",
    }
    r = server.events([_pii_event(i, "x@y.zz", note=note) for i, note in enumerate(notes)])
    assert r.json()["accepted"] == len(notes), r.text
    server.settle()
    stored = {row["request_id"]: row["note"] for row in server.logged_rows()}
    assert stored == {f"r{i}": want for i, want in enumerate(notes.values())}
    text = _all_text(server)
    for secret in ("jo.smith", "7946", "123-4567", "4111 1111", "5500-0000", "192.168", "2001:db8"):
        assert secret not in text


def test_prompts_completions_and_errors_are_scrubbed_by_default(serve: Callable[..., Server]) -> None:
    server = serve(
        """
models:
  chat: {task: llm, owner: {team: t}, features: {user_id: {role: id}, tier: {type: categorical}}}
  raw: {task: llm, owner: {team: t}, scrub: false, features: {note: {type: text, scrub: true}}}
  credit: {task: binary, owner: {team: t}, features: {host: {type: categorical}, memo: {type: text}}}
"""
    )
    said = "I am jo@example.com, call me on +44 20 7946 0958"
    answer = "Sure: I will write to jo@example.com from 10.0.0.7"
    failed = "card 4111 1111 1111 1111 declined for jo@example.com"
    r = server.events(
        [
            {
                "model": model,
                "request_id": f"{model}-1",
                "timestamp": NOW - 30,
                "features": {"prompt": said, "user_id": "u-4155550100", "tier": "gold", "note": said},
                "prediction": answer,
                "error": failed,
            }
            for model in ("chat", "raw")
        ]
        + [
            {
                "model": "credit",
                "request_id": "credit-1",
                "timestamp": NOW - 30,
                "features": {"host": "10.0.0.7", "memo": said},
                "prediction": 1,
                "error": failed,
            }
        ]
    )
    assert r.json() == {"accepted": 3, "rejected": []}, r.text
    server.settle()
    rows = {row["request_id"]: row for row in server.logged_rows()}
    chat, raw, credit = rows["chat-1"], rows["raw-1"], rows["credit-1"]
    assert chat["prompt"] == "I am [EMAIL], call me on [PHONE]"  # an LLM's undeclared text: its prompt
    assert chat["@prediction"] == "Sure: I will write to [EMAIL] from [IP]"
    assert chat["error"] == "card [CARD] declined for [EMAIL]"
    assert (chat["user_id"], chat["tier"]) == ("u-4155550100", "gold")  # an id, a category: as sent
    assert (raw["prompt"], raw["@prediction"], raw["error"]) == (said, answer, failed)  # scrub: false
    assert raw["note"] == "I am [EMAIL], call me on [PHONE]"  # but a field marked scrub: true still is
    assert credit["error"] == "card [CARD] declined for [EMAIL]"  # errors of every model
    assert credit["memo"] == "I am [EMAIL], call me on [PHONE]"  # declared text
    assert credit["host"] == "10.0.0.7"  # a declared category is left as sent


def test_env_reference_for_a_missing_key_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEST_PII_KEY", raising=False)
    with pytest.raises(Exception, match="TEST_PII_KEY"):
        parse_config(PII_CONFIG)


def test_admin_model_registration_with_a_bad_body_is_a_client_error(server: Server) -> None:
    for body in (b"{", b"[1]", b'{"name": "m2", "task": "poetry", "owner": {"team": "t"}}'):
        r = server.client.post("/v1/models", content=body, headers=JSON)
        assert 400 <= r.status_code < 500, (body, r.text)
    r = server.client.post("/v1/models", json={"name": "m2", "task": "binary", "owner": {"team": "t"}})
    assert r.status_code == 201, r.text
    assert server.events([{"model": "m2", "score": 0.1}]).json()["accepted"] == 1
    r = server.client.post("/v1/models", json={"name": "credit", "task": "binary", "owner": {"team": "t"}})
    assert r.status_code == 409


def test_a_retried_request_with_the_same_idempotency_key_is_stored_once(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from vigil.config import parse_config
    from vigil.server.app import create_app
    from vigil.store.sqlite import SQLiteStore

    config = parse_config("models:\n  m: {task: binary, owner: {team: t}}\n")
    app = create_app(config, SQLiteStore(tmp_path / "i.db"), flush_every=0.05)
    events = [{"model": "m", "request_id": f"r{i}", "features": {"x": float(i)}} for i in range(50)]
    with TestClient(app) as client:
        first = client.post("/v1/events", json=events, headers={"Idempotency-Key": "batch-7"})
        again = client.post("/v1/events", json=events, headers={"Idempotency-Key": "batch-7"})  # answer lost
        other = client.post("/v1/events", json=events[:5], headers={"Idempotency-Key": "batch-8"})
        assert first.json() == again.json() == {"accepted": 50, "rejected": []}
        assert other.json()["accepted"] == 5
        assert app.state.vigil.aggregator.wait_idle()
        series = client.get("/v1/models/m/metrics", params={"names": "events", "step": "1d"}).json()["series"]
    assert sum(v or 0 for _, v in series["events"]) == 55  # the retry counted once


def test_one_request_for_a_regression_and_an_llm_keeps_both(serve: Callable[..., Server]) -> None:
    # the SDK batches every model into one request: the LLM's text answers must not make the
    # regression's numbers text, nor get them rejected
    s = serve(
        """
models:
  reg: {task: regression, owner: {team: t}}
  chat: {task: llm, owner: {team: t}}
"""
    )
    events = [
        {"model": "reg", "request_id": "a", "timestamp": NOW - 30, "prediction": 307.25},
        {"model": "chat", "request_id": "b", "timestamp": NOW - 30, "prediction": "Hello, how can I help?"},
        {"model": "reg", "request_id": "c", "timestamp": NOW - 30, "prediction": 12},
        {"model": "reg", "request_id": "d", "timestamp": NOW - 30, "prediction": "not a number"},
    ]
    r = s.events(events)
    assert r.status_code == 200, r.text
    assert rejected(r) == {3: [("prediction", "a regression model predicts numbers, got 'not a number'")]}
    assert s.count("reg") == 2 and s.count("chat") == 1
    s.post(
        "/v1/labels",
        [
            {"model": "reg", "request_id": "a", "label": 300.25},
            {"model": "reg", "request_id": "c", "label": 10},
        ],
    )
    s.settle()
    got = s.client.get(
        "/v1/models/reg/metrics", params={"names": "mae", "step": "1d", "from": NOW - 86_400, "to": NOW + 60}
    ).json()["series"]["mae"]
    assert [v for _, v in got if v is not None] == [pytest.approx((7.0 + 2.0) / 2)]


# -- one bad value is one rejection, whatever the path; concurrent requests never mix ------------------------


@pytest.mark.parametrize(
    "timestamp",
    ["1500-01-01T00:00:00Z", "2300-01-01T00:00:00Z", "1677-09-21T00:12:43Z", "0001-01-01T00:00:00Z"],
)
def test_a_timestamp_past_the_years_arrow_parses_is_one_rejection(server: Server, timestamp: str) -> None:
    batch = [event(i, timestamp=f"2027-01-15T07:59:{i % 60:02}Z") for i in range(499)]
    batch.append(event(499, timestamp=timestamp))  # all strings: the vectorised path parses them
    r = server.events(batch)
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 499
    assert [(x["index"], x["field"]) for x in r.json()["rejected"]] == [(499, "timestamp")]
    assert server.count() == 499


def test_concurrent_requests_of_different_shapes_are_each_stored_as_sent(server: Server) -> None:
    shapes: list[Callable[[int], dict[str, Any]]] = [
        lambda i: event(i, features={"income": 1.5 + i, "region": "eu"}),
        lambda i: event(i, features={"income": i, "flag": i % 2 == 0}, probabilities={"0": 0.25, "1": 0.75}),
        lambda i: event(i, features={"note": f"n{i}"}, segments={"tier": "gold"}, score=None),
    ]
    ingestor = server.app.state.vigil.ingestor
    sent: dict[str, dict[str, Any]] = {}
    errors: list[BaseException] = []
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads change hands often, as under load

    def post(k: int) -> None:
        try:
            for n in range(60):
                shape = shapes[(n + k) % 3]
                batch = [shape(i) for i in range(3)]
                for i, record in enumerate(batch):
                    record["request_id"] = f"{k}-{n}-{i}"
                    sent[record["request_id"]] = record
                result = ingestor.events(orjson.dumps(batch), "application/json", None)
                assert result.accepted == 3, result.to_dict()
        except BaseException as exc:  # reported by the test's thread
            errors.append(exc)

    try:
        threads = [threading.Thread(target=post, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(switch)
    assert errors == []
    rows = server.logged_rows()
    assert len(rows) == len(sent) == 4 * 60 * 3
    for row in rows:
        record = sent[row["request_id"]]
        stored = {k: v for k, v in row.items() if k in ("income", "region", "flag", "note") and v is not None}
        assert stored == record["features"], (row, record)
        assert type(stored.get("flag", False)) is bool
        if "probabilities" in record:
            assert json.loads(row["probabilities"]) == record["probabilities"]


def test_a_boolean_after_numbers_stays_a_boolean_and_new_class_names_are_kept(server: Server) -> None:
    first = event(0, features={"flag": 0.5}, probabilities={"0": 0.2, "1": 0.8})
    then = event(1, features={"flag": True}, probabilities={"0": 0.2, "1": 0.7, "2": 0.1})
    assert server.events([first]).json()["accepted"] == 1
    assert server.events([then]).json()["accepted"] == 1
    row = server.logged_rows()[1]
    assert row["flag"] is True
    assert json.loads(row["probabilities"]) == {"0": 0.2, "1": 0.7, "2": 0.1}


# -- gzip: every member, nothing after the last ------------------------------------------------------------


def test_a_gzip_body_of_several_members_is_read_to_the_end(server: Server) -> None:
    a = gzip.compress(b"\n".join(orjson.dumps(event(i)) for i in range(10)) + b"\n")
    b = gzip.compress(b"\n".join(orjson.dumps(event(i)) for i in range(10, 25)))
    r = server.events(a + b, {"content-encoding": "gzip", **NDJSON})  # what `cat a.gz b.gz` makes
    assert r.status_code == 200, r.text
    assert r.json() == {"accepted": 25, "rejected": []}
    text = orjson.dumps([event(i) for i in range(25, 40)])
    split = gzip.compress(text[:100]) + gzip.compress(text[100:200]) + gzip.compress(text[200:])
    assert server.events(split, {"content-encoding": "gzip"}).json()["accepted"] == 15
    assert server.count() == 40


@pytest.mark.parametrize("after", [b"garbage", b"\x00\x00\x00\x00", b"\x1f"])
def test_bytes_after_the_gzip_data_are_refused(server: Server, after: bytes) -> None:
    body = gzip.compress(orjson.dumps([event(i) for i in range(5)])) + after
    r = server.events(body, {"content-encoding": "gzip"})
    assert r.status_code == 400, r.text
    assert "after the end of its gzip data" in r.json()["error"]
    assert server.logged_rows() == []


def test_a_gzip_bomb_in_many_members_is_413_without_inflating_it_all(
    serve: Callable[..., Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    limit = 1_000_000
    server = serve(limits=Limits(max_body_bytes=limit))
    member = gzip.compress(b" " * 300_000, 9)
    bomb = gzip.compress(b"[", 9) + member * 200  # 60 MB inflated, in 201 members
    assert len(bomb) < limit
    inflated = 0
    real = zlib.decompressobj

    class Spy:
        def __init__(self, *args: Any) -> None:
            self.inner = real(*args)

        def decompress(self, data: bytes, max_length: int = 0) -> bytes:
            nonlocal inflated
            out = self.inner.decompress(data, max_length)
            inflated += len(out)
            return out

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

    monkeypatch.setattr(zlib, "decompressobj", Spy)  # the module vigil.ingest.validate inflates with
    r = server.events(bomb, {"content-encoding": "gzip"})
    assert r.status_code == 413
    assert r.json()["limit"] == limit
    assert inflated <= 2 * limit


# -- idempotency keys name one request body ------------------------------------------------------------------


def test_a_used_idempotency_key_with_another_body_is_409(server: Server) -> None:
    events = [event(i) for i in range(20)]
    key = {"Idempotency-Key": "batch-7"}
    assert server.events(events[:10], key).json() == {"accepted": 10, "rejected": []}
    r = server.events(events[10:], key)
    assert r.status_code == 409, r.text
    assert "Idempotency-Key 'batch-7'" in r.json()["error"] and "different body" in r.json()["error"]
    assert r.json()["idempotency_key"] == "batch-7"
    assert server.count() == 10  # nothing of the second body stored
    again = gzip.compress(json.dumps(events[:10]).encode())  # the same body, compressed this time: a retry
    r = server.events(again, {**key, "content-encoding": "gzip"})
    assert r.json() == {"accepted": 10, "rejected": []}
    assert server.count() == 10


def test_an_idempotency_key_outlives_the_ingest_log(server: Server) -> None:
    events = [event(i) for i in range(10)]
    key = {"Idempotency-Key": "file-abc-0"}
    assert server.events(events, key).json()["accepted"] == 10
    server.settle()
    assert server.store.prune_log("main", upto=10**9, before=NOW + 86_400) == 1  # the log let it go
    assert server.events(events, key).json() == {"accepted": 10, "rejected": []}  # sent again a day later
    assert server.logged_rows() == []
    assert server.count() == 10


# -- numbers and label times that would corrupt a window -----------------------------------------------------


def test_numbers_too_large_for_a_windows_statistics_are_refused_per_record(server: Server) -> None:
    batch = [
        event(0),
        event(1, score=1e308),
        event(2, latency_ms=1e300),
        event(3, features={"income": 1e200, "region": "eu"}),
        event(4, cost=1e150),
        event(5, probabilities={"0": 0.5, "1": 1e308}),
        event(6, tokens_in=2**62),
        event(7, prediction=-1e308),
        event(8),
    ]
    r = server.events(batch)
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 2
    bad = rejected(r)
    assert {i: [f for f, _ in p] for i, p in bad.items()} == {
        1: ["score"],
        2: ["latency_ms"],
        3: ["features.income"],
        4: ["cost"],
        5: ["probabilities.1"],
        6: ["tokens_in"],
        7: ["prediction"],
    }
    assert bad[1][0][1].startswith("1e+308 is too large: numbers are limited to ±1e+100")
    assert "1,000,000,000" in bad[6][0][1]
    server.settle()
    score = server.client.get(
        "/v1/models/credit/metrics",
        params={"names": "score_mean", "step": "1d", "from": NOW - 86_400, "to": NOW + 60},
    ).json()["series"]["score_mean"]
    assert [v for _, v in score if v is not None] == [0.5]  # a mean, not null


def test_label_timestamps_are_checked_like_event_timestamps(server: Server) -> None:
    labels = [
        {"model": "credit", "request_id": "r0", "label": 1, "timestamp": NOW - 10},
        {"model": "credit", "request_id": "r1", "label": 1, "timestamp": NOW + 2 * 3600},
        {"model": "credit", "request_id": "r2", "label": 0, "timestamp": NOW - 40 * 86_400},
        {"model": "credit", "request_id": "r3", "label": 0, "timestamp": "9999-12-30T00:00:00Z"},
        {"model": "credit", "request_id": "r4", "label": 0},
        {"model": "credit", "request_id": "r5", "label": 1e308},
    ]
    r = server.post("/v1/labels", labels)
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 2
    bad = rejected(r)
    assert {i: [f for f, _ in p] for i, p in bad.items()} == {
        1: ["timestamp"],
        2: ["timestamp"],
        3: ["timestamp"],
        5: ["label"],
    }
    assert "more than an hour ahead" in bad[1][0][1]
    assert "older than the model's retention of predictions (30 days)" in bad[2][0][1]
    assert sorted(row.request_id for row in server.store.labels("credit", 0)) == ["r0", "r4"]
