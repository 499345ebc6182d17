"""Errors as the API answers them: a model that is not there is a 404 naming the models there are; a bug
(here a ``KeyError`` raised deep inside a route) is a 500 whose traceback is in the server's log, never
an "unknown model"."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from vigil.config import parse_config
from vigil.server.app import create_app
from vigil.store.sqlite import SQLiteStore

CONFIG = "models:\n  m: {task: binary, owner: {team: risk}}\n"


@pytest.fixture
def app(tmp_path: Path) -> Iterator[FastAPI]:
    store = SQLiteStore(tmp_path / "v.db")
    yield create_app(parse_config(CONFIG), store)
    store.close()


def test_an_unknown_model_is_a_404_naming_the_known_ones(app: FastAPI) -> None:
    with TestClient(app) as client:
        for path in (
            "/v1/models/nope",
            "/v1/models/nope/metrics",
            "/v1/models/nope/drift",
            "/v1/models/nope/events",
        ):
            answer = client.get(path)
            assert answer.status_code == 404, (path, answer.text)
            assert answer.json()["error"].startswith("unknown model 'nope'; declare it under models:")
            assert answer.json()["known_models"] == ["m"]


def test_a_key_error_deep_in_a_route_is_a_500_with_its_traceback_logged(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    query = app.state.vigil.query

    def broken(*args: Any, **kwargs: Any) -> Any:
        buckets: dict[str, Any] = {}
        return buckets["bucket"]  # a bug: a dictionary without the key looked up

    monkeypatch.setattr(query, "windows", broken)  # called inside Query.events, two calls below the route
    caplog.set_level(logging.ERROR, logger="vigil.server")
    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.get("/v1/models/m/events")
        assert answer.status_code == 500, answer.text
        assert "unknown model" not in answer.text
        assert answer.json() == {"error": "the server failed to answer this request; its log says why"}
        assert client.get("/v1/models/m").status_code == 200  # the server goes on serving
    (record,) = [r for r in caplog.records if r.name == "vigil.server"]
    assert record.levelno == logging.ERROR
    assert "GET /v1/models/m/events failed: KeyError('bucket')" in record.getMessage()
    assert record.exc_info is not None and record.exc_info[0] is KeyError
    assert "broken" in caplog.text  # the traceback, down to the frame that raised
