"""Shared fixtures for remediation actions: a real SQLite store, declared models, and one recording HTTP
server on 127.0.0.1 standing in for a deploy webhook and for an MLflow tracking server's two alias
endpoints (a fake only because MLflow is a third-party service)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from vigil.alerting.alert import Alert, AlertStatus
from vigil.spec import ModelSpec
from vigil.store import open_store
from vigil.store.base import Store

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
ALIAS_PATH = "/api/2.0/mlflow/registered-models/alias"

MODELS = {
    "credit": ModelSpec.model_validate(
        {"task": "binary", "owner": {"team": "risk"}, "versions": ["v1", "v2", "v3"], "live": "v3"}
    ),
    "loans": ModelSpec.model_validate(
        {"task": "binary", "owner": {"team": "risk"}, "versions": ["1", "2"], "high_impact": True}
    ),
    "fresh": ModelSpec.model_validate({"task": "regression", "owner": {"team": "ops"}, "versions": ["v1"]}),
}


def lookup(model: str) -> ModelSpec | None:
    return MODELS.get(model)


def alert(name: str, model: str = "credit", severity: str = "critical", starts_at: float = T0 - 600) -> Alert:
    labels = {"alertname": name, "model": model, "severity": severity, "metric": "accuracy"}
    return Alert(labels, AlertStatus.FIRING, starts_at)


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class FakeServer:
    """Webhook paths answer the next scripted (status, body), then 200 ``ok``. MLflow's alias endpoints
    keep ``aliases[(registered model, alias)] = version`` over ``versions[registered model]``."""

    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    script: list[tuple[int, bytes]] = field(default_factory=list)
    versions: dict[str, set[str]] = field(default_factory=dict)
    aliases: dict[tuple[str, str], str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reply(self, status: int, body: bytes = b"") -> None:
        self.script.append((status, body))

    def posts(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == "POST" and r.path == path]

    def mlflow(self, method: str, query: dict[str, list[str]], body: bytes) -> tuple[int, dict[str, Any]]:
        if method == "GET":
            name, alias = query.get("name", [""])[0], query.get("alias", [""])[0]
        else:
            data = json.loads(body)
            name, alias = data["name"], data["alias"]
        if name not in self.versions:
            return 404, _mlflow_error(f"Registered Model with name={name} not found")
        if method == "GET":
            version = self.aliases.get((name, alias))
            if version is None:
                return 404, _mlflow_error(f"Registered model alias {alias} not found.")
            return 200, {"model_version": {"name": name, "version": version, "aliases": [alias]}}
        version = str(data["version"])
        if version not in self.versions[name]:
            return 404, _mlflow_error(f"Model Version (name={name}, version={version}) not found")
        self.aliases[(name, alias)] = version
        return 200, {}


def _mlflow_error(message: str) -> dict[str, Any]:
    return {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": message}


@pytest.fixture
def server() -> Iterator[FakeServer]:
    fake = FakeServer()

    class Handler(BaseHTTPRequestHandler):
        def _handle(self, method: str) -> None:
            parts = urlsplit(self.path)
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            query = parse_qs(parts.query)
            with fake.lock:
                fake.requests.append(Recorded(method, parts.path, query, dict(self.headers), body))
                if parts.path == ALIAS_PATH:
                    status, data = fake.mlflow(method, query, body)
                    reply = json.dumps(data).encode()
                else:
                    status, reply = fake.script.pop(0) if fake.script else (200, b"ok")
            self.send_response(status)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(str(tmp_path / "v.db"))
    try:
        yield s
    finally:
        s.close()


@dataclass
class Events:
    """Records ``on_event`` calls."""

    calls: list[tuple[str, float, str, str, dict[str, Any]]] = field(default_factory=list)

    def __call__(self, model: str, at: float, actor: str, text: str, data: Any) -> None:
        self.calls.append((model, at, actor, text, dict(data)))

    @property
    def texts(self) -> list[str]:
        return [c[3] for c in self.calls]


@pytest.fixture
def events() -> Events:
    return Events()
