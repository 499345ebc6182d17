"""The ``actions:`` section: a full example, defaults, and every kind of mistake reported with the action's
name and its file:line:column."""

from __future__ import annotations

import textwrap
from datetime import timedelta

import pytest
import yaml

from tests.actions.conftest import MODELS
from vigil.actions import ActionSpec, actions_from_config, parse_actions
from vigil.alerting.state import Severity
from vigil.config import parse_config
from vigil.errors import ConfigError, ConfigProblem

FULL = textwrap.dedent(
    """\
    version: 1
    models:
      credit:
        task: binary
        owner: {team: risk}
        versions: [v1, v2, v3]
        live: v3
    actions:
      - name: rollback-credit
        model: credit
        kind: rollback
        when:
          alerts: [AccuracyDrop, DriftShareHigh]
          min_signals: 2
          severity: critical
        cooldown: 2h
        approval: required
        mlflow: {tracking_uri: "http://${MLFLOW_HOST}", registered_model: credit-model, alias: champion}
      - name: retrain-any
        model: "*"
        kind: retrain
        command: ["python", "retrain.py", "--model", "{model}", "--from", "{version}"]
        timeout: 90s
      - name: fallback-credit
        model: credit
        kind: fallback
        fallback: rules-v1
        webhook: https://deploy.example.com/hooks/fallback
        headers: {Authorization: "Bearer ${DEPLOY_TOKEN}"}
    """
)


def problems(text: str, **kw: object) -> list[ConfigProblem]:
    data = yaml.safe_load(text)
    with pytest.raises(ConfigError) as info:
        parse_actions(data["actions"], "vigil.yaml", text, **kw)  # type: ignore[arg-type]
    return info.value.problems


def one(text: str, **kw: object) -> ConfigProblem:
    [problem] = problems(text, **kw)
    return problem


def test_full_example_parses_with_env_expanded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_HOST", "127.0.0.1:5000")
    monkeypatch.setenv("DEPLOY_TOKEN", "s3cret")
    config = parse_config(FULL, "vigil.yaml")
    rollback, retrain, fallback = actions_from_config(config, "vigil.yaml", FULL)
    assert rollback.when is not None and rollback.when.alerts == ("AccuracyDrop", "DriftShareHigh")
    assert (rollback.when.needed, rollback.when.severity) == (2, Severity.CRITICAL)
    assert rollback.cooldown == timedelta(hours=2) and rollback.approval == "required"
    assert rollback.mlflow is not None and rollback.mlflow.tracking_uri == "http://127.0.0.1:5000"
    assert rollback.executor == "mlflow"
    assert retrain.command == ("python", "retrain.py", "--model", "{model}", "--from", "{version}")
    assert retrain.timeout == timedelta(seconds=90) and retrain.when is None
    assert retrain.applies_to("anything") and not rollback.applies_to("loans")
    assert fallback.headers == {"Authorization": "Bearer s3cret"} and fallback.fallback == "rules-v1"


def test_the_public_view_names_secrets_but_never_shows_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_URL", "https://hooks.example.com/services/T00/B00/XyZsecret?sig=q1w2e3")
    monkeypatch.setenv("DEPLOY_TOKEN", "s3cret-token")
    monkeypatch.setenv("MLFLOW_TOKEN", "mlflow-t0ken")
    webhook, mlflow = parse_actions(
        [
            {
                "name": "a",
                "model": "credit",
                "kind": "retrain",
                "webhook": "${HOOK_URL}",
                "headers": {"Authorization": "Bearer ${DEPLOY_TOKEN}", "X-Key": "written-in-the-file"},
            },
            {
                "name": "b",
                "model": "credit",
                "kind": "rollback",
                "mlflow": {
                    "tracking_uri": "https://ci:pa55word@mlflow.example.com:8443/",
                    "registered_model": "credit",
                    "token": "${MLFLOW_TOKEN}",
                },
            },
        ]
    )
    assert webhook.public()["webhook"] == "https://hooks.example.com/…"
    assert webhook.public()["headers"] == {
        "Authorization": "(hidden, from ${DEPLOY_TOKEN})",
        "X-Key": "(hidden)",
    }
    assert mlflow.public()["mlflow"]["tracking_uri"] == "https://mlflow.example.com:8443"
    assert mlflow.public()["mlflow"]["token"] == "(hidden, from ${MLFLOW_TOKEN})"
    shown = repr([webhook.public(), mlflow.public()])
    for secret in ("XyZsecret", "q1w2e3", "s3cret-token", "written-in-the-file", "pa55word", "mlflow-t0ken"):
        assert secret not in shown
        assert any(secret in s for s in webhook.secrets | mlflow.secrets), secret


def test_defaults() -> None:
    two = ActionSpec.model_validate(
        {
            "name": "a",
            "model": "credit",
            "kind": "rollback",
            "webhook": "http://x",
            "when": {"alerts": ["A", "B"]},
        }
    )
    single = ActionSpec.model_validate(
        {"name": "b", "model": "credit", "kind": "retrain", "command": ["true"], "when": {"alerts": ["A"]}}
    )
    assert two.when is not None and two.when.needed == 2  # confirmation by a second signal
    assert single.when is not None and single.when.needed == 1
    assert two.cooldown == timedelta(hours=1) and two.timeout == timedelta(seconds=60)
    assert two.approval is None and two.approval_timeout == timedelta(hours=1)
    assert two.needs_approval(MODELS["loans"]) and not two.needs_approval(MODELS["credit"])
    off = ActionSpec.model_validate(
        {
            "name": "c",
            "model": "credit",
            "kind": "retrain",
            "command": ["true"],
            "cooldown": 0,
            "approval": "auto",
        }
    )
    assert off.cooldown == timedelta(0) and not off.needs_approval(MODELS["loans"])


def test_two_executors_are_refused_at_the_second() -> None:
    text = """\
actions:
  - name: rollback-credit
    model: credit
    kind: rollback
    webhook: http://deploy/hook
    command: [deploy.sh]
"""
    p = one(text)
    assert (p.file, p.line, p.column) == ("vigil.yaml", 6, 14)
    assert p.message == (
        "action 'rollback-credit': needs exactly one executor: webhook, mlflow or command "
        "(got webhook and command)"
    )
    assert str(p).startswith("vigil.yaml:6:14: actions[0].command: action 'rollback-credit'")


def test_no_executor() -> None:
    p = one("actions:\n  - name: r\n    model: credit\n    kind: retrain\n")
    assert p.line == 4 and "needs exactly one executor" in p.message and "(got none)" in p.message
    assert "add webhook: URL" in p.hint


def test_mlflow_serves_rollback_only() -> None:
    text = """\
actions:
  - name: retrain-credit
    model: credit
    kind: retrain
    mlflow: {tracking_uri: "http://m:5000", registered_model: credit-model}
"""
    p = one(text)
    assert (p.line, p.path) == (5, "actions[0].mlflow")
    assert p.message.startswith("action 'retrain-credit': mlflow moves a registered model's alias")
    assert "kind is retrain" in p.message


def test_mlflow_for_every_model_needs_a_placeholder() -> None:
    text = """\
actions:
  - name: rb
    model: "*"
    kind: rollback
    mlflow:
      tracking_uri: http://m:5000
      registered_model: credit-model
"""
    p = one(text)
    assert p.line == 7 and "{model}" in p.hint


def test_command_must_be_argv_with_known_placeholders() -> None:
    text = """\
actions:
  - name: retrain
    model: credit
    kind: retrain
    command: python retrain.py --model {model}
  - name: retrain2
    model: credit
    kind: retrain
    command: [python, retrain.py, "{modle}"]
"""
    first, second = problems(text)
    assert first.line == 5 and "never run through a shell" in first.message
    assert "['python', 'retrain.py', '--model', '{model}']" in first.hint
    assert (second.line, second.column) == (9, 35)
    assert second.message == "action 'retrain2': unknown placeholder {modle} in '{modle}'"


def test_trigger_mistakes() -> None:
    text = """\
actions:
  - name: rb
    model: credit
    kind: rollback
    webhook: http://h
    when:
      alerts: [AccuracyDrop]
      min_signals: 2
  - name: rb2
    model: credit
    kind: rollback
    webhook: http://h
    when:
      alerts: [A, B]
      severity: bad
"""
    first, second = problems(text)
    assert first.line == 8 and first.message == (
        "action 'rb': min_signals 2 needs at least 2 rules in alerts (it lists 1)"
    )
    assert second.line == 15 and second.path == "actions[1].when.severity"
    assert "'critical'" in second.message and "'bad'" in second.message


def test_unknown_key_missing_key_bad_duration_and_fallback() -> None:
    text = """\
actions:
  - name: rb
    model: credit
    kind: rollback
    webhook: http://h
    cooldwn: 1h
  - name: rt
    model: credit
    webhook: http://h
  - name: fb
    model: credit
    kind: fallback
    webhook: http://h
    timeout: soon
  - name: fb2
    model: credit
    kind: fallback
    webhook: http://h
"""
    got = problems(text)
    assert [(p.line, p.message) for p in got] == [
        (6, "action 'rb': unknown key 'cooldwn'"),
        (7, "action 'rt': required key 'kind' is missing"),
        (14, "action 'fb': timeout: not a duration: 'soon'"),
        (17, "action 'fb2': a fallback action needs fallback: (what to switch to)"),
    ]
    assert got[0].hint.startswith("did you mean 'cooldown'?")


def test_names_models_and_rules_are_checked() -> None:
    text = """\
actions:
  - name: rb
    model: credit
    kind: rollback
    webhook: http://h
  - name: rb
    model: credit
    kind: rollback
    webhook: http://h
  - name: other
    model: credt
    kind: retrain
    webhook: http://h
  - name: auto
    model: credit
    kind: retrain
    webhook: http://h
    when: {alerts: [ErrorRateHigh, AcuracyDrop]}
"""
    dup, model, rule = problems(text, models=["credit", "loans"], rules=["ErrorRateHigh", "AccuracyDrop"])
    assert (dup.line, dup.message) == (6, "action 'rb': the name is used twice (first by action 1)")
    assert (model.line, model.message) == (11, "action 'other': unknown model 'credt'")
    assert model.hint.startswith("did you mean 'credit'?")
    assert (rule.line, rule.column, rule.message) == (18, 36, "action 'auto': no rule is named 'AcuracyDrop'")


def test_env_variable_not_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_SUCH_HOOK", raising=False)
    text = "actions:\n  - name: a\n    model: credit\n    kind: retrain\n    webhook: ${NO_SUCH_HOOK}\n"
    p = one(text)
    assert p.line == 5 and p.message == "action 'a': webhook: environment variable NO_SUCH_HOOK is not set"


def test_not_a_list_and_no_text() -> None:
    with pytest.raises(ConfigError, match="must be a list of actions"):
        parse_actions({"name": "x"})
    with pytest.raises(ConfigError) as info:
        parse_actions([{"name": "x", "model": "m", "kind": "undo", "webhook": "http://h"}])
    [p] = info.value.problems
    assert p.line is None and p.path == "actions[0].kind" and "'undo'" in p.message
    assert parse_actions(None) == ()


def test_a_bad_url_from_the_environment_is_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_URL", "hooks.example.com/services/T00/B00/XyZsecret?sig=q1w2e3")
    with pytest.raises(ConfigError) as info:
        parse_actions([{"name": "a", "model": "credit", "kind": "retrain", "webhook": "${HOOK_URL}"}])
    [problem] = info.value.problems
    assert "must be an http:// or https:// URL (got one starting 'hooks.example.com')" in problem.message
    assert "XyZsecret" not in str(info.value) and "q1w2e3" not in str(info.value)
