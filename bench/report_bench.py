"""``vigil report`` as a whole process against alibi-detect's whole process, in the same run.

Run from the repository root:
    .venv/bin/python bench/report_bench.py [--rows 1000000] [--rounds 5] [--before PATH]

Both read the same two Parquet files of ``drift_bench.py`` (``--rows`` rows × 20 columns) and are timed
from process start to exit, interpreter start, imports and reading included: what a user waits for.
Vigil runs ``vigil report -r REF -c CUR --json OUT`` (every default test and check, the JSON written);
alibi-detect runs its runner (``peers/run_alibi_detect.py``: pandas read, encoding, ``TabularDrift``).
The two alternate, ``--rounds`` times, so that both see the same load on the machine; the table gives each
one's median and the median of the per-round ratios (alibi-detect seconds / Vigil seconds), and the CPU
seconds each process used (user + system, every thread), which other load on the machine moves less.
``--before PATH`` adds ``vigil report`` run from the ``vigil`` package of another checkout, same rounds.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from drift_bench import PEERS, RESULTS, ROOT, ensure_data, ensure_env, log


def _run(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system, all threads) of one process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or ["no output"]
        raise SystemExit(f"{cmd[0]} failed (exit {done.returncode}): {lines[-1]}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return seconds, cpu


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--before", help="also time the vigil package of this checkout (the commit before, say)")
    args = ap.parse_args()
    ref, cur = ensure_data(args.rows)
    alibi, why = ensure_env("alibi-detect")
    if alibi is None:
        raise SystemExit(f"alibi-detect: {why}")
    vigil = ROOT / ".venv" / "bin" / "vigil"
    names = ["vigil report", "alibi-detect", *(["vigil before"] if args.before else [])]
    times: dict[str, list[float]] = {n: [] for n in names}
    cpu: dict[str, list[float]] = {n: [] for n in names}
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "report.json")
        for i in range(args.rounds):
            log(f"round {i + 1} of {args.rounds}")
            runs = {
                "vigil report": [str(vigil), "report", "-r", str(ref), "-c", str(cur), "--json", out],
                "alibi-detect": [str(alibi), str(PEERS / "run_alibi_detect.py"), str(ref), str(cur)],
            }
            if args.before:
                boot = (
                    "import sys; sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in "
                    f"type(f).__module__]; sys.path.insert(0, {str(Path(args.before).resolve())!r}); "
                    "from vigil.cli.main import main; main()"
                )
                python = str(ROOT / ".venv" / "bin" / "python")
                runs["vigil before"] = [
                    python,
                    "-c",
                    boot,
                    "report",
                    "-r",
                    str(ref),
                    "-c",
                    str(cur),
                    "--json",
                    out,
                ]
            for name, cmd in runs.items():
                wall, used = _run(cmd)
                times[name].append(wall)
                cpu[name].append(used)
    ratios = [a / v for a, v in zip(times["alibi-detect"], times["vigil report"], strict=True)]
    print(f"\n== whole process, {args.rows:,} rows x 20 columns, {args.rounds} alternating rounds")
    for name, seconds in times.items():
        walls = ", ".join(f"{s:.2f}" for s in seconds)
        print(
            f"  {name:<13} median {statistics.median(seconds):6.2f} s   (runs: {walls}); "
            f"CPU median {statistics.median(cpu[name]):.2f} s"
        )
    print(
        f"  alibi-detect / vigil report: median {statistics.median(ratios):.1f}x (per round: "
        f"{', '.join(f'{r:.1f}' for r in ratios)})"
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"report_{time.strftime('%Y%m%d-%H%M%S')}.json"
    cpu_ratio = statistics.median(cpu["alibi-detect"]) / statistics.median(cpu["vigil report"])
    print(f"  CPU seconds (user + system, every thread): alibi-detect / vigil report = {cpu_ratio:.1f}x")
    record = {"rows": args.rows, "seconds": times, "cpu_seconds": cpu, "ratios": ratios}
    path.write_text(json.dumps(record, indent=1))
    print(f"results: {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
