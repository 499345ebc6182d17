"""A real ``vigil serve`` with three models and 55 minutes of traffic sent through the real ingest API:
what the dashboard tests open.

* ``credit`` (binary, team risk, production): a baseline file; ``x`` drifts (+1.5 sd) and ``city`` shifts
  in the last 20 minutes, in the ``eu`` segment only; latency triples in the last 15 minutes; 30% errors in
  the last 8 (the rule ``CreditErrors`` fires); labels for half the predictions; host readings; a deploy
  10 minutes ago.
* ``price`` (regression, team pricing, staging): steady, with labels.
* ``assistant`` (llm, team assistant): tokens and cost, silent for the last 20 minutes.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd

__all__ = ["Site", "start_site"]

SPAN = 55 * 60
CONFIG = """\
version: 1
models:
  credit:
    task: binary
    owner: {{team: risk, contact: "#risk-oncall"}}
    environment: production
    versions: [v1, v2]
    live: v2
    window: 1m
    baseline: {{file: {base}}}
    segments: [region]
    features:
      x: {{type: numeric}}
      city: {{type: categorical}}
  price:
    task: regression
    owner: {{team: pricing}}
    environment: staging
    window: 1m
  assistant:
    task: llm
    owner: {{team: assistant}}
    environment: production
    window: 1m
rules:
  - {{name: CreditErrors, model: credit, metric: error_rate, warning: 0.05, critical: 0.2, window: 1m,
     runbook: "https://runbooks.example.com/credit-errors"}}
slos:
  - {{name: credit-availability, model: credit, sli: availability, target: 0.99, window: 1d}}
alerting:
  evaluate_every: 1s
  default_rules: false
"""


class Site:
    """The server (a ``vigil serve`` process) and what was sent to it."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.now = time.time()
        self.sent: dict[str, int] = {}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        rng = np.random.default_rng(7)
        base = self.tmp / "credit-base.parquet"
        pd.DataFrame(
            {"x": rng.normal(0, 1, 5000), "city": rng.choice(["a", "b", "c"], 5000, p=[0.5, 0.3, 0.2])}
        ).to_parquet(base)
        (self.tmp / "vigil.yaml").write_text(CONFIG.format(base=base))
        vigil = str(Path(sys.executable).parent / "vigil")
        args = [vigil, "serve", "--config", str(self.tmp / "vigil.yaml"), "--store", str(self.tmp / "v.db")]
        args += ["--port", str(self.port), "--flush-every", "0.5", "--log-level", "warning"]
        self.log = (self.tmp / "server.log").open("wb")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise RuntimeError("server did not start: " + (self.tmp / "server.log").read_text()[-2000:])
        with httpx.Client(base_url=self.url, timeout=30) as client:
            self._fill(client, rng)
        self.wait_folded()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(15)
        self.log.close()

    def _fill(self, client: httpx.Client, rng: np.random.Generator) -> None:
        now = self.now
        events: dict[str, list[dict[str, Any]]] = {"credit": [], "price": [], "assistant": []}
        labels: dict[str, list[dict[str, Any]]] = {"credit": [], "price": []}
        for i, t in enumerate(np.arange(now - SPAN, now - 1, 2.0)):
            age = now - t
            region = "eu" if rng.random() < 0.5 else "us"
            drifted = age < 20 * 60 and region == "eu"
            x = float(rng.normal(1.5 if drifted else 0.0, 1))
            city = str(rng.choice(["a", "b", "c"], p=[0.1, 0.3, 0.6] if drifted else [0.5, 0.3, 0.2]))
            score = float(1 / (1 + np.exp(-x)))
            latency = float(rng.gamma(4, 5) * (3 if age < 15 * 60 else 1))
            event: dict[str, Any] = {
                "model": "credit",
                "timestamp": float(t),
                "request_id": f"c{i}",
                "features": {"x": x, "city": city},
                "prediction": int(score > 0.5),
                "score": score,
                "latency_ms": latency,
                "segments": {"region": region},
            }
            if rng.random() < (0.3 if age < 8 * 60 else 0.01):
                event["error"] = "TimeoutError: upstream took 3 s"
            events["credit"].append(event)
            if i % 2 == 0:
                truth = int(rng.random() < score)
                labels["credit"].append({"model": "credit", "request_id": f"c{i}", "label": truth})
            size = float(rng.normal(80, 20))
            events["price"].append(
                {
                    "model": "price",
                    "timestamp": float(t),
                    "request_id": f"p{i}",
                    "features": {"size": size},
                    "prediction": 3 * size,
                    "latency_ms": float(rng.gamma(2, 10)),
                }
            )
            labels["price"].append(
                {"model": "price", "request_id": f"p{i}", "label": 3 * size + float(rng.normal(0, 10))}
            )
            if age > 20 * 60 and i % 3 == 0:
                tokens_in, tokens_out = int(rng.integers(50, 400)), int(rng.integers(20, 300))
                events["assistant"].append(
                    {
                        "model": "assistant",
                        "timestamp": float(t),
                        "features": {"prompt": "where is my order"},
                        "prediction": "It ships tomorrow.",
                        "latency_ms": float(rng.gamma(6, 80)),
                        "tokens_in": tokens_in,
                        "tokens_out": tokens_out,
                        "cost": (tokens_in * 0.5 + tokens_out * 1.5) / 1e6,
                    }
                )
        for model, batch in events.items():
            for k in range(0, len(batch), 500):
                answer = client.post("/v1/events", json=batch[k : k + 500])
                assert answer.status_code == 200 and not answer.json()["rejected"], answer.text
            self.sent[model] = len(batch)
        for batch in labels.values():
            assert client.post("/v1/labels", json=batch).status_code == 200
        readings = [
            {
                "model": "credit",
                "host": "web-1",
                "timestamp": float(t),
                "cpu_percent": 30 + 10 * np.sin(t / 300),
                "memory_percent": 55.0,
            }
            for t in np.arange(now - SPAN, now, 30.0)
        ]
        assert client.post("/v1/host-metrics", json=readings).status_code == 200
        deployed = client.post(
            "/v1/models/credit/deploys", json={"version": "v2", "by": "ci", "at": now - 600}
        )
        assert deployed.status_code in (200, 201), deployed.text

    def wait_folded(self, timeout: float = 30) -> None:
        """Until every model's event count over the last day equals what was sent."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            counts = {m: self.count(m) for m in self.sent}
            if counts == self.sent:
                return
            time.sleep(0.2)
        raise AssertionError(f"not folded: {counts} != {self.sent}")

    def count(self, model: str) -> int:
        params = {"names": "events", "step": "1d", "from": str(self.now - 86_400)}
        series = httpx.get(f"{self.url}/v1/models/{model}/metrics", params=params)
        return int(sum(v or 0 for _, v in series.json()["series"]["events"]))


def start_site(tmp: Path) -> Site:
    site = Site(tmp)
    try:
        site.start()
    except BaseException:
        site.stop()
        raise
    return site


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


if __name__ == "__main__":  # a server to look at by hand: python -m tests.server.ui.site DIR
    where = Path(sys.argv[1])
    where.mkdir(parents=True, exist_ok=True)
    running = start_site(where)
    print(running.url, flush=True)
    try:
        signal.pause()
    finally:
        running.stop()
        os._exit(0)
