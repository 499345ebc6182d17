"""vigil.yaml checked whole (``vigil.loading``): the root schema, the sections alerting and actions check, and
what one section says of another, every problem in one run at its file:line:col."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from vigil.cli.main import main
from vigil.errors import ConfigError
from vigil.loading import load, load_text

TANGLED = """\
models:
  m:
    task: binay
    owner: {team: t}
  n:
    task: binary
rules:
  - {name: Slow, model: ghost, metric: latency_p59, warning: 500}
  - {name: Drift, model: mm, metric: drift_share, warning: 0.3, route: pagr}
slos:
  - {name: Avail, model: gost, sli: error_rate, objective: 0.99}
actions:
  - {name: rb, model: phantom, kind: rollback, webhook: "http://127.0.0.1:1/rb"}
  - {name: fb, model: n, kind: rollback, webhook: "http://127.0.0.1:1/rb", when: {alerts: [ErorRateHigh]}}
alerting:
  receivers: [{name: ops, webhook: "http://127.0.0.1:1/h"}]
  route:
    receiver: ops
    routes:
      - {receiver: pager, matchers: ['model="m"']}
"""

EVERY_PROBLEM = [
    (3, 11, "models.m.task", "must be one of binary", "did you mean 'binary'?"),
    (6, 5, "models.n.owner", "required key 'owner' is missing", "add owner:"),
    (8, 25, "rules[0].model", "rule 'Slow': unknown model 'ghost'", "models: m, n; declare it"),
    (8, 40, "rules[0].metric", "rule 'Slow': unknown metric 'latency_p59'", "did you mean 'latency_p99'?"),
    (9, 26, "rules[1].model", "rule 'Drift': unknown model 'mm'", "did you mean 'm'?"),
    (9, 72, "rules[1].route", "rule 'Drift': route names receiver 'pagr'", "receivers: ops"),
    (11, 5, "slos[0]", "SLO 'Avail': required key 'target' is missing", "add target:"),
    (11, 26, "slos[0].model", "SLO 'Avail': unknown model 'gost'", "models: m, n"),
    (11, 60, "slos[0].objective", "SLO 'Avail': unknown key 'objective'", "allowed keys:"),
    (13, 23, "actions[0].model", "action 'rb': unknown model 'phantom'", "models: m, n"),
    (14, 92, "actions[1].when.alerts[0]", "no rule is named 'ErorRateHigh'", "did you mean 'ErrorRateHigh'?"),
    (
        20,
        20,
        "alerting.route.routes[0].receiver",
        "receiver 'pager', which is not configured (receivers: ops)",
        "add it under alerting.receivers",
    ),
]


def test_one_run_reports_the_sections_and_their_references_while_the_models_are_wrong() -> None:
    with pytest.raises(ConfigError) as caught:
        load_text(TANGLED, "vigil.yaml")
    found = caught.value.problems
    assert [(p.line, p.column, p.path) for p in found] == [where[:3] for where in EVERY_PROBLEM]
    for problem, (*_, message, hint) in zip(found, EVERY_PROBLEM, strict=True):
        assert message in problem.message and hint in problem.hint, problem


def test_vigil_validate_prints_every_problem_once(tmp_path: Path) -> None:
    path = tmp_path / "vigil.yaml"
    path.write_text(TANGLED, encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[0] == f"error: {len(EVERY_PROBLEM)} problems in the configuration:"
    assert [line.split(": ", 1)[0] for line in lines[1:]] == [
        f"{path}:{ln}:{col}" for ln, col, *_ in EVERY_PROBLEM
    ]


FIXED = """\
models:
  m: {task: binary, owner: {team: t}}
rules:
  - {name: Slow, model: m, metric: latency_p99, warning: 500, route: ops}
slos:
  - {name: Avail, model: m, sli: error_rate, threshold: 0.05, op: "<=", target: 0.99}
actions:
  - name: fb
    model: m
    kind: rollback
    webhook: "http://127.0.0.1:1/rb"
    when: {alerts: [ErrorRateHigh, Slow]}
alerting:
  receivers: [{name: ops, webhook: "http://127.0.0.1:1/h"}]
  route: {receiver: ops}
"""


def test_a_fixed_file_loads_with_its_sections_parsed(tmp_path: Path) -> None:
    path = tmp_path / "vigil.yaml"
    path.write_text(FIXED, encoding="utf-8")
    loaded = load(path)
    assert [r.name for r in loaded.rules] == ["Slow"] and [r.name for r in loaded.slos] == ["Avail"]
    assert [a.name for a in loaded.actions] == ["fb"]
    assert loaded.alerting is not None and [r.name for r in loaded.alerting.receivers] == ["ops"]
    assert loaded.counts() == [
        "1 models",
        "0 columns declared",
        "1 rules",
        "1 SLOs",
        "1 actions",
        "1 receivers",
    ]


def test_default_rule_names_are_known_only_while_default_rules_are_on() -> None:
    off = FIXED.replace("  route: {receiver: ops}", "  route: {receiver: ops}\n  default_rules: false")
    with pytest.raises(ConfigError) as caught:
        load_text(off, "vigil.yaml")
    (problem,) = caught.value.problems
    assert problem.path == "actions[0].when.alerts[0]" and "'ErrorRateHigh'" in problem.message


def test_auto_register_lets_rules_name_models_yet_to_come() -> None:
    text = (
        "security: {auto_register: true}\n"
        "rules:\n  - {name: Slow, model: later, metric: latency_p99, warning: 5}\n"
    )
    assert [r.model for r in load_text(text).rules] == ["later"]
    with pytest.raises(ConfigError) as caught:
        load_text(text.replace("security: {auto_register: true}\n", ""))
    assert [p.path for p in caught.value.problems] == ["rules[0].model"]


def test_a_rule_route_is_not_checked_without_an_alerting_section() -> None:
    text = (
        "models:\n  m: {task: binary, owner: {team: t}}\n"
        "rules:\n  - {name: S, model: m, metric: errors, warning: 1, route: x}\n"
    )
    assert load_text(text).alerting is None


def test_serve_refuses_a_bad_rules_section_before_opening_the_store(tmp_path: Path) -> None:
    path = tmp_path / "vigil.yaml"
    path.write_text(
        FIXED.replace("model: m, metric: latency_p99", "model: m, metric: latency_p59"), encoding="utf-8"
    )
    store = tmp_path / "v.db"
    result = CliRunner().invoke(main, ["serve", "--config", str(path), "--store", str(store)])
    assert result.exit_code == 2, result.output
    assert f"{path}:4:" in result.stderr and "did you mean 'latency_p99'?" in result.stderr
    assert not store.exists()
