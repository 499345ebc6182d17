"""The aggregator behind the HTTP app: what was acknowledged is counted after a crash, exactly once, and
when folding falls behind the ingest says 503 (Retry-After) without logging anything.

A crash is simulated in process: a first app is given events and then abandoned without an orderly stop
(its lifespan never ends, or nothing more is saved), and a second app opens the same store file; its
startup replays the ingest log after the last checkpoint.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from vigil.config import parse_config
from vigil.monitoring.aggregator import Aggregator
from vigil.registry import Registry
from vigil.server.app import create_app
from vigil.store.base import Store
from vigil.store.sqlite import SQLiteStore

NOW = 1_800_000_000.0
T0 = NOW - 600
JSON = {"content-type": "application/json"}
CONFIG = parse_config(
    """
models:
  m:
    task: binary
    owner: {team: t}
    features: {x: {type: numeric}}
"""
)
NAMES = "events,errors,latency_p50,latency_p99,cost,score_mean,accuracy,label_coverage"


def _events(rng: np.random.Generator, n: int, first: int) -> list[dict[str, Any]]:
    ts = T0 + rng.uniform(0, 600, n)
    return [
        {
            "model": "m",
            "request_id": f"r{first + i}",
            "timestamp": float(ts[i]),
            "features": {"x": float(rng.normal())},
            "prediction": int(rng.random() < 0.5),
            "score": float(rng.random()),
            "latency_ms": float(rng.lognormal(3, 0.5)),
            "error": "E: x" if rng.random() < 0.1 else None,
            "cost": float(rng.gamma(2, 0.01)),
        }
        for i in range(n)
    ]


def _expected(events: list[dict[str, Any]], labels: dict[str, int]) -> dict[str, float]:
    lat = np.array([e["latency_ms"] for e in events])
    labelled = [e for e in events if e["request_id"] in labels]
    return {
        "events": float(len(events)),
        "errors": float(sum(e["error"] is not None for e in events)),
        "latency_p50": float(np.quantile(lat, 0.5, method="lower")),
        "latency_p99": float(np.quantile(lat, 0.99, method="lower")),
        "cost": float(sum(e["cost"] for e in events)),
        "score_mean": float(np.mean([e["score"] for e in events])),
        "accuracy": float(np.mean([e["prediction"] == labels[e["request_id"]] for e in labelled])),
        "label_coverage": len(labelled) / len(events),
    }


def _measure(client: TestClient) -> dict[str, float]:
    r = client.get("/v1/models/m/metrics", params={"names": NAMES, "step": "10m", "from": T0, "to": NOW})
    assert r.status_code == 200, r.text
    series = r.json()["series"]
    assert all(len(points) == 1 for points in series.values())
    return {name: points[0][1] for name, points in series.items()}


def _assert_matches(got: dict[str, float], want: dict[str, float]) -> None:
    for name, value in want.items():
        if name.startswith("latency"):
            assert abs(got[name] - value) <= 0.01 * value, name  # the sketch's 1% bound
        else:
            assert got[name] == pytest.approx(value, rel=1e-9), name


def _post(client: TestClient, path: str, records: list[dict[str, Any]]) -> None:
    r = client.post(path, content=json.dumps(records), headers=JSON)
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == len(records), r.text


class Apps:
    """Apps on one store file; each app gets its own store connection, as a process would."""

    def __init__(self, path: Path, stack: ExitStack) -> None:
        self.path = path
        self.stack = stack

    def store(self) -> Store:
        s = SQLiteStore(self.path)
        self.stack.callback(s.close)
        return s

    def app(self, **kwargs: Any) -> FastAPI:
        return create_app(CONFIG, self.store(), clock=lambda: NOW, flush_every=3600, **kwargs)


@pytest.fixture
def apps(tmp_path: Path) -> Iterator[Apps]:
    with ExitStack() as stack:
        yield Apps(tmp_path / "vigil.db", stack)


def _labels(rng: np.random.Generator, events: list[dict[str, Any]]) -> dict[str, int]:
    return {e["request_id"]: int(rng.random() < 0.5) for e in events if rng.random() < 0.6}


def _label_records(labels: dict[str, int]) -> list[dict[str, Any]]:
    return [{"model": "m", "request_id": rid, "label": value} for rid, value in labels.items()]


def test_replay_after_a_crash_before_anything_was_folded(apps: Apps) -> None:
    rng = np.random.default_rng(1)
    events = _events(rng, 1500, 0)
    labels = _labels(rng, events)
    crashed = TestClient(apps.app())  # never started: every batch still waits in its queue when it dies
    for chunk in range(0, len(events), 300):
        _post(crashed, "/v1/events", events[chunk : chunk + 300])
    _post(crashed, "/v1/labels", _label_records(labels))

    with TestClient(apps.app()) as client:  # startup replays the log
        got = _measure(client)
    _assert_matches(got, _expected(events, labels))
    with TestClient(apps.app()) as client:  # and again: nothing counted twice
        assert _measure(client) == got


def test_replay_after_a_crash_between_two_saves(apps: Apps) -> None:
    rng = np.random.default_rng(2)
    saved, unsaved = _events(rng, 800, 0), _events(rng, 700, 800)  # same windows, both halves
    labels = _labels(rng, saved + unsaved)
    app = apps.app()
    with TestClient(app) as client:
        aggregator = app.state.vigil.aggregator
        for chunk in range(0, 800, 200):
            _post(client, "/v1/events", saved[chunk : chunk + 200])
        assert aggregator.wait_idle(10)
        aggregator.flush()  # windows and checkpoint saved
        for chunk in range(0, 700, 100):  # folded into memory and prediction batches, never saved
            _post(client, "/v1/events", unsaved[chunk : chunk + 100])
        _post(client, "/v1/labels", _label_records(labels))
        assert aggregator.wait_idle(10)
        before = _measure(client)
        aggregator.flush = lambda: None  # the process dies here: nothing more is saved
    _assert_matches(before, _expected(saved + unsaved, labels))

    with TestClient(apps.app()) as client:
        after = _measure(client)
    _assert_matches(after, _expected(saved + unsaved, labels))
    with TestClient(apps.app()) as client:
        assert _measure(client) == after


def test_acknowledged_events_are_not_lost_when_requests_overlap(apps: Apps) -> None:
    """Two requests logged in one order and handed to the aggregator in the other: a save in between
    must not put the checkpoint past a batch that is logged but not yet folded."""
    rng = np.random.default_rng(3)
    first, second = _events(rng, 50, 0), _events(rng, 60, 50)
    store = apps.store()
    entered, release = threading.Event(), threading.Event()

    class SlowFirstAppend:
        calls = 0

        def __getattr__(self, name: str) -> Any:
            return getattr(store, name)

        def append(self, *args: Any) -> int:
            seq = store.append(*args)
            SlowFirstAppend.calls += 1
            if (
                SlowFirstAppend.calls == 1
            ):  # the first request stalls between its log append and its hand-over
                entered.set()
                release.wait(5)
            return seq

    app = create_app(CONFIG, SlowFirstAppend(), clock=lambda: NOW, flush_every=3600)
    results: dict[str, int] = {}
    with TestClient(app) as client:
        aggregator = app.state.vigil.aggregator

        def send(name: str, records: list[dict[str, Any]]) -> None:
            r = client.post("/v1/events", content=json.dumps(records), headers=JSON)
            results[name] = r.status_code

        one = threading.Thread(target=send, args=("first", first))
        one.start()
        assert entered.wait(5)
        two = threading.Thread(target=send, args=("second", second))
        two.start()
        two.join(1.0)  # answered, unless the ingest hands batches over in log order (then it waits)
        if not two.is_alive():
            deadline = time.monotonic() + 5
            while aggregator.pending_rows > len(first) and time.monotonic() < deadline:
                time.sleep(0.01)  # the second batch folded; the first, logged before it, is not
        aggregator.flush()  # a periodic save, at the worst moment
        release.set()
        one.join(5)
        two.join(5)
        assert results == {"first": 200, "second": 200}  # both acknowledged
        assert aggregator.wait_idle(10)
        aggregator.flush = lambda: None  # crash

    with TestClient(apps.app()) as client:
        r = client.get(
            "/v1/models/m/metrics", params={"names": "events", "step": "10m", "from": T0, "to": NOW}
        )
        assert r.json()["series"]["events"][0][1] == len(first) + len(second)


def test_back_pressure_answers_503_and_logs_nothing(apps: Apps) -> None:
    rng = np.random.default_rng(4)
    app = apps.app()
    with TestClient(app) as client:
        vigil = app.state.vigil
        aggregator = vigil.aggregator
        aggregator.handover.max_pending_rows = 10
        gate = threading.Event()
        fold = aggregator.fold

        def stalled(*args: Any) -> None:  # folding falls behind
            gate.wait(10)
            fold(*args)

        aggregator.fold = stalled
        _post(client, "/v1/events", _events(rng, 8, 0))
        logged = vigil.store.read_log("main", 0)
        r = client.post("/v1/events", content=json.dumps(_events(rng, 5, 8)), headers=JSON)
        assert r.status_code == 503
        assert int(r.headers["retry-after"]) >= 1
        assert "retry" in r.json()["error"]
        assert vigil.store.read_log("main", 0) == logged  # nothing logged for the refused request
        assert aggregator.pending_rows == 8
        gate.set()
        assert aggregator.wait_idle(10)
        _post(client, "/v1/events", _events(rng, 5, 8))  # the retry goes through
        assert aggregator.wait_idle(10)
        r = client.get(
            "/v1/models/m/metrics", params={"names": "events", "step": "10m", "from": T0, "to": NOW}
        )
        assert r.json()["series"]["events"][0][1] == 13
        assert len(vigil.store.read_log("main", 0)) == 2


def test_a_feature_first_seen_all_null_takes_its_kind_from_its_first_values(apps: Apps) -> None:
    app = apps.app()
    with TestClient(app) as client:
        aggregator = app.state.vigil.aggregator
        _post(client, "/v1/events", [{"model": "m", "timestamp": T0 + 5, "features": {"age": None}}])
        assert aggregator.wait_idle(10)
        _post(
            client,
            "/v1/events",
            [{"model": "m", "timestamp": T0 + 65, "features": {"age": a}} for a in (30, 41)],
        )
        assert aggregator.wait_idle(10)
        assert aggregator.template("m").columns["age"].kind == "numeric"  # not text, from the nulls
        r = client.get(
            "/v1/models/m/metrics",
            params={"names": "events,null_rate:age", "step": "10m", "from": T0, "to": NOW},
        )
        series = r.json()["series"]
        assert series["events"][0][1] == 3
        assert series["null_rate:age"][0][1] == pytest.approx(1 / 3)


def test_batches_that_come_close_together_are_folded_together_and_a_waiter_does_not_wait(apps: Apps) -> None:
    rng = np.random.default_rng(5)
    app = apps.app()
    with TestClient(app) as client:
        aggregator = app.state.vigil.aggregator
        aggregator.handover.fold_delay = 60.0  # a fold waits this long for more batches, unless someone waits
        folds: list[list[int]] = []
        fold = aggregator.fold

        def counted(model: str, seqs: list[int], table: Any) -> None:
            folds.append(list(seqs))
            fold(model, seqs, table)

        aggregator.fold = counted
        events = [_events(rng, 50, 50 * k) for k in range(4)]
        _post(client, "/v1/events", events[0])  # the first batch fixes the buckets, alone
        assert aggregator.wait_idle(10)
        for batch in events[1:]:
            _post(client, "/v1/events", batch)
        t = time.monotonic()
        assert aggregator.wait_idle(10)
        assert time.monotonic() - t < 5  # the waiter cut the fold's wait short
        assert folds == [[1], [2, 3, 4]]  # then one fold of the three batches, in log order
        got = _measure(client)
    want = _expected([e for batch in events for e in batch], {"r0": 1})
    _assert_matches(got, {k: v for k, v in want.items() if k not in ("accuracy", "label_coverage")})


def test_what_a_window_holds_does_not_depend_on_which_batches_were_folded_together(apps: Apps) -> None:
    """Batches of different columns are folded apart: a score one batch never sent is not a missing score
    of the others' windows, and the null rate of a feature is the same however the batches queued up."""
    records = [
        [{"model": "m", "timestamp": T0 + 5, "features": {"x": 1.0}, "prediction": 1}],
        [
            {
                "model": "m",
                "timestamp": T0 + 6,
                "features": {"x": 2.0, "y": 3.0},
                "prediction": 0,
                "score": 0.2,
            }
        ],
        [
            {
                "model": "m",
                "timestamp": T0 + 7,
                "features": {"x": 3.0, "y": None},
                "prediction": 0,
                "score": 0.4,
            }
        ],
    ]
    names = "events,null_rate,null_rate:x,null_rate:y,score_mean"
    results = []
    for delay in (0.0, 60.0):
        app = create_app(CONFIG, SQLiteStore(apps.path.with_suffix(f".{delay:g}.db")), clock=lambda: NOW)
        with TestClient(app) as client:
            aggregator = app.state.vigil.aggregator
            aggregator.handover.fold_delay = delay
            for batch in records:
                _post(client, "/v1/events", batch)
                if not delay:
                    assert aggregator.wait_idle(10)  # each batch folded alone
            assert aggregator.wait_idle(10)
            r = client.get(
                "/v1/models/m/metrics", params={"names": names, "step": "10m", "from": T0, "to": NOW}
            )
            results.append({k: v[0][1] for k, v in r.json()["series"].items()})
    assert results[0] == results[1]
    assert results[0]["events"] == 3 and results[0]["score_mean"] == pytest.approx(0.3)


def test_a_read_does_not_wait_for_an_aggregator_that_was_not_started(apps: Apps) -> None:
    """Reads settle what was handed over before them, unless nothing folds (a folder driven by hand)."""
    store = apps.store()
    aggregator = Aggregator(store, Registry(CONFIG, store))
    aggregator.submit("m", 1, pa.table({"ts": [T0]}))
    t = time.monotonic()
    assert aggregator.live_windows("m", 0, NOW) == {}
    assert time.monotonic() - t < 0.5
