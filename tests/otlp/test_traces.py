"""Both encodings of one export request read the same: protobuf, and OTLP/JSON as the specification writes
it (ids in hex, int64 as strings, enums by number or by name)."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Status

from vigil.errors import InputError
from vigil.otlp.traces import JSON, PROTOBUF, decode


def _request() -> ExportTraceServiceRequest:
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.append(KeyValue(key="service.name", value=AnyValue(string_value="bot")))
    spans = rs.scope_spans.add().spans
    for i in range(3):
        s = spans.add(trace_id=bytes([i]) * 16, span_id=bytes([i + 1]) * 8, name="chat")
        s.start_time_unix_nano, s.end_time_unix_nano = (
            1_800_000_000_000_000_000 + i,
            1_800_000_000_500_000_000,
        )
        s.attributes.extend(
            [
                KeyValue(key="gen_ai.operation.name", value=AnyValue(string_value="chat")),
                KeyValue(key="gen_ai.usage.input_tokens", value=AnyValue(int_value=2**40 + i)),
                KeyValue(key="temperature", value=AnyValue(double_value=0.5)),
                KeyValue(key="stream", value=AnyValue(bool_value=True)),
                KeyValue(
                    key="stops",
                    value=AnyValue(array_value=ArrayValue(values=[AnyValue(string_value="\n")])),
                ),
            ]
        )
        if i == 2:
            s.status.code, s.status.message = Status.STATUS_CODE_ERROR, "boom"
    return req


def _otlp_json(req: ExportTraceServiceRequest, enums_by_name: bool) -> bytes:
    data: Any = json_format.MessageToDict(req, use_integers_for_enums=not enums_by_name)
    for span in data["resourceSpans"][0]["scopeSpans"][0]["spans"]:
        for key in ("traceId", "spanId"):
            span[key] = base64.b64decode(span[key]).hex()
    return orjson.dumps(data)


@pytest.mark.parametrize("enums_by_name", [False, True])
def test_protobuf_and_otlp_json_read_the_same(enums_by_name: bool) -> None:
    req = _request()
    from_protobuf = decode(req.SerializeToString(), PROTOBUF)
    assert decode(_otlp_json(req, enums_by_name), JSON) == from_protobuf
    assert [s.trace_id for s in from_protobuf] == ["00" * 16, "01" * 16, "02" * 16]
    assert [s.failed for s in from_protobuf] == [False, False, True] and from_protobuf[2].message == "boom"
    assert from_protobuf[1].attributes == {
        "gen_ai.operation.name": "chat",
        "gen_ai.usage.input_tokens": 2**40 + 1,
        "temperature": 0.5,
        "stream": True,
        "stops": ["\n"],
    }


def test_an_id_that_is_not_hex_or_a_body_that_is_not_a_request_says_so() -> None:
    bad = b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "not-hex"}]}]}]}'
    with pytest.raises(InputError, match="ids are hex in OTLP/JSON; got 'not-hex'"):
        decode(bad, JSON)
    with pytest.raises(InputError, match="OTLP/JSON"):
        decode(b"[1, 2]", JSON)
    with pytest.raises(InputError, match="protobuf"):
        decode(b"\xff\xff\xff", PROTOBUF)
    assert decode(b"", JSON) == [] and decode(b"", PROTOBUF) == []
