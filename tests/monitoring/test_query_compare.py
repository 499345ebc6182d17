"""``Query.compare``: the drift report of one range of a model's traffic against another range of it (no
baseline needed), through the real ingest and aggregator: a shifted feature drifts, an unchanged one does
not, an empty range is refused in words, and what was not compared says why without naming a baseline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from vigil.config import parse_config
from vigil.errors import InputError
from vigil.monitoring.query import Query
from vigil.server.app import create_app
from vigil.store.sqlite import SQLiteStore

NOW = 1_800_000_000.0
A = (NOW - 3 * 3600, NOW - 2 * 3600)
B = (NOW - 3600, NOW)
CONFIG = """
models:
  m:
    task: binary
    owner: {team: t}
    window: 1m
    features: {x: {type: numeric}, y: {type: numeric}, city: {type: categorical}}
"""


def _events(rng: np.random.Generator, start: float, shift: float) -> list[dict[str, Any]]:
    return [
        {
            "model": "m",
            "timestamp": start + i * 3.0,
            "features": {
                "x": float(rng.normal(shift, 1)),
                "y": float(rng.normal(0, 1)),
                "city": str(rng.choice(["a", "b"])),
            },
            "prediction": int(rng.random() < 0.5),
            **({"score": float(rng.random())} if shift else {}),  # scores only in the later range
        }
        for i in range(1200)
    ]


@pytest.fixture
def query(tmp_path: Path) -> Any:
    app = create_app(parse_config(CONFIG), SQLiteStore(tmp_path / "v.db"), clock=lambda: NOW)
    rng = np.random.default_rng(3)
    with TestClient(app) as client:
        for start, shift in ((A[0], 0.0), (B[0], 1.5)):
            batch = _events(rng, start, shift)
            assert client.post("/v1/events", json=batch).json()["accepted"] == len(batch)
        assert app.state.vigil.aggregator.wait_idle(10)
        yield app.state.vigil.query


def test_a_range_against_another_range(query: Query) -> None:
    report = query.compare("m", A, B, labels=("first hour", "last hour"))
    assert report.columns["x"].drift and not report.columns["y"].drift and not report.columns["city"].drift
    assert report.reference == {"source": "first hour", "rows": 1200}
    assert report.current == {"source": "last hour", "rows": 1200}
    assert report.skipped["score"] == "not compared: the reference range has no scores"
    same = query.compare("m", (A[0], A[0] + 1800), (A[0] + 1800, A[1]))
    assert same.drifted == []


def test_an_empty_range_is_refused_naming_which(query: Query) -> None:
    with pytest.raises(InputError, match="no events of 'm' in the reference range"):
        query.compare("m", (NOW - 9 * 3600, NOW - 8 * 3600), B)
    with pytest.raises(InputError, match="no events of 'm' in the current range"):
        query.compare("m", A, (NOW - 9 * 3600, NOW - 8 * 3600))
