"""An ``Idempotency-Key`` on the broker path is kept as long as on the direct path (as long as the model
keeps predictions), not only for the stream's duplicate window: a retry published after the window is
folded once, a retry after the first was saved is answered without being published, and the key with
another body is refused (409) once the server can know it. On the real NATS JetStream and PostgreSQL, with
a duplicate window of one second."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import click
import pytest
from fastapi.testclient import TestClient

from tests.broker.test_broker import (
    CONFIG,
    JSON,
    NOW,
    events,
    post,
    saved_events,
    served,
    vigil_store,
    wait_for,
    working,
)
from vigil.broker.nats import JetStreamConsumer, StreamLimits
from vigil.broker.worker import Worker
from vigil.cli.main import _publisher
from vigil.registry import Registry
from vigil.settings import resolve
from vigil.store import open_store

SHORT = StreamLimits(duplicate_window=timedelta(seconds=1), ack_wait=timedelta(seconds=1))
"""JetStream forgets a message id a second after it was published."""
KEY = {"Idempotency-Key": "file-1/chunk-0"}


def test_a_retry_after_the_duplicate_window_is_counted_once(
    nats_url: str, stream: str, database: str
) -> None:
    batch = events(200, "r")
    with served(nats_url, stream, database, SHORT) as (client, publisher):
        post(client, batch, **KEY)
        time.sleep(1.5)  # past the duplicate window: JetStream stores the retry again
        post(client, batch, **KEY)  # the answer to the first was lost; no worker folded it yet
        assert publisher.lag_now().stream_messages == 2
        with working(nats_url, stream, database, "a") as a:
            wait_for(lambda: publisher.lag_now().behind == 0)
        assert saved_events(vigil_store(client)) == 200
        assert (a.folded_events, a.skipped) == (200, 1)


def test_a_key_stored_by_a_worker_is_known_to_the_server(nats_url: str, stream: str, database: str) -> None:
    batch = events(200, "r")
    with served(nats_url, stream, database, SHORT) as (client, publisher):
        post(client, batch, **KEY)
        with working(nats_url, stream, database, "a"):
            wait_for(lambda: publisher.lag_now().behind == 0)
        time.sleep(1.5)  # past the duplicate window
        post(client, batch, **KEY)  # a retry once the first is saved: answered alike, not published
        assert publisher.lag_now().stream_messages == 0
        other = json.dumps(events(50, "s"))
        r = client.post("/v1/events", content=other, headers={"content-type": "application/json", **KEY})
        assert r.status_code == 409, r.text  # the key with another body, as on the direct path
        assert "different body" in r.json()["error"]
        assert publisher.lag_now().stream_messages == 0
        assert saved_events(vigil_store(client)) == 200


PATIENT = StreamLimits(duplicate_window=timedelta(seconds=1), ack_wait=timedelta(seconds=30))
"""As ``SHORT``, but a message fetched stays its worker's while the test steps through."""


def _worker(url: str, stream: str, database: str, writer: str) -> Worker:
    store = open_store(database)
    return Worker(
        JetStreamConsumer(url, stream, PATIENT),
        store,
        Registry(CONFIG, store),
        writer=writer,
        clock=lambda: NOW,
    )


def _close(*workers: Worker) -> None:
    for w in workers:
        w.consumer.close()
        w.store.close()


def _published_twice(client: TestClient, batch: list[dict[str, Any]]) -> None:
    post(client, batch, **KEY)
    time.sleep(1.5)
    post(client, batch, **KEY)


def test_a_late_retry_fetched_after_the_first_is_saved_is_skipped(
    nats_url: str, stream: str, database: str
) -> None:
    with served(nats_url, stream, database, PATIENT) as (client, publisher):
        _published_twice(client, events(200, "r"))
        a = _worker(nats_url, stream, database, "a")
        a.fold(a.consumer.fetch(1, 2))
        assert a.save() and saved_events(a.store) == 200
        a.fold(a.consumer.fetch(1, 2))  # the retry: its key is saved with the first
        assert a.save()
        assert (a.folded_events, a.skipped) == (200, 1) and saved_events(a.store) == 200
        assert publisher.lag_now().behind == 0  # acknowledged
        _close(a)


def test_two_workers_folding_a_batch_and_its_retry_save_it_once(
    nats_url: str, stream: str, database: str
) -> None:
    with served(nats_url, stream, database, PATIENT) as (client, publisher):
        _published_twice(client, events(200, "r"))
        post(client, events(50, "o"))  # and another batch, without a key
        a, b = _worker(nats_url, stream, database, "a"), _worker(nats_url, stream, database, "b")
        a.fold(a.consumer.fetch(1, 2))
        b.fold(b.consumer.fetch(2, 2))  # the retry and the other batch, before a saves
        assert a.save()
        assert not b.save()  # refused: the key is saved by a; b folds the other batch again
        assert b.save()
        assert (a.folded_events, b.folded_events, b.skipped) == (200, 50, 1)
        assert saved_events(a.store) == 250
        assert publisher.lag_now().behind == 0
        _close(a, b)


def test_a_key_reused_with_another_body_before_the_first_is_saved_is_new_data(
    nats_url: str, stream: str, database: str
) -> None:
    """The server cannot know yet: both requests are acknowledged, so both are folded; from then on the key
    is the first body's, and the server refuses the other (409) as the direct path does."""
    with served(nats_url, stream, database, PATIENT) as (client, publisher):
        first, other = events(200, "r"), events(50, "s")
        post(client, first, **KEY)
        post(client, other, **KEY)  # another digest: another message id
        with working(nats_url, stream, database, "a") as a:
            wait_for(lambda: publisher.lag_now().behind == 0)
        assert (a.folded_events, a.skipped) == (250, 0)
        assert saved_events(vigil_store(client)) == 250
        post(client, first, **KEY)  # a retry of the first: answered alike, not published
        r = client.post("/v1/events", content=json.dumps(other), headers={**JSON, **KEY})
        assert r.status_code == 409, r.text
        assert publisher.lag_now().stream_messages == 0


def test_the_duplicate_window_is_a_server_setting(nats_url: str, stream: str) -> None:
    given = {"broker": nats_url, "broker_stream": stream, "broker_duplicate_window": 2.5}
    publisher = _publisher(resolve(given), given)
    try:
        assert publisher.stream_info().config.duplicate_window == 2.5
    finally:
        publisher.close()
    zero = {**given, "broker_duplicate_window": 0.0}
    with pytest.raises(click.BadParameter) as caught:
        _publisher(resolve(zero), zero)
    assert "--broker-duplicate-window: 0 seconds: must be more than 0" in caught.value.format_message()
