"""Log export requests read the same from protobuf and OTLP/JSON, and their records sorted: content held
for its span, evaluations, the rest ignored; metric requests counted."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue, KeyValueList

from vigil.errors import InputError
from vigil.otlp import logs, metrics
from vigil.otlp.content import Content, Pending
from vigil.otlp.wire import JSON, PROTOBUF


def _request() -> ExportLogsServiceRequest:
    req = ExportLogsServiceRequest()
    rl = req.resource_logs.add()
    rl.resource.attributes.append(KeyValue(key="service.name", value=AnyValue(string_value="bot")))
    records = rl.scope_logs.add().log_records
    content = KeyValueList(values=[KeyValue(key="content", value=AnyValue(string_value="hi"))])
    user = records.add(trace_id=b"\x01" * 16, span_id=b"\x02" * 8, event_name="gen_ai.user.message")
    user.time_unix_nano = 1_800_000_000_000_000_000
    user.body.kvlist_value.CopyFrom(content)
    verdict = records.add(trace_id=b"\x01" * 16, observed_time_unix_nano=1_800_000_001_000_000_000)
    verdict.attributes.extend(
        [
            KeyValue(key="event.name", value=AnyValue(string_value="gen_ai.evaluation.result")),
            KeyValue(key="gen_ai.evaluation.name", value=AnyValue(string_value="relevance")),
            KeyValue(key="gen_ai.evaluation.score.value", value=AnyValue(double_value=0.5)),
        ]
    )
    records.add().body.string_value = "a plain log line"
    return req


def _otlp_json(req: ExportLogsServiceRequest) -> bytes:
    data: Any = json_format.MessageToDict(req)
    for record in data["resourceLogs"][0]["scopeLogs"][0]["logRecords"]:
        for key in ("traceId", "spanId"):
            if key in record:
                record[key] = base64.b64decode(record[key]).hex()
    return orjson.dumps(data)


def test_protobuf_and_otlp_json_read_the_same_and_sort() -> None:
    req = _request()
    found = logs.decode(req.SerializeToString(), PROTOBUF)
    assert logs.decode(_otlp_json(req), JSON) == found
    assert [r.event for r in found] == ["gen_ai.user.message", "gen_ai.evaluation.result", ""]
    assert found[0].body == {"content": "hi"} and found[1].time_ns == 1_800_000_001_000_000_000
    pending = Pending()
    out = logs.sort(found, lambda service: f"model-of-{service}", pending)
    assert (out.records, out.content, out.ignored, out.rejected) == (3, 1, 1, 0)
    assert out.evaluations == [("model-of-bot", "01" * 16, "relevance", 0.5, 1_800_000_001.0)]
    assert pending.peek([("01" * 16, "02" * 8)]) == {("01" * 16, "02" * 8): Content(prompt="user: hi")}
    # content not kept: the content event is ignored, not held
    assert logs.sort(found, str, None).ignored == 2


def test_bodies_that_are_not_requests_say_so() -> None:
    with pytest.raises(InputError, match="ExportLogsServiceRequest in OTLP/JSON"):
        logs.decode(b"[1]", JSON)
    with pytest.raises(InputError, match="ids are hex"):
        logs.decode(b'{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"spanId": "xyz"}]}]}]}', JSON)
    with pytest.raises(InputError, match="protobuf"):
        logs.decode(b"\xff\xff\xff", PROTOBUF)


def test_metric_data_points_are_counted_in_both_encodings() -> None:
    req = ExportMetricsServiceRequest()
    scope = req.resource_metrics.add().scope_metrics.add()
    usage = scope.metrics.add(name="gen_ai.client.token.usage")
    for kind in ("input", "output"):
        point = usage.histogram.data_points.add(count=1, sum=10)
        point.attributes.append(KeyValue(key="gen_ai.token.type", value=AnyValue(string_value=kind)))
    scope.metrics.add(name="http.server.request.duration").histogram.data_points.add(count=1)
    scope.metrics.add(name="queue").gauge.data_points.add(as_int=3)
    expected = metrics.Counted(points=4, genai=2)
    assert metrics.count(req.SerializeToString(), PROTOBUF) == expected
    assert metrics.count(json_format.MessageToJson(req).encode(), JSON) == expected
