"""Drift benchmark: Vigil against Evidently, NannyML, alibi-detect, whylogs and a plain scipy loop.

Run from the repository root:
    .venv/bin/python bench/drift_bench.py [--sizes 10000,100000] [--only vigil,scipy]

Each tool runs in its own subprocess and its own virtualenv (bench/envs/<tool>/, created on first use).
See bench/README.md for what is measured.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
DATA, ENVS, RESULTS, PEERS = BENCH / "data", BENCH / "envs", BENCH / "results", BENCH / "peers"
SEED = 20240611
NULL_RATE = 0.02

# The truth: the only columns whose distribution differs between ref and cur.
DRIFTED = ["normal", "normal_wide", "gamma", "color", "segment"]

# tool -> pip requirements of its env (None: the project's own .venv). pandas/pyarrow are added to each.
TOOLS: dict[str, list[str] | None] = {
    "vigil": None,
    "scipy": ["scipy"],
    "evidently": ["evidently==0.7.23", "pandas<3"],  # 0.7.23 imports a helper pandas 3 removed
    "nannyml": ["nannyml==0.13.1", "statsmodels"],  # statsmodels: imported but not declared
    "alibi-detect": ["alibi-detect==0.13.0", "pyarrow<21"],  # it pins numpy<2; newest pyarrow needs numpy 2
    "whylogs": ["whylogs[viz]==1.6.4", "numpy<2", "pandas<3", "pyarrow<21"],  # [viz]: the drift scores
}
RUN_TIMEOUT_S = 900
INSTALL_TIMEOUT_S = 1800


# --------------------------------------------------------------------------- data


def _categorical(rng: Any, n: int, cats: list[str], p: Any) -> Any:
    import numpy as np

    p = np.asarray(p, dtype=float)
    return np.asarray(cats, dtype=object)[rng.choice(len(cats), size=n, p=p / p.sum())]


def make_table(n: int, current: bool) -> Any:
    """20 columns (15 numeric, 5 string); ``current`` drifts exactly the columns in DRIFTED."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng([SEED, n, int(current)])
    d = current
    geo = 0.8 ** np.arange(20)
    seg_p = geo.copy()
    if d:  # segment mix: seg_00 (~20%) and seg_05 (~7%) swap shares
        seg_p[[0, 5]] = seg_p[[5, 0]]
    color_p = np.array([0.40, 0.25, 0.10, 0.15, 0.10])
    if d:  # green goes from 10% to 25%, the others shrink proportionally
        color_p *= 0.75 / 0.90
        color_p[2] = 0.25
    cols: dict[str, Any] = {
        "normal": rng.normal(55.0 if d else 50.0, 10.0, n),  # drift: mean +0.5 sd
        "normal_wide": rng.normal(0.0, 3.0 if d else 2.0, n),  # drift: sd x1.5
        "gamma": rng.normal(4.0, 2.0, n) if d else rng.gamma(4.0, 1.0, n),  # drift: same mean/sd, new shape
        "uniform": rng.uniform(0.0, 1.0, n),
        "lognormal": rng.lognormal(3.0, 0.8, n),
        "exponential": rng.exponential(2.0, n),
        "bimodal": np.where(rng.random(n) < 0.4, rng.normal(-2.0, 0.7, n), rng.normal(3.0, 1.0, n)),
        "student_t": rng.standard_t(3, n),
        "poisson": rng.poisson(3.0, n),
        "beta": rng.beta(2.0, 5.0, n),
        "offset_normal": rng.normal(1000.0, 1.0, n),
        "zero_inflated": np.where(rng.random(n) < 0.6, 0.0, rng.exponential(5.0, n)),
        "binary": (rng.random(n) < 0.3).astype(np.int64),
        "negbinom": rng.negative_binomial(2, 0.1, n),
        "pareto": (rng.pareto(1.5, n) + 1.0) * 10.0,
        "color": _categorical(rng, n, ["red", "blue", "green", "black", "white"], color_p),
        "segment": _categorical(rng, n, [f"seg_{i:02d}" for i in range(20)], seg_p),
        "country": _categorical(rng, n, [f"c{i:02d}" for i in range(50)], 1.0 / np.arange(1, 51) ** 1.1),
        "browser": _categorical(
            rng,
            n,
            ["chrome", "safari", "edge", "firefox", "opera", "other"],
            [0.55, 0.2, 0.12, 0.08, 0.04, 0.01],
        ),
        "tier": _categorical(rng, n, [f"t{i:02d}" for i in range(30)], 0.85 ** np.arange(30)),
    }
    arrays = {}
    for name, values in cols.items():
        mask = np.zeros(n, dtype=bool)
        mask[rng.choice(n, size=round(n * NULL_RATE), replace=False)] = True
        kind = pa.string() if values.dtype == object else None
        arrays[name] = pa.array(values, mask=mask, type=kind)
    return pa.table(arrays)


def ensure_data(n: int) -> tuple[Path, Path]:
    import pyarrow.parquet as pq

    DATA.mkdir(parents=True, exist_ok=True)
    paths = DATA / f"ref_{n}.parquet", DATA / f"cur_{n}.parquet"
    for path, current in zip(paths, (False, True), strict=True):
        if not path.exists():
            log(f"generating {path.relative_to(ROOT)}")
            tmp = path.with_suffix(".tmp")
            pq.write_table(make_table(n, current), tmp)
            tmp.rename(path)
    return paths


# --------------------------------------------------------------------------- envs and runs


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def ensure_env(tool: str) -> tuple[Path | None, str]:
    """The tool's interpreter, or None and the reason it could not be installed."""
    reqs = TOOLS[tool]
    if reqs is None:
        return ROOT / ".venv" / "bin" / "python", ""
    env = ENVS / tool
    py, stamp = env / "bin" / "python", env / ".bench-reqs"
    wanted = " ".join([*reqs, "pandas", "pyarrow"])
    if py.exists() and stamp.exists() and stamp.read_text() == wanted:
        return py, ""
    logfile = ENVS / f"{tool}.log"
    log(f"installing {wanted} into {env} (log: {logfile})")
    try:
        if not py.exists():
            subprocess.run([sys.executable, "-m", "venv", str(env)], check=True, capture_output=True)
        with logfile.open("w") as fh:
            done = subprocess.run(
                [str(py), "-m", "pip", "install", *wanted.split()],
                stdout=fh,
                stderr=subprocess.STDOUT,
                timeout=INSTALL_TIMEOUT_S,
            )
    except (subprocess.SubprocessError, OSError) as exc:
        return None, f"install failed: {exc}"
    if done.returncode != 0:
        errors = [ln for ln in logfile.read_text().splitlines() if ln.startswith("ERROR")]
        return None, "install failed: " + (errors[-1] if errors else f"pip exit {done.returncode}")
    stamp.write_text(wanted)
    return py, ""


def _last_error_line(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    return lines[-1][:300] if lines else "no output"


def run_tool(tool: str, py: Path, n: int, ref: Path, cur: Path, timeout: int) -> dict[str, Any]:
    runner = PEERS / f"run_{tool.replace('-', '_')}.py"
    log(f"{tool} @ {n:,} rows")
    t0 = time.perf_counter()
    try:
        done = subprocess.run(
            [str(py), str(runner), str(ref), str(cur)],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=ROOT,
        )
    except subprocess.TimeoutExpired:
        return {"tool": tool, "rows": n, "error": f"timed out after {timeout} s"}
    wall = time.perf_counter() - t0
    records = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    if done.returncode != 0 or not records:
        if done.returncode < 0:
            why = f"killed by signal {-done.returncode}" + (
                " (out of memory?)" if done.returncode == -9 else ""
            )
        else:
            why = _last_error_line(done.stderr)
        return {"tool": tool, "rows": n, "error": f"crashed: {why}"}
    rec: dict[str, Any] = json.loads(records[-1])
    rec["process_wall_s"] = round(wall, 2)
    return rec


# --------------------------------------------------------------------------- report


def score(flagged: list[str]) -> str:
    tp = len(set(flagged) & set(DRIFTED))
    return f"{tp}/{len(DRIFTED)} TP, {len(set(flagged) - set(DRIFTED))} FP"


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.1f}x" if a and b else "-"


def table(n: int, recs: list[dict[str, Any]]) -> str:
    vigil = next((r for r in recs if r["tool"] == "vigil" and "error" not in r), None)
    head = [
        "tool",
        "version",
        "seconds",
        "peak MB",
        "vigil speed x",
        "vigil mem x",
        "detection",
        "false pos.",
    ]
    rows = [head]
    notes = []
    for r in recs:
        if "error" in r:
            rows.append([r["tool"], "", "FAILED", "", "", "", "", ""])
            notes.append(f"{r['tool']}: {r['error']}")
            continue
        is_vigil = r is vigil
        fps = sorted(set(r["flagged"]) - set(DRIFTED))
        rows.append(
            [
                r["tool"],
                r.get("version", ""),
                f"{r['seconds']:.2f}",
                f"{r['peak_mb']:.0f}",
                "" if is_vigil or not vigil else _ratio(r["seconds"], vigil["seconds"]),
                "" if is_vigil or not vigil else _ratio(r["peak_mb"], vigil["peak_mb"]),
                score(r["flagged"]),
                ",".join(fps) or "-",
            ]
        )
        if r.get("note"):
            notes.append(f"{r['tool']}: {r['note']}")
        for key in sorted(k for k in r if k.startswith("flagged_")):
            fps = ",".join(sorted(set(r[key]) - set(DRIFTED))) or "-"
            notes.append(f"{r['tool']}: {key}: {score(r[key])} (false pos.: {fps})")
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(head))]
    lines = [f"\n== {n:,} rows x 20 columns (drifted: {', '.join(DRIFTED)})"]
    for i, row in enumerate(rows):
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines.append("vigil speed x = peer seconds / vigil seconds; vigil mem x = peer peak MB / vigil peak MB")
    wl = next((r for r in recs if r["tool"] == "whylogs" and "error" not in r), None)
    v_rps, w_rps = (vigil or {}).get("profile_rows_per_s"), (wl or {}).get("profile_rows_per_s")
    if v_rps or w_rps:
        fmt = lambda x: f"{x:,.0f} rows/s" if x else "n/a"  # noqa: E731
        lines.append(
            f"profiling throughput: vigil {fmt(v_rps)}, whylogs {fmt(w_rps)}, "
            f"vigil/whylogs = {_ratio(v_rps, w_rps)}"
        )
    lines += [f"  note - {t}" for t in notes]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--only", default=",".join(TOOLS), help="comma-separated subset of " + ",".join(TOOLS))
    ap.add_argument("--timeout", type=int, default=RUN_TIMEOUT_S, help="seconds per tool run")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    tools = [t.strip() for t in args.only.split(",") if t.strip()]
    if unknown := set(tools) - set(TOOLS):
        ap.error(f"unknown tools: {sorted(unknown)}")

    envs = {t: ensure_env(t) for t in tools}
    started = time.strftime("%Y%m%d-%H%M%S")
    results: list[dict[str, Any]] = []
    for n in sizes:
        ref, cur = ensure_data(n)
        recs = []
        for t in tools:
            py, why = envs[t]
            rec = run_tool(t, py, n, ref, cur, args.timeout) if py else {"tool": t, "rows": n, "error": why}
            recs.append(rec)
        results += recs
        print(table(n, recs), flush=True)

    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"drift_{started}.json"
    meta = {
        "started": started,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "truth": DRIFTED,
        "sizes": sizes,
    }
    out.write_text(json.dumps({"meta": meta, "results": results}, indent=1))
    print(f"\nresults: {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
