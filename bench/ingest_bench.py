"""Ingest speed: in-process profile updates, and sustained HTTP ingest into a real `vigil serve`.

    .venv/bin/python bench/ingest_bench.py [--seconds 60] [--concurrency 4] [--batch 1000] [--no-keys]

1. Profile updates: events of 20 features folded into a window's profile, in batches of 1,000 (one
   request) and 32,000 (about what the aggregator folds together when batches come close together).
2. HTTP: `vigil serve` on an embedded store in a temporary folder; a separate load process posts
   pre-built gzip'd batches of 1,000 events × 20 features (NDJSON as the SDK sends, and a JSON array), each
   with its own Idempotency-Key as the SDK sends them, from `--concurrency` connections for `--seconds`,
   timing each acknowledgement. The server's RSS is sampled every 5 s; after the run the events counted by
   the server are checked against the acknowledged ones.
Targets (2-core machine, loopback): one process ≥ 100,000 events/s with p99 ack < 100 ms; flat memory."""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import orjson

ROOT = Path(__file__).resolve().parent.parent
FEATURES = 20
CONFIG = """
models:
  bench:
    task: binary
    owner: {team: bench}
    window: 1m
    sample_size: 50
"""


def events(rng: np.random.Generator, n: int, start: float) -> list[dict[str, object]]:
    x = rng.normal(size=(n, FEATURES - 4))
    cats = rng.choice(["a", "b", "c", "d", "e"], size=(n, 4))
    out = []
    for i in range(n):
        feats: dict[str, object] = {f"x{j}": float(x[i, j]) for j in range(FEATURES - 4)}
        feats.update({f"c{j}": str(cats[i, j]) for j in range(4)})
        out.append(
            {
                "model": "bench",
                "request_id": f"{start:.0f}-{i}-{rng.integers(1 << 40)}",
                "features": feats,
                "prediction": int(x[i, 0] > 0),
                "score": float(1 / (1 + np.exp(-x[i, 0]))),
                "latency_ms": float(rng.gamma(2.0, 5.0)),
            }
        )
    return out


def profile_updates() -> dict[str, float]:
    import pyarrow as pa

    from vigil.config import parse_config
    from vigil.ingest.batch import profiled_columns, to_table
    from vigil.ingest.redact import Redactor
    from vigil.monitoring.window import WindowState
    from vigil.schema import Event
    from vigil.stats.profile import profile

    spec = parse_config(CONFIG).models["bench"]
    rng = np.random.default_rng(0)
    records = [Event.model_validate(e) for e in events(rng, 1000, time.time())]
    from datetime import UTC, datetime

    table = to_table(records, spec, datetime.now(UTC), Redactor(None, {}, set()))
    template = profile(table.select(profiled_columns(table, spec))).empty_like()
    out = {}
    for copies in (1, 32):
        big = pa.concat_tables([table] * copies)
        data = big.select(profiled_columns(big, spec))
        window = WindowState()
        window.update(big, data, template, rng)  # warm-up
        reps = max(3, 60 // copies)
        t = time.perf_counter()
        for _ in range(reps):
            window.update(big, data, template, rng)
        out[f"batch_{big.num_rows}"] = reps * big.num_rows / (time.perf_counter() - t)
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_serve(config: Path, store: str, *extra: str) -> tuple[subprocess.Popen[bytes], str]:
    """A `vigil serve` of ``config`` on ``store`` on a free loopback port, once it answers /healthz (at
    most 30 s): the process and its URL. ``extra``: more options (``--broker ...``)."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    vigil = str(Path(sys.executable).parent / "vigil")
    command = [vigil, "serve", "--config", str(config), "--store", store, "--port", str(port), *extra]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            httpx.get(url + "/healthz", timeout=1)  # any answer: serving (503 while a store or broker warms)
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    return server, url


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) the process has used: a figure that holds on a busy machine."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _load(
    url: str,
    bodies: list[bytes],
    seconds: float,
    concurrency: int,
    content_type: str = "application/json",
    keys: bool = False,
) -> tuple[list[float], int, int]:
    latencies: list[float] = []
    acked = failed = 0
    stop = time.monotonic() + seconds
    headers = {"content-type": content_type, "content-encoding": "gzip"}

    async def worker(k: int) -> None:
        nonlocal acked, failed
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            i = k
            while time.monotonic() < stop:
                t = time.perf_counter()
                extra = {"idempotency-key": f"bench-{k}-{i}"} if keys else {}  # as the SDK sends, one a batch
                r = await client.post("/v1/events", content=bodies[i % len(bodies)], headers=headers | extra)
                latencies.append(time.perf_counter() - t)
                if r.status_code == 200:
                    acked += r.json()["accepted"]
                else:
                    failed += 1
                    await asyncio.sleep(float(r.headers.get("retry-after", "0.2")))
                i += concurrency

    await asyncio.gather(*(worker(k) for k in range(concurrency)))
    return latencies, acked, failed


def _body(records: list[dict[str, object]], wire: str) -> bytes:
    """A request body as the SDK sends it (NDJSON, one record a line) or as a JSON array."""
    if wire == "ndjson":
        return b"\n".join(orjson.dumps(r) for r in records)
    return orjson.dumps(records)


def http_ingest(
    seconds: float, concurrency: int, batch: int, wire: str = "ndjson", keys: bool = True
) -> dict[str, object]:
    tmp = Path(tempfile.mkdtemp(prefix="vigil-bench-"))
    (tmp / "vigil.yaml").write_text(CONFIG)
    server, url = start_serve(tmp / "vigil.yaml", str(tmp / "v.db"))
    try:
        rng = np.random.default_rng(1)
        content_type = "application/x-ndjson" if wire == "ndjson" else "application/json"
        bodies = [gzip.compress(_body(events(rng, batch, time.time()), wire), 1) for _ in range(16)]
        rss: list[tuple[float, float]] = []
        done = threading.Event()

        def sample() -> None:
            t0 = time.monotonic()
            while not done.is_set():
                rss.append((time.monotonic() - t0, _rss_mb(server.pid)))
                done.wait(5)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        cpu = _cpu_s(server.pid)
        t = time.perf_counter()
        latencies, acked, failed = asyncio.run(_load(url, bodies, seconds, concurrency, content_type, keys))
        wall = time.perf_counter() - t
        cpu = _cpu_s(server.pid) - cpu  # taken before the count is read back: ingest and folding only
        done.set()
        counted = 0.0
        for _ in range(100):  # the server folds what it acknowledged; wait until it has
            body = httpx.get(
                url + "/v1/models/bench/metrics",
                params={"names": "events", "step": "1d", "from": str(time.time() - 86400 * 2)},
            ).json()
            counted = sum(v or 0 for _, v in body["series"]["events"])
            if counted >= acked:
                break
            time.sleep(0.5)
        lat = np.array(latencies) * 1000
        return {
            "wire": wire,
            "idempotency_keys": keys,
            "seconds": round(wall, 1),
            "concurrency": concurrency,
            "batch": batch,
            "events_per_s": round(acked / wall),
            "acked": acked,
            "server_cpu_us_per_event": round(cpu / max(acked, 1) * 1e6, 2),
            "counted_by_server": int(counted),
            "non_2xx": failed,
            "ack_ms": {
                "p50": round(float(np.percentile(lat, 50)), 1),
                "p99": round(float(np.percentile(lat, 99)), 1),
                "max": round(float(lat.max()), 1),
            },
            "rss_mb": [(round(a), round(b)) for a, b in rss],
        }
    finally:
        server.terminate()
        server.wait(20)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--skip-http", action="store_true")
    ap.add_argument(
        "--wire", choices=["ndjson", "json", "both"], default="both", help="NDJSON (as the SDK sends) or JSON"
    )
    ap.add_argument(
        "--no-keys", action="store_true", help="send no Idempotency-Key (the SDK sends one a batch)"
    )
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    updates = profile_updates()
    print("in-process profile updates (events/s, 20 features):")
    for k, v in updates.items():
        print(f"  {k:>12}: {v:>12,.0f}")
    if args.skip_http:
        return
    wires = ["ndjson", "json"] if args.wire == "both" else [args.wire]
    result = [
        http_ingest(args.seconds, args.concurrency, args.batch, wire, not args.no_keys) for wire in wires
    ]
    print(json.dumps(result, indent=1))
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"ingest_{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(
        json.dumps({"updates": updates, "http": result})
    )


if __name__ == "__main__":
    main()
