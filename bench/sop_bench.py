"""What ``vigil sop`` costs as a whole process, per format, on the shipped example and on a large config.

Run from the repository root:
    .venv/bin/python bench/sop_bench.py [--runs 7] [--models 50]

Each command runs ``--runs`` times as a fresh process (median shown), interleaved with the others, as
``python -c "from vigil.cli.main import main; main()"`` with its arguments, next to ``vigil validate`` of the
same file (the same config loading and checks, no drawing) and ``python -c "import click, httpx"``. The large
config is generated: ``--models`` models (binary, regression and LLM in turn), three rules of its own each
besides the defaults, an SLO on every fifth, a three-level route tree with ``continue``, six receivers and
two actions. It also prints the size of each output and the diagram's nodes and edges.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = str(ROOT / ".venv" / "bin" / "python")
CLI = "from vigil.cli.main import main; main()"
EXAMPLE = ROOT / "vigil" / "examples" / "monitoring.yaml"
ALERT = "alertname=HighLatency model=churn severity=critical"


def large_config(models: int) -> str:
    """A config with ``models`` models and everything else scaled to them (see the module docstring)."""
    tasks = ["binary", "regression", "llm"]
    lines = ["models:"]
    for i in range(models):
        lines.append(
            f"  model-{i:03d}: {{task: {tasks[i % 3]}, owner: {{team: team-{i % 7}}}, versions: [a, b]}}"
        )
    lines.append("rules:")
    for i in range(models):
        m = f"model-{i:03d}"
        lines += [
            f"  - {{name: Latency{i}, model: {m}, metric: latency_p95, warning: 300, critical: 900, for: 5m,",
            f'     runbook: "https://rb.example.com/{m}"}}',
            f"  - {{name: Errors{i}, model: {m}, metric: error_rate, critical: 0.2, labels: {{tier: gold}}}}",
            f"  - {{name: Income{i}, model: {m}, metric: drift, feature: income, warning: 0.1}}",
        ]
    lines.append("slos:")
    for i in range(0, models, 5):
        lines.append(f"  - {{name: avail-{i}, model: model-{i:03d}, sli: availability, target: 0.999}}")
    lines += [
        "actions:",
        "  - {name: rollback, model: '*', kind: rollback, when: {alerts: [ErrorRateHigh, DriftShareHigh]},",
        '     webhook: "https://deploy.example.com/rb"}',
        "  - {name: retrain, model: model-000, kind: retrain, command: [/bin/true]}",
        "alerting:",
        "  route:",
        "    receiver: ops",
        "    routes:",
        "      - matchers: ['severity=\"critical\"']",
        "        receiver: pager",
        "        continue: true",
        "        routes:",
        "          - matchers: ['tier=\"gold\"']",
        "            receiver: vip",
        "            routes: [{matchers: ['team=~\"team-[0-3]\"'], receiver: vip-chat}]",
        "      - {matchers: ['severity=\"critical\"'], receiver: chat}",
        "      - {matchers: ['severity=\"warning\"', 'team=~\"team-[4-6]\"'], receiver: tickets}",
        "  receivers:",
        *(
            f'    - {{name: {name}, webhook: "https://hooks.example.com/{name}"}}'
            for name in ("ops", "pager", "vip", "vip-chat", "chat", "tickets")
        ),
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--models", type=int, default=50)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        large = Path(folder) / "large.yaml"
        large.write_text(large_config(args.models), encoding="utf-8")
        configs = {"example": EXAMPLE, f"{args.models} models": large}
        runs: dict[str, list[str]] = {'python -c "import click, httpx"': [PY, "-c", "import click, httpx"]}
        for label, path in configs.items():
            runs[f"{label}: vigil validate"] = [PY, "-c", CLI, "validate", str(path)]
            for fmt in ("mermaid", "markdown", "svg", "json"):
                runs[f"{label}: vigil sop --format {fmt}"] = [
                    PY,
                    "-c",
                    CLI,
                    "sop",
                    str(path),
                    "--format",
                    fmt,
                ]
            alert = ALERT if label == "example" else "alertname=Errors3 model=model-003 severity=critical"
            runs[f"{label}: vigil sop --format svg --alert"] = [
                *runs[f"{label}: vigil sop --format svg"],
                "--alert",
                alert,
            ]
        sizes: dict[str, int] = {}
        times: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(args.runs):
            for name, cmd in runs.items():
                t = time.perf_counter()
                done = subprocess.run(cmd, capture_output=True, cwd=ROOT, check=False)
                times[name].append(time.perf_counter() - t)
                if done.returncode != 0:
                    print(f"{name} failed: {done.stderr.decode()[-500:]}", file=sys.stderr)
                    return 1
                sizes[name] = len(done.stdout)
        print(f"median of {args.runs} runs each (whole process), output size")
        for name, seconds in times.items():
            size = f"{sizes[name] / 1024:8.1f} KiB" if "sop" in name else ""
            print(f"  {name:<48} {statistics.median(seconds):6.3f} s {size}")
        _in_process(configs, args.runs)
    return 0


def _in_process(configs: dict[str, Path], runs: int) -> None:
    """Where the time goes, in one process (best of ``runs``): loading and checking, building the graph,
    each renderer (SVG: writing the DOT and Graphviz's dot laying it out)."""
    sys.path.insert(0, str(ROOT))
    from vigil.procedure import build, load_sections, render_dot, render_markdown, render_mermaid, render_svg

    print(f"in one process, best of {runs}")
    for label, path in configs.items():
        sections = load_sections(path)
        procedure = build(sections)
        steps: dict[str, Callable[[], object]] = {
            "load and check": partial(load_sections, path),
            "build the graph": partial(build, sections),
            "mermaid": partial(render_mermaid, procedure),
            "markdown": partial(render_markdown, procedure),
            "dot text": partial(render_dot, procedure),
            "svg (dot text + Graphviz)": partial(render_svg, procedure),
        }
        print(f"  {label}: {len(procedure.nodes)} nodes, {len(procedure.edges)} edges")
        for step, work in steps.items():
            best = float("inf")
            for _ in range(runs):
                t = time.perf_counter()
                work()
                best = min(best, time.perf_counter() - t)
            print(f"    {step:<28} {best * 1000:9.1f} ms")


if __name__ == "__main__":
    sys.exit(main())
