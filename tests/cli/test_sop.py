"""``vigil sop``: every format to standard output or a file, the path of an alert, and a bad config refused
exactly as ``vigil validate`` refuses it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.procedure.conftest import EXAMPLE
from vigil.cli.main import main

ALERT = "alertname=HighLatency model=churn severity=critical"


def invoke(*args: object) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.mark.parametrize("fmt", ["mermaid", "markdown", "dot", "json"])
def test_each_format_goes_to_standard_output(fmt: str) -> None:
    result = invoke("sop", EXAMPLE, "--format", fmt)
    assert result.exit_code == 0, result.stderr
    first = {"mermaid": "%% The monitoring procedure", "markdown": "# Monitoring procedure"}
    first |= {"dot": "digraph procedure {", "json": "{"}
    assert result.stdout.startswith(first[fmt])
    assert "credit-risk" in result.stdout and result.stderr == ""


def test_mermaid_is_the_default_format() -> None:
    assert invoke("sop", EXAMPLE).stdout == invoke("sop", EXAMPLE, "--format", "mermaid").stdout


def test_svg_to_a_file_with_the_path_in_words(tmp_path: Path) -> None:
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed")
    out = tmp_path / "path.svg"
    result = invoke("sop", EXAMPLE, "--format", "svg", "--alert", ALERT, "-o", out)
    assert result.exit_code == 0, result.stderr
    assert ET.parse(out).getroot().tag == "{http://www.w3.org/2000/svg}svg"
    assert result.stdout.splitlines()[0] == "pager,chat"  # the answer, as amtool gives it
    assert result.stderr == f"wrote {out}\n"


def test_text_is_the_path_and_needs_an_alert() -> None:
    result = invoke(
        "sop", EXAMPLE, "--format", "text", "--alert", "alertname=HighLatency", "--alert", "model=churn"
    )
    assert result.exit_code == 0
    assert "rules: churn/HighLatency" in result.stdout and "No severity given" in result.stdout
    refused = invoke("sop", EXAMPLE, "--format", "text")
    assert refused.exit_code == 2 and "give its labels" in refused.stderr


def test_as_given_routes_only_the_labels_written() -> None:
    drift = ["--format", "text", "--alert", "alertname=IncomeDrift model=credit-risk severity=warning"]
    assert invoke("sop", EXAMPLE, *drift).stdout.splitlines()[0] == "risk-chat"
    assert invoke("sop", EXAMPLE, *drift, "--as-given").stdout.splitlines()[0] == "tickets"


def test_a_bad_label_is_refused_with_exit_2() -> None:
    result = invoke("sop", EXAMPLE, "--alert", "severity")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: alert label 'severity' is not name=value")


def test_a_bad_config_is_refused_as_validate_refuses_it(tmp_path: Path) -> None:
    path = tmp_path / "vigil.yaml"
    path.write_text(
        """models:
  m: {task: binary, owner: {team: t}}
rules:
  - {name: Slow, model: m, metric: latency_p95, warning: fast}
actions:
  - {name: rb, model: m, kind: rollback, when: {alerts: [Nope]}, webhook: "http://127.0.0.1:1/rb"}
alerting:
  route: {receiver: pager}
""",
        encoding="utf-8",
    )
    validate = invoke("validate", path)
    sop = invoke("sop", path, "--format", "svg")
    assert validate.exit_code == sop.exit_code == 2
    assert sop.stderr == validate.stderr and sop.stdout == ""
    assert "3 problems" in sop.stderr and "rule 'Slow'" in sop.stderr and "'pager'" in sop.stderr
    missing = tmp_path / "none.yaml"
    assert invoke("sop", missing).stderr == invoke("validate", missing).stderr
    assert invoke("sop", missing).exit_code == 2


def test_an_action_may_name_a_default_rule(tmp_path: Path) -> None:
    path = tmp_path / "vigil.yaml"
    text = """models:
  m: {task: binary, owner: {team: t}}
actions:
  - {name: rb, model: m, kind: rollback, when: {alerts: [AccuracyDrop]}, webhook: "http://127.0.0.1:1/rb"}
alerting: {}
"""
    path.write_text(text, encoding="utf-8")
    assert invoke("validate", path).exit_code == 0  # the server accepts it: AccuracyDrop is a default rule
    assert 'rule_m_AccuracyDrop -->|"triggers"| action_rb' in invoke("sop", path).stdout
    path.write_text(text.replace("alerting: {}", "alerting: {default_rules: false}"), encoding="utf-8")
    refused = invoke("validate", path)
    assert refused.exit_code == 2 and "no rule is named 'AccuracyDrop'" in refused.stderr


def test_svg_without_graphviz_says_how_to_get_it(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(tmp_path)}  # an empty folder: no dot on the PATH
    cli = "from vigil.cli.main import main; main()"
    done = subprocess.run(
        [sys.executable, "-c", cli, "sop", str(EXAMPLE), "--format", "svg"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "apt-get install graphviz" in done.stderr and done.stdout == ""
