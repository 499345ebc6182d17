"""OTLP/HTTP trace ingest as an LLM application sends it: the real OpenTelemetry SDK and its OTLP exporter
(protobuf over HTTP) export spans to a real `vigil serve` process on its OTLP port; OTLP/JSON, gzip,
partial success and the refusals are checked through the same process with httpx."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode

from tests.server.live import _free_port

CONFIG = """
models:
  assistant:
    task: llm
    owner: {team: assistants}
otlp:
  services: {support-bot: assistant}
pricing:
  version: "2026-12"
  models:
    openai/gpt-4o: {input: 2.5, output: 10}
"""


class Serve:
    def __init__(self, tmp: Path, config: str = CONFIG) -> None:
        self.port, self.otlp = _free_port(), _free_port()
        self.url, self.otlp_url = f"http://127.0.0.1:{self.port}", f"http://127.0.0.1:{self.otlp}"
        (tmp / "vigil.yaml").write_text(config)
        vigil = str(Path(sys.executable).parent / "vigil")
        args = [vigil, "serve", "--config", str(tmp / "vigil.yaml"), "--store", str(tmp / "v.db")]
        args += ["--port", str(self.port), "--otlp-port", str(self.otlp), "--flush-every", "0.2"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.otlp_url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(
            "vigil serve did not start: " + (self.proc.stderr.read(2000).decode() if self.proc.stderr else "")
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def totals(self, names: str) -> dict[str, float]:
        """Each metric summed over the last day, once the counts have stopped moving."""
        last: dict[str, float] = {}
        for _ in range(60):
            r = httpx.get(self.url + "/v1/models/assistant/metrics", params={"names": names, "step": "1d"})
            got = {n: float(sum(v or 0 for _, v in s)) for n, s in r.json()["series"].items()}
            if got == last:
                return got
            last = got
            time.sleep(0.3)
        return last


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    s = Serve(tmp_path)
    try:
        yield s
    finally:
        s.stop()


def test_the_opentelemetry_sdk_exporter_sends_llm_spans_that_become_events(serve: Serve) -> None:
    os.environ.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    provider = TracerProvider(resource=Resource.create({"service.name": "support-bot"}))
    exporter = OTLPSpanExporter(endpoint=serve.otlp_url + "/v1/traces")  # protobuf over HTTP
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("POST /chat"):  # the HTTP handler: not an LLM call, not an event
        for i in range(10):
            with tracer.start_as_current_span("chat gpt-4o") as span:  # current GenAI conventions
                span.set_attributes(
                    {
                        "gen_ai.operation.name": "chat",
                        "gen_ai.provider.name": "openai",
                        "gen_ai.request.model": "gpt-4o",
                        "gen_ai.response.model": "gpt-4o-2024-08-06",
                        "gen_ai.usage.input_tokens": 100 + i,
                        "gen_ai.usage.output_tokens": 20,
                    }
                )
                if i < 2:  # an evaluator's verdict on the call: feedback on the trace's prediction
                    verdict: dict[str, str | float] = {
                        "gen_ai.evaluation.name": "relevance",
                        "gen_ai.evaluation.score.value": 0.25 + i,
                    }
                    span.add_event("gen_ai.evaluation.result", verdict)
        with tracer.start_as_current_span("completion") as span:  # the previous generation, failing
            span.set_attributes(
                {
                    "gen_ai.system": "anthropic",
                    "gen_ai.request.model": "claude",
                    "gen_ai.usage.prompt_tokens": 7,
                }
            )
            span.set_status(Status(StatusCode.ERROR, "rate limited"))
        with tracer.start_as_current_span("llm") as span:  # OpenInference
            span.set_attributes(
                {"openinference.span.kind": "LLM", "llm.model_name": "mistral", "llm.token_count.prompt": 3}
            )
    provider.force_flush()
    provider.shutdown()
    relevance = httpx.get(
        serve.url + "/v1/models/assistant/metrics", params={"names": "eval_score:relevance", "step": "1d"}
    ).json()["series"]["eval_score:relevance"]
    # both calls are of one trace, the prediction feedback joins: the trace's latest verdict counts
    assert [v for _, v in relevance if v is not None] == [1.25]
    totals = serve.totals("events,errors,tokens_in,tokens_out,cost")
    cost = totals.pop("cost")  # the ten gpt-4o calls priced by the table; the others are not in it
    assert cost == pytest.approx((1045 * 2.5 + 200 * 10) / 1e6, rel=1e-9)
    assert totals == {"events": 12.0, "errors": 1.0, "tokens_in": 1045 + 7 + 3, "tokens_out": 200.0}
    sample = httpx.get(serve.url + "/v1/models/assistant/events", params={"limit": 20}).json()["events"]
    models = sorted({e["segments"].get("llm_model") for e in sample})
    assert models == ["claude", "gpt-4o-2024-08-06", "mistral"]
    assert all(len(e["request_id"]) == 32 for e in sample)  # the trace id, for feedback to join
    priced = [e for e in sample if e["segments"].get("llm_model") == "gpt-4o-2024-08-06"]
    assert priced and all(e["segments"]["pricing"] == "2026-12" for e in priced)


def _json_span(trace: str, **attributes: Any) -> dict[str, Any]:
    now = time.time_ns()
    attrs = [
        {"key": k, "value": {"intValue": str(v)} if isinstance(v, int) else {"stringValue": v}}
        for k, v in attributes.items()
    ]
    return {
        "traceId": trace,
        "spanId": "00f067aa0ba902b7",
        "name": "chat",
        "startTimeUnixNano": str(now - 250_000_000),
        "endTimeUnixNano": str(now),
        "attributes": attrs,
        "status": {},
    }


def _request(service: str, *spans: dict[str, Any]) -> dict[str, Any]:
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]}
    return {
        "resourceSpans": [
            {"resource": resource, "scopeSpans": [{"scope": {"name": "t"}, "spans": list(spans)}]}
        ]
    }


def test_otlp_json_gzip_partial_success_and_refusals(serve: Serve) -> None:
    url = serve.otlp_url + "/v1/traces"
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    body = json.dumps(
        _request(
            "support-bot",
            _json_span(trace, **{"gen_ai.operation.name": "chat", "gen_ai.usage.input_tokens": 5}),
        )
    )
    r = httpx.post(
        url,
        content=gzip.compress(body.encode()),
        headers={"content-type": "application/json", "content-encoding": "gzip"},
    )
    assert r.status_code == 200 and r.headers["content-type"] == "application/json" and r.json() == {}, r.text
    assert serve.totals("events,tokens_in") == {"events": 1.0, "tokens_in": 5.0}

    # a service no model stands for: its spans rejected, the request not (partial success), in protobuf
    unknown = json.dumps(_request("billing", _json_span(trace, **{"gen_ai.operation.name": "chat"})))
    r = httpx.post(url, content=unknown, headers={"content-type": "application/json"})
    assert r.status_code == 200 and r.json()["partialSuccess"]["rejectedSpans"] == "1"
    assert "unknown model 'billing'" in r.json()["partialSuccess"]["errorMessage"]

    # a span with a bad value is rejected alone, and the answer says which and why
    bad = _json_span(trace, **{"gen_ai.operation.name": "chat", "gen_ai.usage.input_tokens": -4})
    r = httpx.post(
        url, content=json.dumps(_request("support-bot", bad)), headers={"content-type": "application/json"}
    )
    assert r.status_code == 200 and r.json()["partialSuccess"]["rejectedSpans"] == "1", r.text
    assert "tokens_in" in r.json()["partialSuccess"]["errorMessage"]

    r = httpx.post(url, content=b"\x00\x01not protobuf", headers={"content-type": "application/x-protobuf"})
    assert r.status_code == 400 and "protobuf" in r.text
    r = httpx.post(url, content=b"{}", headers={"content-type": "text/plain"})
    assert r.status_code == 415
    # an empty export is a success with nothing to say, in protobuf for a protobuf request
    r = httpx.post(url, content=b"", headers={"content-type": "application/x-protobuf"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/x-protobuf"
    assert not ExportTraceServiceResponse.FromString(r.content).HasField("partial_success")
