"""Embeddings on the live path, through the real HTTP ingest, aggregator and SQLite store: a declared
embedding is accepted as a JSON array of numbers, records of another length or with non-numbers are
rejected one by one with the reason, the windows keep a sample that MMD tests against a baseline file or
another range, and ``drift:<feature>`` reads as a series."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from vigil.config import parse_config
from vigil.monitoring.query import Query
from vigil.server.app import create_app
from vigil.store.sqlite import SQLiteStore

NOW = 1_800_000_000.0
A = (NOW - 3 * 3600, NOW - 2 * 3600)
B = (NOW - 3600, NOW)
DIM = 8
CONFIG = """
models:
  m:
    task: binary
    owner: {team: t}
    window: 1m
    baseline: {file: train.parquet}
    features: {x: {type: numeric}, e: {type: embedding, dimensions: 8}}
"""


def _events(rng: np.random.Generator, start: float, shift: float) -> list[dict[str, Any]]:
    return [
        {
            "model": "m",
            "timestamp": start + i * 3.0,
            "features": {"x": float(rng.normal()), "e": rng.normal(shift, 1.0, DIM).round(6).tolist()},
            "prediction": int(rng.random() < 0.5),
        }
        for i in range(1200)
    ]


@pytest.fixture
def served(tmp_path: Path) -> Any:
    rng = np.random.default_rng(5)
    train = pa.table({"x": rng.normal(size=3000), "e": pa.array(list(rng.normal(size=(3000, DIM))))})
    pq.write_table(train, tmp_path / "train.parquet")
    app = create_app(parse_config(CONFIG), SQLiteStore(tmp_path / "v.db"), clock=lambda: NOW, root=tmp_path)
    with TestClient(app) as client:
        yield client, app, rng


def _post(client: TestClient, batch: list[dict[str, Any]]) -> dict[str, Any]:
    answer: dict[str, Any] = client.post("/v1/events", json=batch).json()
    return answer


def test_bad_vectors_are_rejected_record_by_record(served: Any) -> None:
    client, _, rng = served
    batch = _events(rng, A[0], 0.0)[:6]
    batch[1]["features"]["e"] = [1.0, 2.0]
    batch[3]["features"]["e"] = [1.0, "a", 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]
    batch[4]["features"]["e"] = 0.5
    answer = _post(client, batch)
    assert answer["accepted"] == 3
    rejected = {r["index"]: (r["field"], r["reason"]) for r in answer["rejected"]}
    assert rejected[1] == ("features.e", "expected 8 numbers (declared dimensions: 8), got 2")
    assert rejected[3][0] == "features.e" and "item 1" in rejected[3][1]
    assert rejected[4] == ("features.e", "expected a list of numbers (declared type: embedding), got '0.5'")


def test_drift_of_an_embedding_against_the_baseline_and_a_range(served: Any) -> None:
    client, app, rng = served
    for start, shift in ((A[0], 0.0), (B[0], 0.3)):
        batch = _events(rng, start, shift)
        assert _post(client, batch)["accepted"] == len(batch)
    assert app.state.vigil.aggregator.wait_idle(10)
    query: Query = app.state.vigil.query
    calm, moved = query.drift("m", *A), query.drift("m", *B)
    assert calm.columns["e"].method == moved.columns["e"].method == "mmd"
    assert not calm.columns["e"].drift and moved.columns["e"].drift
    assert query.compare("m", A, B).columns["e"].drift
    series = query.series("m", ["drift:e"], A[0], NOW, 3600)["drift:e"]
    effects = dict(series)
    calm_effect, moved_effect = effects[A[0]], effects[B[0]]
    assert calm_effect is not None and moved_effect is not None
    assert moved_effect > 10 * max(calm_effect, 1e-4)


def test_dashboard_pages_show_an_embedding(served: Any) -> None:
    client, app, rng = served
    assert _post(client, _events(rng, B[0], 0.3))["accepted"] == 1200
    assert app.state.vigil.aggregator.wait_idle(10)
    params = {"from": B[0], "to": NOW}
    for path in ("/models/m", "/models/m/features/e", "/v1/models/m/drift"):
        r = client.get(path, params=params)
        assert r.status_code == 200, (path, r.text[:500])
    assert client.get("/v1/models/m/drift", params=params).json()["columns"]["e"]["method"] == "mmd"


def test_the_sdk_sends_a_numpy_vector_as_an_array(served: Any) -> None:
    from vigil.sdk.records import dump

    client, _, _ = served
    record = {"model": "m", "timestamp": A[0], "features": {"x": 1.0, "e": np.arange(DIM, dtype=np.float32)}}
    body = b"[" + dump(record) + b"]"
    answer = client.post("/v1/events", content=body, headers={"Content-Type": "application/json"}).json()
    assert answer == {"accepted": 1, "rejected": []}
