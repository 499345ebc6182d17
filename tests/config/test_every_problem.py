"""One run of ``vigil validate`` reports every problem of a vigil.yaml, each at its file:line:col.

Checks across the fields of a section (live among versions, baseline kinds, column bounds…) run on the
fields that are valid, whatever the state of the others; baseline files are looked for from the config
file's folder; sections the schema does not know are refused.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from vigil.cli.main import main
from vigil.config import load_config, parse_config
from vigil.errors import ConfigError, ConfigProblem

MISTAKES = """\
version: 1
drift:
  alpah: 0.1
quality:
  null_rate_fail: 1.5
columns:
  country: {type: categorical, allowed: [DE, FR, DE]}
models:
  credit:
    task: binay
    owner: {team: risk}
    versions: [v1, v2]
    live: v3
    window: 7m
    baseline: {file: data/train.parquet}
    retention: {hours: soon}
    features:
      age: {type: numeric, min: 10, max: 5}
  churn:
    task: binary
    versions: [a]
    live: b
security:
  api_keys:
    admin: [{name: vigil, key: k1}]
alertng:
  route: {receiver: oncall}
"""

EVERY_PROBLEM = [
    (3, 3, "drift.alpah", "unknown key 'alpah'", "did you mean 'alpha'?"),
    (5, 19, "quality.null_rate_fail", "must be <= 1 (got 1.5)", "0 <= null_rate_fail <= 1"),
    (7, 50, "columns.country.allowed[2]", "'DE' is listed twice (first as item 0)", "remove one"),
    (
        10,
        11,
        "models.credit.task",
        "must be one of binary, multiclass, regression, llm",
        "did you mean 'binary'?",
    ),
    (13, 11, "models.credit.live", "live version 'v3' is not among versions ['v1', 'v2']", "add it"),
    (14, 13, "models.credit.window", "must divide a day evenly", "use 10s, 1m, 5m, 15m or 1h"),
    (
        15,
        22,
        "models.credit.baseline.file",
        "baseline file 'data/train.parquet' not found at",
        "fix the path",
    ),
    (16, 24, "models.credit.retention.hours", "not a duration: 'soon'", "write it like 30s"),
    (18, 33, "models.credit.features.age.min", "must be <= max (max is 5)", "fix the bounds"),
    (20, 5, "models.churn.owner", "required key 'owner' is missing", "add owner:"),
    (22, 11, "models.churn.live", "live version 'b' is not among versions ['a']", "add it"),
    (25, 20, "security.api_keys.admin[0].name", "'vigil' is the name Vigil itself acts under", "choose"),
    (26, 1, "alertng", "unknown section 'alertng'", "did you mean 'alerting'?"),
]


def _load(text: str, tmp_path: Path) -> list[ConfigProblem]:
    path = tmp_path / "vigil.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return caught.value.problems


def test_a_file_with_thirteen_mistakes_gets_them_all_in_one_run(tmp_path: Path) -> None:
    found = _load(MISTAKES, tmp_path)
    assert [(p.line, p.column, p.path) for p in found] == [where[:3] for where in EVERY_PROBLEM]
    for problem, (*_, message, hint) in zip(found, EVERY_PROBLEM, strict=True):
        assert message in problem.message and hint in problem.hint, problem
        assert problem.file == str(tmp_path / "vigil.yaml")
    assert str(tmp_path / "data" / "train.parquet") in found[6].message


def test_vigil_validate_prints_them_all_and_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "vigil.yaml"
    path.write_text(MISTAKES, encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[0] == f"error: {len(EVERY_PROBLEM)} problems in the configuration:"
    assert [line.split(": ", 2)[:2] for line in lines[1:]] == [
        [f"{path}:{line}:{column}", dotted] for line, column, dotted, *_ in EVERY_PROBLEM
    ]


def test_once_fixed_the_file_is_valid(tmp_path: Path) -> None:
    fixed = MISTAKES
    for wrong, right in [
        ("alpah", "alpha"),
        ("null_rate_fail: 1.5", "null_rate_fail: 0.5"),
        ("[DE, FR, DE]", "[DE, FR]"),
        ("binay", "binary"),
        ("live: v3", "live: v2"),
        ("window: 7m", "window: 5m"),
        ("{hours: soon}", "{hours: 30d}"),
        ("min: 10, max: 5", "min: 5, max: 10"),
        ("    versions: [a]", "    owner: {team: growth}\n    versions: [a]"),
        ("live: b", "live: a"),
        ("name: vigil", "name: alice"),
        ("alertng", "alerting"),
    ]:
        fixed = fixed.replace(wrong, right)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.parquet").write_bytes(b"")
    path = tmp_path / "vigil.yaml"
    path.write_text(fixed, encoding="utf-8")
    config = load_config(path)
    assert config.models["credit"].live == "v2" and config.alerting == {"route": {"receiver": "oncall"}}


# --- checks across fields run on what is valid -------------------------------------------------------------


def problems(text: str) -> list[tuple[int | None, str, str]]:
    with pytest.raises(ConfigError) as caught:
        parse_config(textwrap.dedent(text), "vigil.yaml")
    return [(p.line, p.path, p.message) for p in caught.value.problems]


def test_a_model_check_runs_while_a_required_key_is_wrong() -> None:
    assert problems(
        """\
        models:
          m:
            task: binary
            owner: {team: ""}
            versions: [v1]
            live: v2
        """
    ) == [
        (4, "models.m.owner.team", "String should have at least 1 character"),
        (6, "models.m.live", "live version 'v2' is not among versions ['v1']"),
    ]


def test_a_check_leaves_out_a_field_that_is_wrong() -> None:
    # versions is wrong, so whether live is among them is not asked: one problem, not two.
    assert problems("models:\n  m: {task: binary, owner: {team: t}, versions: [v1, v1], live: v2}\n") == [
        (2, "models.m.versions", "lists a version twice"),
    ]


def test_a_baseline_of_two_kinds_is_reported_beside_an_unknown_key() -> None:
    found = problems(
        """\
        models:
          m:
            task: binary
            owner: {team: t}
            baseline: {file: t.parquet, from: 2026-01-01T00:00:00Z, form: 2026-01-01}
        """
    )
    assert found == [
        (5, "models.m.baseline", "give either file: or from: and to:"),
        (5, "models.m.baseline.form", "unknown key 'form'"),
    ]


def test_column_checks_run_beside_a_bad_value() -> None:
    assert problems("columns:\n  age: {type: numeric, min: 10, max: 5, redact: sha}\n") == [
        (2, "columns.age.min", "must be <= max (max is 5)"),
        (2, "columns.age.redact", "must be one of hmac, drop (got 'sha')"),
    ]


def test_quality_check_runs_beside_a_bad_value() -> None:
    assert problems("quality:\n  null_rate_warn: 0.2\n  range_tolerance: 3\n") == [
        (2, "quality.null_rate_warn", "must be <= null_rate_fail (null_rate_fail is 0.05, the default)"),
        (3, "quality.range_tolerance", "must be <= 1 (got 3)"),
    ]


# --- baseline files ----------------------------------------------------------------------------------------


def test_a_baseline_file_is_looked_for_from_the_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "train.parquet").write_bytes(b"")
    path = tmp_path / "conf" / "vigil.yaml"
    path.write_text("models:\n  m: {task: binary, owner: {team: t}, baseline: {file: train.parquet}}\n")
    monkeypatch.chdir(tmp_path)  # not where the file is
    assert load_config(Path("conf") / "vigil.yaml").models["m"].baseline is not None
    (tmp_path / "conf" / "train.parquet").unlink()
    with pytest.raises(ConfigError) as caught:
        load_config(Path("conf") / "vigil.yaml")
    (problem,) = caught.value.problems
    assert (problem.line, problem.column, problem.path) == (2, 56, "models.m.baseline.file")
    assert (
        problem.message == f"baseline file 'train.parquet' not found at {tmp_path / 'conf' / 'train.parquet'}"
    )


def test_a_baseline_folder_is_not_a_file(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    found = _load("models:\n  m: {task: binary, owner: {team: t}, baseline: {file: data}}\n", tmp_path)
    assert [p.message for p in found] == [f"baseline file 'data' is a folder ({tmp_path / 'data'})"]


def test_text_without_a_file_does_not_look_for_files() -> None:
    config = parse_config(
        "models:\n  m: {task: binary, owner: {team: t}, baseline: {file: nowhere.parquet}}\n"
    )
    assert config.models["m"].baseline is not None and config.models["m"].baseline.file == "nowhere.parquet"
