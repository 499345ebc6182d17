"""Ingest through NATS JetStream: HTTP → the stream → workers → PostgreSQL → the metrics API, on the real
broker and database. The numbers equal the direct path's; a redelivery, a duplicate publish or a worker
killed between its save and its acknowledgement never counts an event twice nor loses one; a full stream
and lagging workers answer 503 with Retry-After."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.shared_postgres import fresh_database
from vigil.broker import Message
from vigil.broker.nats import JetStreamConsumer, JetStreamPublisher, StreamLimits
from vigil.broker.worker import Worker
from vigil.config import parse_config
from vigil.registry import Registry
from vigil.server.app import create_app
from vigil.store import Store, open_store

NOW = 1_800_000_000.0
T0 = NOW - 600
JSON = {"content-type": "application/json"}
CONFIG = parse_config(
    """
models:
  m:
    task: binary
    owner: {team: t}
    features: {x: {type: numeric}, region: {type: categorical}}
"""
)
NAMES = "events,errors,error_rate,latency_p50,latency_p99,score_mean,null_rate,accuracy,label_coverage"
FAST = StreamLimits(ack_wait=timedelta(seconds=1))
"""A short ack wait: a message a worker did not acknowledge comes again within a second."""


def events(n: int, prefix: str, seed: int = 1, t0: float = T0, span: float = 600) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    ts = t0 + rng.uniform(0, span, n)
    return [
        {
            "model": "m",
            "request_id": f"{prefix}{i}",
            "timestamp": float(ts[i]),
            "features": {
                "x": None if rng.random() < 0.1 else float(rng.normal()),
                "region": str(rng.choice(["eu", "us"])),
            },
            "prediction": int(rng.random() < 0.5),
            "score": float(rng.random()),
            "latency_ms": float(rng.lognormal(3, 0.7)),
            "error": "E: x" if rng.random() < 0.08 else None,
        }
        for i in range(n)
    ]


def post(client: TestClient, records: list[dict[str, Any]], path: str = "/v1/events", **headers: str) -> Any:
    r = client.post(path, content=json.dumps(records), headers={**JSON, **headers})
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == len(records), r.text
    return r


def saved_events(store: Store, start: float = T0 - 60, end: float = NOW + 60) -> int:
    return sum(c.events for c in store.window_counts("m", 60, start, end))


def vigil_store(client: TestClient) -> Store:
    store: Store = client.app.state.vigil.store  # type: ignore[attr-defined]
    return store


def wait_for(what: Callable[[], bool], seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not what():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@contextmanager
def served(
    url: str,
    stream: str,
    database: str,
    limits: StreamLimits = FAST,
    max_lag: int = 10_000,
    clock: Callable[[], float] = lambda: NOW,
) -> Iterator[tuple[TestClient, JetStreamPublisher]]:
    with ExitStack() as stack:
        publisher = JetStreamPublisher(url, stream, limits, lag_every=0.1)
        stack.callback(publisher.close)
        store = open_store(database)
        stack.callback(store.close)
        app = create_app(CONFIG, store, clock=clock, flush_every=3600, publisher=publisher, max_lag=max_lag)
        yield stack.enter_context(TestClient(app)), publisher


@contextmanager
def working(url: str, stream: str, database: str, name: str, batch: int = 256) -> Iterator[Worker]:
    """A worker folding in a thread until the block ends (then it saves and stops)."""
    store = open_store(database)
    consumer = JetStreamConsumer(url, stream, FAST)
    worker = Worker(
        consumer, store, Registry(CONFIG, store), writer=name, flush_every=0.1, batch=batch, clock=lambda: NOW
    )
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    try:
        yield worker
    finally:
        stop.set()
        thread.join(10)
        consumer.close()
        store.close()


def test_two_workers_give_the_numbers_of_the_direct_path(nats_url: str, stream: str, database: str) -> None:
    everything = events(2400, "r", seed=3)
    rng = np.random.default_rng(4)
    labels = [
        {"model": "m", "request_id": e["request_id"], "label": int(rng.random() < 0.5)}
        for e in everything
        if rng.random() < 0.5
    ]
    with served(nats_url, stream, database) as (client, _), ExitStack() as workers:
        a = workers.enter_context(working(nats_url, stream, database, "a", batch=1))
        post(client, everything[:300])  # the first batch fixes the profile template
        wait_for(lambda: saved_events(vigil_store(client)) == 300)
        b = workers.enter_context(working(nats_url, stream, database, "b", batch=1))
        for i in range(300, 2400, 150):
            post(client, everything[i : i + 150])
        post(client, labels, "/v1/labels")
        wait_for(lambda: saved_events(vigil_store(client)) == 2400)
        assert a.folded_events > 0 and b.folded_events > 0  # both folded part of the stream
        assert a.folded_events + b.folded_events == 2400
        params = {"names": NAMES, "step": 120, "from": T0, "to": NOW}
        via_broker = client.get("/v1/models/m/metrics", params=params).json()["series"]
        writers = {c.writer for c in vigil_store(client).window_counts("m", 60, T0 - 60, NOW)}
        assert writers == {"a", "b"}

    with fresh_database() as direct_db:
        store = open_store(direct_db)
        app = create_app(CONFIG, store, clock=lambda: NOW, flush_every=3600)
        with TestClient(app) as direct:
            for i in range(0, 2400, 300):
                post(direct, everything[i : i + 300])
            post(direct, labels, "/v1/labels")
            assert app.state.vigil.aggregator.wait_idle(10)
            app.state.vigil.aggregator.flush()
            want = direct.get("/v1/models/m/metrics", params=params).json()["series"]
        store.close()
    assert [v for _, v in via_broker["events"]] == [v for _, v in want["events"]]
    assert sum(v for _, v in via_broker["events"]) == 2400
    for name, points in want.items():  # equal but for the order of float additions
        assert [v for _, v in via_broker[name]] == pytest.approx([v for _, v in points], rel=1e-9), name


class _DiesBeforeAck(JetStreamConsumer):
    """A worker's consumer whose process dies right after its save: nothing is acknowledged."""

    def ack(self, messages: Sequence[Message]) -> None:
        pass


def test_a_redelivery_of_saved_messages_is_not_counted_again(
    nats_url: str, stream: str, database: str
) -> None:
    with served(nats_url, stream, database) as (client, publisher):
        for i in range(0, 1000, 100):
            post(client, events(1000, "r")[i : i + 100])
        store = open_store(database)
        dying = Worker(
            _DiesBeforeAck(nats_url, stream, FAST),
            store,
            Registry(CONFIG, store),
            writer="a",
            clock=lambda: NOW,
        )
        dying.fold(dying.consumer.fetch(100, 2))
        assert dying.save() and saved_events(store) == 1000
        dying.consumer.close()  # gone without acknowledging: JetStream delivers all ten again in a second
        with working(nats_url, stream, database, "b") as b:
            wait_for(lambda: publisher.lag_now().behind == 0)
        assert (b.skipped, b.folded_events) == (10, 0)
        assert saved_events(store) == 1000
        store.close()


def test_two_workers_folding_the_same_message_save_it_once(nats_url: str, stream: str, database: str) -> None:
    """A worker stalled past the ack wait: its messages went to another worker, which saved them first."""
    with served(nats_url, stream, database) as (client, publisher):
        batches = [events(1000, "r")[i : i + 100] for i in range(0, 1000, 100)]
        for batch in batches[:5]:
            post(client, batch)
        store_a = open_store(database)
        stalled = Worker(
            JetStreamConsumer(nats_url, stream, FAST),
            store_a,
            Registry(CONFIG, store_a),
            writer="a",
            clock=lambda: NOW,
        )
        stalled.fold(stalled.consumer.fetch(100, 2))  # folds five, then stalls past the ack wait
        time.sleep(1.5)
        with working(nats_url, stream, database, "b") as b:
            wait_for(lambda: saved_events(store_a) == 500)
        assert b.folded_events == 500
        for batch in batches[5:]:
            post(client, batch)
        stalled.fold(stalled.consumer.fetch(100, 2))  # the five others
        assert not stalled.save()  # refused: five of its messages are saved by b; folds the others again
        assert stalled.save()
        assert (stalled.folded_events, stalled.skipped) == (500, 5)
        assert saved_events(store_a) == 1000
        wait_for(lambda: publisher.lag_now().behind == 0)
        stalled.consumer.close()
        store_a.close()


def test_a_duplicate_publish_is_counted_once(nats_url: str, stream: str, database: str) -> None:
    batch = events(200, "r")
    with served(nats_url, stream, database) as (client, publisher):
        for _ in range(3):  # a client retrying after lost answers
            post(client, batch, **{"Idempotency-Key": "file-1/chunk-0"})
        post(client, batch[:50], **{"Idempotency-Key": "file-1/chunk-1"})  # another key: new data
        assert publisher.lag_now().stream_messages == 2
        with working(nats_url, stream, database, "a") as a:
            wait_for(lambda: saved_events(vigil_store(client)) == 250)
        assert a.folded_events == 250


def test_a_full_stream_answers_503_with_retry_after(nats_url: str, stream: str, database: str) -> None:
    limits = StreamLimits(max_messages=2, ack_wait=timedelta(seconds=1))
    with served(nats_url, stream, database, limits) as (client, _):
        post(client, events(10, "a"))
        post(client, events(10, "b"))
        r = client.post("/v1/events", content=json.dumps(events(10, "c")), headers=JSON)
        assert r.status_code == 503, r.text
        assert int(r.headers["retry-after"]) >= 1
        assert "maximum messages exceeded" in r.json()["error"]
        with working(nats_url, stream, database, "a"):  # a worker drains the stream: taken again
            wait_for(lambda: saved_events(vigil_store(client)) == 20)
        post(client, events(10, "c"))


def test_lagging_workers_answer_503_and_show_on_healthz_and_metrics(
    nats_url: str, stream: str, database: str
) -> None:
    with served(nats_url, stream, database, max_lag=2) as (client, publisher):
        for prefix in "abc":
            post(client, events(10, prefix))
        wait_for(lambda: publisher.lag() is not None and publisher.lag().pending == 3)  # type: ignore[union-attr]
        r = client.post("/v1/events", content=json.dumps(events(10, "d")), headers=JSON)
        assert r.status_code == 503 and int(r.headers["retry-after"]) >= 1
        assert "workers are behind: 3 batches" in r.json()["error"]
        health = client.get("/healthz").json()
        assert health["broker"]["pending"] == 3 and health["broker"]["stream"] == stream
        assert health["status"] == "degraded" and "workers are behind" in " ".join(health["problems"])
        metrics = client.get("/metrics").text
        assert "vigil_broker_pending_messages 3.0" in metrics
        assert "vigil_broker_ack_pending_messages 0.0" in metrics
        with working(nats_url, stream, database, "a"):
            wait_for(lambda: publisher.lag().behind == 0)  # type: ignore[union-attr]
        assert client.get("/healthz").json()["status"] == "ok"
        post(client, events(10, "d"))
