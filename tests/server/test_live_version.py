"""After a rollback (a remediation action) or a deploy annotation, every view of the live version follows:
``/v1/models``, ``vigil_model_info`` and the version stamped on events sent without one; on the server
that made the change at once, on a second server sharing the PostgreSQL store within its refresh, and
after a restart. Editing ``live:`` in the config is a deploy of its own."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.fakes import FakeClock
from tests.shared_postgres import fresh_database
from vigil.config import parse_config
from vigil.server.app import create_app
from vigil.store import open_store

NOW = 1_800_000_000.0

CONFIG = """
models:
  m: {{task: binary, owner: {{team: risk}}, versions: [v1, v2], live: {live}}}
alerting: {{evaluate_every: 1h, default_rules: false}}
actions:
  - {{name: rollback-m, model: m, kind: rollback, webhook: "{hook}"}}
"""


@pytest.fixture
def deploy_hook() -> Iterator[str]:
    """A deploy webhook that answers 200 (the system a rollback action calls)."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/deploy"
    server.shutdown()


def _live(client: TestClient) -> tuple[str, str | None]:
    [model] = client.get("/v1/models").json()["models"]
    return model["live"], model["previous"]


def _info(client: TestClient) -> str:
    text: str = client.get("/metrics").text
    [line] = [x for x in text.splitlines() if x.startswith("vigil_model_info{")]
    return line


def _stamped(client: TestClient, app: Any, clock: FakeClock, rid: str) -> str:
    """The version stamped on an event sent without one."""
    event = {"model": "m", "request_id": rid, "timestamp": clock.now - 1, "prediction": 1}
    assert client.post("/v1/events", json=[event]).json()["accepted"] == 1
    assert app.state.vigil.aggregator.wait_idle(10)
    events = client.get("/v1/models/m/events", params={"from": clock.now - 60, "to": clock.now}).json()
    [version] = {e["version"] for e in events["events"] if e.get("request_id") == rid}
    return str(version)


def _eventually(read: Callable[[], Any], want: Any, seconds: float = 10.0) -> Any:
    deadline = time.monotonic() + seconds
    got = read()
    while got != want and time.monotonic() < deadline:
        time.sleep(0.2)
        got = read()
    return got


def test_rollback_and_deploy_move_the_live_version_everywhere(deploy_hook: str) -> None:
    clock = FakeClock(NOW)
    writers = itertools.count(1)
    with fresh_database() as url, ExitStack() as stack:

        def server(live: str = "v2") -> tuple[TestClient, Any]:
            config = parse_config(CONFIG.format(live=live, hook=deploy_hook))
            store = open_store(url)
            stack.callback(store.close)
            app = create_app(config, store, clock=clock, writer=f"w{next(writers)}")
            return stack.enter_context(TestClient(app)), app

        a, app_a = server()
        b, app_b = server()
        assert _live(a) == ("v2", "v1") and _live(b) == ("v2", "v1")

        run = a.post("/v1/actions/rollback-m/run", json={"model": "m", "reason": "accuracy fell", "by": "al"})
        assert run.status_code == 200 and run.json()["state"] == "succeeded", run.text
        # the server that rolled back says so at once, everywhere it names the live version
        assert _live(a) == ("v1", "v2")
        assert 'live_version="v1"' in _info(a)
        assert _stamped(a, app_a, clock, "a1") == "v1"
        # the other server sharing the store follows within its refresh
        assert _eventually(lambda: _live(b), ("v1", "v2")) == ("v1", "v2")
        assert 'live_version="v1"' in _info(b)
        assert _stamped(b, app_b, clock, "b1") == "v1"

        # a deploy annotation on the second server moves both the other way
        r = b.post("/v1/models/m/deploys", json={"version": "v2", "by": "bo", "note": "fixed"})
        assert r.status_code == 201, r.text
        assert _live(b) == ("v2", "v1")
        assert _eventually(lambda: _live(a), ("v2", "v1")) == ("v2", "v1")

        # roll back again, then restart: the store keeps what is live, not the config's starting point
        assert a.post("/v1/actions/rollback-m/run", json={"model": "m", "reason": "again", "force": True})
        assert _live(a)[0] == "v1"
        c, app_c = server()
        assert _live(c) == ("v1", "v2")
        assert _stamped(c, app_c, clock, "c1") == "v1"

        # editing live: in the config is a deploy: the new declaration wins over the stored state
        d, _ = server(live="v1")
        assert _live(d)[0] == "v1"
        e, _ = server(live="v2")  # declared v2 now (it was v1 when last recorded): a config deploy
        assert _live(e)[0] == "v2"


def test_the_registry_keeps_the_last_live_version_read_while_the_store_fails(tmp_path: Any) -> None:
    from vigil.actions.deployments import Deployments
    from vigil.registry import Registry

    class Flaky:
        """The real store, whose record reads can be made to fail (a store outage)."""

        def __init__(self, inner: Any) -> None:
            self.inner, self.down = inner, False

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

        def records(self, *args: Any, **kwargs: Any) -> Any:
            if self.down:
                raise OSError("connection refused")
            return self.inner.records(*args, **kwargs)

    store = Flaky(open_store(str(tmp_path / "v.db")))
    config = parse_config(CONFIG.format(live="v2", hook="http://127.0.0.1:9/"))
    registry = Registry(config, store, refresh=0.0)
    Deployments(store, registry.declared).record("m", "v1", NOW, "al", "rollback")
    assert registry.live("m") == "v1"
    store.down = True
    assert registry.live("m") == "v1" and registry.get("m").live_version == "v1"  # type: ignore[union-attr]
    store.down = False
    assert registry.previous("m") == "v2"
