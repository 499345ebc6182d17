"""Content that comes after its span: the real OpenTelemetry SDK exports each span as it ends and the
call's content log events later (a batch log processor, as applications configure it), to a real
`vigil serve`. The drill-down shows the scrubbed late content on its event; no e-mail reaches the store.
Content sent to another server process than its span; content of a service no model stands for."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from tests.server.test_otlp import Serve
from tests.server.test_otlp_logs import _JSON, SPAN, TRACE, _app, _json_logs, _json_span, _sample

EMAIL = "jo.smith@example.com"
CONFIG = """
models:
  assistant: {task: llm, owner: {team: assistants}}
otlp:
  services: {support-bot: assistant}
"""


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    s = Serve(tmp_path, CONFIG)
    try:
        yield s
    finally:
        s.stop()


def _chat(tracer: Any, logger: Any, question: str, reply: str) -> str:
    with tracer.start_as_current_span("chat gpt-4o") as span:
        span.set_attributes({"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai"})
        logger.emit(event_name="gen_ai.user.message", body={"content": question})
        logger.emit(event_name="gen_ai.choice", body={"index": 0, "message": {"content": reply}})
        time.sleep(0.05)  # the two calls of the agent's trace apart in time
        return format(span.get_span_context().trace_id, "032x")


def test_content_exported_after_its_span_shows_scrubbed_in_the_drill_down(
    serve: Serve, tmp_path: Path
) -> None:
    os.environ.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    resource = Resource.create({"service.name": "support-bot"})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(endpoint=serve.otlp_url + "/v1/traces"))
    )
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(  # held until flushed: after the spans
        BatchLogRecordProcessor(
            OTLPLogExporter(endpoint=serve.otlp_url + "/v1/logs"), schedule_delay_millis=60_000
        )
    )
    tracer, logger = tracer_provider.get_tracer("app"), logger_provider.get_logger("app")
    alone = _chat(tracer, logger, f"Mail me at {EMAIL}", f"Wrote to {EMAIL}")
    with tracer.start_as_current_span("agent"):  # one trace, two LLM calls: each event gets its own content
        agent = _chat(tracer, logger, "first question", "first answer")
        _chat(tracer, logger, "second question", "second answer")
    tracer_provider.shutdown()

    def sample() -> list[dict[str, Any]]:
        r = httpx.get(serve.url + "/v1/models/assistant/events", params={"limit": 20})
        return list(r.json()["events"])

    for _ in range(100):  # the three events folded (in the background), without content yet
        if len(sample()) == 3:
            break
        time.sleep(0.1)
    assert [e.get("features", {}).get("prompt") for e in sample()] == [None] * 3
    logger_provider.shutdown()  # now the content: every span was stored before it

    by_prompt = {e["features"]["prompt"]: e for e in sample()}
    assert set(by_prompt) == {"user: Mail me at [EMAIL]", "user: first question", "user: second question"}
    assert by_prompt["user: Mail me at [EMAIL]"]["request_id"] == alone
    assert by_prompt["user: Mail me at [EMAIL]"]["prediction"] == "assistant: Wrote to [EMAIL]"
    assert by_prompt["user: first question"]["prediction"] == "assistant: first answer"
    assert by_prompt["user: second question"]["prediction"] == "assistant: second answer"
    assert by_prompt["user: second question"]["request_id"] == agent
    exposed = httpx.get(serve.url + "/metrics").text
    assert 'vigil_otlp_received_total{outcome="late_content",signal="log_records"} 6.0' in exposed
    serve.stop()

    db = sqlite3.connect(tmp_path / "v.db")  # every text the store holds: the content table, every table
    try:
        stored = db.execute("SELECT prompt, completion FROM llm_content").fetchall()
        tables = [t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        dump = "\n".join(db.iterdump())
    finally:
        db.close()
    assert len(stored) == 6 and ("user: Mail me at [EMAIL]", None) in stored
    assert "llm_content" in tables and "[EMAIL]" in dump
    assert "example.com" not in dump


def test_content_of_an_unknown_service_registers_it_with_a_text_prompt_or_is_refused(tmp_path: Path) -> None:
    user = {
        "traceId": TRACE,
        "spanId": SPAN,
        "eventName": "gen_ai.user.message",
        "body": {"stringValue": "hi"},
    }
    body = json.dumps(_json_logs("support-bot", user))
    with _app(tmp_path / "auto", "security:\n  auto_register: true\n") as client:
        r = client.post("/v1/logs", content=body, headers=_JSON)
        assert r.status_code == 200 and r.json() == {}
        model = client.get("/v1/models/support-bot").json()
        assert (model["task"], model["source"], model["features"]) == (
            "llm",
            "auto",
            {"prompt": {"type": "text"}},
        )
    with _app(tmp_path / "declared", "models: {}\n") as client:
        r = client.post("/v1/logs", content=body, headers=_JSON)
        assert r.status_code == 200
        assert r.json() == {
            "partialSuccess": {
                "rejectedLogRecords": "1",
                "errorMessage": "a gen_ai.user.message event of unknown model 'support-bot'",
            }
        }


def test_content_sent_to_another_process_shows_in_the_drill_down(tmp_path: Path) -> None:
    """Two servers on one store (as behind a load balancer): the logs reach one, the span the other."""
    user = {
        "traceId": TRACE,
        "spanId": SPAN,
        "eventName": "gen_ai.user.message",
        "timeUnixNano": str(time.time_ns() - 5 * 10**7),  # while the span (the last 100 ms) was open
        "body": {"stringValue": f"write to {EMAIL}"},
    }
    with _app(tmp_path, CONFIG) as logs_side, _app(tmp_path, CONFIG) as spans_side:
        r = logs_side.post("/v1/logs", content=json.dumps(_json_logs("support-bot", user)), headers=_JSON)
        assert r.status_code == 200 and r.json() == {}
        span = json.dumps(_json_span(TRACE, SPAN, **{"gen_ai.operation.name": "chat"}))
        r = spans_side.post("/v1/traces", content=span, headers=_JSON)
        assert r.status_code == 200 and r.json() == {}
        (event,) = _sample(spans_side)
        assert event["features"]["prompt"] == "user: write to [EMAIL]"
