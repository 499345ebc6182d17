"""Two server processes ("writers") sharing one PostgreSQL: each folds its own traffic into its own
windows, and a query on either merges both, so the numbers are those of all the traffic.

Needs the PostgreSQL on this machine (a fresh database per test, dropped afterwards); set
VIGIL_TEST_POSTGRES to another URL where databases may be created, or to "skip".
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from vigil.config import parse_config
from vigil.server.app import create_app
from vigil.store import open_store

POSTGRES = os.environ.get("VIGIL_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
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
NAMES = (
    "events,errors,error_rate,latency_p50,latency_p95,latency_p99,score_mean,null_rate,accuracy,"
    "label_coverage"
)


@pytest.fixture
def database() -> Iterator[str]:
    if POSTGRES == "skip":
        pytest.skip("VIGIL_TEST_POSTGRES=skip")
    psycopg = pytest.importorskip("psycopg")
    name = f"vigil_test_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(POSTGRES, autocommit=True, connect_timeout=3) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL at {POSTGRES}: {exc}")
    try:
        yield POSTGRES.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(POSTGRES, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def _events(rng: np.random.Generator, n: int, prefix: str) -> list[dict[str, Any]]:
    ts = T0 + rng.uniform(0, 600, n)
    out = []
    for i in range(n):
        features: dict[str, Any] = {"x": None if rng.random() < 0.1 else float(rng.normal())}
        if rng.random() > 0.2:
            features["region"] = str(rng.choice(["eu", "us"]))
        out.append(
            {
                "model": "m",
                "request_id": f"{prefix}{i}",
                "timestamp": float(ts[i]),
                "features": features,
                "prediction": int(rng.random() < 0.5),
                "score": float(rng.random()),
                "latency_ms": float(rng.lognormal(3, 0.7)),
                "error": "E: x" if rng.random() < 0.08 else None,
            }
        )
    return out


def _expected(
    events: list[dict[str, Any]], labels: dict[str, int], start: float, step: float
) -> dict[str, Any]:
    part = [e for e in events if start <= e["timestamp"] < start + step]
    lat = np.array([e["latency_ms"] for e in part])
    labelled = [e for e in part if e["request_id"] in labels]
    nulls = sum((e["features"]["x"] is None) + ("region" not in e["features"]) for e in part)
    return {
        "events": float(len(part)),
        "errors": float(sum(e["error"] is not None for e in part)),
        "error_rate": sum(e["error"] is not None for e in part) / len(part),
        "latency_p50": float(np.quantile(lat, 0.5, method="lower")),
        "latency_p95": float(np.quantile(lat, 0.95, method="lower")),
        "latency_p99": float(np.quantile(lat, 0.99, method="lower")),
        "score_mean": float(np.mean([e["score"] for e in part])),
        "null_rate": nulls / (2 * len(part)),
        "accuracy": float(np.mean([e["prediction"] == labels[e["request_id"]] for e in labelled])),
        "label_coverage": len(labelled) / len(part),
    }


def _post(client: TestClient, path: str, records: list[dict[str, Any]]) -> None:
    r = client.post(path, content=json.dumps(records), headers=JSON)
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == len(records), r.text


def _series(client: TestClient, step: int) -> dict[str, list[Any]]:
    r = client.get("/v1/models/m/metrics", params={"names": NAMES, "step": step, "from": T0, "to": NOW})
    assert r.status_code == 200, r.text
    series: dict[str, list[Any]] = r.json()["series"]
    return series


def _check(
    series: dict[str, list[Any]], events: list[dict[str, Any]], labels: dict[str, int], step: int
) -> None:
    for k in range(len(series["events"])):
        want = _expected(events, labels, T0 + k * step, step)
        for name, value in want.items():
            got = series[name][k][1]
            if name.startswith("latency_p"):
                assert abs(got - value) <= 0.01 * value, (k, name)  # the sketch's 1% bound
            else:
                assert got == pytest.approx(value, rel=1e-9), (k, name)


class TestTwoWritersOnePostgres:
    @pytest.fixture
    def writers(self, database: str) -> Iterator[tuple[FastAPI, TestClient, FastAPI, TestClient]]:
        with ExitStack() as stack:
            pair: list[Any] = []
            for writer in ("a", "b"):
                store = open_store(database)
                stack.callback(store.close)
                app = create_app(CONFIG, store, clock=lambda: NOW, writer=writer, flush_every=3600)
                pair += [app, stack.enter_context(TestClient(app))]
            yield pair[0], pair[1], pair[2], pair[3]

    def test_windows_of_two_writers_merge(
        self, writers: tuple[FastAPI, TestClient, FastAPI, TestClient]
    ) -> None:
        app_a, a, app_b, b = writers
        rng = np.random.default_rng(9)
        mine, theirs = _events(rng, 1200, "a"), _events(rng, 900, "b")
        everything = mine + theirs
        labels = {e["request_id"]: int(rng.random() < 0.5) for e in everything if rng.random() < 0.5}

        _post(a, "/v1/events", mine[:300])  # a's first batch fixes the profile template
        assert app_a.state.vigil.aggregator.wait_idle(10)
        for chunk in range(0, 900, 300):  # then both, in the same windows
            _post(b, "/v1/events", theirs[chunk : chunk + 300])
            _post(a, "/v1/events", mine[300 + chunk : 600 + chunk])
        # labels arrive at whichever server; they join predictions made on either
        label_records = [{"model": "m", "request_id": rid, "label": v} for rid, v in labels.items()]
        _post(b, "/v1/labels", label_records[: len(label_records) // 2])
        _post(a, "/v1/labels", label_records[len(label_records) // 2 :])
        for app in (app_a, app_b):
            assert app.state.vigil.aggregator.wait_idle(10)

        # b has not saved yet: a sees its own traffic (memory) and nothing of b's windows
        assert sum(v for _, v in _series(a, 600)["events"]) == len(mine)
        app_b.state.vigil.aggregator.flush()  # b saves: a now sees both
        for step in (60, 300, 600):
            _check(_series(a, step), everything, labels, step)
        app_a.state.vigil.aggregator.flush()
        for client in (a, b):  # both saved: the same numbers from either server
            _check(_series(client, 120), everything, labels, 120)
        from_a, from_b = _series(a, 60), _series(b, 60)
        for name, points in from_a.items():  # equal but for the order of float additions
            assert [v for _, v in points] == pytest.approx([v for _, v in from_b[name]], rel=1e-12), name

        sample = a.get("/v1/models/m/events", params={"limit": 10_000, "from": T0, "to": NOW}).json()[
            "events"
        ]
        ids = {e["request_id"] for e in sample}
        assert any(i.startswith("a") for i in ids) and any(i.startswith("b") for i in ids)
        assert ids <= {e["request_id"] for e in everything}
