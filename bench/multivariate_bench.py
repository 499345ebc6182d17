"""Multivariate drift benchmark: false alarms on same-distribution splits of real data at 1k-1M rows,
detection of joint changes that leave every column's distribution as it was, and time against NannyML's
DataReconstructionDriftCalculator and alibi-detect's ClassifierDrift, in the same run.

    .venv/bin/python bench/multivariate_bench.py                   # every size, every tool
    .venv/bin/python bench/multivariate_bench.py --sizes 1000,10000 --reps 5 --only vigil

Data: scikit-learn's bundled tables (breast_cancer 569 x 30, wine 178 x 13, diabetes 442 x 10; nothing
downloaded), resampled to n rows by a smoothed bootstrap (rows drawn with replacement plus normal noise of
0.1 sd per column, so the sample is continuous). Same-distribution splits: reference and current drawn
independently. Joint changes: in the current, a third of the columns are permuted independently over all
rows (``decorrelate``) or over 10% of rows (``decorrelate_10pct``): every marginal stays the same, only how
the columns move together changes. Peers run in their own virtualenvs (``bench/envs/<tool>``, created as
``drift_bench.py`` does) on the same Parquet files. Results go to ``bench/results/multivariate_<time>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn import datasets

sys.path.insert(0, str(Path(__file__).parent))
from drift_bench import ensure_env

from vigil.drift.multivariate import Encoder, Reconstruction, domain_classifier_drift

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data" / "multivariate"
RESULTS = ROOT / "bench" / "results"
PEERS = {"nannyml": "run_nannyml_reconstruction.py", "alibi-detect": "run_alibi_classifier.py"}
LOADERS = {
    "breast_cancer": datasets.load_breast_cancer,
    "wine": datasets.load_wine,
    "diabetes": datasets.load_diabetes,
}
CHANGES = ("none", "decorrelate", "decorrelate_10pct")


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def resample(x: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """A smoothed bootstrap of ``x``: n rows drawn with replacement, plus N(0, (0.1 sd)^2) per column."""
    rows = x[rng.integers(0, len(x), n)]
    return rows + rng.normal(size=rows.shape) * 0.1 * x.std(axis=0)


def change(x: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    """Permute a third of the columns independently (over all rows, or over a random 10% of them)."""
    if kind == "none":
        return x
    out = x.copy()
    rows = np.arange(len(x)) if kind == "decorrelate" else np.flatnonzero(rng.random(len(x)) < 0.1)
    for j in range(0, x.shape[1], 3):
        out[rows, j] = out[rng.permutation(rows), j]
    return out


def split(name: str, n: int, kind: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(LOADERS[name]().data, dtype=np.float64)
    rng = np.random.default_rng(seed)
    return resample(x, n, rng), change(resample(x, n, rng), kind, rng)


def vigil_run(ref: np.ndarray, cur: np.ndarray, classifier: bool) -> dict[str, Any]:
    cols = {f"x{j}": ref[:, j] for j in range(ref.shape[1])}
    t0 = time.perf_counter()
    enc, x_ref = Encoder.fit_transform(cols, {})
    x_cur = enc.transform({f"x{j}": cur[:, j] for j in range(cur.shape[1])}, {})
    rec = Reconstruction(x_ref).test(x_cur)
    out: dict[str, Any] = {"reconstruction": rec.drift, "reconstruction_s": time.perf_counter() - t0}
    if classifier:
        t1 = time.perf_counter()
        out["classifier"] = domain_classifier_drift(x_ref, x_cur).drift
        out["classifier_s"] = time.perf_counter() - t1
    return out


def peer_run(tool: str, ref: np.ndarray, cur: np.ndarray, tag: str, timeout: int) -> dict[str, Any]:
    py, why = ensure_env(tool)
    if py is None:
        return {"error": why}
    DATA.mkdir(parents=True, exist_ok=True)
    paths = []
    for side, x in (("ref", ref), ("cur", cur)):
        path = DATA / f"{tag}_{side}.parquet"
        pd.DataFrame(x, columns=[f"x{j}" for j in range(x.shape[1])]).to_parquet(path)
        paths.append(str(path))
    runner = ROOT / "bench" / "peers" / PEERS[tool]
    try:
        # one OpenMP thread, as Vigil's classifier runs: on a shared machine spinning threads run far slower
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        done = subprocess.run(
            [str(py), str(runner), *paths], capture_output=True, text=True, timeout=timeout, env=env
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = [ln for ln in done.stderr.splitlines() if ln.strip()]
        return {"error": tail[-1][:300] if tail else f"exit {done.returncode}"}
    return dict(json.loads(lines[-1]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000,100000,1000000")
    ap.add_argument("--reps", type=int, default=10, help="same-distribution splits per data set and size")
    ap.add_argument("--classifier-reps", type=int, default=2)
    ap.add_argument("--only", default="vigil,nannyml,alibi-detect")
    ap.add_argument("--peer-sizes", default="10000,100000,1000000", help="sizes the peers are timed at")
    ap.add_argument("--timeout", type=int, default=600, help="seconds allowed per peer run")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    tools = args.only.split(",")
    results: list[dict[str, Any]] = []
    for n in sizes:
        reps = args.reps if n <= 100_000 else max(1, args.reps // 5)
        for name in LOADERS:
            for kind in CHANGES:
                for rep in range(reps if kind == "none" else 1):
                    ref, cur = split(name, n, kind, seed=1000 * rep + n % 997)
                    rec: dict[str, Any] = {"data": name, "rows": n, "change": kind, "rep": rep}
                    if "vigil" in tools:
                        rec["vigil"] = vigil_run(ref, cur, classifier=rep < args.classifier_reps)
                    if rep == 0 and str(n) in args.peer_sizes.split(","):
                        for tool in (t for t in tools if t in PEERS):
                            log(f"{tool} {name} {kind} @ {n:,}")
                            rec[tool] = peer_run(tool, ref, cur, f"{name}_{kind}_{n}", args.timeout)
                    results.append(rec)
        log(f"{n:,} rows done")
    print(summary(results))
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"multivariate_{time.strftime('%Y%m%d_%H%M%S')}.json"
    out.write_text(json.dumps(results, indent=1))
    print(f"wrote {out}")
    return 0


def summary(results: list[dict[str, Any]]) -> str:
    """Per size: false alarms / runs, detections / runs, median seconds, for each tool and method."""
    lines = ["rows       tool/method                   false alarms   detected (decorrelate, 10%)   median s"]
    methods = [
        ("vigil", "reconstruction"),
        ("vigil", "classifier"),
        ("nannyml", "drift"),
        ("alibi-detect", "drift"),
    ]
    for n in sorted({r["rows"] for r in results}):
        for tool, key in methods:
            runs = [r for r in results if r["rows"] == n and isinstance(r.get(tool), dict)]
            runs = [r for r in runs if key in r[tool]]
            if not runs:
                continue
            null = [r[tool][key] for r in runs if r["change"] == "none"]
            full = [r[tool][key] for r in runs if r["change"] == "decorrelate"]
            part = [r[tool][key] for r in runs if r["change"] == "decorrelate_10pct"]
            secs = [r[tool].get(f"{key}_s", r[tool].get("seconds")) for r in runs]
            label = f"{tool}/{key}" if tool == "vigil" else f"{tool}"
            lines.append(
                f"{n:<10,} {label:<29} {sum(null):>3}/{len(null):<10} {sum(full)}/{len(full)}, "
                f"{sum(part)}/{len(part)}{'':<22} {float(np.median(secs)):.3f}"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
