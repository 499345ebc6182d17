"""The aggregator when the store fails under it: what was acknowledged is counted once the store is
back, exactly once, whatever failed (a save, a read or write while folding, an append whose answer was
lost), and a batch that cannot be folded now (its model is not declared any more, or it is damaged) is
held in the log, reported, and folded when it can be.

A crash is simulated in process as in ``test_aggregator``: an app abandoned without its final save, and
a second app on the same store file replaying the log."""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.server.faults import Faulty, wait_for
from vigil.config import VigilConfig, parse_config
from vigil.errors import StoreError
from vigil.server.app import create_app
from vigil.store.base import Store
from vigil.store.sqlite import SQLiteStore

NOW = 1_800_000_000.0
T0 = NOW - 600
JSON = {"content-type": "application/json"}
TWO_MODELS = """
models:
  m:
    task: binary
    owner: {team: t}
    features: {x: {type: numeric}}
  n:
    task: binary
    owner: {team: t}
    features: {x: {type: numeric}}
"""
ONLY_M = TWO_MODELS.split("  n:")[0]


def _events(model: str, n: int, first: int, start: float = T0, span: float = 600) -> list[dict[str, Any]]:
    rng = np.random.default_rng(first)
    return [
        {
            "model": model,
            "request_id": f"{model}{first + i}",
            "timestamp": float(start + rng.uniform(0, span)),
            "features": {"x": float(rng.normal())},
            "prediction": int(rng.random() < 0.5),
            "score": float(rng.random()),
            "latency_ms": 5.0,
        }
        for i in range(n)
    ]


def _post(client: TestClient, records: list[dict[str, Any]], key: str | None = None) -> Any:
    headers = {**JSON, **({"idempotency-key": key} if key else {})}
    return client.post("/v1/events", content=json.dumps(records), headers=headers)


def _ok(client: TestClient, records: list[dict[str, Any]]) -> None:
    r = _post(client, records)
    assert r.status_code == 200 and r.json()["accepted"] == len(records), r.text


def _count(client: TestClient, model: str = "m", name: str = "events") -> float:
    r = client.get(
        f"/v1/models/{model}/metrics", params={"names": name, "step": "1d", "from": T0 - 86_400, "to": NOW}
    )
    assert r.status_code == 200, r.text
    return float(sum(v or 0 for _, v in r.json()["series"][name]))


class Apps:
    """Apps on one store file; each gets its own connection, as a process would."""

    def __init__(self, path: Path, stack: ExitStack) -> None:
        self.path = path
        self.stack = stack

    def store(self) -> Store:
        s = SQLiteStore(self.path)
        self.stack.callback(s.close)
        return s

    def app(self, config: str = ONLY_M, store: Any = None, clock: Any = None) -> FastAPI:
        cfg: VigilConfig = parse_config(config)
        return create_app(cfg, store or self.store(), clock=clock or (lambda: NOW), flush_every=3600)


@pytest.fixture
def apps(tmp_path: Path) -> Iterator[Apps]:
    with ExitStack() as stack:
        yield Apps(tmp_path / "vigil.db", stack)


def test_a_failed_save_keeps_its_windows_for_the_next_save(apps: Apps) -> None:
    faulty = Faulty(apps.store())
    app = apps.app(store=faulty)
    early, late = _events("m", 300, 0, T0, 60), _events("m", 200, 300, T0 + 300, 60)  # other windows
    with TestClient(app) as client:
        aggregator = app.state.vigil.aggregator
        _ok(client, early)
        assert aggregator.wait_idle(10)
        faulty.fail("save_windows")  # e.g. the database restarted for a few seconds
        with pytest.raises(Exception, match="injected"):
            aggregator.flush()
        _ok(client, late)
        assert aggregator.wait_idle(10)
        aggregator.flush()  # this save must carry the early windows too
        aggregator.flush = lambda: None  # then the process dies
    with TestClient(apps.app()) as client:
        assert _count(client) == 500


def test_a_store_error_while_folding_is_retried_not_skipped(apps: Apps) -> None:
    faulty = Faulty(apps.store())
    app = apps.app(store=faulty)
    events = _events("m", 400, 0)
    labels = [{"model": "m", "request_id": e["request_id"], "label": e["prediction"]} for e in events]
    with TestClient(app) as client:
        aggregator = app.state.vigil.aggregator
        faulty.fail("put_predictions", 2)  # the label join's copy of the batch cannot be written, twice
        _ok(client, events[:200])
        faulty.fail("windows", 2)  # nor can a window be read back
        _ok(client, events[200:])
        assert client.post("/v1/labels", json=labels).status_code == 200
        assert aggregator.wait_idle(20)
        assert _count(client) == 400
        assert _count(client, name="label_coverage") == 1.0  # every prediction reached the join
        assert _count(client, name="accuracy") == 1.0
        aggregator.flush()
    with TestClient(apps.app()) as client:  # saved exactly once
        assert _count(client) == 400


def test_an_append_whose_answer_was_lost_is_answered_503_and_counted_once(apps: Apps) -> None:
    faulty = Faulty(apps.store())
    app = apps.app(store=faulty)
    first, second = _events("m", 120, 0), _events("m", 80, 120)
    with TestClient(app) as client:
        aggregator = app.state.vigil.aggregator
        faulty.fail("append", after=True)  # stored, but the server never heard so
        r = _post(client, first, key="k1")
        assert r.status_code == 503, r.text
        assert int(r.headers["retry-after"]) >= 1
        r = _post(client, first, key="k1")  # the client's retry, same key: stored already
        assert r.status_code == 200 and r.json()["accepted"] == 120, r.text
        _ok(client, second)
        assert aggregator.wait_idle(10)
        aggregator.flush()
        assert aggregator.wait_idle(10)
        assert _count(client) == 200
        aggregator.flush()
        aggregator.flush = lambda: None  # crash
    with TestClient(apps.app()) as client:
        assert _count(client) == 200


def test_batches_of_a_model_no_longer_declared_are_held_until_it_is_again(
    apps: Apps, caplog: pytest.LogCaptureFixture
) -> None:
    crashed = TestClient(apps.app(TWO_MODELS))  # never started: nothing folded when it dies
    _ok(crashed, _events("m", 300, 0))
    _ok(crashed, _events("n", 500, 0))
    _ok(crashed, _events("m", 200, 300))

    later = [NOW + 3600]  # an hour later, past the log's retention of folded batches
    app = apps.app(ONLY_M, clock=lambda: later[0])
    with caplog.at_level(logging.WARNING), TestClient(app) as client:
        assert _count(client) == 500
        app.state.vigil.aggregator.maintain()  # retention must keep the held batch
        health = client.get("/healthz").json()
        assert health["held"] == {"events": 500, "batches": 1, "models": ["n"]}, health
    warning = " ".join(r.getMessage() for r in caplog.records)
    assert "500 events of n" in warning and "no longer declares" in warning

    with TestClient(apps.app(TWO_MODELS)) as client:  # declared again: folded
        assert _count(client, "n") == 500
        assert _count(client, "m") == 500
        assert client.get("/healthz").json()["held"] == {"events": 0, "batches": 0, "models": []}
    with TestClient(apps.app(TWO_MODELS)) as client:  # once
        assert _count(client, "n") == 500


def test_counted_windows_of_a_model_no_longer_declared_are_named_at_start(
    apps: Apps, caplog: pytest.LogCaptureFixture
) -> None:
    app = apps.app(TWO_MODELS)
    with TestClient(app) as client:  # n's events folded and saved as windows
        _ok(client, _events("n", 200, 0))
        _ok(client, _events("m", 100, 0))
        assert app.state.vigil.aggregator.wait_idle(10)  # folded (acknowledged is not folded yet)
        assert _count(client, "n") == 200
    with caplog.at_level(logging.WARNING), TestClient(apps.app(ONLY_M)) as client:
        assert _count(client) == 100
    said = [r for r in caplog.records if getattr(r, "event", None) == "store.undeclared_model"]
    assert [r.model for r in said] == ["n"]  # type: ignore[attr-defined]
    assert "windows of n" in said[0].getMessage() and "no longer declares" in said[0].getMessage()
    caplog.clear()
    with caplog.at_level(logging.WARNING), TestClient(apps.app(TWO_MODELS)) as client:  # declared again
        assert _count(client, "n") == 200
    assert not [r for r in caplog.records if getattr(r, "event", None) == "store.undeclared_model"]


def test_a_damaged_batch_is_quarantined_loudly_and_kept(apps: Apps, caplog: pytest.LogCaptureFixture) -> None:
    crashed = TestClient(apps.app())
    _ok(crashed, _events("m", 100, 0))
    store = apps.store()
    bad = store.append("main", "m", 7, b"not an arrow stream", NOW)  # a damaged payload
    _ok(crashed, _events("m", 50, 100))
    with caplog.at_level(logging.ERROR), TestClient(apps.app()) as client:
        assert _count(client) == 150
        health = client.get("/healthz").json()
        assert health["quarantined"]["batches"] == 1 and health["quarantined"]["events"] == 7, health
        assert health["status"] != "ok"
    assert any(f"batch {bad}" in r.getMessage() for r in caplog.records)
    assert [e.seq for e in store.read_log("main", bad - 1, limit=1)] == [bad]  # still in the log
    with TestClient(apps.app()) as client:  # still reported after a restart, nothing counted twice
        assert client.get("/healthz").json()["quarantined"]["batches"] == 1
        assert _count(client) == 150


def test_a_batch_still_failing_at_stop_is_folded_at_the_next_start(apps: Apps) -> None:
    """Batches of two models logged m, n, m and folded m (both) then n: when n's fold keeps failing
    until the process stops, the saved checkpoint is past n's batch, which must be held, not lost."""
    store = apps.store()
    gate = threading.Event()

    class FailingForN:
        def __getattr__(self, name: str) -> Any:
            return getattr(store, name)

        def put_predictions(self, batch: Any) -> None:
            if batch.model == "n":
                raise StoreError("injected: the predictions of n cannot be written")
            store.put_predictions(batch)

    app = apps.app(TWO_MODELS, store=FailingForN())
    with TestClient(app) as client:
        aggregator = app.state.vigil.aggregator

        class Gated:  # the folding thread takes nothing until the three batches wait together
            def __init__(self) -> None:
                self.items: queue.SimpleQueue[Any] = queue.SimpleQueue()

            def put(self, item: Any) -> None:
                self.items.put(item)

            def get(self, timeout: float | None = None) -> Any:
                gate.wait(10)
                return self.items.get(timeout=timeout)

            def get_nowait(self) -> Any:
                gate.wait(10)
                return self.items.get_nowait()

        idle, aggregator.handover._queue = aggregator.handover._queue, Gated()
        idle.put(None)  # wake the thread: from now on it reads the gated queue
        _ok(client, _events("m", 100, 0))
        _ok(client, _events("n", 70, 0))
        _ok(client, _events("m", 50, 100))
        gate.set()
        assert wait_for(lambda: aggregator.trouble is not None, 10)  # n is being retried
        assert wait_for(lambda: _count(client, "m") == 150, 10)  # both batches of m, folded together
    # the app stopped (lifespan end) while n still failed
    with TestClient(apps.app(TWO_MODELS)) as client:
        assert _count(client, "n") == 70
        assert _count(client, "m") == 150
