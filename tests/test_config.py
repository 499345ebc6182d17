"""Tests for vigil.config: defaults, a full config, and every class of error at its exact line."""

from __future__ import annotations

import pickle
import textwrap
from pathlib import Path

import pytest

import vigil
from vigil.config import VigilConfig, load_config, parse_config
from vigil.errors import ConfigError, ConfigProblem, VigilError
from vigil.spec import ColumnDrift, ColumnSpec
from vigil.spec.security import key_digest

EXAMPLE = Path(vigil.__file__).parent / "examples" / "vigil.yaml"


def problems(text: str) -> list[ConfigProblem]:
    """The problems ``parse_config`` reports for ``text`` (dedented), which must be invalid."""
    with pytest.raises(ConfigError) as caught:
        parse_config(textwrap.dedent(text), "vigil.yaml")
    return caught.value.problems


def only(text: str) -> ConfigProblem:
    """The single problem reported for ``text``."""
    found = problems(text)
    assert len(found) == 1, [str(p) for p in found]
    return found[0]


def where(problem: ConfigProblem) -> tuple[int | None, int | None, str]:
    return problem.line, problem.column, problem.path


# --- valid configs -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "\n", "# only a comment\n", "---\n"])
def test_empty_file_gives_defaults(text: str) -> None:
    config = parse_config(text)
    assert config == VigilConfig()
    assert config.version == 1
    assert config.drift.alpha == 0.05
    assert config.drift.correction == "none"
    assert config.drift.drift_share == 0.5
    assert config.drift.numeric_method == "auto"
    assert config.drift.categorical_method == "auto"
    assert config.drift.thresholds == {}
    assert config.drift.calibrate is False
    assert config.quality.null_rate_warn == 0.01
    assert config.quality.null_rate_fail == 0.05
    assert config.quality.range_tolerance == 0.001
    assert config.quality.unseen_tolerance == 0.0
    assert config.columns == {}


def test_empty_sections_give_defaults() -> None:
    config = parse_config("drift:\n  # alpha: 0.1\nquality:\ncolumns:\n  age:\n")
    assert config.drift == VigilConfig().drift
    assert config.quality == VigilConfig().quality
    assert config.columns == {"age": ColumnSpec()}


def test_full_config() -> None:
    config = parse_config(
        textwrap.dedent(
            """\
            version: 1
            drift:
              alpha: 0.01
              correction: bh
              drift_share: 1
              numeric_method: wasserstein
              categorical_method: chi2
              thresholds: {psi: 0.25, wasserstein: 0.1}
              calibrate: true
            quality:
              null_rate_warn: 0.02
              null_rate_fail: 0.1
              range_tolerance: 0.0
              unseen_tolerance: 0.05
            columns:
              age: {type: numeric, role: feature, min: 0, max: 120}
              country: {type: categorical, allowed: [DE, FR, US, 7]}
              user_id: {role: id}
              ssn: {role: pii}
              when: {type: datetime, role: timestamp}
              score:
                drift: {method: psi, threshold: 0.2}
                ignore: false
              label: {type: categorical, role: target, drift: {method: hellinger}}
              notes: {type: text, ignore: true}
            """
        )
    )
    assert config.drift.alpha == 0.01
    assert config.drift.correction == "bh"
    assert config.drift.drift_share == 1.0
    assert config.drift.numeric_method == "wasserstein"
    assert config.drift.categorical_method == "chi2"
    assert config.drift.thresholds == {"psi": 0.25, "wasserstein": 0.1}
    assert config.drift.calibrate is True
    assert config.quality.null_rate_fail == 0.1
    assert config.columns["age"] == ColumnSpec(type="numeric", min=0, max=120)
    assert config.columns["country"].allowed == ("DE", "FR", "US", 7)
    assert config.columns["user_id"].role == "id"
    assert config.columns["score"].drift == ColumnDrift(method="psi", threshold=0.2)
    assert config.columns["notes"].ignore is True
    assert config.column("undeclared") == ColumnSpec()


def test_sections_checked_by_alerting_and_actions_are_kept() -> None:
    config = parse_config("rules:\n  churn: {path: m.pkl}\nslos: []\nalerting: {}\nactions: []\n")
    kept = {name: getattr(config, name) for name in ("rules", "slos", "alerting", "actions")}
    assert kept == {"rules": {"churn": {"path": "m.pkl"}}, "slos": [], "alerting": {}, "actions": []}
    assert config.model_extra == {}
    assert config.has_alerting and not parse_config("rules: []").has_alerting


@pytest.mark.parametrize(
    ("section", "meant"), [("alerts", "alerting"), ("rule", "rules"), ("alertng", "alerting")]
)
def test_unknown_sections_are_refused(section: str, meant: str) -> None:
    problem = only(f"version: 1\n{section}: []\n")
    assert where(problem) == (2, 1, section)
    assert problem.message == f"unknown section {section!r}"
    assert problem.hint.startswith(f"did you mean {meant!r}? (sections: version, drift, quality, columns,")


def test_an_unknown_section_far_from_any_lists_them() -> None:
    problem = only("pineapple: 1\n")
    assert problem.hint == (
        "sections: version, drift, quality, columns, models, security, otlp, pricing, rules, slos, alerting, "
        "actions"
    )


def test_example_file_validates() -> None:
    config = load_config(EXAMPLE)
    assert config.columns["age"].max == 120
    assert config.columns["score"].drift == ColumnDrift(method="psi", threshold=0.2)


def test_merge_keys_are_resolved() -> None:
    config = parse_config("x-base: &b {alpha: 0.1, calibrate: true}\ndrift:\n  <<: *b\n  alpha: 0.2\n")
    assert config.drift.alpha == 0.2
    assert config.drift.calibrate is True


# --- the message format ------------------------------------------------------------------------------------


def test_message_format_matches_the_documented_example() -> None:
    text = """\
        version: 1
        columns:
          age:
            type: numeric
            min: 10
            max: 5
        """
    with pytest.raises(ConfigError) as caught:
        parse_config(textwrap.dedent(text), "vigil.yaml")
    assert str(caught.value) == "vigil.yaml:5:10: columns.age.min: must be <= max (max is 5) — fix the bounds"
    (problem,) = caught.value.problems
    assert problem == ConfigProblem(
        "vigil.yaml", 5, 10, "columns.age.min", "must be <= max (max is 5)", "fix the bounds"
    )
    assert isinstance(caught.value, VigilError)


def test_error_survives_pickling() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config("version: 2\n")
    copy = pickle.loads(pickle.dumps(caught.value))
    assert copy.problems == caught.value.problems
    assert str(copy) == str(caught.value)


# --- each class of error, at its exact line ----------------------------------------------------------------


def test_unknown_key_suggests_the_nearest() -> None:
    problem = only(
        """\
        drift:
          alpha: 0.05
          corection: bh
        """
    )
    assert where(problem) == (3, 3, "drift.corection")
    assert problem.message == "unknown key 'corection'"
    assert problem.hint.startswith("did you mean 'correction'? (allowed keys: alpha, correction,")


def test_unknown_key_without_a_close_match_lists_the_allowed() -> None:
    problem = only("quality:\n  banana: 1\n")
    assert where(problem) == (2, 3, "quality.banana")
    assert problem.hint == "allowed keys: null_rate_warn, null_rate_fail, range_tolerance, unseen_tolerance"


def test_misspelled_section_is_an_error() -> None:
    problem = only("version: 1\ncolums:\n  age: {type: numeric}\n")
    assert where(problem) == (2, 1, "colums")
    assert problem.hint.startswith("did you mean 'columns'?")


def test_unknown_threshold_method_points_at_the_key() -> None:
    problem = only("drift:\n  thresholds:\n    psi: 0.1\n    kss: 0.2\n")
    assert where(problem) == (4, 5, "drift.thresholds.kss")
    assert problem.message == "unknown key 'kss'"
    assert problem.hint.startswith("did you mean 'ks'?")


def test_bad_choice_suggests_the_nearest() -> None:
    problem = only("drift:\n  correction: bonferoni\n")
    assert where(problem) == (2, 15, "drift.correction")
    assert problem.message == "must be one of none, bonferroni, bh (got 'bonferoni')"
    assert problem.hint == "did you mean 'bonferroni'?"


@pytest.mark.parametrize(
    ("text", "message", "hint"),
    [
        ("drift:\n  alpha: 1.5\n", "must be < 1 (got 1.5)", "use a value with 0 < alpha < 1"),
        ("drift:\n  alpha: 0\n", "must be > 0 (got 0)", "use a value with 0 < alpha < 1"),
        ("drift:\n  drift_share: 2\n", "must be <= 1 (got 2)", "use a value with 0 < drift_share <= 1"),
        ("drift:\n  alpha: .nan\n", "must be a finite number (got nan)", "use a value with 0 < alpha < 1"),
        ("drift:\n  alpha: '0.05'\n", "must be a number (got '0.05')", "write it without quotes"),
        ("drift:\n  alpha: true\n", "must be a number (got true)", "write a plain number such as 0.05"),
        (
            "drift:\n  calibrate: 'no'\n",
            "must be true or false (got 'no')",
            "write true or false, without quotes",
        ),
        ("drift:\n  thresholds: {psi: -1}\n", "must be > 0 (got -1)", "use a number > 0"),
    ],
)
def test_bad_values_point_at_the_value(text: str, message: str, hint: str) -> None:
    problem = only(text)
    assert problem.line == 2
    assert (problem.message, problem.hint) == (message, hint)


def test_wrong_shape() -> None:
    found = problems("drift: 5\ncolumns:\n  - age\n")
    assert [(p.line, p.column, p.path, p.message) for p in found] == [
        (1, 8, "drift", "must be a mapping (got 5)"),
        (3, 3, "columns", "must be a mapping (got a list)"),
    ]


def test_top_level_must_be_a_mapping() -> None:
    problem = only("- drift\n- quality\n")
    assert where(problem) == (1, 1, "")
    assert problem.message == "the top level must be a mapping of sections (got a list)"


def test_unsupported_version() -> None:
    problem = only("# vigil\nversion: 2\n")
    assert where(problem) == (2, 10, "version")
    assert problem.message == "unsupported config version 2"


def test_min_above_max() -> None:
    problem = only("columns:\n  age:\n    type: numeric\n    min: 10\n    max: 5\n")
    assert where(problem) == (4, 10, "columns.age.min")


def test_bounds_only_for_numeric_columns() -> None:
    problem = only("columns:\n  country:\n    type: categorical\n    max: 3\n")
    assert where(problem) == (4, 5, "columns.country.max")
    assert problem.message == "max applies only to numeric columns (type is categorical)"
    assert problem.hint == "remove max, or set type: numeric"


def test_allowed_only_for_categorical_columns() -> None:
    problem = only("columns:\n  age:\n    allowed: [a, b]\n")
    assert where(problem) == (3, 5, "columns.age.allowed")
    assert problem.message == "allowed applies only to categorical columns (type is not set)"


def test_allowed_items_are_checked() -> None:
    found = problems("columns:\n  c:\n    type: categorical\n    allowed: [DE, NO, DE]\n")
    assert [(p.line, p.column, p.path) for p in found] == [
        (4, 19, "columns.c.allowed[1]"),
        (4, 23, "columns.c.allowed[2]"),
    ]
    assert found[0].message == "must be a category name or integer code (got false)"
    assert found[1].message == "'DE' is listed twice (first as item 0)"


def test_method_must_apply_to_the_column_type() -> None:
    problem = only("columns:\n  age:\n    type: numeric\n    drift:\n      method: chi2\n")
    assert where(problem) == (5, 15, "columns.age.drift.method")
    assert problem.message == "chi2 does not apply to numeric columns"
    assert problem.hint == "use one of: auto, ks, wasserstein, psi, jensen_shannon, hellinger, cvm"


def test_column_threshold_needs_a_method() -> None:
    problem = only("columns:\n  score:\n    drift: {threshold: 0.2}\n")
    assert where(problem) == (3, 24, "columns.score.drift.threshold")


def test_id_columns_are_not_drift_tested() -> None:
    problem = only("columns:\n  user_id:\n    role: id\n    drift: {method: psi}\n")
    assert where(problem) == (4, 5, "columns.user_id.drift")


def test_null_rate_warn_above_fail() -> None:
    problem = only("quality:\n  null_rate_warn: 0.1\n")
    assert where(problem) == (2, 19, "quality.null_rate_warn")
    assert problem.message == "must be <= null_rate_fail (null_rate_fail is 0.05, the default)"


def test_column_names_must_be_strings() -> None:
    problem = only("columns:\n  a: {}\n  2021: {}\n")
    assert where(problem) == (3, 3, "columns[2021]")
    assert problem.message == "key must be a string (got 2021)"
    assert problem.hint == "quote it: '2021'"


def test_duplicate_keys() -> None:
    found = problems(
        """\
        drift:
          alpha: 0.1
          calibrate: true
          alpha: 0.2
        columns:
          age: {type: numeric}
          age: {type: categorical}
        """
    )
    assert [(p.line, p.column, p.path, p.message) for p in found] == [
        (4, 3, "drift.alpha", "duplicate key 'alpha' (first at line 2)"),
        (7, 3, "columns.age", "duplicate key 'age' (first at line 6)"),
    ]


def test_many_problems_are_reported_at_once_in_file_order() -> None:
    text = """\
        version: 1
        drift:
          alpah: 0.05
          alpha: 2
          correction: bonf
        quality:
          null_rate_fail: -1
        columns:
          age:
            type: numeric
            min: 10
            max: 5
          country: {type: categoricl}
          score:
            type: categorical
            drift: {method: ks}
        """
    with pytest.raises(ConfigError) as caught:
        parse_config(textwrap.dedent(text), "vigil.yaml")
    found = caught.value.problems
    assert [(p.line, p.path) for p in found] == [
        (3, "drift.alpah"),
        (4, "drift.alpha"),
        (5, "drift.correction"),
        (7, "quality.null_rate_fail"),
        (11, "columns.age.min"),
        (13, "columns.country.type"),
        (16, "columns.score.drift.method"),
    ]
    lines = str(caught.value).splitlines()
    assert lines[0] == "7 problems in the configuration:"
    assert lines[1:] == [str(p) for p in found]
    assert all(line.startswith("vigil.yaml:") for line in lines[1:])


# --- YAML that cannot be read ------------------------------------------------------------------------------


def test_yaml_syntax_error_has_a_position() -> None:
    problem = only("drift:\n  alpha: [0.1, 0.2\nquality: {}\n")
    assert (problem.line, problem.column) == (3, 8)
    assert problem.message.startswith("invalid YAML: expected ',' or ']'")
    assert "line 2, column 10" in problem.message
    assert str(problem).startswith("vigil.yaml:3:8: invalid YAML:")


def test_tab_indentation() -> None:
    problem = only("drift:\n\talpha: 0.1\n")
    assert (problem.line, problem.column) == (2, 1)
    assert problem.hint == "indent with spaces, not tabs"


def test_several_documents() -> None:
    problem = only("drift: {}\n---\nquality: {}\n")
    assert problem.line == 2
    assert "expected a single document" in problem.message


def test_unknown_tag() -> None:
    problem = only("drift:\n  alpha: !pct 5\n")
    assert (problem.line, problem.column) == (2, 10)


# --- files -------------------------------------------------------------------------------------------------


def test_load_config_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "vigil.yaml"
    path.write_text("drift:\n  alpha: 3\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path}:2:10: drift.alpha: must be < 1 (got 3)")


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    (problem,) = caught.value.problems
    assert (problem.file, problem.line, problem.message) == (str(path), None, "file not found")
    assert str(caught.value).startswith(f"{path}: file not found — ")


def test_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "vigil.yaml"
    path.write_bytes(b"version: 1\ndrift: {alpha: \xff}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    (problem,) = caught.value.problems
    assert (problem.line, problem.column, problem.message) == (2, 16, "is not UTF-8 text")


_TEST_SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
"""The SHA-256 of ``test``."""


def test_api_keys_name_their_holders(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALICE_KEY", "alice-s3cret")
    keys = parse_config(
        textwrap.dedent(
            """\
            security:
              api_keys:
                admin: [{name: alice, key: "${ALICE_KEY}"}, old-shared-key]
                ingest: [{name: scorer, key: ingest-k3y}, {name: alice, key: "${ALICE_KEY}"}]
            """
        )
    ).security.api_keys
    assert [(k.name, k.digest) for k in keys.admin] == [
        ("alice", key_digest("alice-s3cret")),
        (None, key_digest("old-shared-key")),
    ]
    assert {k.key for k in keys.admin} == {None}  # only the digest is kept in memory
    assert [k.name for k in keys.ingest] == ["scorer", "alice"]  # one holder may list a key at both levels
    assert "s3cret" not in repr(keys) and "old-shared" not in repr(keys)


def test_api_keys_by_role_and_by_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_SESSION_SECRET", "s" * 32)
    security = parse_config(
        textwrap.dedent(
            f"""\
            security:
              api_keys:
                viewer: [{{name: carol, sha256: "{_TEST_SHA.upper()}"}}]
                editor: [{{name: dan, key: dan-k3y}}]
              session_secret: ${{VIGIL_SESSION_SECRET}}
              session_max_age: 2h
            """
        )
    ).security
    keys = security.api_keys
    assert [(role, k.name, k.digest) for role, k in keys.entries()] == [
        ("viewer", "carol", _TEST_SHA),  # kept lowercase
        ("editor", "dan", key_digest("dan-k3y")),
    ]
    assert keys.viewer[0].key is None and keys.editor[0].key is None and _TEST_SHA not in repr(keys)
    assert security.session_max_age.total_seconds() == 7200 and "s" * 32 not in repr(security)


@pytest.mark.parametrize(
    ("text", "path", "message"),
    [
        ("session_secret: short", "security.session_secret", "must be at least 32 characters (got 5)"),
        ("session_max_age: 0s", "security.session_max_age", "not a duration: '0s'"),
        ("api_keys: {owner: [k]}", "security.api_keys.owner", "unknown key 'owner'"),
    ],
)
def test_session_and_role_mistakes(text: str, path: str, message: str) -> None:
    problem = only(f"security: {{{text}}}\n")
    assert problem.path == path and message in problem.message, problem


@pytest.mark.parametrize(
    ("entry", "where", "message"),
    [
        ("{name: vigil, key: k}", "admin[0].name", "'vigil' is the name Vigil itself acts under"),
        ("{name: 'ana b', key: k}", "admin[0].name", "a key holder's name must be a word"),
        ("{name: ana}", "admin[0].key", "give the key or its SHA-256"),
        (f"{{name: ana, key: k, sha256: {'a' * 64}}}", "admin[0].sha256", "the key or its SHA-256, not both"),
        ("{name: ana, sha256: abc}", "admin[0].sha256", "must be a SHA-256 as 64 hex digits (got 'abc')"),
        (f"{{name: a, key: test}}, {{name: b, sha256: {_TEST_SHA}}}", "admin[1]", "the same key as admin[0]"),
        ("{name: ana, key: k, role: x}", "admin[0].role", "unknown key 'role'"),
        ("42", "admin[0]", "must be a key holder and their key (got 42)"),
        ("{name: a, key: k}, {name: b, key: k}", "admin[1]", "the same key as admin[0] (a)"),
    ],
)
def test_api_key_mistakes(entry: str, where: str, message: str) -> None:
    problem = only(f"security: {{api_keys: {{admin: [{entry}]}}}}\n")
    assert problem.path == f"security.api_keys.{where}" and message in problem.message, problem
