"""A real Vigil server (the app of ``create_app`` under uvicorn on loopback) with a clock the test holds,
named admin keys for two people, and alerts in every state, made the way production makes them: events
sent through the ingest API with the ingest key, then one evaluation round of the real engine at ``now``.

* ``credit`` (binary, team risk, live v2, rollback target v1): 30% errors in the last 8 minutes, so
  ``CreditErrors`` fires critical (a runbook URL); its p95 latency (~20 ms) breaches ``CreditLatency``
  (> 10 ms, ``for: 1h``), which stays pending. ``rollback-credit`` needs approval by a second person.
* ``price`` (regression, team pricing): 10% errors, so ``PriceErrors`` fires as a warning (an inline
  runbook).
* ``fraud`` (binary, team fraud, a baseline file): ``x`` drifted (+2 sd) until 3 minutes ago, then the
  model went silent: ``NoData`` fires and inhibits ``FraudDrift``, which fires behind it.

Each model has an incident (opened by its first firing alert).
"""

from __future__ import annotations

import math
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import uvicorn
from fastapi import FastAPI

from tests.fakes import FakeClock
from vigil.config import parse_config
from vigil.server.app import create_app
from vigil.store.sqlite import SQLiteStore

__all__ = ["KEYS", "FlowSite", "flow_site"]

KEYS = {
    "alice": "alice-key-5b1e0c9d",
    "bob": "bob-key-a93f27e1",
    "carol": "carol-key-71d2e8a4",
    "feeder": "feeder-key-0d6c44b2",
}

CONFIG = """\
version: 1
security:
  api_keys:
    admin: [{{name: alice, key: {alice}}}, {{name: bob, key: {bob}}}]
    viewer: [{{name: carol, key: {carol}}}]
    ingest: [{{name: feeder, key: {feeder}}}]
models:
  credit:
    task: binary
    owner: {{team: risk, contact: "#risk-oncall"}}
    environment: production
    versions: [v1, v2]
    live: v2
    window: 1m
    features: {{x: {{type: numeric}}}}
  price:
    task: regression
    owner: {{team: pricing}}
    environment: staging
    window: 1m
  fraud:
    task: binary
    owner: {{team: fraud}}
    window: 1m
    baseline: {{file: {base}}}
    features: {{x: {{type: numeric}}, city: {{type: categorical}}}}
rules:
  - {{name: CreditErrors, model: credit, metric: error_rate, warning: 0.05, critical: 0.2, window: 1m,
     runbook: "https://runbooks.example.com/credit-errors"}}
  - {{name: CreditLatency, model: credit, metric: latency_p95, warning: 10, window: 1m, for: 1h}}
  - {{name: PriceErrors, model: price, metric: error_rate, warning: 0.05, window: 1m,
     runbook: "Check the pricing service's logs, then its upstream feed."}}
  - {{name: NoData, model: fraud, kind: no_data, window: 1m}}
  - {{name: FraudDrift, model: fraud, metric: drift, feature: x, warning: 0.1, window: 10m}}
slos:
  - {{name: credit-availability, model: credit, sli: availability, target: 0.99, window: 1d}}
actions:
  - {{name: rollback-credit, model: credit, kind: rollback, approval: required, cooldown: 0,
     command: ["true"]}}
alerting:
  evaluate_every: 1h
  default_rules: false
"""


@dataclass
class FlowSite:
    url: str
    app: FastAPI
    clock: FakeClock

    def api(self, method: str, path: str, who: str = "alice", **kwargs: Any) -> httpx.Response:
        """A JSON API call with ``who``'s key."""
        headers = {"X-API-Key": KEYS[who], **kwargs.pop("headers", {})}
        return httpx.request(method, self.url + path, headers=headers, timeout=30, **kwargs)

    def incident_of(self, model: str) -> str:
        found = self.api("GET", "/v1/incidents").json()["incidents"]
        return str(next(i["id"] for i in found if i["model"] == model))

    def alert(self, name: str) -> dict[str, Any]:
        found = self.api("GET", "/v1/alerts").json()["alerts"]
        return dict(next(a for a in found if a["labels"]["alertname"] == name))

    def audit(self) -> set[tuple[str, str]]:
        entries = self.api("GET", "/v1/audit", params={"limit": 1000}).json()["entries"]
        return {(e["actor"], e["action"]) for e in entries}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _events(now: float, rng: np.random.Generator) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i, t in enumerate(np.arange(now - 40 * 60, now - 1, 3.0)):
        age = now - float(t)
        recent = age < 8 * 60
        credit: dict[str, Any] = {
            "model": "credit",
            "timestamp": float(t),
            "request_id": f"c{i}",
            "features": {"x": float(rng.normal())},
            "prediction": int(rng.random() < 0.4),
            "score": float(rng.random()),
            "latency_ms": float(rng.gamma(4, 5)),
        }
        if (recent and i % 10 < 3) or (not recent and i % 100 == 0):
            credit["error"] = "TimeoutError: scoring backend took 3 s"
        price: dict[str, Any] = {
            "model": "price",
            "timestamp": float(t),
            "features": {"size": float(rng.normal(80, 20))},
            "prediction": float(rng.normal(240, 60)),
            "latency_ms": float(rng.gamma(2, 8)),
        }
        if recent and i % 10 == 5:
            price["error"] = "ValueError: missing size"
        out += [credit, price]
        if age > 3 * 60:
            out.append(
                {
                    "model": "fraud",
                    "timestamp": float(t),
                    "features": {
                        "x": float(rng.normal(2.0 if age < 30 * 60 else 0.0, 1)),
                        "city": str(rng.choice(["a", "b", "c"])),
                    },
                    "prediction": 0,
                    "score": float(rng.random() * 0.5),
                    "latency_ms": float(rng.gamma(3, 4)),
                }
            )
    return out


@contextmanager
def flow_site(tmp: Path) -> Iterator[FlowSite]:
    """The server, filled up to ``now`` (5.5 minutes into a 10-minute bucket, before the wall clock) and
    evaluated at ``now`` and 20 s later (where its clock stays), until the context ends."""
    rng = np.random.default_rng(11)
    base = tmp / "fraud-base.parquet"
    pd.DataFrame({"x": rng.normal(0, 1, 4000), "city": rng.choice(["a", "b", "c"], 4000)}).to_parquet(base)
    config = parse_config(CONFIG.format(base=base, **KEYS))
    now = math.floor(time.time() / 600) * 600 - 600 + 330
    clock = FakeClock(now)
    app = create_app(config, SQLiteStore(tmp / "v.db"), clock=clock, flush_every=0.05)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="vigil-ui-flows", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)
    site = FlowSite(f"http://127.0.0.1:{port}", app, clock)
    try:
        events = _events(now, rng)
        for k in range(0, len(events), 1000):
            sent = site.api("POST", "/v1/events", "feeder", json=events[k : k + 1000])
            assert sent.status_code == 200 and not sent.json()["rejected"], sent.text
        assert app.state.vigil.aggregator.wait_idle(30)
        for at in (now, now + 20):  # two rounds reading the same complete windows
            clock.now = at
            app.state.alerting.tick(at)
        yield site
    finally:
        server.should_exit = True
        thread.join(15)
