"""Sequential change detectors: Vigil's (``vigil.detectors``) against river's ADWIN and PageHinkley on the
same streams with known change points, in the same run.

    .venv/bin/python bench/detectors_bench.py            # 10^6 values per stream
    .venv/bin/python bench/detectors_bench.py --n 200000

Streams (seeded; ``bench/data/detectors_<name>_<n>.npy``): N(0, 1) whose mean steps between 0 and +d every
5,000 values (d = 0.5, 1, 2), and an error rate (0/1 values) stepping between 1% and 3% or 5% every 20,000
values. Scoring per stream, for each change point c (the next at c'): the first detection in ``[c, min(c +
D, c'))`` is the detection (delay: its position - c + 1), none is a miss, and every other detection is a
false alarm (D = 2,000 values for the mean shifts, 10,000 for the error rates). Figures are per 10^6 values;
times are the best of 3 runs. river runs in its own virtualenv (``bench/envs/river``, made on first use with
pip) one value at a time, as it is used; Vigil reads each stream as one numpy batch. ADWIN runs with river's
defaults on both sides; Page-Hinkley with river's defaults against Vigil's at ``arl = 10_000``, ``scale =
1`` on the N(0, 1) streams, and on the error rates ``scale`` = √(0.02 × 0.98) (a 2% rate's), ``delta =
0.05`` and ``arl = 10^12``, chosen so that its false alarms and misses are no more than river's (0/1 values
are far from normal, so ``arl`` is not their ARL0 there).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
DATA, ENVS, RESULTS = BENCH / "data", BENCH / "envs", BENCH / "results"
sys.path.insert(0, str(ROOT))

from vigil.detectors import ADWIN, PageHinkley  # noqa: E402

P0 = 0.01


def streams(n: int) -> dict[str, tuple[np.ndarray, np.ndarray, int]]:
    """name -> (values, change points, D)."""
    rng = np.random.default_rng(2026)
    out: dict[str, tuple[np.ndarray, np.ndarray, int]] = {}
    for d in (0.5, 1.0, 2.0):
        cps = np.arange(5_000, n, 5_000)
        level = (np.arange(n) // 5_000 % 2) * d
        out[f"shift_{d:g}"] = (rng.normal(0, 1, n) + level, cps, 2_000)
    for p1 in (0.03, 0.05):
        cps = np.arange(20_000, n, 20_000)
        p = np.where(np.arange(n) // 20_000 % 2 == 1, p1, P0)
        out[f"errors_1to{p1 * 100:.0f}"] = ((rng.random(n) < p).astype(np.float64), cps, 10_000)
    return out


def score(found: np.ndarray, cps: np.ndarray, n: int, most: int) -> dict[str, float]:
    """Mean delay, misses and false alarms (per 10^6 values) of detections ``found``."""
    found = np.asarray(found, dtype=np.int64)
    used = np.zeros(found.size, dtype=bool)
    delays, misses = [], 0
    bounds = np.r_[cps, n]
    for c, nxt in zip(cps, bounds[1:], strict=True):
        lo, hi = np.searchsorted(found, [c, min(c + most, nxt)])
        if hi > lo:
            delays.append(found[lo] - c + 1)
            used[lo] = True
        else:
            misses += 1
    per = 1e6 / n
    return {
        "delay_mean": float(np.mean(delays)) if delays else float("nan"),
        "misses": misses * per,
        "false_alarms": float((~used).sum()) * per,
        "detected": float(len(delays)) * per,
    }


def vigil_runs(name: str) -> dict[str, Callable[[], Any]]:
    errors = name.startswith("errors")
    # error rates: the scale of a 2% rate (between the 1% in control and the rates to catch), delta and arl
    # set so that false alarms and misses are no more than river's (0/1 values: arl is not their ARL0)
    scale = float(np.sqrt(0.02 * 0.98))
    ph = (lambda: PageHinkley(1e12, delta=0.05, scale=scale)) if errors else (lambda: PageHinkley(1e4))
    return {"ADWIN": lambda: ADWIN(), "PageHinkley": ph}


def ensure_river() -> Path:
    env = ENVS / "river"
    py = env / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(env)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "river"], check=True)
    return py


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="values per stream")
    args = ap.parse_args()
    n = args.n
    DATA.mkdir(parents=True, exist_ok=True)
    made = streams(n)
    names = []
    for name, (values, _, _) in made.items():
        np.save(DATA / f"detectors_{name}_{n}.npy", values)
        names.append(f"detectors_{name}_{n}")
    py = ensure_river()
    peer = subprocess.run(
        [str(py), str(BENCH / "peers" / "run_river_detectors.py"), str(DATA), *names],
        check=True,
        capture_output=True,
        text=True,
    )
    river_out = json.loads(peer.stdout.strip().splitlines()[-1])
    rows: list[dict[str, Any]] = []
    for name, (values, cps, most) in made.items():
        theirs = river_out["streams"][f"detectors_{name}_{n}"]
        for det, make in vigil_runs(name).items():
            seconds = float("inf")
            for _ in range(3):  # the best of 3, as for river (the machine is shared)
                d = make()
                start = time.perf_counter()
                mine = d.update(values)
                seconds = min(seconds, time.perf_counter() - start)
            r = theirs[det]
            for tool, found, secs in (
                ("vigil", mine, seconds),
                ("river", np.asarray(r["positions"]), r["seconds"]),
            ):
                rows.append(
                    {
                        "stream": name,
                        "detector": det,
                        "tool": tool,
                        **score(found, cps, n, most),
                        "seconds_per_1e6": secs * 1e6 / n,
                        "same_positions": bool(np.array_equal(mine, np.asarray(r["positions"]))),
                    }
                )
    head = f"{'stream':<12} {'detector':<12} {'tool':<6} {'delay':>8} {'misses':>7} {'false':>7} {'s/1e6':>7}"
    print(head)
    for r in rows:
        print(
            f"{r['stream']:<12} {r['detector']:<12} {r['tool']:<6} {r['delay_mean']:>8.1f} "
            f"{r['misses']:>7.0f} {r['false_alarms']:>7.0f} {r['seconds_per_1e6']:>7.2f}"
            + (
                "  (same positions)"
                if r["detector"] == "ADWIN" and r["tool"] == "vigil" and r["same_positions"]
                else ""
            )
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"detectors_{time.strftime('%Y%m%d_%H%M%S')}.json"
    out.write_text(json.dumps({"n": n, "river": river_out["version"], "rows": rows}, indent=1))
    print(f"river {river_out['version']}; results in {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
