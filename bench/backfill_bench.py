"""Backfill speed: rows/s of ``vigil backfill`` on Dask (1 and 2 local workers), against the same Parquet
through ``vigil ingest`` into a running ``vigil serve``, and against whylogs profiling it on Dask, in one run.

    .venv/bin/python bench/backfill_bench.py [--rows 10000000] [--files 8] [--only vigil,ingest,whylogs]

Data: ``--rows`` scored events (16 numeric and 4 categorical features, score, prediction, latency, request
id, a time within the last 20 hours: each file a slice of them, in time order, as batch-scoring outputs
are) in ``--files`` Parquet files with row groups of 250,000 rows, in a
temporary folder. Each Vigil backfill starts from an empty embedded store and is timed from the command's
start to its end (cluster start, file hashing, template, profiling, saving). ``vigil ingest`` sends the files
one after another to a ``vigil serve`` on an embedded store (chunks of 5,000 rows); its time is until the
last chunk is acknowledged (durable), and the server's count is checked afterwards. whylogs 1.6.4 runs in
its own venv (``bench/envs/whylogs-dask/``, made with pip on first use): ``why.log(df)`` per partition on a
Dask LocalCluster of the same size, views merged on the client.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).parent))
import drift_bench
from ingest_bench import start_serve

ROOT = Path(__file__).resolve().parent.parent
VIGIL = ROOT / ".venv" / "bin" / "vigil"
CONFIG = """
models:
  bench:
    task: binary
    owner: {team: bench}
    window: 1m
    sample_size: 50
"""
drift_bench.TOOLS["whylogs-dask"] = [
    "whylogs==1.6.4",
    "numpy<2",
    "pandas<3",
    "pyarrow<21",
    "dask[dataframe]<2025",
    "distributed<2025",
]


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def make_files(folder: Path, rows: int, files: int, now: float) -> list[Path]:
    paths = []
    rng = np.random.default_rng(14)
    per = rows // files
    span = 20 * 3600.0 - 60  # the last 20 hours; each file a slice of them in time order (a day's scores)
    for f in range(files):
        n = per if f < files - 1 else rows - per * (files - 1)
        x = rng.normal(size=(n, 16))
        cols: dict[str, Any] = {f"x{j}": x[:, j] for j in range(16)}
        cols.update({f"c{j}": rng.choice(["a", "b", "c", "d", "e"], n) for j in range(4)})
        score = 1 / (1 + np.exp(-x[:, 0]))
        cols.update(
            timestamp=pa.array(
                (np.sort(now - span + rng.uniform(f, f + 1, n) * span / files) * 1e6).astype(np.int64),
                pa.timestamp("us", "UTC"),
            ),
            request_id=pa.array([f"{f}-{i}" for i in range(n)]),
            score=score,
            prediction=(score > 0.5).astype(np.int64),
            latency_ms=rng.gamma(2.0, 5.0, n),
        )
        path = folder / f"part-{f:03d}.parquet"
        pq.write_table(pa.table(cols), path, row_group_size=250_000)
        paths.append(path)
    return paths


def load() -> str:
    return " ".join(os.getloadavg().__repr__().strip("()").split(", ")[:3])


def vigil_backfill(folder: Path, paths: list[Path], workers: int) -> dict[str, Any]:
    store = folder / f"backfill-{workers}.db"
    t0 = time.perf_counter()
    done = subprocess.run(
        [
            str(VIGIL),
            "backfill",
            *map(str, paths),
            "--model",
            "bench",
            "--config",
            str(folder / "vigil.yaml"),
            "--store",
            str(store),
            "--workers",
            str(workers),
            "--threads",
            "1",
            "--memory-limit",
            "3GiB",
        ],
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        return {"error": (done.stderr or done.stdout).strip().splitlines()[-1][:300]}
    rows = sum(
        int(line.split(": ", 1)[1].split(" of ")[0])
        for line in done.stdout.splitlines()
        if " rows into " in line
    )
    return {"rows": rows, "seconds": seconds}


def vigil_ingest(folder: Path, paths: list[Path], rows: int) -> dict[str, Any]:
    server, url = start_serve(folder / "vigil.yaml", str(folder / "ingest.db"))
    try:
        t0 = time.perf_counter()
        for path in paths:
            subprocess.run(
                [str(VIGIL), "ingest", str(path), "--model", "bench", "--url", url],
                check=True,
                capture_output=True,
            )
        seconds = time.perf_counter() - t0
        counted = 0
        for _ in range(600):  # until the server has folded everything it acknowledged
            now = time.time()
            r = httpx.get(
                f"{url}/v1/models/bench/metrics",
                params={"names": "events", "from": now - 86_400, "to": now + 60, "step": 90_000},
                timeout=30,
            )
            counted = int(sum(v or 0 for _, v in r.json()["series"]["events"]))
            if counted >= rows:
                break
            time.sleep(1)
        return {"rows": rows, "seconds": seconds, "counted": counted}
    finally:
        server.terminate()
        server.wait(60)


def whylogs_dask(paths: list[Path], workers: int) -> dict[str, Any]:
    py, why = drift_bench.ensure_env("whylogs-dask")
    if py is None:
        return {"error": why}
    runner = ROOT / "bench" / "peers" / "run_whylogs_dask.py"
    done = subprocess.run(
        [str(py), str(runner), "--workers", str(workers), *map(str, paths)], capture_output=True, text=True
    )
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = [ln for ln in done.stderr.splitlines() if ln.strip()]
        return {"error": tail[-1][:300] if tail else f"exit {done.returncode}"}
    return dict(json.loads(lines[-1]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--files", type=int, default=8)
    ap.add_argument("--only", default="vigil,ingest,whylogs")
    args = ap.parse_args()
    only = set(args.only.split(","))
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="vigil-backfill-bench-") as tmp:
        folder = Path(tmp)
        (folder / "vigil.yaml").write_text(CONFIG)
        log(f"writing {args.rows:,} rows in {args.files} Parquet files (load {load()})")
        paths = make_files(folder, args.rows, args.files, time.time())
        runs: list[tuple[str, Any]] = []
        if "vigil" in only:
            runs += [
                (f"vigil backfill, Dask {w} worker(s)", lambda w=w: vigil_backfill(folder, paths, w))
                for w in (1, 2)
            ]
        if "ingest" in only:
            runs.append(("vigil ingest → vigil serve", lambda: vigil_ingest(folder, paths, args.rows)))
        if "whylogs" in only:
            runs += [
                (f"whylogs 1.6.4 on Dask, {w} worker(s)", lambda w=w: whylogs_dask(paths, w)) for w in (1, 2)
            ]
        for name, run in runs:
            before = load()
            log(f"{name} (load {before})")
            out = run()
            out.update(name=name, load_before=before, load_after=load())
            if "seconds" in out:
                out["rows_per_s"] = round(out["rows"] / out["seconds"])
                log(f"  {out['rows']:,} rows in {out['seconds']:.1f} s: {out['rows_per_s']:,} rows/s")
            else:
                log(f"  {out}")
            results.append(out)
    print(
        json.dumps(
            {"rows": args.rows, "files": args.files, "cpus": os.cpu_count(), "results": results}, indent=1
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
