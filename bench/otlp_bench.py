"""OTLP ingest: LLM spans and GenAI log records per second into a real `vigil serve`, protobuf against
OTLP/JSON.

    .venv/bin/python bench/otlp_bench.py [--seconds 20] [--concurrency 4] [--spans 500]

`vigil serve --otlp-port` on an embedded store in a temporary folder; a load loop posts pre-encoded
export requests of `--spans` LLM spans each (GenAI attributes: operation, provider, request and response
model, input and output tokens; a tenth failing) from `--concurrency` connections for `--seconds` per
encoding, timing each acknowledgement. Then the same with a prompt and a completion on each span (an
e-mail and a phone number in the prompt: the scrubbing is in the figure), and `POST /v1/logs` requests of
as many content log records (a `gen_ai.user.message` and a `gen_ai.choice` per call, held for spans that
never come). Afterwards the events the server counted are checked against the spans acknowledged.
Prints one JSON line per signal and encoding.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
from google.protobuf import json_format
from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

sys.path.insert(0, str(Path(__file__).parent))
from ingest_bench import _free_port, start_serve

CONFIG = """
models:
  assistant:
    task: llm
    owner: {team: bench}
"""


def _kv(key: str, value: str | int) -> KeyValue:
    v = AnyValue(int_value=value) if isinstance(value, int) else AnyValue(string_value=value)
    return KeyValue(key=key, value=v)


PROMPT = "My order {i} has not arrived; write to jo.smith@example.com or call +44 20 7946 0958."
ANSWER = "I am sorry about order {i}: a replacement ships today."


def request(
    rng: np.random.Generator, n: int, start_ns: int, content: bool = False
) -> ExportTraceServiceRequest:
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.append(_kv("service.name", "assistant"))
    spans = rs.scope_spans.add().spans
    for i in range(n):
        s = Span(
            trace_id=rng.bytes(16),
            span_id=rng.bytes(8),
            name="chat gpt-4o",
            start_time_unix_nano=start_ns + i * 1000,
            end_time_unix_nano=start_ns + i * 1000 + int(rng.gamma(2.0, 300e6)),
        )
        s.attributes.extend(
            [
                _kv("gen_ai.operation.name", "chat"),
                _kv("gen_ai.provider.name", "openai"),
                _kv("gen_ai.request.model", "gpt-4o"),
                _kv("gen_ai.response.model", "gpt-4o-2024-08-06"),
                _kv("gen_ai.usage.input_tokens", int(rng.integers(50, 2000))),
                _kv("gen_ai.usage.output_tokens", int(rng.integers(10, 500))),
            ]
        )
        if content:
            s.attributes.extend(
                [_kv("gen_ai.prompt", PROMPT.format(i=i)), _kv("gen_ai.completion", ANSWER.format(i=i))]
            )
        if i % 10 == 0:
            s.status.code = Status.STATUS_CODE_ERROR
        spans.append(s)
    return req


def log_request(rng: np.random.Generator, n: int, start_ns: int) -> ExportLogsServiceRequest:
    """``n`` content log records: a user message and a choice for each of ``n // 2`` calls."""
    req = ExportLogsServiceRequest()
    rl = req.resource_logs.add()
    rl.resource.attributes.append(_kv("service.name", "assistant"))
    records = rl.scope_logs.add().log_records
    for i in range(n // 2):
        trace_id, span_id = rng.bytes(16), rng.bytes(8)
        for name, text in (("gen_ai.user.message", PROMPT), ("gen_ai.choice", ANSWER)):
            r = records.add(trace_id=trace_id, span_id=span_id, event_name=name, time_unix_nano=start_ns + i)
            r.body.kvlist_value.values.append(_kv("content", text.format(i=i)))
    return req


def otlp_json(req: Message) -> bytes:
    """OTLP/JSON: protobuf's JSON mapping with the ids as hex."""
    data: Any = json_format.MessageToDict(req)
    for resource in data.get("resourceSpans") or data.get("resourceLogs") or ():
        for scope in resource.get("scopeSpans") or resource.get("scopeLogs") or ():
            for item in scope.get("spans") or scope.get("logRecords") or ():
                for key in ("traceId", "spanId"):
                    item[key] = base64.b64decode(item[key]).hex()
    return orjson.dumps(data)


async def load(url: str, bodies: list[bytes], ctype: str, seconds: float, concurrency: int) -> dict[str, Any]:
    waits: list[float] = []
    acked = 0
    stop = time.monotonic() + seconds

    async def worker(k: int) -> None:
        nonlocal acked
        async with httpx.AsyncClient(timeout=60) as client:
            i = k
            while time.monotonic() < stop:
                t = time.perf_counter()
                r = await client.post(url, content=bodies[i % len(bodies)], headers={"content-type": ctype})
                waits.append(time.perf_counter() - t)
                if r.status_code == 200:
                    acked += 1
                i += concurrency

    began = time.monotonic()
    await asyncio.gather(*(worker(k) for k in range(concurrency)))
    return {"requests": acked, "seconds": time.monotonic() - began, "waits": waits}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--spans", type=int, default=500)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    now_ns = time.time_ns()
    starts = [now_ns - 600 * 10**9 + k * 10**9 for k in range(16)]
    runs: dict[tuple[str, str], list[Message]] = {
        ("spans", "/v1/traces"): [request(rng, args.spans, t) for t in starts],
        ("spans_with_content", "/v1/traces"): [request(rng, args.spans, t, content=True) for t in starts],
        ("log_records", "/v1/logs"): [log_request(rng, args.spans, t) for t in starts],
    }
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "vigil.yaml").write_text(CONFIG)
        port = _free_port()
        proc, _ = start_serve(Path(tmp) / "vigil.yaml", f"{tmp}/v.db", "--otlp-port", str(port))
        try:
            url = f"http://127.0.0.1:{port}"
            total = 0
            for (signal, path), requests in runs.items():
                for name, ctype, bodies in (
                    ("protobuf", "application/x-protobuf", [r.SerializeToString() for r in requests]),
                    ("json", "application/json", [otlp_json(r) for r in requests]),
                ):
                    got = asyncio.run(load(url + path, bodies, ctype, args.seconds, args.concurrency))
                    items = got["requests"] * args.spans
                    total += items if path == "/v1/traces" else 0
                    waits = np.array(got["waits"]) * 1000
                    size = sum(len(b) for b in bodies) / len(bodies)
                    rate = items / got["seconds"]
                    print(
                        f'{{"signal": "{signal}", "encoding": "{name}", "per_s": {rate:.0f}, '
                        f'"requests": {got["requests"]}, "request_bytes": {size:.0f}, '
                        f'"ack_p50_ms": {np.percentile(waits, 50):.1f}, '
                        f'"ack_p99_ms": {np.percentile(waits, 99):.1f}}}'
                    )
            counted = 0.0
            for _ in range(60):
                series = httpx.get(
                    url + "/v1/models/assistant/metrics", params={"names": "events", "step": "1d"}
                )
                now = float(sum(v or 0 for _, v in series.json()["series"]["events"]))
                if now == counted and now:
                    break
                counted = now
                time.sleep(1)
            print(f'{{"acknowledged_spans": {total}, "counted_events": {counted:.0f}}}')
        finally:
            proc.terminate()
            proc.wait(30)


if __name__ == "__main__":
    main()
