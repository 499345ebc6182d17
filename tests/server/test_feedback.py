"""User feedback and evaluator scores: sent through the HTTP API (and the SDK), kept the latest per request
id and kind, comments scrubbed, read per step as metrics that alert rules can use. The real app in process
on a real SQLite store; the SDK against a real server on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.fakes import FakeClock
from tests.server.live import serve
from vigil.config import parse_config
from vigil.sdk import Client
from vigil.server.app import create_app
from vigil.store.sqlite import SQLiteStore

NOW = 1_800_000_000.0 - 1_800_000_000.0 % 600
T0 = NOW - 600
JSON = {"content-type": "application/json"}
CONFIG = """
models:
  assistant:
    task: llm
    owner: {team: assistants}
alerting: {}
"""


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    store = SQLiteStore(tmp_path / "v.db")
    try:
        app = create_app(parse_config(CONFIG), store, clock=FakeClock(NOW), flush_every=3600)
        with TestClient(app) as c:
            yield c
    finally:
        store.close()


def _post(client: TestClient, records: list[dict[str, Any]]) -> dict[str, Any]:
    r = client.post("/v1/feedback", content=json.dumps(records), headers=JSON)
    body: dict[str, Any] = r.json()
    body["status"] = r.status_code
    return body


def test_feedback_per_step_latest_wins_and_comments_are_scrubbed(client: TestClient) -> None:
    first: list[
        dict[str, Any]
    ] = [  # the first five minutes: 3 up, 1 down (r0 changes its mind below), ratings, two evaluators
        {"model": "assistant", "request_id": f"r{i}", "thumb": "up" if i < 3 else "down", "timestamp": T0 + i}
        for i in range(4)
    ]
    first += [
        {"model": "assistant", "request_id": "r1", "rating": 4, "timestamp": T0 + 10},
        {"model": "assistant", "request_id": "r2", "rating": 2, "timestamp": T0 + 11},
        {"model": "assistant", "request_id": "r1", "scores": {"faithfulness": 0.9, "relevance": 0.5}}
        | {"timestamp": T0 + 12},
        {"model": "assistant", "request_id": "r2", "scores": {"faithfulness": 0.6}, "timestamp": T0 + 13},
    ]
    assert _post(client, first) == {"accepted": 8, "rejected": [], "status": 200}
    later = [  # the second five minutes: r0 now says down; two more thumbs, one with a comment
        {"model": "assistant", "request_id": "r0", "thumb": "down", "timestamp": T0 + 301},
        {"model": "assistant", "request_id": "r4", "thumb": "down", "timestamp": T0 + 302}
        | {"comment": "wrong, mail me at jo@example.com"},
        {"model": "assistant", "request_id": "r5", "thumb": "up", "timestamp": T0 + 303},
    ]
    assert _post(client, later)["accepted"] == 3
    names = "feedback,positive_feedback_rate,rating_mean,eval_score:faithfulness,eval_score:relevance"
    r = client.get(
        "/v1/models/assistant/metrics", params={"names": names, "step": 300, "from": T0, "to": NOW}
    )
    assert r.status_code == 200, r.text
    series = {n: [v for _, v in s] for n, s in r.json()["series"].items()}
    # r0's first thumb (up, in the first step) was replaced by its later one: the first step keeps r1-r3
    assert series["feedback"] == [5.0, 3.0]
    assert series["positive_feedback_rate"] == [pytest.approx(2 / 3), pytest.approx(1 / 3)]
    assert series["rating_mean"] == [3.0, None]  # no rating in the second step: no value, not a drop
    assert series["eval_score:faithfulness"] == [pytest.approx(0.75), None]
    assert series["eval_score:relevance"] == [0.5, None]
    store = client.app.state.vigil.store  # type: ignore[attr-defined]
    comments = [f.comment for f in store.feedback("assistant", T0, NOW) if f.comment]
    assert comments == ["wrong, mail me at [EMAIL]"]


def test_bad_feedback_is_refused_record_by_record(client: TestClient) -> None:
    body = _post(
        client,
        [
            {"model": "assistant", "request_id": "a", "thumb": "up"},
            {"model": "assistant", "request_id": "b"},  # says nothing
            {"model": "assistant", "request_id": "c", "thumb": "meh"},
            {"model": "assistant", "request_id": "d", "rating": 5, "timestamp": NOW + 7200},  # 2 h ahead
        ],
    )
    assert body["status"] == 200 and body["accepted"] == 1
    why = {r["index"]: (r["field"], r["reason"]) for r in body["rejected"]}
    assert set(why) == {1, 2, 3}
    assert "give a thumb (up or down), a rating or evaluator scores" in why[1][1]
    assert why[2][0] == "thumb" and why[3][0] == "timestamp"
    unknown = _post(client, [{"model": "nobody", "request_id": "a", "thumb": "up"}])
    assert unknown["status"] == 404


def test_a_rule_on_an_evaluator_score_replays(client: TestClient) -> None:
    _post(
        client,
        [
            {"model": "assistant", "request_id": f"r{i}", "scores": {"faithfulness": 0.9 if i < 5 else 0.3}}
            | {"timestamp": T0 + 60 * i}
            for i in range(10)
        ],
    )
    rule = {"name": "Unfaithful", "metric": "eval_score:faithfulness", "op": "<", "warning": 0.5}
    span = {"model": "assistant", "from": T0, "to": NOW, "every": 60}
    r = client.post("/v1/rules/test", json={"rule": {**rule, "window": "1m"}, **span})
    assert r.status_code == 200, r.text
    assert r.json()["breaching"] == 5


def test_the_sdk_sends_feedback(tmp_path: Path) -> None:
    with serve(tmp_path, CONFIG, now=NOW) as live:
        client = Client(live.url, flush_interval=0.05)
        client.log_feedback("assistant", "t1", thumb="down", comment="slow", timestamp=T0 + 1)
        client.log_feedback("assistant", "t2", rating=5, scores={"relevance": 0.8}, timestamp=T0 + 2)
        client.close()
        got = live.app.state.vigil.store.feedback("assistant", T0, NOW)
        assert sorted((f.request_id, f.name, f.value) for f in got) == [
            ("t1", "thumb", 0.0),
            ("t2", "eval:relevance", 0.8),
            ("t2", "rating", 5.0),
        ]
        stats = client.stats()
        assert stats["feedback_sent"] == 2 and stats["rejected_records"] == 0
