"""Start-up time of the command line: ``vigil --help`` and operator commands against ``import click, httpx``.

Run from the repository root:
    .venv/bin/python bench/cli_bench.py [--runs 10] [--code PATH]

Each command runs ``--runs`` times as a fresh process (median shown), interleaved with the others, as
``python -c "from vigil.cli.main import main; main()"`` with the command's arguments. ``alerts list`` asks a
port where nothing listens: the command runs to its HTTP request, which is refused at once, so the figure
is its start-up. ``import vigil`` is what a model server pays to get ``vigil.Client``. ``--code PATH``
measures the ``vigil`` package of another checkout (the commit before a change, say).
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
BASELINE = 'python -c "import click, httpx"'
COMMANDS = {
    "vigil --help": ["--help"],
    "vigil alerts list": ["alerts", "list", "--url", "http://127.0.0.1:9"],
    "vigil validate": ["validate", str(ROOT / "vigil" / "examples" / "vigil.yaml")],
    "vigil report --help": ["report", "--help"],
}


def _boot(code: str | None, body: str) -> str:
    """``body`` run with ``vigil`` imported from ``code`` (a checkout) instead of the project's install."""
    if code is None:
        return body
    return (
        "import sys; sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in type(f).__module__];"
        f" sys.path.insert(0, {str(Path(code).resolve())!r}); {body}"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--code", help="a checkout whose vigil package to measure")
    args = ap.parse_args()
    cli = _boot(args.code, "from vigil.cli.main import main; main()")
    runs = {BASELINE: [PY, "-c", "import click, httpx"]}
    runs |= {name: [PY, "-c", cli, *argv] for name, argv in COMMANDS.items()}
    runs['python -c "import vigil; vigil.Client"'] = [
        PY,
        "-c",
        _boot(args.code, "import vigil; vigil.Client"),
    ]
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.runs):
        for name, cmd in runs.items():
            t = time.perf_counter()
            subprocess.run(cmd, capture_output=True, cwd=ROOT)
            times[name].append(time.perf_counter() - t)
    base = statistics.median(times[BASELINE])
    print(f"vigil from {args.code or ROOT}; median of {args.runs} runs each")
    for name, seconds in times.items():
        median = statistics.median(seconds)
        print(f"  {name:<40} {median:6.3f} s  {median / base:4.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
