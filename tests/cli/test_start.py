"""The command line starts quickly: a command imports the statistics stack only when it uses it.

Each command runs in a fresh interpreter (against the real server on loopback where it talks to one), which
then reports the modules it imported. The operator commands, ``--help`` and ``validate`` must not import
scipy or pandas (about a second of start-up between them); neither may ``import vigil`` (a model server's
way to ``vigil.Client``). Timings are in ``bench/cli_bench.py``, not here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.test_ops_cli import CONFIG, KEYS, Served, _serve

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("scipy", "pandas")

# run the command line in-process, then print which of HEAVY were imported (even when it exits non-zero)
_RUN = """
import atexit, json, sys
atexit.register(lambda: print("IMPORTED " + json.dumps([m for m in {heavy} if m in sys.modules])))
{body}
"""
_CLI = "from vigil.cli.main import main\nmain(sys.argv[1:])"


def _imported(body: str, *args: str) -> list[str]:
    script = _RUN.format(heavy=repr(HEAVY), body=body)
    env = {"VIGIL_USER": "ana", "VIGIL_API_KEY": KEYS["ana"], "PATH": "/usr/bin:/bin", "COLUMNS": "100"}
    done = subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=60
    )
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("IMPORTED ")]
    assert lines, (done.returncode, done.stdout[-2000:], done.stderr[-2000:])
    found: list[str] = json.loads(lines[-1].removeprefix("IMPORTED "))
    return found


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with _serve(tmp_path_factory.mktemp("start"), CONFIG) as s:
        yield s


@pytest.mark.parametrize(
    "command",
    [
        ["alerts", "list"],
        ["silences", "list"],
        ["incidents", "list"],
        ["audit"],
        ["rules", "list"],
        ["actions", "list"],
    ],
    ids=" ".join,
)
def test_operator_commands_do_not_import_the_statistics_stack(served: Served, command: list[str]) -> None:
    assert _imported(_CLI, *command, "--url", served.url) == []


@pytest.mark.parametrize(
    "command",
    [
        ["--help"],
        ["report", "--help"],
        ["validate", str(ROOT / "vigil" / "examples" / "vigil.yaml")],
        ["sop", str(ROOT / "vigil" / "examples" / "monitoring.yaml"), "--format", "markdown"],
    ],
    ids=" ".join,
)
def test_local_commands_do_not_import_the_statistics_stack(command: list[str]) -> None:
    assert _imported(_CLI, *command) == []


def test_import_vigil_and_its_client_stay_light() -> None:
    assert _imported("import vigil\nvigil.Client\nvigil.__version__") == []


def test_a_small_comparison_does_import_what_it_uses() -> None:
    """The checks above can fail: on small samples the KS test takes its exact p-values from scipy.stats."""
    body = (
        "import pyarrow as pa, vigil\n"
        "ref, cur = ({'x': [i / k for i in range(200)]} for k in (7, 5))\n"
        "assert vigil.compare(pa.table(ref), pa.table(cur)).columns['x'].method == 'ks'"
    )
    assert "scipy" in _imported(body)
