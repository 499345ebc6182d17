"""Caller overhead of ``vigil.sdk.Client.log``: what a serving process pays per logged prediction.

Times each of N calls (a 20-feature dict, prediction and score) with ``perf_counter_ns`` in a tight
loop and prints p50/p99/p99.9/max and the mean in µs, in three situations:

- ``server up``: a recording server (a separate process on 127.0.0.1) accepts every batch;
- ``server down``: nothing listens, the sender retries with backoff, the queue is big enough to hold
  every record (no drops);
- ``queue saturated``: nothing listens and the queue holds 10,000 records, so almost every call drops
  the oldest record.

The timer's own cost (two ``perf_counter_ns`` calls, measured around an empty statement) is printed and
included in the numbers. Target: p99 <= 20 µs.

    .venv/bin/python bench/sdk_bench.py [--calls 200000] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from vigil.sdk import Client

TARGET_P99_US = 20.0


class _Recorder(BaseHTTPRequestHandler):
    """Accepts every batch without parsing it (answers ``{}``: the client then counts the whole batch as
    accepted), so that the server's own cost does not limit what the client can ship."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else a 40 ms delayed-ACK stall per answer

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        answer = b"{}"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _serve(port: int) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", port), _Recorder)
    print("ready", flush=True)
    server.serve_forever()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _percentiles(samples_ns: list[int]) -> dict[str, float]:
    ordered = sorted(samples_ns)
    n = len(ordered)

    def at(q: float) -> float:
        return ordered[min(n - 1, int(q * n))] / 1000.0

    return {
        "p50": at(0.50),
        "p99": at(0.99),
        "p99.9": at(0.999),
        "max": ordered[-1] / 1000.0,
        "mean": statistics.fmean(ordered) / 1000.0,
    }


def _run(client: Client, calls: int, warmup: int) -> list[int]:
    features = {f"f{i}": float(i) * 0.5 for i in range(20)}
    log = client.log
    clock = time.perf_counter_ns
    for i in range(warmup):
        log("bench", features=features, prediction=i & 1, score=0.5)
    samples = [0] * calls
    for i in range(calls):
        t0 = clock()
        log("bench", features=features, prediction=i & 1, score=0.5)
        samples[i] = clock() - t0
    return samples


def _timer_cost(n: int = 100_000) -> float:
    clock = time.perf_counter_ns
    samples = [0] * n
    for i in range(n):
        t0 = clock()
        samples[i] = clock() - t0
    return statistics.median(samples) / 1000.0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--warmup", type=int, default=10_000)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--serve", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        _serve(args.serve)
        return

    results: dict[str, dict[str, float]] = {}
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(port)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        url = f"http://127.0.0.1:{port}"
        with Client(url, host_metrics_every=None) as client:
            results["server up"] = _percentiles(_run(client, args.calls, args.warmup))
            t0 = time.perf_counter()
            client.flush(timeout=30)
            drain_s = time.perf_counter() - t0
            up_stats = client.stats()
    finally:
        server.terminate()
        server.wait()

    down = f"http://127.0.0.1:{_free_port()}"
    with Client(down, queue_size=args.calls + args.warmup + 1, host_metrics_every=None) as client:
        results["server down"] = _percentiles(_run(client, args.calls, args.warmup))
        down_stats = client.stats()
        client.close(timeout=0.5)
    with Client(down, queue_size=10_000, host_metrics_every=None) as client:
        results["queue saturated"] = _percentiles(_run(client, args.calls, args.warmup))
        sat_stats = client.stats()
        client.close(timeout=0.5)

    print(f"Client.log() caller overhead, {args.calls:,} calls each, 20 features (µs per call)")
    print(f"timer overhead included: {_timer_cost():.3f} µs\n")
    print(f"{'situation':<17}{'p50':>8}{'p99':>8}{'p99.9':>9}{'max':>10}{'mean':>8}")
    for name, r in results.items():
        print(
            f"{name:<17}{r['p50']:>8.2f}{r['p99']:>8.2f}{r['p99.9']:>9.2f}{r['max']:>10.1f}{r['mean']:>8.2f}"
        )
    print(
        f"\nserver up: sent={up_stats['sent']} dropped={up_stats['dropped']} queued={up_stats['queued']}"
        f" (the rest drained in {drain_s:.2f} s after the loop)"
    )
    print(f"server down: queued={down_stats['queued']} dropped={down_stats['dropped']}")
    print(f"queue saturated: queued={sat_stats['queued']} dropped={sat_stats['dropped']}")
    worst = max(r["p99"] for r in results.values())
    verdict = "meets" if worst <= TARGET_P99_US else "MISSES"
    print(f"worst p99 {worst:.2f} µs {verdict} the {TARGET_P99_US:.0f} µs target")
    if args.json is not None:
        args.json.write_text(json.dumps({"calls": args.calls, "results": results}, indent=2))


if __name__ == "__main__":
    main()
