"""Broker ingest: events/s through `vigil serve --broker` → NATS JetStream → 1 and 2 `vigil worker`s →
PostgreSQL, against the direct path (`vigil serve` folding itself) on the same PostgreSQL, in one run.

    .venv/bin/python bench/broker_bench.py [--seconds 20] [--concurrency 4] [--batch 1000]

The load is bench/ingest_bench.py's: pre-built gzip'd NDJSON batches of 1,000 events × 20 features, each
with its own Idempotency-Key as the SDK sends them (`--no-keys`: none), posted from `--concurrency`
connections for `--seconds`, each acknowledgement timed. Per path: acknowledged
events/s, ack p50/p99, the workers' lag (batches published and not acknowledged, read from /healthz every
second) at its peak and at the end of the load, how long the workers took to drain it, the events counted
by the metrics API against those acknowledged, and the CPU seconds per 1,000 events of every process on the
path (server, workers, nats-server), in all and by process. Needs NATS with JetStream on 127.0.0.1:4222
and PostgreSQL on 127.0.0.1:5432 (scripts/ensure-services.sh).
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest_bench import CONFIG, _body, _load, events, start_serve

ROOT = Path(__file__).resolve().parent.parent
VIGIL = str(Path(sys.executable).parent / "vigil")
POSTGRES = os.environ.get("VIGIL_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
NATS = "nats://127.0.0.1:4222"


def _database() -> str:
    name = f"vigil_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return name


def _drop(name: str) -> None:
    with psycopg.connect(POSTGRES, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def _cpu(procs: list[psutil.Process]) -> float:
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def _nats_server() -> list[psutil.Process]:
    return [p for p in psutil.process_iter(["name"]) if p.info["name"] == "nats-server"]


def run_path(
    workers: int | None, seconds: float, concurrency: int, batch: int, keys: bool = True
) -> dict[str, Any]:
    """``workers``: None for the direct path, else how many `vigil worker`s fold the stream."""
    tmp = Path(tempfile.mkdtemp(prefix="vigil-broker-bench-"))
    (tmp / "vigil.yaml").write_text(CONFIG)
    db = _database()
    store = POSTGRES.rsplit("/", 1)[0] + "/" + db
    stream = f"bench_{uuid.uuid4().hex[:8]}"
    broker = ["--broker", NATS, "--broker-stream", stream, "--broker-max-lag", "100000"]
    server, url = start_serve(tmp / "vigil.yaml", store, *(broker if workers is not None else []))
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    started: list[subprocess.Popen[bytes]] = []
    try:
        for k in range(workers or 0):
            started.append(
                subprocess.Popen(
                    [
                        *(VIGIL, "worker", "--broker", NATS, "--stream", stream, "--store", store),
                        *("--config", str(tmp / "vigil.yaml"), "--name", f"w{k}"),
                    ],
                    **quiet,  # type: ignore[call-overload]
                )
            )
        time.sleep(3 if workers else 0)  # the workers' imports and connections
        rng = np.random.default_rng(1)
        bodies = [gzip.compress(_body(events(rng, batch, time.time()), "ndjson"), 1) for _ in range(16)]
        procs = [psutil.Process(server.pid), *(psutil.Process(w.pid) for w in started)]
        procs += _nats_server() if workers else []
        roles = {
            "server": procs[:1],
            "workers": procs[1 : 1 + len(started)],
            "nats": procs[1 + len(started) :],
        }
        cpu0 = _cpu(procs)
        role0 = {role: _cpu(ps) for role, ps in roles.items()}
        lags: list[int] = []
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                broker = httpx.get(url + "/healthz", timeout=5).json().get("broker")
                if broker:
                    lags.append(broker["pending"] + broker["ack_pending"])
                done.wait(1)

        sampler = threading.Thread(target=sample, daemon=True)
        if workers:
            sampler.start()
        load0 = os.getloadavg()[0]
        t = time.perf_counter()
        latencies, acked, failed = asyncio.run(
            _load(url, bodies, seconds, concurrency, "application/x-ndjson", keys)
        )
        wall = time.perf_counter() - t
        drained_at = time.perf_counter()
        counted = 0.0
        for _ in range(600):  # the workers (or the server) fold what was acknowledged; wait until done
            body = httpx.get(
                url + "/v1/models/bench/metrics",
                params={"names": "events", "step": "1d", "from": str(time.time() - 86400 * 2)},
            ).json()
            counted = sum(v or 0 for _, v in body["series"]["events"])
            if counted >= acked:
                break
            time.sleep(0.2)
        drain = time.perf_counter() - drained_at
        done.set()
        cpu = _cpu(procs) - cpu0
        by_role = {
            role: round(1000 * (_cpu(ps) - role0[role]) / max(acked, 1), 4) for role, ps in roles.items()
        }
        lat = np.array(latencies) * 1000
        return {
            "path": "direct" if workers is None else f"broker, {workers} worker(s)",
            "seconds": round(wall, 1),
            "events_per_s_acked": round(acked / wall),
            "events_per_s_folded": round(acked / (wall + drain)),
            "acked": acked,
            "counted": int(counted),
            "non_2xx": failed,
            "ack_ms": {
                "p50": round(float(np.percentile(lat, 50)), 1),
                "p99": round(float(np.percentile(lat, 99)), 1),
            },
            "lag_batches": {"max": max(lags, default=0), "at_end_of_load": lags[-1] if lags else 0},
            "drain_s": round(drain, 1),
            "cpu_s_per_1000_events": round(1000 * cpu / max(acked, 1), 4),
            "cpu_s_per_1000_by_process": {role: v for role, v in by_role.items() if roles[role]},
            "idempotency_keys": keys,
            "load_1m_at_start": round(load0, 2),
        }
    finally:
        for w in started:
            w.terminate()
        for w in started:
            w.wait(20)
        server.terminate()
        server.wait(20)
        _drop(db)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument(
        "--no-keys", action="store_true", help="send no Idempotency-Key (the SDK sends one a batch)"
    )
    args = ap.parse_args()
    results = [
        run_path(w, args.seconds, args.concurrency, args.batch, not args.no_keys) for w in (None, 1, 2)
    ]
    for r in results:
        print(json.dumps(r))
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"broker_{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(json.dumps(results))


if __name__ == "__main__":
    main()
