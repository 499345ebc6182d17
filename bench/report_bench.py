"""``vigil report`` as a whole process against alibi-detect's whole process, in the same run.

Run from the repository root:
    .venv/bin/python bench/report_bench.py [--rows 1000000] [--rounds 5]

Both read the same two Parquet files of ``drift_bench.py`` (``--rows`` rows × 20 columns) and are timed
from process start to exit, interpreter start, imports and reading included: what a user waits for.
Vigil runs ``vigil report -r REF -c CUR --json OUT`` (every default test and check, the JSON written);
alibi-detect runs its runner (``peers/run_alibi_detect.py``: pandas read, encoding, ``TabularDrift``).
The two alternate, ``--rounds`` times, so that both see the same load on the machine; the table gives each
one's median and the median of the per-round ratios (alibi-detect seconds / Vigil seconds).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from drift_bench import PEERS, RESULTS, ROOT, ensure_data, ensure_env, log


def _wall(cmd: list[str]) -> float:
    t = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - t
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or ["no output"]
        raise SystemExit(f"{cmd[0]} failed (exit {done.returncode}): {lines[-1]}")
    return seconds


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    ref, cur = ensure_data(args.rows)
    alibi, why = ensure_env("alibi-detect")
    if alibi is None:
        raise SystemExit(f"alibi-detect: {why}")
    vigil = ROOT / ".venv" / "bin" / "vigil"
    times: dict[str, list[float]] = {"vigil report": [], "alibi-detect": []}
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "report.json")
        for i in range(args.rounds):
            log(f"round {i + 1} of {args.rounds}")
            times["vigil report"].append(
                _wall([str(vigil), "report", "-r", str(ref), "-c", str(cur), "--json", out])
            )
            times["alibi-detect"].append(
                _wall([str(alibi), str(PEERS / "run_alibi_detect.py"), str(ref), str(cur)])
            )
    ratios = [a / v for a, v in zip(times["alibi-detect"], times["vigil report"], strict=True)]
    print(f"\n== whole process, {args.rows:,} rows x 20 columns, {args.rounds} alternating rounds")
    for name, seconds in times.items():
        runs = ", ".join(f"{s:.2f}" for s in seconds)
        print(f"  {name:<13} median {statistics.median(seconds):6.2f} s   (runs: {runs})")
    print(
        f"  alibi-detect / vigil report: median {statistics.median(ratios):.1f}x (per round: "
        f"{', '.join(f'{r:.1f}' for r in ratios)})"
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"report_{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps({"rows": args.rows, "seconds": times, "ratios": ratios}, indent=1))
    print(f"results: {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
