"""The Prometheus exporter (``GET /metrics``): values, content negotiation, promtool's linter, and a real
Prometheus server scraping a running Vigil."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
import pandas as pd
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families

from vigil.config import parse_config
from vigil.server import prometheus
from vigil.server.app import Vigil, create_app
from vigil.store.sqlite import SQLiteStore

ROOT = Path(__file__).resolve().parents[1]
OPENMETRICS = "application/openmetrics-text; version=1.0.0"
TEAM = 'ml "assist" \\ team\nnight shift'  # quotes, a backslash and a newline: label escaping

Key = tuple[str, frozenset[tuple[str, str]]]


def _samples(text: str, openmetrics: bool = False) -> dict[Key, float]:
    parse = parse_openmetrics if openmetrics else text_string_to_metric_families
    out: dict[Key, float] = {}
    for family in parse(text):
        for s in family.samples:
            key = (s.name, frozenset(s.labels.items()))
            assert key not in out, f"duplicate series {key}"
            out[key] = s.value
    return out


def _get(samples: dict[Key, float], name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def _series(samples: dict[Key, float], name: str, **labels: str) -> list[dict[str, str]]:
    want = set(labels.items())
    return [dict(ls) for n, ls in samples if n == name and want <= ls]


# -- a Vigil with known traffic -----------------------------------------------------------------------------


@dataclass
class Posted:
    client: TestClient
    vigil: Vigil
    latency_ms: dict[tuple[str, str], np.ndarray]
    events: dict[tuple[str, str], int]
    errors: dict[tuple[str, str], int]
    tokens_in: int
    tokens_out: int
    cost: float
    app: FastAPI

    def cold(self) -> None:
        """Give the app a fresh exporter: no drift cached, no errors counted."""
        self.app.state.prometheus = prometheus.Exporter(self.vigil)


WIDE = 60  # features of the "wide" model: more than MAX_FEATURES


def _config(tmp: Path) -> str:
    rng = np.random.default_rng(1)
    n = 4000
    pd.DataFrame(
        {
            "income": rng.lognormal(10, 0.5, n),
            "age": rng.normal(40, 10, n),
            "prediction": rng.integers(0, 2, n),
            "score": rng.random(n),
        }
    ).to_parquet(tmp / "credit.parquet")
    pd.DataFrame({f"f{i:02d}": rng.normal(0, 1, 500) for i in range(WIDE)}).to_parquet(tmp / "wide.parquet")
    wide_features = "\n".join(f"      f{i:02d}: {{type: numeric}}" for i in range(WIDE))
    return f"""
models:
  credit:
    task: binary
    owner: {{team: risk}}
    versions: [v1, v2]
    live: v2
    baseline: {{file: {tmp / "credit.parquet"}}}
    features:
      income: {{type: numeric}}
      age: {{type: numeric}}
      email: {{role: pii}}
  chat:
    task: llm
    owner: {{team: {json.dumps(TEAM)}}}
    versions: [m1]
  idle:
    task: regression
    owner: {{team: risk}}
  wide:
    task: regression
    owner: {{team: risk}}
    baseline: {{file: {tmp / "wide.parquet"}}}
    features:
{wide_features}
"""


@pytest.fixture(scope="module")
def posted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Posted]:
    tmp = tmp_path_factory.mktemp("prometheus")
    app = create_app(parse_config(_config(tmp)), SQLiteStore(tmp / "v.db"), flush_every=0.1)
    rng = np.random.default_rng(7)
    events: list[dict[str, Any]] = []
    latency: dict[tuple[str, str], list[float]] = {}
    counts: dict[tuple[str, str], int] = {}
    errors: dict[tuple[str, str], int] = {}

    def add(model: str, version: str, event: dict[str, Any], failed: bool) -> None:
        lat = float(rng.gamma(2, 15))
        events.append({"model": model, "version": version, "latency_ms": lat, **event})
        if failed:
            events[-1]["error"] = "TimeoutError: upstream took too long"
        latency.setdefault((model, version), []).append(lat)
        counts[(model, version)] = counts.get((model, version), 0) + 1
        errors[(model, version)] = errors.get((model, version), 0) + failed

    for i in range(1200):  # v2: income drifted (mean log 10.6 vs 10), age as in the baseline
        features = {
            "income": float(rng.lognormal(10.6, 0.5)),
            "age": float(rng.normal(40, 10)),
            "email": "a@b",
        }
        add(
            "credit",
            "v2",
            {"features": features, "prediction": i % 2, "score": float(rng.random())},
            i % 8 == 0,
        )
    for i in range(200):
        features = {"income": float(rng.lognormal(10, 0.5)), "age": float(rng.normal(40, 10))}
        add("credit", "v1", {"features": features, "prediction": i % 2, "score": 0.5}, i % 20 == 0)
    tokens_in = rng.integers(5, 500, 300)
    tokens_out = rng.integers(1, 900, 300)
    cost = rng.random(300) / 100
    for i in range(300):
        llm = {"prediction": "hello", "tokens_in": int(tokens_in[i]), "tokens_out": int(tokens_out[i])}
        add("chat", "m1", {**llm, "cost": float(cost[i])}, i % 25 == 0)
    for _ in range(200):
        add(
            "wide",
            "default",
            {"features": {f"f{i:02d}": float(rng.normal(0, 1)) for i in range(WIDE)}},
            False,
        )

    with TestClient(app) as client:
        r = client.post(
            "/v1/events", content=orjson.dumps(events), headers={"content-type": "application/json"}
        )
        assert r.status_code == 200, r.text
        assert r.json()["accepted"] == len(events), r.json()
        assert app.state.vigil.aggregator.wait_idle()
        yield Posted(
            client,
            app.state.vigil,
            {k: np.array(v) for k, v in latency.items()},
            counts,
            errors,
            int(tokens_in.sum()),
            int(tokens_out.sum()),
            float(cost.sum()),
            app,
        )


def _scrape(posted: Posted, accept: str | None = None) -> tuple[str, str]:
    r = posted.client.get("/metrics", headers={"accept": accept} if accept else {})
    assert r.status_code == 200, r.text
    return r.text, r.headers["content-type"]


# -- 1. values ---------------------------------------------------------------------------------------------


def test_metrics_match_what_was_posted(posted: Posted) -> None:
    text, content_type = _scrape(posted)
    assert content_type == "text/plain; version=0.0.4; charset=utf-8"
    s = _samples(text)

    assert _get(s, "vigil_build_info", version="0.1.0") == 1
    assert _get(s, "vigil_model_info", model="chat", task="llm", team=TEAM, live_version="m1") == 1
    assert _get(s, "vigil_model_info", model="credit", task="binary", team="risk", live_version="v2") == 1
    assert 0 < _get(s, "vigil_start_time_seconds") <= time.time()

    for (model, version), n in posted.events.items():
        errors = posted.errors[(model, version)]
        assert errors > 0 or model == "wide"
        mv = {"model": model, "model_version": version}
        assert _get(s, "vigil_predictions_total", **mv, outcome="error") == errors
        assert _get(s, "vigil_predictions_total", **mv, outcome="success") == n - errors
        lat = posted.latency_ms[(model, version)] / 1000.0
        assert _get(s, "vigil_inference_duration_seconds_count", **mv) == len(lat)
        assert _get(s, "vigil_inference_duration_seconds_sum", **mv) == pytest.approx(lat.sum(), rel=1e-9)
        for q in prometheus.QUANTILES:
            got = _get(s, "vigil_inference_duration_seconds", **mv, quantile=str(q))
            # the sketch's quantile is the value of rank floor(q (n - 1)): numpy's "lower" method
            assert got == pytest.approx(np.quantile(lat, q, method="lower"), rel=0.01), (model, version, q)

    # an idle model: its live version's counters exist at 0, and there are no quantiles to show
    idle = {"model": "idle", "model_version": "default"}
    assert _get(s, "vigil_predictions_total", **idle, outcome="success") == 0
    assert _get(s, "vigil_predictions_total", **idle, outcome="error") == 0
    assert _get(s, "vigil_inference_duration_seconds_count", **idle) == 0
    assert not _series(s, "vigil_inference_duration_seconds", model="idle")
    assert not _series(s, "vigil_error_ratio", model="idle")

    credit_events = posted.events[("credit", "v1")] + posted.events[("credit", "v2")]
    credit_errors = posted.errors[("credit", "v1")] + posted.errors[("credit", "v2")]
    assert _get(s, "vigil_error_ratio", model="credit") == pytest.approx(credit_errors / credit_events)

    chat = {"model": "chat", "model_version": "m1"}
    assert _get(s, "vigil_llm_tokens_total", **chat, token_type="input") == posted.tokens_in
    assert _get(s, "vigil_llm_tokens_total", **chat, token_type="output") == posted.tokens_out
    assert _get(s, "vigil_llm_cost_dollars_total", **chat) == pytest.approx(posted.cost, rel=1e-9)
    assert not _series(s, "vigil_llm_tokens_total", model="credit")  # not an LLM, reported none

    assert _get(s, "vigil_feature_drifted", model="credit", feature="income") == 1
    assert _get(s, "vigil_feature_drifted", model="credit", feature="age") == 0
    income = _get(s, "vigil_feature_drift_score", model="credit", feature="income", method="ks")
    assert income > _get(s, "vigil_feature_drift_score", model="credit", feature="age", method="ks")
    assert not _series(s, "vigil_feature_drifted", feature="email")  # PII is not profiled
    assert 0 < _get(s, "vigil_dataset_drift_share", model="credit") < 1
    assert _get(s, "vigil_last_evaluation_timestamp_seconds", model="credit") <= time.time()
    assert not _series(s, "vigil_feature_drifted", model="chat")  # no baseline, no drift series

    # cardinality: at most MAX_FEATURES features per model, the declared ones first
    wide = {d["feature"] for d in _series(s, "vigil_feature_drifted", model="wide")}
    assert wide == {f"f{i:02d}" for i in range(prometheus.MAX_FEATURES)}
    assert len(_series(s, "vigil_feature_drift_score", model="wide")) == prometheus.MAX_FEATURES

    assert _get(s, "vigil_metrics_collection_errors_total") == 0
    # never a request id, a user or a prompt in a label
    allowed = {"model", "model_version", "outcome", "token_type", "feature", "method", "quantile", "version"}
    allowed |= {"task", "team", "live_version"}
    names = {label for name, ls in s if name.startswith("vigil_") for label, _ in ls}
    assert names <= allowed


def test_a_scrape_is_fast(posted: Posted) -> None:
    posted.cold()  # drift computed in this scrape
    t = time.perf_counter()
    _scrape(posted)
    cold = time.perf_counter() - t
    t = time.perf_counter()
    _scrape(posted)
    warm = time.perf_counter() - t
    assert cold < 1.0, cold
    assert warm < 0.25, warm


def test_one_failing_model_does_not_fail_the_scrape(posted: Posted, monkeypatch: pytest.MonkeyPatch) -> None:
    vigil = posted.vigil
    posted.cold()
    recent, drift = prometheus._recent, vigil.query.drift

    def broken_recent(vigil: Vigil, model: str, *args: Any) -> Any:
        if model == "chat":
            raise RuntimeError("boom")
        return recent(vigil, model, *args)

    def broken_drift(model: str, start: float, end: float, version: str | None = None) -> Any:
        if model == "credit":
            raise RuntimeError("boom")
        return drift(model, start, end, version)

    monkeypatch.setattr(prometheus, "_recent", broken_recent)
    monkeypatch.setattr(vigil.query, "drift", broken_drift)
    try:
        s = _samples(_scrape(posted)[0])
    finally:
        posted.cold()
    assert not [k for k in s if ("model", "chat") in k[1]]  # all of chat left out
    assert _get(s, "vigil_predictions_total", model="credit", model_version="v2", outcome="error") > 0
    assert not _series(s, "vigil_feature_drifted", model="credit")  # credit's drift left out...
    assert _series(s, "vigil_feature_drifted", model="wide")  # ...not wide's
    assert _get(s, "vigil_metrics_collection_errors_total") == 2


def test_two_apps_in_one_process_show_their_own_numbers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = parse_config("models:\n  m: {task: binary, owner: {team: risk}}\n")
    apps = [create_app(config, SQLiteStore(tmp_path / f"{i}.db"), flush_every=0.1) for i in range(2)]
    with TestClient(apps[0]) as a, TestClient(apps[1]) as b:
        for client, app, n in ((a, apps[0], 3), (b, apps[1], 5)):
            events = [
                {"model": "m", "latency_ms": 10.0, **({"error": "E"} if i == 0 else {})} for i in range(n)
            ]
            assert client.post("/v1/events", json=events).json()["accepted"] == n
            assert app.state.vigil.aggregator.wait_idle()
        mv = {"model": "m", "model_version": "default"}
        first = _samples(a.get("/metrics").text), _samples(b.get("/metrics").text)
        assert [_get(s, "vigil_predictions_total", **mv, outcome="success") for s in first] == [2, 4]
        assert [_get(s, "vigil_inference_duration_seconds_count", **mv) for s in first] == [3, 5]

        # a failure computing the metrics of the first app is counted by that app alone
        recent, failing = prometheus._recent, apps[0].state.vigil

        def broken(vigil: Vigil, *args: Any) -> Any:
            if vigil is failing:
                raise RuntimeError("boom")
            return recent(vigil, *args)

        monkeypatch.setattr(prometheus, "_recent", broken)
        second = _samples(a.get("/metrics").text), _samples(b.get("/metrics").text)
        assert [_get(s, "vigil_metrics_collection_errors_total") for s in second] == [1, 0]
        assert not _series(second[0], "vigil_predictions_total", model="m")
        assert _get(second[1], "vigil_predictions_total", **mv, outcome="error") == 1


# -- 2. content negotiation ----------------------------------------------------------------------------------


def test_openmetrics_when_asked(posted: Posted) -> None:
    text, content_type = _scrape(posted, OPENMETRICS)
    assert content_type.startswith("application/openmetrics-text; version=1.0.0; charset=utf-8")
    assert text.endswith("# EOF\n")
    s = _samples(text, openmetrics=True)  # the strict OpenMetrics parser accepts it
    v2 = posted.events[("credit", "v2")] - posted.errors[("credit", "v2")]
    assert _get(s, "vigil_predictions_total", model="credit", model_version="v2", outcome="success") == v2
    assert "# UNIT vigil_inference_duration_seconds seconds" in text
    # Prometheus's own Accept header (OpenMetrics preferred), and the plain text format
    prom = f"{OPENMETRICS},text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
    assert _scrape(posted, prom)[1].startswith("application/openmetrics-text")
    assert _scrape(posted, "text/plain")[1] == "text/plain; version=0.0.4; charset=utf-8"
    assert not _scrape(posted, "text/plain")[0].endswith("# EOF\n")


# -- 3. promtool ---------------------------------------------------------------------------------------------


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        subprocess.run(
            [str(ROOT / "scripts" / "install-prometheus.sh")], check=False, timeout=600, capture_output=True
        )
        found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is missing and scripts/install-prometheus.sh could not install it (root + apt)")
    return found


def test_promtool_check_metrics_passes(posted: Posted) -> None:
    promtool = _tool("promtool")
    text, _ = _scrape(posted)
    done = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == "" and done.stderr.strip() == "", done.stdout + done.stderr


# -- 4. a real Prometheus scraping a running Vigil ----------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _query(port: int, promql: str) -> list[dict[str, Any]]:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(url, timeout=2) as answer:
        body = json.load(answer)
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def test_prometheus_scrapes_vigil(tmp_path: Path) -> None:
    binary = _tool("prometheus")
    app = create_app(
        parse_config("models:\n  credit: {task: binary, owner: {team: risk}, versions: [v1]}\n"),
        SQLiteStore(tmp_path / "v.db"),
        flush_every=0.1,
    )
    vigil_port, prom_port = _free_port(), _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=vigil_port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="vigil-uvicorn", daemon=True)
    process: subprocess.Popen[bytes] | None = None
    log = tmp_path / "prometheus.log"
    try:
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
            time.sleep(0.02)
        events = [
            {
                "model": "credit",
                "prediction": i % 2,
                "latency_ms": 5.0 + i,
                **({"error": "E"} if i % 10 == 0 else {}),
            }
            for i in range(137)
        ]
        r = httpx.post(f"http://127.0.0.1:{vigil_port}/v1/events", json=events, timeout=10)
        assert r.status_code == 200 and r.json()["accepted"] == len(events), r.text
        assert app.state.vigil.aggregator.wait_idle()

        config = tmp_path / "prometheus.yml"
        config.write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            "scrape_configs:\n"
            "  - job_name: vigil\n"
            "    scrape_interval: 1s\n"
            "    scrape_timeout: 1s\n"
            f"    static_configs: [{{targets: ['127.0.0.1:{vigil_port}']}}]\n"
        )
        with log.open("wb") as out:
            process = subprocess.Popen(
                [
                    binary,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={tmp_path / 'data'}",
                    f"--web.listen-address=127.0.0.1:{prom_port}",
                    "--log.level=warn",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        total: float | None = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert process.poll() is None, log.read_text()
            try:
                result = _query(prom_port, 'sum(vigil_predictions_total{model="credit"})')
            except OSError:
                result = []
            total = float(result[0]["value"][1]) if result else None
            if total == len(events):
                break
            time.sleep(0.25)
        assert total == len(events), f"Prometheus saw {total}\n{log.read_text()}"
        up = _query(prom_port, 'up{job="vigil"}')
        assert [float(r["value"][1]) for r in up] == [1.0]
        errors = _query(prom_port, 'vigil_predictions_total{model="credit",outcome="error"}')
        assert [float(r["value"][1]) for r in errors] == [14.0]
        p99 = _query(prom_port, 'vigil_inference_duration_seconds{model="credit",quantile="0.99"}')
        assert len(p99) == 1 and 0.1 < float(p99[0]["value"][1]) < 0.15
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        server.should_exit = True
        thread.join(15)
