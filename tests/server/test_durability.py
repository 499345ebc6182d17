"""Acknowledged means durable: events answered 2xx survive `kill -9` of a real server process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

CONFIG = """
models:
  m:
    task: binary
    owner: {team: t}
    features: {x: {type: numeric}}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _vigil() -> str:
    return str(Path(sys.executable).parent / "vigil")


class Server:
    def __init__(self, tmp: Path, flush_every: float) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        (tmp / "vigil.yaml").write_text(CONFIG)
        self.args = [
            _vigil(),
            "serve",
            "--config",
            str(tmp / "vigil.yaml"),
            "--store",
            str(tmp / "v.db"),
            "--port",
            str(self.port),
            "--flush-every",
            str(flush_every),
        ]
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(self.args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(
            "server did not start: " + (self.proc.stderr.read(2000).decode() if self.proc.stderr else "")
        )

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    s = Server(tmp_path, flush_every=3600.0)  # windows never saved by the timer: only the log can save us
    try:
        yield s
    finally:
        s.stop()


def test_acknowledged_events_survive_kill_9(server: Server) -> None:
    server.start()
    acked = 0
    with httpx.Client(base_url=server.url, timeout=10) as client:
        for batch in range(20):
            events = [
                {"model": "m", "request_id": f"{batch}-{i}", "features": {"x": float(i)}, "latency_ms": 5.0}
                for i in range(500)
            ]
            r = client.post("/v1/events", json=events)
            assert r.status_code == 200, r.text
            acked += r.json()["accepted"]
    server.kill9()  # no shutdown hook runs: in-memory windows are lost, the log is not

    server.start()
    with httpx.Client(base_url=server.url, timeout=10) as client:
        deadline = time.monotonic() + 20
        count = None
        while time.monotonic() < deadline:
            series = client.get("/v1/models/m/metrics", params={"names": "events", "step": "1d"}).json()[
                "series"
            ]
            count = sum(v or 0 for _, v in series["events"])
            if count >= acked:
                break
            time.sleep(0.2)
    assert acked == 10_000
    assert count == acked  # every acknowledged event, none twice
