"""The dashboard's server time and page weight on a store of 50 models × 30 days.

Run from the repository root:
    .venv/bin/python bench/ui_bench.py [--models 50] [--days 30] [--repeat 5] [--cold 3] [--store PATH]

Builds (or reuses, with ``--store``) an SQLite store as a server with default retention holds after a
month: per model, minute windows for the last 2 days, rolled-up hours for 30 days and days for 30 days.
The windows are real: a seeding server (the real ingest and aggregator) folds 30 events a minute into
``SEEDS`` distinct minutes per model, and their saved states are copied across the month through the
store API (hours and days merged from them, as rollups do). Models: binary, regression and LLM tasks, 5
features, a baseline file, 5 teams, 2 environments; SLOs on 10 of them; alerting on. Then it keeps what a
server running for that month would have kept (``Query.keep_drift`` for the steps the preset pages read,
the current hour so far), and before each server it starts puts exactly that back and then does what a
server running until that moment would have done since (rolls up the hours complete since, keeps their
drift and the hour so far: ``Aggregator.maintain``), so every cold start finds the store as a server that
just stopped left it.

Each page is timed on ``--cold`` servers just started on the store (cold: the median of their first
requests; each server does what ``vigil serve`` does before it listens, ``prepare_process``), then
``--repeat`` more requests on the last one (warm: their median): in-process (``create_app`` and ASGI, no
network), then the overview and the model page from ``vigil serve`` over HTTP on loopback. Sizes are the
bytes a browser transfers with gzip: each page, and the assets (on a first visit only: later ones take
them from the cache, or revalidate them).

With ``--flows``: the alerts console with 50 firing alerts and an incident page with 200 timeline entries
(a store of its own, built through the real ingest and one round of the real engine).
"""

from __future__ import annotations

import argparse
import math
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
import pandas as pd
from fastapi.testclient import TestClient

from vigil.config import VigilConfig, parse_config
from vigil.monitoring.drifts import KEPT_STEPS, KIND
from vigil.monitoring.retention import DAY, HOUR, ROLLUP_WRITER
from vigil.monitoring.window import WindowState
from vigil.server.app import Vigil, create_app, prepare_process
from vigil.store.base import Record, WindowRow
from vigil.store.sqlite import SQLiteStore

SEEDS = 12
EVENTS_PER_MINUTE = 30
TASKS = ("binary", "binary", "binary", "regression", "llm")
FEATURES = ("age", "income", "debt", "region_code", "channel")


def config_text(models: int, root: Path) -> str:
    lines = ["version: 1", "models:"]
    for i in range(models):
        task = TASKS[i % len(TASKS)]
        lines += [
            f"  m{i:02d}:",
            f"    task: {task}",
            f"    owner: {{team: team-{i % 5}}}",
            f"    environment: {'production' if i % 3 else 'staging'}",
            "    window: 1m",
            "    sample_size: 20",
            f"    baseline: {{file: {root / 'baseline.parquet'}}}",
        ]
    lines += ["slos:"]
    for i in range(0, models, max(1, models // 10)):
        lines.append(f"  - {{name: m{i:02d}-availability, model: m{i:02d}, sli: availability, target: 0.99}}")
    lines += ["alerting: {evaluate_every: 1h, default_rules: false}"]
    return "\n".join(lines) + "\n"


def _baseline(root: Path) -> None:
    rng = np.random.default_rng(0)
    n = 5000
    pd.DataFrame(
        {
            "age": rng.normal(40, 10, n),
            "income": rng.lognormal(10, 0.5, n),
            "debt": rng.gamma(2, 1000, n),
            "region_code": rng.integers(0, 20, n),
            "channel": rng.choice(["web", "app", "branch"], n),
            "prediction": rng.integers(0, 2, n),
            "score": rng.random(n),
        }
    ).to_parquet(root / "baseline.parquet")


def _events(model: str, task: str, t0: float, rng: np.random.Generator) -> list[dict[str, Any]]:
    out = []
    for k in range(EVENTS_PER_MINUTE):
        score = float(rng.random())
        event: dict[str, Any] = {
            "model": model,
            "timestamp": t0 + k * 60 / EVENTS_PER_MINUTE,
            "features": {
                "age": float(rng.normal(42, 10)),
                "income": float(rng.lognormal(10, 0.5)),
                "debt": float(rng.gamma(2, 1000)),
                "region_code": int(rng.integers(0, 20)),
                "channel": str(rng.choice(["web", "app", "branch"])),
            },
            "latency_ms": float(rng.gamma(3, 10)),
        }
        if task == "binary":
            event |= {"prediction": int(score > 0.5), "score": score}
        elif task == "regression":
            event["prediction"] = float(rng.normal(100, 10))
        else:
            event |= {"prediction": "ok", "tokens_in": 200, "tokens_out": 80, "cost": 0.0003}
        if rng.random() < 0.02:
            event["error"] = "TimeoutError: upstream"
        out.append(event)
    return out


def build(path: Path, models: int, days: int, now: float) -> None:
    """The store: seed real windows, then copy them over the month (see the module docstring)."""
    root = path.parent
    _baseline(root)
    config = parse_config(config_text(models, root))
    store = SQLiteStore(path)
    seed_at = math.floor((now - 300 * DAY) / 60) * 60
    seeding = Vigil(config, store, clock=lambda: seed_at + SEEDS * 60 + 120, writer="seed", flush_every=3600)
    seeding.aggregator.start()
    rng = np.random.default_rng(1)
    names = [f"m{i:02d}" for i in range(models)]
    for i, name in enumerate(names):
        task = TASKS[i % len(TASKS)]
        events = [e for s in range(SEEDS) for e in _events(name, task, seed_at + s * 60, rng)]
        accepted = seeding.ingestor.events(orjson.dumps(events), "application/json", None).accepted
        assert accepted == len(events)
    seeding.aggregator.wait_idle()
    seeding.aggregator.flush()
    seeding.aggregator.stop()
    end_minute = math.floor(now / 60) * 60
    end_hour = math.floor(now / HOUR) * HOUR
    end_day = math.floor(now / DAY) * DAY
    for name in names:
        seeds = store.windows(name, 60, seed_at, seed_at + SEEDS * 60)
        states = [r.state for r in seeds]
        errors = [r.errors for r in seeds]
        version = seeds[0].version
        hour_state = WindowState()
        for s in states * (60 // SEEDS):
            hour_state.merge(WindowState.from_bytes(s))
        hour_bytes = hour_state.to_bytes()
        day_state = WindowState()
        for _ in range(24):
            day_state.merge(WindowState.from_bytes(hour_bytes))
        day_bytes = day_state.to_bytes()
        rows = [
            WindowRow(
                name, version, 60, int(t), "main", EVENTS_PER_MINUTE, states[k % SEEDS], errors[k % SEEDS]
            )
            for k, t in enumerate(range(end_minute - 2 * DAY, end_minute + 60, 60))
        ]
        rows += [
            WindowRow(
                name, version, HOUR, int(t), ROLLUP_WRITER, hour_state.events, hour_bytes, hour_state.errors
            )
            for t in range(end_hour - days * DAY, end_hour, HOUR)
        ]
        rows += [
            WindowRow(
                name, version, DAY, int(t), ROLLUP_WRITER, day_state.events, day_bytes, day_state.errors
            )
            for t in range(end_day - days * DAY, end_day, DAY)
        ]
        store.save_windows("main", rows, checkpoint=0)
        store.delete_windows(name, 60, seed_at + DAY)
    store.close()


def keep_drift(path: Path, models: int, now: float) -> None:
    """What a server running on the store for the month has done after its rollups: keep the drift of each
    step of ``drifts.KEPT_STEPS`` as it completed (``Query.keep_drift``), here for the ranges the preset
    pages read (the last hour of 5-minute steps up to the last 30 days of days)."""
    config = parse_config(config_text(models, path.parent))
    store = SQLiteStore(path)
    vigil = Vigil(config, store)
    for name in vigil.registry.names():
        for step, back in zip(KEPT_STEPS, (HOUR, 6 * HOUR, DAY, 7 * DAY, 30 * DAY), strict=True):
            vigil.query.series(name, ["drift_share"], now - back - 2 * step, now, step)
        vigil.query.hours.keep(name, 60, now)
    store.close()


def catch_up(store: SQLiteStore, config: VigilConfig) -> None:
    """What a server running until now would have done since the store was built: roll up the hours
    complete since, keep their drift and the current hour so far (``Aggregator.maintain``, as the server
    runs it every minute)."""
    Vigil(config, store).aggregator.maintain()


def kept(path: Path) -> list[Record]:
    store = SQLiteStore(path)
    try:
        return store.records(KIND)
    finally:
        store.close()


def restore(store: SQLiteStore, records: list[Record]) -> None:
    """The kept drift as the build left it (a page measured before may have kept more)."""
    store.delete_records(KIND, math.inf)
    for r in records:
        store.put_record(r.kind, r.id, r.body, r.updated_at)


PAGES = {
    "overview 24h": "/",
    "overview 1h": "/?range=1h",
    "overview 7d": "/?range=7d",
    "model 1h": "/models/m00",
    "model 24h": "/models/m00?range=24h",
    "model 7d": "/models/m00?range=7d",
    "feature 1h": "/models/m00/features/income",
}
ASSETS = (
    "vendor/uplot/uPlot.iife.min.js",
    "vendor/uplot/uPlot.min.css",
    "vigil.js",
    "vigil.css",
    "favicon.svg",
)
GZ = {"Accept-Encoding": "gzip"}


def measure(path: Path, models: int, repeat: int, colds: int, records: list[Record]) -> dict[str, Any]:
    """Each page on ``colds`` servers just started on the store (cold: the median of their first
    requests), then ``repeat`` more on the last one (warm: their median); the bytes a browser transfers
    with gzip. Before each start the kept drift is put back as the build left it."""
    config = parse_config(config_text(models, path.parent))
    results: dict[str, Any] = {}
    for label, url in PAGES.items():
        cold: list[float] = []
        for run in range(colds):
            store = SQLiteStore(path)
            restore(store, records)
            catch_up(store, config)
            app = create_app(config, store)
            prepare_process()  # as ``vigil serve`` does before it listens
            with TestClient(app) as client:
                times = []
                for _ in range(1 + (repeat if run == colds - 1 else 0)):
                    t0 = time.perf_counter()
                    answer = client.get(url, headers=GZ)
                    times.append(time.perf_counter() - t0)
                    assert answer.status_code == 200, (url, answer.text[:500])
                cold.append(times[0])
                if run == colds - 1:
                    results[label] = {
                        "cold_ms": round(statistics.median(cold) * 1000, 1),
                        "colds_ms": [round(t * 1000) for t in cold],
                        "warm_ms": round(statistics.median(times[1:]) * 1000, 1),
                        "html_gzip_bytes": answer.num_bytes_downloaded,
                        "html_bytes": len(answer.content),
                    }
                    if label == "overview 24h":
                        results["assets"] = {
                            a: client.get(f"/ui/static/{a}", headers=GZ).num_bytes_downloaded for a in ASSETS
                        }
            store.close()
    return results


def over_http(path: Path, models: int, repeat: int, colds: int, records: list[Record]) -> dict[str, Any]:
    """The overview and the model page from ``vigil serve`` on loopback, as the client sees them: each page
    on ``colds`` servers just started (cold: the median of the first requests after the health check
    answers), then ``repeat`` more on the last one (warm: their median)."""
    config = path.parent / "vigil.yaml"
    config.write_text(config_text(models, path.parent))
    out: dict[str, Any] = {}
    for label in ("overview 24h", "model 1h", "model 24h"):
        cold: list[float] = []
        for run in range(colds):
            store = SQLiteStore(path)
            restore(store, records)
            catch_up(store, parse_config(config.read_text()))
            store.close()
            times = _served(path, config, PAGES[label], 1 + (repeat if run == colds - 1 else 0))
            cold.append(times[0])
        out[label] = {
            "cold_ms": round(statistics.median(cold) * 1000, 1),
            "colds_ms": [round(t * 1000) for t in cold],
            "warm_ms": round(statistics.median(times[1:]) * 1000, 1),
        }
    return out


def _served(path: Path, config: Path, url: str, requests: int) -> list[float]:
    """Seconds of ``requests`` GETs of ``url`` from a ``vigil serve`` started for them."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    vigil = str(Path(sys.executable).parent / "vigil")
    args = [vigil, "serve", "--config", str(config), "--store", str(path), "--port", str(port)]
    server = subprocess.Popen([*args, "--log-level", "warning"], stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("vigil serve did not start")
            time.sleep(0.2)
        times = []
        with httpx.Client(base_url=base, timeout=120, headers=GZ) as client:
            for _ in range(requests):
                t0 = time.perf_counter()
                answer = client.get(url)
                times.append(time.perf_counter() - t0)
                assert answer.status_code == 200, answer.text[:500]
        return times
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(60)


FLOW_MODELS = 10
FLOW_RULES = 5
TIMELINE = 200


def flows_config(root: Path) -> str:
    """10 models, 5 rules on every model that all breach (50 firing alerts), two named admin keys and a
    rollback that needs approval."""
    lines = ["version: 1", "models:"]
    for i in range(FLOW_MODELS):
        lines += [
            f"  f{i:02d}: {{task: binary, owner: {{team: team-{i % 3}}}, window: 1m, versions: [v1, v2]}}"
        ]
    lines += ["rules:"]
    for k in range(FLOW_RULES):
        level = 0.01 * (k + 1)
        lines.append(
            f"  - {{name: Errors{k}, metric: error_rate, warning: {level}, critical: 0.5, window: 1m, "
            f'runbook: "https://runbooks.example.com/errors-{k}"}}'
        )
    lines += [
        "actions:",
        '  - {name: rollback, model: "*", kind: rollback, approval: required, cooldown: 0, '
        'command: ["true"]}',
        "alerting: {evaluate_every: 1h, default_rules: false}",
    ]
    return "\n".join(lines) + "\n"


def measure_flows(repeat: int) -> dict[str, Any]:
    """Server time of the alerts console with 50 firing alerts (5 of them silenced) and of an incident
    page with 200 timeline entries and its 5 alerts, in-process; the store built through the real ingest
    and one round of the real engine."""
    root = Path(tempfile.mkdtemp(prefix="vigil-ui-flows-bench-"))
    now = math.floor(time.time() / 60) * 60 - 30
    app = create_app(parse_config(flows_config(root)), SQLiteStore(root / "v.db"), clock=lambda: now)
    results: dict[str, Any] = {}
    gz = {"Accept-Encoding": "gzip"}
    with TestClient(app) as client:
        events = [
            {"model": f"f{i:02d}", "timestamp": now - 150 + k, "error": "Timeout" if k % 10 == 0 else None}
            for i in range(FLOW_MODELS)
            for k in range(150)
        ]
        accepted = client.post("/v1/events", json=[{k: v for k, v in e.items() if v} for e in events])
        assert accepted.json()["accepted"] == len(events), accepted.text
        engine = app.state.alerting
        assert app.state.vigil.aggregator.wait_idle(30)
        engine.tick(now)
        firing = client.get("/v1/alerts").json()["alerts"]
        assert len(firing) == FLOW_MODELS * FLOW_RULES, len(firing)
        for i in range(5):
            body = {
                "matchers": [f'model="f0{i}"', 'alertname="Errors0"'],
                "duration": "2h",
                "comment": "bench",
            }
            assert client.post("/v1/silences", json=body).status_code == 201
        incident = engine.incidents.open_for("f00")
        assert incident is not None
        for n in range(TIMELINE - len(incident.timeline)):
            engine.incidents.note(incident.id, "alice", f"note {n}: checked the upstream feed again", now)
        shown = engine.incidents.get(incident.id)
        assert shown is not None and len(shown.timeline) == TIMELINE
        pages = {
            "alerts (50 alerts)": "/alerts",
            f"incident ({TIMELINE} entries)": f"/incidents/{incident.id}",
        }
        for label, path_ in pages.items():
            times = []
            for _ in range(repeat + 1):
                t0 = time.perf_counter()
                answer = client.get(path_, headers=gz)
                times.append(time.perf_counter() - t0)
                assert answer.status_code == 200, (path_, answer.text[:500])
            results[label] = {
                "cold_ms": round(times[0] * 1000, 1),
                "warm_ms": round(statistics.median(times[1:]) * 1000, 1),
                "html_gzip_bytes": answer.num_bytes_downloaded,
                "html_bytes": len(answer.content),
            }
    return results


def _table(results: dict[str, Any]) -> None:
    print(f"{'page':<24} {'cold ms':>9} {'warm ms':>9} {'html KiB':>9} {'gzip KiB':>9}")
    for label, r in results.items():
        print(
            f"{label:<24} {r['cold_ms']:>9.1f} {r['warm_ms']:>9.1f} "
            f"{r['html_bytes'] / 1024:>9.1f} {r['html_gzip_bytes'] / 1024:>9.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", type=int, default=50)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=5, help="warm requests per page (median)")
    parser.add_argument("--cold", type=int, default=3, help="fresh servers per page (median first request)")
    parser.add_argument("--store", type=Path, help="reuse (or build once at) this path")
    parser.add_argument("--no-http", action="store_true", help="skip the run over HTTP on loopback")
    parser.add_argument(
        "--flows", action="store_true", help="only the alerts console and an incident page (50 alerts)"
    )
    args = parser.parse_args()
    if args.flows:
        _table(measure_flows(args.repeat))
        return
    workdir = Path(tempfile.mkdtemp(prefix="vigil-ui-bench-"))
    path = args.store or workdir / "v.db"
    if not path.exists():
        t0 = time.perf_counter()
        path.parent.mkdir(parents=True, exist_ok=True)
        now = time.time()
        build(path, args.models, args.days, now)
        print(f"built {path} in {time.perf_counter() - t0:.0f} s ({path.stat().st_size / 1e6:.0f} MB)")
        t0 = time.perf_counter()
        keep_drift(path, args.models, now)
        took = time.perf_counter() - t0
        print(f"kept the drift a server running for the month keeps, in {took:.0f} s")
    records = kept(path)
    results = measure(path, args.models, args.repeat, args.cold, records)
    assets = results.pop("assets")
    print(f"assets (gzip, first visit only; then cached): {sum(assets.values()) / 1024:.1f} KiB")
    for name, size in assets.items():
        print(f"  {name}: {size / 1024:.1f} KiB")
    print(f"{'page (in-process)':<18} {'cold ms':>9} {'warm ms':>9} {'html KiB':>9} {'gzip KiB':>9}  colds")
    for label, r in results.items():
        print(
            f"{label:<18} {r['cold_ms']:>9.1f} {r['warm_ms']:>9.1f} "
            f"{r['html_bytes'] / 1024:>9.1f} {r['html_gzip_bytes'] / 1024:>9.1f}  {r['colds_ms']}"
        )
    if not args.no_http:
        print(f"{'page (HTTP)':<18} {'cold ms':>9} {'warm ms':>9}  colds")
        for label, r in over_http(path, args.models, args.repeat, args.cold, records).items():
            print(f"{label:<18} {r['cold_ms']:>9.1f} {r['warm_ms']:>9.1f}  {r['colds_ms']}")


if __name__ == "__main__":
    main()
