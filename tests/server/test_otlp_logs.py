"""OTLP/HTTP logs and metrics as an LLM application sends them: the real OpenTelemetry SDK's OTLP log, span
and metric exporters (protobuf over HTTP) export to a real `vigil serve` process. Content log events join
their span's event, scrubbed before anything is stored; evaluation log events become scores; metrics are
accepted; OTLP/JSON, gzip, partial success and the content switch checked with httpx."""

from __future__ import annotations

import gzip
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from tests.server.test_otlp import CONFIG, Serve
from vigil.config import parse_config
from vigil.events import from_ipc
from vigil.server.app import create_app
from vigil.store.sqlite import SQLiteStore

EMAIL, PHONE = "jo.smith@example.com", "+44 20 7946 0958"


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    s = Serve(tmp_path)
    try:
        yield s
    finally:
        s.stop()


def _llm(span: Any, **extra: Any) -> None:
    span.set_attributes(
        {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o"}
        | extra
    )


def test_sdk_log_events_join_their_spans_scrubbed_and_metrics_are_accepted(
    serve: Serve, tmp_path: Path
) -> None:
    os.environ.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    resource = Resource.create({"service.name": "support-bot"})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(endpoint=serve.otlp_url + "/v1/traces"))
    )
    logger_provider = LoggerProvider(resource=resource)
    log_exporter = OTLPLogExporter(endpoint=serve.otlp_url + "/v1/logs")  # protobuf over HTTP
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(log_exporter))
    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=serve.otlp_url + "/v1/metrics"), export_interval_millis=60_000
    )
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    tracer, logger = tracer_provider.get_tracer("app"), logger_provider.get_logger("app")
    tokens = meter_provider.get_meter("app").create_histogram("gen_ai.client.token.usage", unit="{token}")

    # the previous conventions: one event per message, sent (SimpleLogRecordProcessor) before the span ends
    with tracer.start_as_current_span("chat gpt-4o") as span:
        _llm(span, **{"gen_ai.usage.input_tokens": 30, "gen_ai.usage.output_tokens": 12})
        logger.emit(event_name="gen_ai.system.message", body={"content": "You are a support agent."})
        logger.emit(event_name="gen_ai.user.message", body={"content": f"Mail me at {EMAIL} or call {PHONE}"})
        choice: Any = {
            "index": 0,
            "finish_reason": "stop",
            "message": {"role": "assistant", "content": f"Wrote to {EMAIL}"},
        }
        logger.emit(event_name="gen_ai.choice", body=choice)
        tokens.record(30, {"gen_ai.token.type": "input"})
        first = format(span.get_span_context().trace_id, "032x")
    # the current conventions' details event, named by the event.name attribute this time
    with tracer.start_as_current_span("chat gpt-4o") as span:
        _llm(span)
        messages = [{"role": "user", "parts": [{"type": "text", "content": f"my number is {PHONE}"}]}]
        answer = [
            {"role": "assistant", "parts": [{"type": "text", "content": "Noted."}], "finish_reason": "stop"}
        ]
        details = {
            "event.name": "gen_ai.client.inference.operation.details",
            "gen_ai.input.messages": json.dumps(messages),
            "gen_ai.output.messages": json.dumps(answer),
        }
        logger.emit(attributes=details)
        logger.emit(body="an application's own log line")  # not an event: accepted, ignored
        logger.emit(
            event_name="gen_ai.evaluation.result",
            attributes={"gen_ai.evaluation.name": "faithfulness", "gen_ai.evaluation.score.value": 0.75},
        )
        second = format(span.get_span_context().trace_id, "032x")
    # content on the span itself (OpenInference), and a content event after its span was ingested
    with tracer.start_as_current_span("llm") as span:
        span.set_attributes(
            {"openinference.span.kind": "LLM", "input.value": f"reach me: {EMAIL}", "output.value": "ok"}
        )
        late = span.get_span_context()
    with trace.use_span(trace.NonRecordingSpan(late)):
        logger.emit(event_name="gen_ai.user.message", body={"content": f"late: {EMAIL}"})

    for provider in (logger_provider, tracer_provider):
        provider.force_flush()
        provider.shutdown()
    meter_provider.shutdown()  # exports its one data point once

    sample = httpx.get(serve.url + "/v1/models/assistant/events", params={"limit": 20}).json()["events"]
    by_trace = {e["request_id"]: e for e in sample}
    assert len(sample) == 3, sample
    assert by_trace[first]["features"]["prompt"] == (
        "system: You are a support agent.\nuser: Mail me at [EMAIL] or call [PHONE]"
    )
    assert by_trace[first]["prediction"] == "assistant: Wrote to [EMAIL]"
    assert by_trace[second]["features"]["prompt"] == "user: my number is [PHONE]"
    assert by_trace[second]["prediction"] == "assistant: Noted."
    oi = next(e for e in sample if e["request_id"] not in (first, second))
    assert oi["features"]["prompt"] == "reach me: [EMAIL]" and oi["prediction"] == "ok"
    faithfulness = httpx.get(
        serve.url + "/v1/models/assistant/metrics", params={"names": "eval_score:faithfulness", "step": "1d"}
    ).json()["series"]["eval_score:faithfulness"]
    assert [v for _, v in faithfulness if v is not None] == [0.75]
    exposed = httpx.get(serve.url + "/metrics").text
    for line in (
        'vigil_otlp_received_total{outcome="content",signal="log_records"} 4.0',
        'vigil_otlp_received_total{outcome="late_content",signal="log_records"} 1.0',
        'vigil_otlp_received_total{outcome="evaluation",signal="log_records"} 1.0',
        'vigil_otlp_received_total{outcome="ignored",signal="log_records"} 1.0',
        'vigil_otlp_received_total{outcome="event",signal="spans"} 3.0',
        'vigil_otlp_received_total{outcome="genai_ignored",signal="data_points"} 1.0',
    ):
        assert line in exposed, "\n".join(x for x in exposed.splitlines() if "otlp" in x)
    serve.stop()

    # what the store holds: the durable log of every batch, every text column read (prompt, prediction)
    store = SQLiteStore(tmp_path / "v.db")
    try:
        entries = store.read_log("main", 0)
        texts = [
            str(v)
            for entry in entries
            for column in from_ipc(entry.payload).columns
            for v in column.to_pylist()
            if isinstance(v, str)
        ]
    finally:
        store.close()
    assert entries and any("[EMAIL]" in t for t in texts)
    assert not any("example.com" in t or "7946" in t for t in texts)


def _json_logs(service: str, *records: dict[str, Any]) -> dict[str, Any]:
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]}
    return {
        "resourceLogs": [
            {"resource": resource, "scopeLogs": [{"scope": {"name": "t"}, "logRecords": list(records)}]}
        ]
    }


def _json_span(trace: str, span: str, **attributes: str) -> dict[str, Any]:
    now = time.time_ns()
    attrs = [{"key": k, "value": {"stringValue": v}} for k, v in attributes.items()]
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": "support-bot"}}]}
    s = {
        "traceId": trace,
        "spanId": span,
        "name": "chat",
        "startTimeUnixNano": str(now - 10**8),
        "endTimeUnixNano": str(now),
        "attributes": attrs,
    }
    return {"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": [s]}]}]}


_JSON = {"content-type": "application/json"}
TRACE, SPAN = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"


def test_otlp_json_logs_gzip_partial_success_refusals_and_empty_metrics(tmp_path: Path) -> None:
    with _app(tmp_path, CONFIG) as client:
        _json_logs_checks(client)


def _json_logs_checks(client: TestClient) -> None:
    url = "/v1/logs"
    user = {
        "traceId": TRACE,
        "spanId": SPAN,
        "eventName": "gen_ai.user.message",
        "body": {"kvlistValue": {"values": [{"key": "content", "value": {"stringValue": f"I am {EMAIL}"}}]}},
    }
    r = client.post(
        url,
        content=gzip.compress(json.dumps(_json_logs("support-bot", user)).encode()),
        headers={"content-type": "application/json", "content-encoding": "gzip"},
    )
    assert r.status_code == 200 and r.headers["content-type"] == "application/json" and r.json() == {}, r.text
    r = client.post(url, content=json.dumps(_json_logs("support-bot", user)), headers=_JSON)  # a retry
    assert r.status_code == 200 and r.json() == {}
    r = client.post(
        "/v1/traces",
        content=json.dumps(_json_span(TRACE, SPAN, **{"gen_ai.operation.name": "chat"})),
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 200 and r.json() == {}, r.text
    sample = _sample(client)
    assert [e["features"]["prompt"] for e in sample] == ["user: I am [EMAIL]"]

    # an evaluation of a service no model stands for, and content without its span's ids: rejected, said why
    verdict = {
        "traceId": TRACE,
        "attributes": [
            {"key": "event.name", "value": {"stringValue": "gen_ai.evaluation.result"}},
            {"key": "gen_ai.evaluation.name", "value": {"stringValue": "relevance"}},
            {"key": "gen_ai.evaluation.score.value", "value": {"doubleValue": 0.5}},
        ],
    }
    orphan = {"eventName": "gen_ai.choice", "body": {"stringValue": "hi"}}
    plain = {"body": {"stringValue": "GET /health 200"}}
    body = {
        "resourceLogs": [
            *_json_logs("billing", verdict)["resourceLogs"],
            *_json_logs("support-bot", orphan, plain)["resourceLogs"],
        ]
    }
    r = client.post(url, content=json.dumps(body), headers={"content-type": "application/json"})
    partial = r.json()["partialSuccess"]
    assert r.status_code == 200 and partial["rejectedLogRecords"] == "2", r.text
    assert "unknown model 'billing'" in partial["errorMessage"] and "gen_ai.choice" in partial["errorMessage"]

    r = client.post(url, content=b"\x00\x01not protobuf", headers={"content-type": "application/x-protobuf"})
    assert r.status_code == 400 and "ExportLogsServiceRequest" in r.text
    r = client.post(url, content=b"[]", headers={"content-type": "application/json"})
    assert r.status_code == 400
    r = client.post(url, content=b"{}", headers={"content-type": "text/plain"})
    assert r.status_code == 415
    r = client.post(url, content=b"", headers={"content-type": "application/x-protobuf"})
    assert r.status_code == 200 and not ExportLogsServiceResponse.FromString(r.content).HasField(
        "partial_success"
    )

    metrics = "/v1/metrics"
    r = client.post(metrics, content=b"", headers={"content-type": "application/x-protobuf"})
    assert r.status_code == 200
    assert not ExportMetricsServiceResponse.FromString(r.content).HasField("partial_success")
    r = client.post(metrics, content=b'{"resourceMetrics": 3}', headers={"content-type": "application/json"})
    assert r.status_code == 400 and "resourceMetrics" in r.text


def test_keep_content_false_keeps_no_prompt_or_completion(tmp_path: Path) -> None:
    with _app(tmp_path, CONFIG.replace("otlp:\n", "otlp:\n  keep_content: false\n")) as client:
        user = {
            "traceId": TRACE,
            "spanId": SPAN,
            "eventName": "gen_ai.user.message",
            "body": {"stringValue": "hi"},
        }
        r = client.post("/v1/logs", content=json.dumps(_json_logs("support-bot", user)), headers=_JSON)
        assert r.status_code == 200 and r.json() == {}
        attributes = {
            "gen_ai.operation.name": "chat",
            "gen_ai.prompt": "secret",
            "gen_ai.completion": "answer",
        }
        r = client.post(
            "/v1/traces", content=json.dumps(_json_span(TRACE, SPAN, **attributes)), headers=_JSON
        )
        assert r.status_code == 200 and r.json() == {}
        (event,) = _sample(client)
        assert event["request_id"] == TRACE
        assert "prompt" not in event.get("features", {}) and event.get("prediction") is None, event


@contextmanager
def _app(tmp_path: Path, config: str) -> Iterator[TestClient]:
    """The real app in process on a real SQLite store (the real server is tested above)."""
    store = SQLiteStore(tmp_path / "v.db")
    try:
        with TestClient(create_app(parse_config(config), store, flush_every=0.1)) as client:
            yield client
    finally:
        store.close()


def _sample(client: TestClient) -> list[dict[str, Any]]:
    """The drill-down sample, once the events are folded (in the background)."""
    for _ in range(100):
        events: list[dict[str, Any]] = client.get("/v1/models/assistant/events").json()["events"]
        if events:
            return events
        time.sleep(0.1)
    return []


def test_a_span_refused_for_back_pressure_finds_its_content_again_when_retried(tmp_path: Path) -> None:
    with _app(tmp_path, CONFIG) as client:
        user = {
            "traceId": TRACE,
            "spanId": SPAN,
            "eventName": "gen_ai.user.message",
            "body": {"stringValue": "hi"},
        }
        r = client.post("/v1/logs", content=json.dumps(_json_logs("support-bot", user)), headers=_JSON)
        assert r.status_code == 200 and r.json() == {}
        aggregator = client.app.state.vigil.aggregator  # type: ignore[attr-defined]
        limit, aggregator.handover.max_pending_rows = aggregator.handover.max_pending_rows, 0
        assert aggregator.admit(1)  # something waits and there is no room: the next export is refused
        span = json.dumps(_json_span(TRACE, SPAN, **{"gen_ai.operation.name": "chat"}))
        r = client.post("/v1/traces", content=span, headers=_JSON)
        assert r.status_code == 503 and "retry-after" in r.headers
        aggregator.release(1)
        aggregator.handover.max_pending_rows = limit
        r = client.post("/v1/traces", content=span, headers=_JSON)  # the exporter's retry
        assert r.status_code == 200 and r.json() == {}
        assert [e["features"]["prompt"] for e in _sample(client)] == ["user: hi"]
