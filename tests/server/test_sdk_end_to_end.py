"""The SDK against the real server: ``vigil.Client`` in this process, ``vigil serve`` in another, on
loopback; what the client logged is counted through the API."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

import vigil
from tests.server.test_durability import _free_port

INGEST_KEY = "e2e-ingest-5f0c"
ADMIN_KEY = "e2e-admin-91be"
CONFIG = """
security:
  api_keys:
    admin: [{name: ana, key: "${E2E_ADMIN_KEY}"}]
    ingest: [{name: scorer, key: "${E2E_INGEST_KEY}"}]
models:
  credit:
    task: binary
    owner: {team: risk}
    versions: [v1, v2]
    live: v2
    window: 1m
    features: {income: {type: numeric}, region: {type: categorical}}
"""


class Served:
    """``vigil serve`` as a user starts it, keys from the environment."""

    def __init__(self, tmp: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        (tmp / "vigil.yaml").write_text(CONFIG)
        vigil_cli = str(Path(sys.executable).parent / "vigil")
        args = [vigil_cli, "serve", "--config", str(tmp / "vigil.yaml"), "--store", str(tmp / "v.db")]
        args += ["--port", str(self.port), "--flush-every", "0.2", "--log-level", "warning"]
        env = {**os.environ, "E2E_ADMIN_KEY": ADMIN_KEY, "E2E_INGEST_KEY": INGEST_KEY}
        self.proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.proc.stderr.read().decode() if self.proc.stderr else ""
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError("vigil serve did not answer /healthz within 30 s")

    def get(self, path: str, **params: Any) -> Any:
        answer = httpx.get(self.url + path, params=params, headers={"X-API-Key": ADMIN_KEY}, timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json() if path != "/metrics" else answer.text

    def stop(self) -> str:
        """Stop it as a service manager does (SIGTERM); returns what it wrote on stderr."""
        self.proc.send_signal(signal.SIGTERM)
        _, err = self.proc.communicate(timeout=20)
        return err.decode()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    server = Served(tmp_path)
    try:
        yield server
    finally:
        if server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait(10)


def _totals(served: Served, start: float) -> dict[str, Any]:
    """The numbers of model credit since ``start`` in one step (of 400 days, so the test's minute never
    straddles two), read once they stop moving (folding runs behind the answer)."""
    names = "events,errors,predictions,accuracy,label_coverage,host_cpu_percent"
    last: dict[str, Any] = {}
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        series = served.get(
            "/v1/models/credit/metrics",
            names=names,
            step="400d",
            **{"from": str(start), "to": str(time.time() + 60)},
        )["series"]
        now = {name: [v for _, v in points if v is not None] for name, points in series.items()}
        if now == last:
            return now
        last = now
        time.sleep(0.5)
    raise AssertionError(f"the counts kept moving: {last}")


def test_what_the_sdk_logs_is_what_the_api_counts(served: Served) -> None:
    start = time.time() - 60
    client = vigil.Client(
        served.url, INGEST_KEY, flush_interval=0.05, backoff=0.02, max_backoff=0.1, host_metrics_every=0.2
    )
    with client:
        for i in range(300):  # one by one, every tenth failed
            client.log(
                "credit",
                request_id=f"r{i}",
                features={"income": 1000.0 + i, "region": "eu" if i % 3 else "us"},
                prediction=i % 2,
                score=0.25 + (i % 2) / 2,
                latency_ms=5.0 + i % 40,
                error="TimeoutError: upstream" if i % 10 == 0 else None,
            )
        frame = pd.DataFrame(
            {"request_id": [f"b{i}" for i in range(200)], "income": [2000.0] * 200, "prediction": [1] * 200}
        )
        assert client.log_batch(frame, model="credit") == 200

        @client.monitor("credit")
        def predict(features: dict[str, float]) -> int:
            if features["income"] < 0:
                raise ValueError("negative income")
            return 1

        for i in range(50):
            with contextlib.suppress(ValueError):
                predict({"income": float(i if i % 5 else -i - 1)})
        for i in range(150):  # ground truth for the first 150 predictions: 120 right, 30 wrong
            client.log_label("credit", f"r{i}", i % 2 if i < 120 else 1 - i % 2)
        assert client.flush(30)
        time.sleep(0.5)  # one more host reading
        assert client.flush(30)
        stats = client.stats()

    with vigil.Client(served.url, INGEST_KEY, flush_interval=0.05, host_metrics_every=None) as stray:
        stray.log("nowhere", prediction=1)  # a model the server does not know: given up, never counted
        assert stray.flush(30)
        refused = stray.stats()

    assert stats["sent"] == 300 + 200 + 50
    assert stats["labels_sent"] == 150
    assert stats["host_metrics_sent"] >= 1
    assert stats["rejected_records"] == stats["failed_records"] == stats["dropped"] == stats["invalid"] == 0
    assert (refused["sent"], refused["failed_records"]) == (0, 1)

    totals = _totals(served, start)
    assert sum(totals["events"]) == 550
    assert sum(totals["errors"]) == 30 + 10  # every tenth logged, and the monitored calls that raised
    assert sum(totals["predictions"]) == 550  # every one carried a request id
    assert totals["accuracy"] == [pytest.approx(120 / 150)]
    assert totals["label_coverage"] == [pytest.approx(150 / 550)]
    assert len(totals["host_cpu_percent"]) == 1  # the SDK's host readings reached the model

    text = served.get("/metrics")
    assert 'vigil_predictions_total{model="credit",model_version="v2",outcome="error"} 40.0' in text
    assert 'vigil_predictions_total{model="credit",model_version="v2",outcome="success"} 510.0' in text
    log = served.stop()
    assert "Traceback" not in log and "ERROR" not in log, log
