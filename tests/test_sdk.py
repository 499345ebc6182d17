"""The SDK against a real HTTP server on 127.0.0.1 that records what it receives and answers as told."""

from __future__ import annotations

import asyncio
import gzip
import importlib.util
import json
import logging
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest

from vigil.schema import Event, HostMetrics, Label
from vigil.sdk import Client, current_call

FAST: dict[str, Any] = {
    "flush_interval": 0.05,
    "backoff": 0.02,
    "max_backoff": 0.1,
    "host_metrics_every": None,
}
"""Client settings that keep the tests quick."""


@dataclass
class Answer:
    status: int = 200
    body: Any = None  # None: {"accepted": n, "rejected": []}
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    raw: bytes
    records: list[dict[str, Any]]
    status: int = 0


class Recorder:
    """A real HTTP server: decompresses and parses every POST, answers from ``plan`` (then 200)."""

    def __init__(self, port: int = 0) -> None:
        self.port = port or free_port()
        self.received: list[Received] = []
        self.plan: deque[Answer] = deque()
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Recorder:
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                body = gzip.decompress(raw) if self.headers.get("Content-Encoding") == "gzip" else raw
                if "ndjson" in self.headers.get("Content-Type", ""):
                    records = [json.loads(line) for line in body.splitlines()]
                else:
                    records = json.loads(body)
                got = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, raw, records)
                with recorder.lock:
                    answer = recorder.plan.popleft() if recorder.plan else Answer()
                    got.status = answer.status
                    recorder.received.append(got)
                if answer.delay:
                    time.sleep(answer.delay)
                payload = (
                    answer.body if answer.body is not None else {"accepted": len(records), "rejected": []}
                )
                data = json.dumps(payload).encode()
                try:
                    self.send_response(answer.status)
                    for key, value in answer.headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def records(self, path: str = "/v1/events", *, accepted_only: bool = True) -> list[dict[str, Any]]:
        with self.lock:
            return [
                r
                for got in self.received
                if got.path == path and (got.status < 300 or not accepted_only)
                for r in got.records
            ]

    def requests(self, path: str = "/v1/events") -> list[Received]:
        with self.lock:
            return [got for got in self.received if got.path == path]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


@pytest.fixture
def server() -> Iterator[Recorder]:
    recorder = Recorder().start()
    yield recorder
    recorder.stop()


@pytest.fixture
def make_client() -> Iterator[Callable[..., Client]]:
    made: list[Client] = []

    def make(url: str, api_key: str | None = None, **kwargs: Any) -> Client:
        client = Client(url, api_key, **{**FAST, **kwargs})
        made.append(client)
        return client

    yield make
    for client in made:
        client.close(timeout=0.5)


# -- delivery -------------------------------------------------------------------------------------------
def test_events_arrive_with_every_field_gzip_and_auth(
    server: Recorder, make_client: Callable[..., Client]
) -> None:
    client = make_client(server.url, "s3cret")
    client.log(
        "churn",
        features={"age": 42, "plan": "pro", "ratio": np.float64(0.25), "missing": float("nan")},
        prediction=1,
        score=0.93,
        probabilities={"0": 0.07, "1": 0.93},
        version="v2",
        request_id="req-1",
        timestamp=1_700_000_000.5,
        latency_ms=12.5,
        error=None,
        tokens_in=10,
        tokens_out=3,
        cost=0.002,
        segments={"region": "eu"},
    )
    client.log("churn", features={"age": 7})
    assert client.flush(timeout=5)
    first, second = server.records()
    assert first == {
        "model": "churn",
        "request_id": "req-1",
        "timestamp": 1_700_000_000.5,
        "features": {"age": 42, "plan": "pro", "ratio": 0.25, "missing": None},
        "prediction": 1,
        "score": 0.93,
        "probabilities": {"0": 0.07, "1": 0.93},
        "version": "v2",
        "latency_ms": 12.5,
        "tokens_in": 10,
        "tokens_out": 3,
        "cost": 0.002,
        "segments": {"region": "eu"},
    }
    assert set(second) == {"model", "request_id", "timestamp", "features"}
    assert abs(second["timestamp"] - time.time()) < 10
    assert second["request_id"] != first["request_id"]
    for record in (first, second):
        Event.model_validate(record)  # the server's own schema accepts what the SDK sends
    (request,) = server.requests()
    assert request.raw[:2] == b"\x1f\x8b"
    assert request.headers["content-encoding"] == "gzip"
    assert request.headers["content-type"] == "application/x-ndjson"
    assert request.headers["authorization"] == "Bearer s3cret"
    assert request.headers["user-agent"].startswith("vigil-sdk/")
    assert client.stats()["sent"] == 2


def test_no_authorization_header_without_api_key(
    server: Recorder, make_client: Callable[..., Client]
) -> None:
    client = make_client(server.url)
    client.log("m", prediction=0)
    assert client.flush(timeout=5)
    assert "authorization" not in server.requests()[0].headers


def test_batches_of_batch_size(server: Recorder, make_client: Callable[..., Client]) -> None:
    client = make_client(server.url, batch_size=10, flush_interval=30)
    for i in range(25):
        client.log("m", features={"i": i})
    assert client.flush(timeout=5)
    sizes = [len(r.records) for r in server.requests()]
    assert sizes == [10, 10, 5]  # ceil(25 / 10) requests
    assert [r["features"]["i"] for r in server.records()] == list(range(25))


def test_features_are_captured_at_log_time(server: Recorder, make_client: Callable[..., Client]) -> None:
    client = make_client(server.url)
    features = {"x": 1}
    client.log("m", features=features)
    features["x"] = 2
    assert client.flush(timeout=5)
    assert server.records()[0]["features"] == {"x": 1}


def test_many_threads_log_concurrently(server: Recorder, make_client: Callable[..., Client]) -> None:
    client = make_client(server.url, batch_size=100)

    def work(t: int) -> None:
        for i in range(500):
            client.log("m", request_id=f"{t}-{i}")

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert client.flush(timeout=10)
    ids = [r["request_id"] for r in server.records()]
    assert len(ids) == 4000 and len(set(ids)) == 4000
    assert client.stats()["sent"] == 4000


# -- retries --------------------------------------------------------------------------------------------
def test_retries_503_and_500_then_delivers_once(server: Recorder, make_client: Callable[..., Client]) -> None:
    server.plan.extend([Answer(503, {"error": "busy"}), Answer(500, {"error": "oops"}), Answer(503)])
    client = make_client(server.url, batch_size=10, flush_interval=30)
    for i in range(30):
        client.log("m", request_id=str(i))
    assert client.flush(timeout=10)
    ids = [r["request_id"] for r in server.records()]
    assert sorted(ids, key=int) == [str(i) for i in range(30)]  # no loss, no duplicates
    stats = client.stats()
    assert stats["retries"] == 3 and stats["sent"] == 30 and stats["failed_batches"] == 0
    first_keys = {r.headers["idempotency-key"] for r in server.requests()[:4]}
    assert len(first_keys) == 1  # the retried batch keeps its idempotency key


def test_retry_after_is_honoured(server: Recorder, make_client: Callable[..., Client]) -> None:
    server.plan.append(Answer(429, {"error": "slow down"}, {"Retry-After": "0.4"}))
    client = make_client(server.url)
    client.log("m")
    start = time.monotonic()
    assert client.flush(timeout=5)
    assert time.monotonic() - start >= 0.35
    assert len(server.requests()) == 2 and len(server.records()) == 1


def test_server_down_at_start_then_up(make_client: Callable[..., Client]) -> None:
    later = Recorder()
    client = make_client(later.url)
    for i in range(50):
        client.log("m", request_id=str(i))
    time.sleep(0.4)  # several refused connections, backing off
    assert client.stats()["queued"] == 50
    later.start()
    try:
        assert client.flush(timeout=5)
        assert sorted(int(r["request_id"]) for r in later.records()) == list(range(50))
        assert client.stats()["retries"] >= 1
    finally:
        later.stop()


def test_gives_up_after_max_retries_of_500(server: Recorder, make_client: Callable[..., Client]) -> None:
    server.plan.extend([Answer(500)] * 3)
    client = make_client(server.url, max_retries=2)
    client.log("m", request_id="a")
    assert client.flush(timeout=5)
    stats = client.stats()
    assert stats["failed_batches"] == 1 and stats["failed_records"] == 1 and stats["retries"] == 2
    client.log("m", request_id="b")  # later batches are still sent
    assert client.flush(timeout=5)
    assert [r["request_id"] for r in server.records()] == ["b"]


def test_any_answer_with_retry_after_is_retried_without_limit(
    server: Recorder, make_client: Callable[..., Client]
) -> None:
    server.plan.extend([Answer(500, {"error": "store down"}, {"Retry-After": "0"})] * 6)
    server.plan.append(Answer(507, {"error": "full"}, {"Retry-After": "0"}))
    client = make_client(server.url, max_retries=2)
    client.log("m", request_id="a")
    assert client.flush(timeout=10)
    stats = client.stats()
    assert stats["failed_batches"] == 0 and stats["sent"] == 1 and stats["retries"] == 7
    assert [r["request_id"] for r in server.records()] == ["a"]


def test_client_errors_are_not_retried(
    server: Recorder, make_client: Callable[..., Client], caplog: pytest.LogCaptureFixture
) -> None:
    server.plan.extend([Answer(401, {"error": "bad key"}), Answer(401, {"error": "bad key"})])
    client = make_client(server.url, "wrong")
    with caplog.at_level(logging.WARNING, logger="vigil.sdk"):
        client.log("m")
        assert client.flush(timeout=5)
        client.log("m")
        assert client.flush(timeout=5)
    assert len(server.requests()) == 2
    stats = client.stats()
    assert stats["retries"] == 0 and stats["failed_batches"] == 2 and stats["sent"] == 0
    assert len([r for r in caplog.records if "HTTP 401" in r.getMessage()]) == 1  # warned once


def test_rejections_are_counted_and_warned_once(
    server: Recorder, make_client: Callable[..., Client], caplog: pytest.LogCaptureFixture
) -> None:
    rejected = [
        {"index": 0, "field": "score", "reason": "not a number"},
        {"index": 2, "field": "score", "reason": "not a number"},
    ]
    server.plan.append(Answer(200, {"accepted": 2, "rejected": rejected}))
    server.plan.append(
        Answer(422, {"accepted": 0, "rejected": [{"index": 0, "field": "model", "reason": "x"}]})
    )
    client = make_client(server.url, batch_size=4, flush_interval=30)
    with caplog.at_level(logging.WARNING, logger="vigil.sdk"):
        for _ in range(4):
            client.log("m", score=0.5)
        assert client.flush(timeout=5)
        client.log("m")
        assert client.flush(timeout=5)
    stats = client.stats()
    assert stats["sent"] == 2 and stats["rejected_records"] == 3 and stats["retries"] == 0
    messages = [r.getMessage() for r in caplog.records if "rejected" in r.getMessage()]
    assert len(messages) == 2  # one per distinct field and reason


def test_too_large_batches_are_split(server: Recorder, make_client: Callable[..., Client]) -> None:
    server.plan.append(Answer(413, {"error": "batch too long", "limit": 4}))
    client = make_client(server.url, batch_size=8, flush_interval=30)
    for i in range(8):
        client.log("m", request_id=str(i))
    assert client.flush(timeout=5)
    assert [len(r.records) for r in server.requests()] == [8, 4, 4]
    assert sorted(int(r["request_id"]) for r in server.records()) == list(range(8))


def test_unknown_model_records_are_dropped_known_resent(
    server: Recorder, make_client: Callable[..., Client]
) -> None:
    server.plan.append(Answer(404, {"error": "unknown model", "known_models": ["good"]}))
    client = make_client(server.url, batch_size=4, flush_interval=30)
    for model in ("good", "typo", "good", "typo"):
        client.log(model)
    assert client.flush(timeout=5)
    assert [r["model"] for r in server.records()] == ["good", "good"]
    assert client.stats()["failed_records"] == 2


# -- the queue ------------------------------------------------------------------------------------------
def test_full_queue_drops_the_oldest_and_warns_once(
    caplog: pytest.LogCaptureFixture, make_client: Callable[..., Client]
) -> None:
    later = Recorder()
    client = make_client(later.url, queue_size=10, batch_size=100, flush_interval=30)
    with caplog.at_level(logging.WARNING, logger="vigil.sdk"):
        for i in range(25):
            client.log("m", request_id=str(i))
    stats = client.stats()
    assert stats["dropped"] == 15 and stats["queued"] == 10
    assert len([r for r in caplog.records if "queue full" in r.getMessage()]) == 1
    later.start()
    try:
        assert client.flush(timeout=5)
        assert [int(r["request_id"]) for r in later.records()] == list(range(15, 25))
    finally:
        later.stop()


def test_log_never_raises(server: Recorder, make_client: Callable[..., Client]) -> None:
    client = make_client(server.url)
    bad: list[dict[str, Any]] = [
        {"model": None},
        {"model": 123},
        {"model": "m", "features": object()},
        {"model": "m", "timestamp": object()},
        {"model": "m", "features": {"x": {1, 2}}, "segments": {object(): 1}},
    ]
    for kwargs in bad:
        client.log(**kwargs)
    client.log_label(None, "r", 1)  # type: ignore[arg-type]
    assert client.log_batch(42) == 0
    assert client.log_batch("not a frame") == 0
    assert client.stats()["invalid"] >= 6
    client.log("m", features={"ok": 1})
    assert client.flush(timeout=5)
    assert len(server.records()) >= 1
    client.close(timeout=1)
    client.log("m", features={"late": 1})
    client.log_label("m", "r", 1)
    assert client.log_batch([{"model": "m"}]) == 0
    assert client.stats()["dropped"] == 3


def test_flush_times_out_when_the_server_is_down(make_client: Callable[..., Client]) -> None:
    client = make_client(f"http://127.0.0.1:{free_port()}")
    client.log("m")
    start = time.monotonic()
    assert client.flush(timeout=0.3) is False
    assert time.monotonic() - start < 1.0


# -- monitor --------------------------------------------------------------------------------------------
def test_monitor_as_context_manager(server: Recorder, make_client: Callable[..., Client]) -> None:
    client = make_client(server.url)
    with client.monitor("m", version="v1", features={"x": 1.5}) as call:
        time.sleep(0.02)
        call.prediction = "cat"
        call.score = 0.8
    error = ValueError("bad input")
    with pytest.raises(ValueError) as raised, client.monitor("m", features={"x": 2}):
        raise error
    assert raised.value is error
    assert client.flush(timeout=5)
    ok, failed = server.records()
    assert ok["prediction"] == "cat" and ok["score"] == 0.8 and ok["version"] == "v1"
    assert ok["features"] == {"x": 1.5} and ok["request_id"] == call.request_id
    assert 20 <= ok["latency_ms"] < 2_000
    assert failed["error"] == "ValueError: bad input" and "prediction" not in failed
    assert failed["latency_ms"] >= 0


def test_monitor_as_decorator(server: Recorder, make_client: Callable[..., Client]) -> None:
    client = make_client(server.url)

    @client.monitor("m")
    def predict(features: dict[str, float]) -> str:
        time.sleep(0.01)
        call = current_call()
        assert call is not None
        call.score = 0.7
        if features["x"] < 0:
            raise KeyError("negative")
        return "yes"

    assert predict({"x": 1.0}) == "yes"
    assert predict.__name__ == "predict"
    with pytest.raises(KeyError, match="negative"):
        predict({"x": -1.0})
    assert current_call() is None
    assert client.flush(timeout=5)
    ok, failed = server.records()
    assert ok["features"] == {"x": 1.0} and ok["prediction"] == "yes" and ok["score"] == 0.7
    assert ok["latency_ms"] >= 10
    assert failed["error"] == "KeyError: 'negative'" and failed["features"] == {"x": -1.0}


def test_monitor_decorates_methods_and_async_functions(
    server: Recorder, make_client: Callable[..., Client]
) -> None:
    client = make_client(server.url)

    class Model:
        @client.monitor("sync", features_from="row", prediction_from=lambda r: r[0])
        def predict(self, row: dict[str, int]) -> list[int]:
            return [row["a"] * 2]

    @client.monitor("async")
    async def apredict(features: dict[str, int]) -> int:
        await asyncio.sleep(0.01)
        return features["a"] + 1

    assert Model().predict(row={"a": 3}) == [6]
    assert asyncio.run(apredict({"a": 1})) == 2
    assert client.flush(timeout=5)
    sync, async_ = server.records()
    assert sync["features"] == {"a": 3} and sync["prediction"] == 6
    assert async_["features"] == {"a": 1} and async_["prediction"] == 2 and async_["latency_ms"] >= 10


# -- batches, labels, host metrics ----------------------------------------------------------------------
def test_log_batch_from_pandas_polars_and_dicts(server: Recorder, make_client: Callable[..., Client]) -> None:
    client = make_client(server.url)
    frame = pd.DataFrame(
        {
            "age": [30, 40, 50],
            "plan": ["a", None, "c"],
            "income": [1.5, float("nan"), 3.0],
            "prediction": [1, 0, 1],
            "score": [0.9, 0.2, 0.7],
            "request_id": ["r1", "r2", "r3"],
        }
    )
    assert client.log_batch(frame, model="pd", version="v3") == 3
    assert client.log_batch(pl.DataFrame({"model": ["pl", "pl"], "x": [1, 2]})) == 2
    rows = [{"model": "d", "features": {"k": 1}, "prediction": 0}, {"model": "d", "k": 2}]
    assert client.log_batch(rows) == 2
    assert client.log_batch([{"x": 1}]) == 0  # no model anywhere: refused
    assert client.flush(timeout=5)
    records = server.records()
    assert len(records) == 7
    assert records[1]["features"] == {"age": 40, "plan": None, "income": None}
    assert records[1]["model"] == "pd" and records[1]["version"] == "v3" and records[1]["request_id"] == "r2"
    assert records[1]["prediction"] == 0 and records[1]["score"] == 0.2
    assert [r["features"] for r in records[3:5]] == [{"x": 1}, {"x": 2}]
    assert [r["features"] for r in records[5:]] == [{"k": 1}, {"k": 2}]
    for record in records:
        Event.model_validate(record)
    assert len({r["request_id"] for r in records}) == 7


def test_log_label(server: Recorder, make_client: Callable[..., Client]) -> None:
    client = make_client(server.url)
    client.log("m", request_id="r-9", prediction=1)
    client.log_label("m", "r-9", 0)
    client.log_label("m", "r-10", "spam", timestamp="2024-05-01T12:00:00Z")
    assert client.flush(timeout=5)
    labels = server.records("/v1/labels")
    assert [(x["request_id"], x["label"]) for x in labels] == [("r-9", 0), ("r-10", "spam")]
    assert labels[1]["timestamp"] == "2024-05-01T12:00:00Z"
    for label in labels:
        Label.model_validate(label)
    assert client.stats()["labels_sent"] == 2


def test_host_metrics_are_sent_for_each_model(server: Recorder, make_client: Callable[..., Client]) -> None:
    client = make_client(server.url, host_metrics_every=0.1)
    client.log("a")
    client.log("b")
    assert wait_for(lambda: {r["model"] for r in server.records("/v1/host-metrics")} == {"a", "b"})
    reading = server.records("/v1/host-metrics")[0]
    HostMetrics.model_validate(reading)
    assert reading["host"] == socket.gethostname()
    assert reading["cpu_percent"] >= 0 and 0 <= reading["memory_percent"] <= 100
    assert reading["memory_bytes"] > 1_000_000
    if importlib.util.find_spec("pynvml") is None:
        assert not any(key.startswith("gpu") for key in reading)


# -- stopping -------------------------------------------------------------------------------------------
def test_close_returns_within_its_timeout_while_the_server_hangs(server: Recorder) -> None:
    server.plan.append(Answer(delay=3.0))
    client = Client(server.url, **{**FAST, "timeout": 5.0})
    client.log("m")
    assert wait_for(lambda: len(server.requests()) == 1)
    start = time.monotonic()
    client.close(timeout=0.5)
    assert time.monotonic() - start < 0.9
    client.close(timeout=0.5)  # idempotent


def test_context_manager_flushes_on_exit(server: Recorder) -> None:
    with Client(server.url, flush_interval=30, host_metrics_every=None) as client:
        client.log("m", request_id="x")
    assert [r["request_id"] for r in server.records()] == ["x"]
    assert client.stats()["queued"] == 0


def test_atexit_flushes_a_normal_interpreter_exit(server: Recorder) -> None:
    script = textwrap.dedent(
        f"""
        from vigil.sdk import Client
        client = Client({server.url!r}, flush_interval=60, host_metrics_every=None)
        for i in range(5):
            client.log("exit", request_id=str(i))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=20)
    assert done.returncode == 0, done.stderr
    assert sorted(r["request_id"] for r in server.records()) == ["0", "1", "2", "3", "4"]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_sends_its_own_records(server: Recorder, make_client: Callable[..., Client]) -> None:
    client = make_client(server.url)
    client.log("m", request_id="parent")
    pid = os.fork()
    if pid == 0:  # the child: its queue starts empty, with its own sender thread
        try:
            client.log("m", request_id="child")
            client.close(timeout=3)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    assert client.flush(timeout=5)
    assert sorted(r["request_id"] for r in server.records()) == ["child", "parent"]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_draws_request_ids_of_its_own(
    server: Recorder, make_client: Callable[..., Client]
) -> None:
    client = make_client(server.url)
    client.log("m", features={"by": "parent"})
    client.log_batch([{"by": "parent"}], model="m")
    pid = os.fork()
    if pid == 0:  # the child's counter starts again: without a new prefix its ids would be the parent's
        try:
            client.log("m", features={"by": "child"})
            client.log_batch([{"by": "child"}], model="m")
            client.close(timeout=3)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    client.log("m", features={"by": "parent"})
    assert client.flush(timeout=5)
    ids: dict[str, list[str]] = {"parent": [], "child": []}
    for r in server.records():
        ids[r["features"]["by"]].append(r["request_id"])
    assert len(ids["parent"]) == 3 and len(ids["child"]) == 2
    assert len({i[:16] for i in ids["parent"]}) == 1 and len({i[:16] for i in ids["child"]}) == 1
    assert ids["parent"][0][:16] != ids["child"][0][:16]  # 64 random bits each: equal by chance ~never
    assert len(set(ids["parent"] + ids["child"])) == 5
