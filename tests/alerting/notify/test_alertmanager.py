"""Forwarding to a real Alertmanager (Debian's ``prometheus-alertmanager``), skipped when absent."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.alerting.notify.samples import T0, firing_notification, resolved_notification
from vigil.alerting.notify import AlertmanagerReceiver, DeliveryStatus, RetryPolicy

BINARY = Path("/usr/bin/prometheus-alertmanager")
CONFIG = 'route:\n  receiver: "null"\nreceivers:\n  - name: "null"\n'


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(check: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
        except httpx.HTTPError:
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(0.1)


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[str]:
    if not BINARY.exists():
        pytest.skip(f"{BINARY} not installed (Debian package prometheus-alertmanager)")
    config = tmp_path / "alertmanager.yml"
    config.write_text(CONFIG)
    port = _free_port()
    log = (tmp_path / "alertmanager.log").open("wb")
    proc = subprocess.Popen(
        [
            str(BINARY),
            f"--config.file={config}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(lambda: proc.poll() is None and httpx.get(f"{url}/-/ready", timeout=1).status_code == 200)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


def test_forwards_firing_then_resolved(alertmanager: str) -> None:
    receiver = AlertmanagerReceiver(alertmanager, retry=RetryPolicy(max_attempts=3, initial_delay=0.2))
    now = time.time()
    fire = firing_notification()
    assert receiver.send(fire, now=now).status is DeliveryStatus.SENT

    def listed() -> list[dict[str, Any]]:
        alerts: list[dict[str, Any]] = httpx.get(f"{alertmanager}/api/v2/alerts", timeout=2).json()
        return [a for a in alerts if a["labels"].get("alertname") == "FeatureDrift"]

    [shown] = _wait(listed)
    assert shown["labels"] == dict(fire.firing[0].labels)
    assert shown["annotations"]["runbook_url"] == "https://runbooks.example/drift"
    assert shown["status"]["state"] == "active"
    assert shown["startsAt"].startswith("2026-01-01T00:00:00")

    resolved = resolved_notification()
    assert resolved.resolved[0].ends_at == T0 + 600  # in the past: Alertmanager treats it as resolved now
    assert receiver.send(resolved, now=now).status is DeliveryStatus.SENT
    _wait(lambda: listed() == [])  # a resolved alert leaves the active list
