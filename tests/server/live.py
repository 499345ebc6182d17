"""A real Vigil server on loopback for tests that speak HTTP to it: uvicorn in a thread, a fake clock, a
real store (an SQLite file, or any store given)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from tests.fakes import FakeClock
from vigil.config import parse_config
from vigil.server.app import create_app
from vigil.store import Store
from vigil.store.sqlite import SQLiteStore

__all__ = ["T0", "Live", "serve", "serve_app"]

T0 = 1_800_000_000.0 - 1_800_000_000.0 % 3600


@dataclass
class Live:
    url: str
    app: FastAPI
    clock: FakeClock

    def client(self, **kwargs: Any) -> httpx.Client:
        """An HTTP client of this server (keeps cookies; does not follow redirects)."""
        return httpx.Client(base_url=self.url, timeout=30, **kwargs)

    def call(self, method: str, path: str, key: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", None) or {})
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        return httpx.request(method, self.url + path, headers=headers, timeout=30, **kwargs)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def serve_app(app: FastAPI, clock: FakeClock) -> Iterator[Live]:
    """Serve ``app`` on a free loopback port until the block ends."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="vigil-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield Live(f"http://127.0.0.1:{port}", app, clock)
    finally:
        server.should_exit = True
        thread.join(10)


@contextmanager
def serve(tmp_path: Path, config: str, store: Store | None = None, now: float = T0) -> Iterator[Live]:
    """A server of ``config`` on ``store`` (default: an SQLite file in ``tmp_path``, closed at the end)."""
    clock = FakeClock(now)
    own = store is None
    used = SQLiteStore(tmp_path / "v.db") if store is None else store
    try:
        app = create_app(parse_config(config), used, clock=clock, flush_every=0.05)
        with serve_app(app, clock) as live:
            yield live
    finally:
        if own:
            used.close()
