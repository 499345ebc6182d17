"""Two servers sharing one PostgreSQL: one evaluates (it holds the ``alerting`` lease), and both answer
``GET /v1/alerts`` and ``vigil alerts list`` with the same alerts, from the state saved in the store; an
alert can be acknowledged through either."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import httpx
import uvicorn
from click.testing import CliRunner
from fastapi.testclient import TestClient

from tests.fakes import FakeClock
from tests.shared_postgres import fresh_database
from vigil.cli.main import main
from vigil.config import parse_config
from vigil.server.app import create_app
from vigil.store import open_store

T0 = 1_800_000_000.0 - 1_800_000_000.0 % 3600
CONFIG = """
models:
  m: {task: binary, owner: {team: risk}, window: 1m}
rules:
  - {name: ErrorRateHigh, model: m, metric: error_rate, warning: 0.05, critical: 0.2, window: 1m, for: 2m}
alerting:
  evaluate_every: 1h
  default_rules: false
  route: {group_by: [alertname, model], group_wait: 30s, group_interval: 1m, repeat_interval: 4h}
"""


@contextmanager
def _uvicorn(app: Any) -> Iterator[str]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def _view(alerts: list[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    return sorted(
        (a["fingerprint"], a["labels"]["alertname"], a["labels"]["severity"], a["status"]) for a in alerts
    )


def test_every_server_answers_alerts_from_the_shared_state() -> None:
    clock = FakeClock(T0)
    config = parse_config(CONFIG)
    with fresh_database() as url, ExitStack() as stack:
        apps = []
        for writer in ("a", "b"):
            store = open_store(url)
            stack.callback(store.close)
            apps.append(create_app(config, store, clock=clock, writer=writer, flush_every=0.05))
        app_a, app_b = apps
        a = stack.enter_context(TestClient(app_a))
        b_url = stack.enter_context(_uvicorn(app_b))
        for minute in range(8):
            failing = minute >= 3  # 30% errors from minute 3
            events = [
                {
                    "model": "m",
                    "timestamp": T0 + minute * 60 + i,
                    **({"error": "E"} if failing and i % 10 < 3 else {}),
                }
                for i in range(50)
            ]
            clock.now = T0 + minute * 60 + 55
            assert a.post("/v1/events", json=events).json()["accepted"] == 50
            assert app_a.state.vigil.aggregator.wait_idle(10)
            for tick in (60, 90):
                clock.now = T0 + minute * 60 + tick
                app_a.state.alerting.tick(clock.now)  # a takes the lease and evaluates
                assert app_b.state.alerting.tick(clock.now) == []  # b does not
        assert app_a.state.alerting.leading and not app_b.state.alerting.leading

        on_a = a.get("/v1/alerts").json()["alerts"]
        on_b = httpx.get(f"{b_url}/v1/alerts", timeout=10).json()["alerts"]
        assert [x[1:] for x in _view(on_a)] == [("ErrorRateHigh", "critical", "firing")]
        assert _view(on_b) == _view(on_a)
        assert on_b[0]["annotations"] == on_a[0]["annotations"]

        listed = CliRunner().invoke(
            main, ["alerts", "list", "--url", b_url], obj=clock, env={"COLUMNS": "120"}
        )
        assert listed.exit_code == 0, listed.output
        assert "ErrorRateHigh" in listed.stdout and "critical" in listed.stdout, listed.stdout

        fingerprint = on_b[0]["fingerprint"]
        acked = httpx.post(f"{b_url}/v1/alerts/{fingerprint}/ack", json={"by": "bo"}, timeout=10)
        assert acked.status_code == 200 and acked.json()["status"] == "acknowledged", acked.text

        # the errors stop: the evaluator resolves the alert, and b says so too
        for minute in range(8, 12):
            events = [{"model": "m", "timestamp": T0 + minute * 60 + i} for i in range(50)]
            clock.now = T0 + minute * 60 + 55
            assert a.post("/v1/events", json=events).json()["accepted"] == 50
            assert app_a.state.vigil.aggregator.wait_idle(10)
            for tick in (60, 90):
                clock.now = T0 + minute * 60 + tick
                app_a.state.alerting.tick(clock.now)
        assert _view(httpx.get(f"{b_url}/v1/alerts", timeout=10).json()["alerts"]) == _view(
            a.get("/v1/alerts").json()["alerts"]
        )
        assert all(x["status"] != "firing" for x in a.get("/v1/alerts").json()["alerts"])
