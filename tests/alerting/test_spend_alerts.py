"""Alerts that name who spends, through the evaluation round on a real app and SQLite store with a fake
clock: the default ``TopSpenderShareJump`` rule fires when one user's share of the cost jumps and its
summary names the user with the share and its average; a cost rule's alert names the top user and feature.
The expected shares are computed here from the posted costs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.fakes import FakeClock
from vigil.alerting.evaluate.round import evaluate
from vigil.alerting.rules import ThresholdRule
from vigil.alerting.rules.defaults import default_rules
from vigil.config import parse_config
from vigil.server.app import Vigil, create_app
from vigil.store.sqlite import SQLiteStore

T0 = 1_800_000_000.0  # on the hour
CONFIG = """
models:
  chat:
    task: llm
    owner: {team: assistants}
"""
REGULARS = [f"u-{i}" for i in range(10)]


@pytest.fixture
def vigil(tmp_path: Path) -> Iterator[tuple[TestClient, Vigil, FakeClock]]:
    with ExitStack() as stack:
        store = SQLiteStore(tmp_path / "vigil.db")
        stack.callback(store.close)
        clock = FakeClock(T0)
        app = create_app(parse_config(CONFIG), store, clock=clock, flush_every=3600, root=tmp_path)
        client = stack.enter_context(TestClient(app))
        yield client, app.state.vigil, clock


def _quarter(client: TestClient, vigil: Vigil, clock: FakeClock, q: int, abuser: float) -> None:
    """Quarter-hour ``q``: each minute, ten regular users spend 0.01 USD each on ``search``, and u-4821
    spends ``abuser`` on ``chat``."""
    records = []
    for m in range(15):
        t = T0 + 900 * q + 60 * m
        for i, user in enumerate(REGULARS):
            records.append(
                {"model": "chat", "timestamp": t + i, "cost": 0.01, "tokens_in": 40, "tokens_out": 10}
                | {"segments": {"user": user, "feature": "search"}}
            )
        if abuser:
            records.append(
                {"model": "chat", "timestamp": t + 30, "cost": abuser, "tokens_in": 900, "tokens_out": 300}
                | {"segments": {"user": "u-4821", "feature": "chat"}}
            )
    clock.now = T0 + 900 * (q + 1) + 1
    r = client.post("/v1/events", content=json.dumps(records), headers={"content-type": "application/json"})
    assert r.status_code == 200 and r.json()["rejected"] == [], r.text
    assert vigil.aggregator.wait_idle(10)


def test_one_users_jump_in_share_fires_and_the_alerts_name_the_user_and_feature(
    vigil: tuple[TestClient, Vigil, FakeClock],
) -> None:
    client, app, clock = vigil
    spec = app.registry.get("chat")
    assert spec is not None
    jump = next(r for r in default_rules("chat", spec) if r.name == "TopSpenderShareJump")
    cost = ThresholdRule(name="ChatCost", model="chat", metric="cost", warning=2.0, window="15m")
    for q in range(6):  # six calm quarter-hours: the top user's share is 0.1 in each
        _quarter(client, app, clock, q, 0.0)
    _, alerts = evaluate([jump, cost], app.query, {}, clock.now)
    assert alerts == []

    _quarter(client, app, clock, 6, 0.2)  # u-4821 spends 0.2 a minute: 0.2 / 0.3 of the cost
    _, alerts = evaluate([jump, cost], app.query, {}, clock.now)
    fired = {a.labels["alertname"]: a.annotations for a in alerts}
    assert set(fired) == {"TopSpenderShareJump", "ChatCost"}
    share = fired["TopSpenderShareJump"]
    assert share["summary"] == (
        "TopSpenderShareJump: user u-4821 spent 67% of chat's cost in the last 15m, 10% on average"
    )
    assert float(share["value"]) == pytest.approx(0.2 / 0.3, rel=1e-6)
    assert float(share["baseline"]) == pytest.approx(0.1, rel=1e-6)
    assert (share["top_user"], share["top_feature"]) == ("u-4821", "chat")
    assert float(share["top_user_share"]) == pytest.approx(0.2 / 0.3, rel=1e-3)
    spent = fired["ChatCost"]
    assert spent["summary"].endswith("; top user u-4821 (67% of the cost), top feature chat (67%)")
    assert float(spent["value"]) == pytest.approx(15 * 0.3, rel=1e-9)
