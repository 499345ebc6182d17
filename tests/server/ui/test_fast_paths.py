"""The dashboard's fast paths give the JSON API's numbers for the same range: the overview's trends, totals,
drift share and accuracy (cached per-step rollups, rollup rows, kept drift, the kept hour so far, one
snapshot per page), the model page's heatmap (kept drift) and its charts, against ``GET
/v1/models/{m}/metrics``, on a server in process whose store holds 26 hours of traffic rolled up as a server
rolls it up. Trends and heatmap cells agree to 1e-9 (JSON floats; sketch merges add bucket counts, so
quantiles agree exactly; means differ by float rounding only); pages chart what they computed, rounded to 6
significant digits."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from vigil.config import parse_config
from vigil.monitoring.retention import HOUR
from vigil.server.app import create_app
from vigil.server.services import Vigil
from vigil.server.ui.detail import HEAT_POINTS, model_detail
from vigil.server.ui.health import health, trend_step
from vigil.server.ui.rollups import Rollups
from vigil.server.ui.timerange import TimeRange, nice_step
from vigil.store.sqlite import SQLiteStore

T0 = 1_800_000_000.0 - 1_800_000_000.0 % HOUR + 37 * 60  # 37 minutes into an hour
CONFIG = """
models:
  credit:
    task: binary
    owner: {{team: risk}}
    window: 1m
    baseline: {{file: {base}}}
  price:
    task: regression
    owner: {{team: pricing}}
    window: 1m
"""


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Served:
    def __init__(self, client: TestClient, vigil: Vigil, clock: Clock) -> None:
        self.client, self.vigil, self.clock = client, vigil, clock

    def api(self, model: str, names: list[str], start: float, end: float, step: float) -> dict[str, Any]:
        answer = self.client.get(
            f"/v1/models/{model}/metrics",
            params={"names": ",".join(names), "from": str(start), "to": str(end), "step": str(step)},
        )
        assert answer.status_code == 200, answer.text
        series: dict[str, list[list[Any]]] = answer.json()["series"]
        return {n: [(_epoch(t), v) for t, v in pts] for n, pts in series.items()}


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("fast")
    rng = np.random.default_rng(11)
    pd.DataFrame({"x": rng.normal(0, 1, 4000), "city": rng.choice(["a", "b", "c"], 4000)}).to_parquet(
        root / "base.parquet"
    )
    config = parse_config(CONFIG.format(base=root / "base.parquet"))
    clock = Clock(T0 - 27 * HOUR)
    app = create_app(config, SQLiteStore(root / "v.db"), clock=clock, flush_every=3600, close_store=True)
    with TestClient(app) as client:
        vigil: Vigil = app.state.vigil
        for h in range(27):  # an hour of traffic at a time, rolled up as the server goes
            start = T0 - 27 * HOUR + h * HOUR
            clock.now = min(T0, start + HOUR + 400)
            times = start + np.sort(rng.uniform(0, min(HOUR, T0 - start - 1), 120))
            events, labels = [], []
            for i, t in enumerate(times):
                x = float(rng.normal(0.7 if h > 20 else 0.0, 1))
                rid = f"r{h}-{i}"
                score = float(1 / (1 + math.exp(-x)))
                events += [
                    {
                        "model": "credit",
                        "timestamp": float(t),
                        "request_id": rid,
                        "features": {"x": x, "city": str(rng.choice(["a", "b", "c"]))},
                        "prediction": int(score > 0.5),
                        "score": score,
                        "latency_ms": float(rng.gamma(3, 10)),
                        **({"error": "Timeout: slow"} if i % 13 == 0 else {}),
                    },
                    {
                        "model": "price",
                        "timestamp": float(t),
                        "request_id": "p" + rid,
                        "features": {"size": x},
                        "prediction": 3 * x,
                        "latency_ms": float(rng.gamma(2, 5)),
                    },
                ]
                labels += [
                    {"model": "credit", "request_id": rid, "label": int(rng.random() < score)},
                    {"model": "price", "request_id": "p" + rid, "label": 3 * x + float(rng.normal())},
                ]
            assert client.post("/v1/events", json=events).status_code == 200
            assert client.post("/v1/labels", json=labels).status_code == 200
            assert vigil.aggregator.wait_idle(30)
            vigil.aggregator.flush()
            vigil.aggregator.maintain()  # rollups, and the drift and the hour so far a server keeps
        yield Served(client, vigil, clock)


def _close(got: list[tuple[float, float | None]], want: list[tuple[float, float | None]], what: str) -> None:
    assert [t for t, _ in got] == [t for t, _ in want], what
    for (_, a), (_, b) in zip(got, want, strict=True):
        assert (a is None) == (b is None), (what, got, want)
        if a is not None and b is not None:
            assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12), (what, a, b)


@pytest.mark.parametrize("preset", ["1h", "24h", "7d"])
def test_overview_numbers_are_the_apis(served: Served, preset: str) -> None:
    vigil, now = served.vigil, served.clock()
    span = TimeRange.parse({"range": preset}, now)
    rollups = Rollups(vigil.query, vigil.clock)
    for attempt in range(2):  # cold (read from the store), then warm (the cached steps)
        rows = health(rollups.through(vigil.query.snapshot()), vigil.registry, ["credit", "price"], span, [])
        for row in rows:
            step = trend_step(span.span, 60)
            first = math.floor(span.start / step) * step
            api = served.api(
                row.name,
                ["throughput", "error_rate", "latency_p95", "events", "errors"],
                first,
                span.end,
                step,
            )
            for name in ("throughput", "error_rate", "latency_p95"):
                _close(row.trends[name], api[name], f"{row.name} {name} {attempt}")
            events = sum(v or 0 for _, v in api["events"])
            assert row.values["events"] == events > 0
            assert row.values["error_rate"] == pytest.approx(
                sum(v or 0 for _, v in api["errors"]) / events, rel=1e-12
            )
            last = row.latest_at
            assert row.latest_step == HOUR and last == math.floor((now - 300) / HOUR) * HOUR - HOUR
            quality = "accuracy" if row.name == "credit" else "mae"
            latest = served.api(
                row.name,
                ["drift_share", quality] if row.name == "credit" else [quality],
                last,
                last + HOUR,
                HOUR,
            )
            assert row.values["quality"] == pytest.approx(latest[quality][0][1], rel=1e-12)
            if row.name == "credit":
                assert row.values["drift_share"] == latest["drift_share"][0][1]


def test_the_overview_page_charts_what_the_api_answers(served: Served) -> None:
    page = served.client.get("/?range=24h")
    assert page.status_code == 200
    specs = {
        m.group(1): json.loads(m.group(2))
        for m in re.finditer(
            r'id="chart-([\w-]+)" data-chart>.*?<script type="application/json">(.*?)</script>',
            page.text,
            re.S,
        )
    }
    spark = specs["credit-latency_p95"]
    step = trend_step(24 * HOUR, 60)
    now = served.clock()
    api = served.api("credit", ["latency_p95"], spark["x"][0], now, step)["latency_p95"]
    assert spark["x"] == [t for t, _ in api]
    for got, (_, want) in zip(spark["series"][0]["values"], api, strict=True):
        assert (got is None and want is None) or math.isclose(got, want, rel_tol=1e-5)


@pytest.mark.parametrize("preset", ["1h", "24h"])
def test_the_heatmap_is_the_apis_drift(served: Served, preset: str) -> None:
    vigil, now = served.vigil, served.clock()
    span = TimeRange.parse({"range": preset}, now)
    spec = vigil.registry.get("credit")
    assert spec is not None
    for _ in range(2):  # worked out (and kept), then read back kept
        detail = model_detail(vigil.query.snapshot(), vigil.store, "credit", spec, span, [], None)
        step = nice_step(span.span, 60, HEAT_POINTS)
        assert detail.heat_step == step and {r.feature for r in detail.heat} >= {"x", "city"}
        for row in detail.heat:
            inner = {"prediction": "@prediction", "score": "@score"}.get(
                row.feature.removesuffix(" (model output)"), row.feature
            )
            api = served.api("credit", [f"drift:{inner}"], span.start, span.end, step)[f"drift:{inner}"]
            _close(row.cells, api, row.feature)
        charts = {c.id: c for cs in detail.sections.values() for c in cs}
        api = served.api("credit", ["latency_p95", "null_rate"], span.start, span.end, detail.step)
        _close(list(charts["latency"].series["p95"]), api["latency_p95"], "p95")
        _close(list(charts["nulls"].series["null rate"]), api["null_rate"], "nulls")
