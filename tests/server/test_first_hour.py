"""What a new user meets in the first hour: predictions read back as sent, a prediction mean for binary
models, a 404 that says how to add a model, API docs that work offline, and default rules that say what
to do."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from vigil.config import parse_config
from vigil.server.app import create_app
from vigil.store.sqlite import SQLiteStore

NOW = 1_800_000_000.0
CONFIG = """
models:
  credit: {task: binary, owner: {team: risk}, segments: [region]}
  price: {task: regression, owner: {team: pricing}}
alerting: {evaluate_every: 1h}
"""


@pytest.fixture
def client(tmp_path: Path) -> Iterator[tuple[TestClient, Any]]:
    app = create_app(parse_config(CONFIG), SQLiteStore(tmp_path / "v.db"), clock=lambda: NOW, root=tmp_path)
    with TestClient(app) as c:
        yield c, app


def test_binary_predictions_come_back_as_sent_and_have_a_mean(client: tuple[TestClient, Any]) -> None:
    c, app = client
    predictions = [1, 0, True, 1, False, 1, 0, 1]  # 5 of 8 are class 1
    events = [
        {
            "model": "credit",
            "request_id": f"r{i}",
            "timestamp": NOW - 30 - i,
            "prediction": p,
            "segments": {"region": "eu" if i < 4 else "us"},
        }
        for i, p in enumerate(predictions)
    ]
    assert c.post("/v1/events", json=events).json()["accepted"] == len(events)
    assert app.state.vigil.aggregator.wait_idle(10)
    sample = c.get("/v1/models/credit/events", params={"from": NOW - 60, "to": NOW}).json()["events"]
    got = {e["request_id"]: e["prediction"] for e in sample}
    assert got == {f"r{i}": int(p) for i, p in enumerate(predictions)}
    assert all(type(v) is int for v in got.values())

    def mean(**params: Any) -> Any:
        r = c.get(
            "/v1/models/credit/metrics",
            params={"names": "prediction_mean", "from": NOW - 60, "to": NOW, "step": 60, **params},
        )
        assert r.status_code == 200, r.text
        [(_, value)] = r.json()["series"]["prediction_mean"]
        return value

    assert mean() == pytest.approx(5 / 8)
    assert mean(segment="region=eu") == pytest.approx(3 / 4)  # 1, 0, True, 1


def test_an_unknown_model_404_says_how_to_add_one(client: tuple[TestClient, Any]) -> None:
    c, _ = client
    answers = [
        c.get("/v1/models/fraud"),
        c.get("/v1/models/fraud/metrics"),
        c.post("/v1/events", json=[{"model": "fraud", "prediction": 1}]),
        c.post("/v1/labels", json=[{"model": "fraud", "request_id": "r1", "label": 1}]),
    ]
    for r in answers:
        assert r.status_code == 404, r.text
        error = r.json()["error"]
        assert "'fraud'" in error, error
        for how in ("vigil.yaml", "security.auto_register", "POST /v1/models"):
            assert how in error, (how, error)
        assert r.json()["known_models"] == ["credit", "price"]


def test_api_docs_load_nothing_from_the_internet(client: tuple[TestClient, Any]) -> None:
    c, _ = client
    page = c.get("/docs")
    assert page.status_code == 200 and "swagger" in page.text.lower()
    urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url:\s*'([^']+)'""", page.text)
    found = [a or b for a, b in urls]
    assert found, page.text
    assert all(u.startswith("/") and not u.startswith("//") for u in found), found
    assert "http://" not in page.text and "https://" not in page.text.replace("https://swagger.io", "")
    for url in found:
        r = c.get(url)
        assert r.status_code == 200, url
    assert (
        c.get("/docs/assets/swagger-ui-bundle.js")
        .headers["content-type"]
        .startswith(("application/javascript", "text/javascript"))
    )
    assert c.get("/redoc").status_code == 404  # FastAPI's own page would load Redoc from a CDN


def test_every_default_rule_ships_an_inline_runbook(client: tuple[TestClient, Any]) -> None:
    c, _ = client
    rules = [r for r in c.get("/v1/rules").json()["rules"] if r["source"] == "default"]
    names = {(r["name"], r["model"]) for r in rules}
    assert {("DriftShareHigh", "credit"), ("AccuracyDrop", "credit"), ("MaeRise", "price")} <= names
    for rule in rules:
        runbook = rule.get("runbook") or ""
        assert len(runbook) > 60 and "{" not in runbook, rule
        assert rule["sliding"] is (rule["kind"] != "change"), rule  # a change rule reads whole hours
