"""The OpenAPI document describes the answers: every route's success answer has a schema, and the answers
of a walk through every route carry the keys their schema declares and no other."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.fakes import FakeClock
from vigil.config import parse_config
from vigil.server.app import create_app
from vigil.store.sqlite import SQLiteStore

T0 = 1_800_000_000.0 - 1_800_000_000.0 % 3600
ADMIN = {"Authorization": "Bearer ana-key"}
OTHER = {"Authorization": "Bearer bo-key"}
INGEST = {"Authorization": "Bearer ingest-key"}


def _config(tmp: Path, hook: str) -> str:
    rng = np.random.default_rng(1)
    baseline = pd.DataFrame({"income": rng.lognormal(10, 0.5, 1000), "prediction": rng.integers(0, 2, 1000)})
    baseline.to_parquet(tmp / "base.parquet")
    return f"""
security:
  api_keys:
    admin: [{{name: ana, key: ana-key}}, {{name: bo, key: bo-key}}]
    ingest: [{{name: scorer, key: ingest-key}}]
models:
  m:
    task: binary
    owner: {{team: risk, contact: "#risk"}}
    window: 1m
    versions: [v1, v2]
    baseline: {{file: {tmp / "base.parquet"}}}
    features: {{income: {{type: numeric}}}}
  h: {{task: binary, owner: {{team: risk}}, window: 1m, versions: [v1, v2], high_impact: true}}
rules:
  - {{name: ErrorsHigh, model: m, metric: error_rate, warning: 0.05, critical: 0.5, window: 1m}}
slos:
  - {{name: m-avail, model: m, sli: availability, target: 0.99, window: 1d}}
actions:
  - {{name: rollback, model: "*", kind: rollback, webhook: "{hook}/deploy", cooldown: 0}}
alerting:
  evaluate_every: 1h
  default_rules: false
  maintenance:
    - name: nightly
      matchers: ['model="h"']
      weekly: {{days: [sun], start: "02:00", duration: 1h}}
      comment: backups
"""


@pytest.fixture
def app(tmp_path: Path) -> Iterator[FastAPI]:
    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    hook = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    store = SQLiteStore(tmp_path / "v.db")
    config = parse_config(_config(tmp_path, f"http://127.0.0.1:{hook.server_address[1]}"))
    yield create_app(config, store, clock=FakeClock(T0 + 55), flush_every=0.05, root=tmp_path)
    store.close()
    hook.shutdown()


def _resolve(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        found: dict[str, Any] = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
        schema = found
    return schema


def _undescribed(value: Any, schema: dict[str, Any], spec: dict[str, Any], where: str) -> list[str]:
    """Where ``value`` has a key its schema does not declare, or lacks one it requires."""
    schema = _resolve(schema, spec)
    if "anyOf" in schema:
        return min((_undescribed(value, s, spec, where) for s in schema["anyOf"]), key=len)
    if isinstance(value, dict) and "properties" in schema:
        declared = schema["properties"]
        out = [f"{where}.{k} (undeclared)" for k in value if k not in declared]
        out += [f"{where}.{k} (missing)" for k in schema.get("required", ()) if k not in value]
        for k, v in value.items():
            if k in declared:
                out += _undescribed(v, declared[k], spec, f"{where}.{k}")
        return out
    if isinstance(value, dict) and isinstance(schema.get("additionalProperties"), dict):
        inner = schema["additionalProperties"]
        return [p for k, v in value.items() for p in _undescribed(v, inner, spec, f"{where}[{k}]")]
    if isinstance(value, list) and "prefixItems" in schema:
        pairs = zip(value, schema["prefixItems"], strict=False)
        return [p for i, (v, s) in enumerate(pairs) for p in _undescribed(v, s, spec, f"{where}[{i}]")]
    if isinstance(value, list) and "items" in schema:
        return [
            p for i, v in enumerate(value) for p in _undescribed(v, schema["items"], spec, f"{where}[{i}]")
        ]
    return []


def test_every_success_answer_has_a_schema(app: FastAPI) -> None:
    spec = app.openapi()
    operations = [(m, p, op) for p, ops in spec["paths"].items() for m, op in ops.items()]
    assert len(operations) >= 39
    for method, path, op in operations:
        codes = [c for c in op["responses"] if c.startswith("2")]
        assert len(codes) == 1, (method, path, codes)
        content = op["responses"][codes[0]].get("content")
        assert content, (method, path)
        for media, body in content.items():
            schema = _resolve(body.get("schema") or {}, spec)
            if media == "application/json":
                assert "properties" in schema, (method, path, schema)
            else:
                assert schema == {"type": "string"}, (method, path, media)


def test_the_answers_are_what_the_document_says(app: FastAPI) -> None:
    spec = app.openapi()
    checked: set[tuple[str, str]] = set()

    def call(method: str, template: str, headers: dict[str, str] = ADMIN, **kwargs: Any) -> Any:
        path = template.format(**kwargs.pop("path", {}))
        answer = client.request(method, path, headers=headers, **kwargs)
        assert answer.status_code < 300, (method, path, answer.text)
        op = spec["paths"][template][method.lower()]
        (code,) = [c for c in op["responses"] if c.startswith("2")]
        assert str(answer.status_code) == code, (method, path)
        if answer.headers["content-type"].startswith("application/json"):
            schema = op["responses"][code]["content"]["application/json"]["schema"]
            assert _undescribed(answer.json(), schema, spec, f"{method} {template}") == []
            checked.add((method, template))
        return answer.json() if answer.headers["content-type"].startswith("application/json") else None

    with TestClient(app) as client:
        events = [
            {
                "model": "m",
                "timestamp": T0 + i / 4,
                "request_id": f"r{i}",
                "latency_ms": 10.0 + i,
                "prediction": i % 2,
                "features": {"income": 30_000.0 + i},
                **({"error": "Timeout"} if i % 5 == 0 else {}),
            }
            for i in range(100)
        ]
        call("POST", "/v1/events", INGEST, json=events)
        call("POST", "/v1/labels", INGEST, json=[{"model": "m", "request_id": "r1", "label": 1}])
        call("POST", "/v1/feedback", INGEST, json=[{"model": "m", "request_id": "r1", "thumb": "up"}])
        call("POST", "/v1/host-metrics", INGEST, json=[{"model": "m", "host": "a", "cpu_percent": 5}])
        span: dict[str, Any] = {
            "traceId": "ab" * 16,
            "spanId": "cd" * 8,
            "startTimeUnixNano": str(int(T0 * 1e9)),
        }
        span["attributes"] = [{"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}}]
        service = {"key": "service.name", "value": {"stringValue": "nobody"}}  # rejected: partial success
        export = {
            "resourceSpans": [{"resource": {"attributes": [service]}, "scopeSpans": [{"spans": [span]}]}]
        }
        call("POST", "/v1/traces", INGEST, json=export)
        verdict = [
            {"key": "gen_ai.evaluation.name", "value": {"stringValue": "relevance"}},
            {"key": "gen_ai.evaluation.score.value", "value": {"doubleValue": 0.5}},
        ]
        record = {"traceId": "ab" * 16, "eventName": "gen_ai.evaluation.result", "attributes": verdict}
        logs = {
            "resourceLogs": [{"resource": {"attributes": [service]}, "scopeLogs": [{"logRecords": [record]}]}]
        }
        call("POST", "/v1/logs", INGEST, json=logs)  # an unknown service: partial success
        call("POST", "/v1/metrics", INGEST, json={"resourceMetrics": []})
        assert app.state.vigil.aggregator.wait_idle(10)
        call("GET", "/v1/models")
        call("POST", "/v1/models", json={"name": "new", "task": "binary", "owner": {"team": "x"}})
        call("GET", "/v1/models/{model}", path={"model": "m"})
        around = {"from": str(T0 - 60), "to": str(T0 + 120)}
        for kind in ("metrics", "drift", "events", "slices", "quality", "spenders"):
            call("GET", f"/v1/models/{{model}}/{kind}", path={"model": "m"}, params=around)
        call("GET", "/v1/models/{model}/fairness", path={"model": "m"}, params={**around, "attributes": "g"})
        for now in (T0 + 60, T0 + 90):
            app.state.vigil.clock.now = now
            app.state.alerting.tick(now)
        fingerprint = call("GET", "/v1/alerts")["alerts"][0]["fingerprint"]
        made = call(
            "POST", "/v1/silences", json={"matchers": ['model="x"'], "duration": "1h", "comment": "k"}
        )
        call("GET", "/v1/silences")
        call("DELETE", "/v1/silences/{id}", path={"id": made["id"]})
        incident = call("POST", "/v1/alerts/{fingerprint}/ack", path={"fingerprint": fingerprint})["id"]
        call(
            "POST",
            "/v1/alerts/{fingerprint}/verdict",
            path={"fingerprint": fingerprint},
            json={"verdict": True},
        )
        call("GET", "/v1/episodes")
        call("GET", "/v1/incidents")
        call("GET", "/v1/incidents/{id}", path={"id": incident})
        for change in ("ack", "notes", "resolve"):
            call("POST", f"/v1/incidents/{{id}}/{change}", OTHER, path={"id": incident}, json={"text": "t"})
        rule = {"model": "m", "metric": "latency_p95", "warning": 500, "window": "1m", "for": "2m"}
        call("PUT", "/v1/rules/{name}", path={"name": "Slow"}, json=rule)
        call("GET", "/v1/rules")
        call("DELETE", "/v1/rules/{name}", path={"name": "Slow"})
        call(
            "POST",
            "/v1/rules/test",
            json={"name": "ErrorsHigh", "model": "m", "from": T0 - 60, "to": T0 + 120},
        )
        call("GET", "/v1/review", params={"from": str(T0 - 3600), "to": str(T0 + 3600)})
        call("GET", "/v1/slos")
        call("POST", "/v1/actions/{name}/run", path={"name": "rollback"}, json={"model": "m", "reason": "r"})
        asked = call(
            "POST", "/v1/actions/{name}/run", path={"name": "rollback"}, json={"model": "h", "reason": "r"}
        )
        call("POST", "/v1/actions/runs/{id}/approve", OTHER, path={"id": asked["id"]})
        asked = call(
            "POST", "/v1/actions/{name}/run", path={"name": "rollback"}, json={"model": "h", "reason": "r"}
        )
        call("POST", "/v1/actions/runs/{id}/reject", OTHER, path={"id": asked["id"]})
        call("GET", "/v1/actions")
        call(
            "POST", "/v1/models/{model}/deploys", path={"model": "m"}, json={"version": "v3", "grace": "10m"}
        )
        call("GET", "/v1/annotations")
        window = {"matchers": ['model="m"'], "starts_at": T0, "ends_at": T0 + 600, "comment": "db"}
        call("PUT", "/v1/maintenance/{name}", path={"name": "db"}, json=window)
        call("GET", "/v1/maintenance")
        call("DELETE", "/v1/maintenance/{name}", path={"name": "db"})
        made = call("POST", "/v1/keys", json={"name": "cy", "role": "viewer"})
        call("GET", "/v1/keys")
        call("DELETE", "/v1/keys/{id}", path={"id": made["id"]})
        call("GET", "/v1/audit")
        call("GET", "/v1/procedure", params={"alert": "alertname=ErrorsHigh model=m severity=critical"})
        call("GET", "/healthz", headers={})
        call("GET", "/metrics", headers={})

    documented = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    assert documented - checked == {("GET", "/metrics")}  # its answer is text
