"""Start-up time of the command line: ``vigil --help`` and operator commands against ``import click, httpx``.

Run from the repository root:
    .venv/bin/python bench/cli_bench.py [--runs 10]

Each command runs ``--runs`` times as a fresh process (median shown), interleaved with the others.
``alerts list`` asks a port where nothing listens: the command runs to its HTTP request, which is refused
at once, so the figure is its start-up. ``import vigil`` is what a model server pays to get ``vigil.Client``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = str(ROOT / ".venv" / "bin" / "python")
VIGIL = str(ROOT / ".venv" / "bin" / "vigil")
COMMANDS = {
    'python -c "import click, httpx"': [PY, "-c", "import click, httpx"],
    "vigil --help": [VIGIL, "--help"],
    "vigil alerts list": [VIGIL, "alerts", "list", "--url", "http://127.0.0.1:9"],
    "vigil validate": [VIGIL, "validate", str(ROOT / "vigil" / "examples" / "vigil.yaml")],
    "vigil rules list --help": [VIGIL, "rules", "list", "--help"],
    'python -c "import vigil; vigil.Client"': [PY, "-c", "import vigil; vigil.Client"],
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.runs):
        for name, cmd in COMMANDS.items():
            t = time.perf_counter()
            subprocess.run(cmd, capture_output=True, cwd=ROOT)
            times[name].append(time.perf_counter() - t)
    base = statistics.median(times['python -c "import click, httpx"'])
    print(f"median of {args.runs} runs each")
    for name, seconds in times.items():
        median = statistics.median(seconds)
        print(f"  {name:<40} {median:6.3f} s  {median / base:4.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
