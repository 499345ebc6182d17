"""MMD on embeddings: time at 2,000 x 2,000 vectors, false alarms under the null, power on mean shifts;
and the text descriptors' speed.

    .venv/bin/python bench/embedding_bench.py [--dim 384] [--runs 200] [--text-rows 100000]

The vectors mimic sentence embeddings: Gaussian with a decaying spectrum (variance of axis i proportional
to 1/(1+i)), normalised to unit length. A shift moves the mean by ``delta`` times the typical axis spread
along a random direction before normalisation. alibi-detect's ``MMDDrift`` runs beside it when a virtualenv
``bench/envs/alibi-detect`` exists (``drift_bench.py`` creates it); otherwise it is left out.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from vigil.drift.base import FloatArray
from vigil.drift.mmd import mmd_test
from vigil.stats.text import descriptors, vocabulary

ROOT = Path(__file__).resolve().parent
ALIBI = ROOT / "envs" / "alibi-detect" / "bin" / "python"


def sample(rng: np.random.Generator, n: int, dim: int, shift: float = 0.0) -> FloatArray:
    scale = 1.0 / np.sqrt(1.0 + np.arange(dim))
    x = rng.normal(size=(n, dim)) * scale
    if shift:
        direction = np.random.default_rng(99).normal(size=dim)
        x += shift * float(np.median(scale)) * np.sqrt(dim) * direction / np.linalg.norm(direction)
    out: FloatArray = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def timing(dim: int) -> dict[str, float]:
    rng = np.random.default_rng(0)
    x, y = sample(rng, 2000, dim), sample(rng, 2000, dim)
    seconds = []
    for _ in range(3):
        start = time.perf_counter()
        mmd_test(x, y)
        seconds.append(time.perf_counter() - start)
    return {"vigil_mmd_2000x2000_s": float(np.median(seconds))}


def rates(dim: int, runs: int, n: int) -> dict[str, float]:
    out = {}
    for shift in (0.0, 0.05, 0.1, 0.2):
        hits = 0
        for seed in range(runs):
            rng = np.random.default_rng(seed)
            p = mmd_test(sample(rng, n, dim), sample(rng, n, dim, shift), permutations=200, seed=seed).p_value
            hits += p is not None and p < 0.05
        out[f"flagged_at_shift_{shift}"] = hits / runs
    return out


def alibi(dim: int) -> dict[str, object]:
    if not ALIBI.exists():
        return {"alibi_detect": "skipped: no bench/envs/alibi-detect virtualenv"}
    code = (
        "import time, numpy as np\n"
        "from alibi_detect.cd import MMDDrift\n"
        f"rng = np.random.default_rng(0); x = rng.normal(size=(2000, {dim})).astype('float32')\n"
        f"y = rng.normal(size=(2000, {dim})).astype('float32')\n"
        "t = time.perf_counter(); cd = MMDDrift(x, backend='pytorch', p_val=.05, n_permutations=500)\n"
        "cd.predict(y); print(time.perf_counter() - t)\n"
    )
    done = subprocess.run([str(ALIBI), "-c", code], capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0:
        return {"alibi_detect": f"FAILED: {done.stderr.strip().splitlines()[-1:]}"}
    return {"alibi_mmd_2000x2000_s": float(done.stdout.split()[-1])}


def text_speed(rows: int) -> dict[str, float]:
    rng = np.random.default_rng(0)
    words = rng.zipf(1.3, size=rows * 12)
    sizes = rng.poisson(12, size=rows)
    ends = np.cumsum(sizes)
    texts = pa.array([" ".join(f"w{w}" for w in words[e - s : e]) for s, e in zip(sizes, ends, strict=True)])
    start = time.perf_counter()
    known = vocabulary(texts)
    descriptors(texts, known)
    return {f"text_descriptors_{rows}_rows_s": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--runs", type=int, default=200, help="seeded runs per shift (500 vectors per side)")
    parser.add_argument("--text-rows", type=int, default=100_000)
    args = parser.parse_args()
    result: dict[str, object] = {"dim": args.dim, "runs": args.runs}
    result |= timing(args.dim)
    result |= alibi(args.dim)
    result |= rates(args.dim, args.runs, 500)
    result |= text_speed(args.text_rows)
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
