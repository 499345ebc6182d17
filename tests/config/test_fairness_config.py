"""``models.NAME.fairness:``: protected attributes must be declared segments of a binary model, each problem
at its line; the fairness figures are metric names that alert rules accept (``name:<attribute>``)."""

from __future__ import annotations

import textwrap

import pytest

from vigil.alerting.rules import parse_rules
from vigil.config import parse_config
from vigil.errors import ConfigError
from vigil.monitoring.catalogue import PER_ATTRIBUTE, lookup, problem
from vigil.monitoring.fairness import FIGURES


def problems(text: str) -> list[tuple[int | None, str, str, str]]:
    with pytest.raises(ConfigError) as caught:
        parse_config(textwrap.dedent(text), "vigil.yaml")
    return [(p.line, p.path, p.message, p.hint) for p in caught.value.problems]


def test_a_valid_fairness_declaration() -> None:
    config = parse_config(
        "models:\n  m: {task: binary, owner: {team: t}, segments: [gender, age_band, region],\n"
        "      fairness: {protected: [gender, age_band], min_group: 50}}\n"
    )
    fairness = config.models["m"].fairness
    assert fairness is not None and fairness.protected == ("gender", "age_band") and fairness.min_group == 50
    default = parse_config(
        "models:\n  m: {task: binary, owner: {team: t}, segments: [g], fairness: {protected: [g]}}\n"
    )
    assert default.models["m"].fairness is not None and default.models["m"].fairness.min_group == 30


def test_a_protected_attribute_must_be_a_segment() -> None:
    found = problems(
        """\
        models:
          m:
            task: binary
            owner: {team: t}
            segments: [gender, region]
            fairness:
              protected: [gender, age_band]
        """
    )
    assert found == [
        (
            7,
            "models.m.fairness.protected[1]",
            "protected attribute 'age_band' is not among segments ['gender', 'region']",
            "add age_band to segments: (the tag events carry it in), or fix the name",
        )
    ]


def test_fairness_is_for_binary_models_and_needs_attributes() -> None:
    found = problems(
        """\
        models:
          r: {task: regression, owner: {team: t}, segments: [g], fairness: {protected: [g]}}
          e: {task: binary, owner: {team: t}, segments: [g], fairness: {protected: [], min_group: 0}}
          d: {task: binary, owner: {team: t}, segments: [g], fairness: {protected: [g, g]}}
        """
    )
    assert [(line, path, message) for line, path, message, _ in found] == [
        (
            2,
            "models.r.fairness",
            "fairness: applies to binary models (selection is a prediction of class 1), not regression",
        ),
        (3, "models.e.fairness.protected", "lists no attribute"),
        (3, "models.e.fairness.min_group", "must be >= 1 (got 0)"),
        (4, "models.d.fairness.protected", "lists an attribute twice"),
    ]


def test_fairness_figures_are_metrics_rules_accept() -> None:
    assert set(PER_ATTRIBUTE) == set(FIGURES)
    assert lookup("disparate_impact:gender") == (PER_ATTRIBUTE["disparate_impact"], "gender")
    assert problem("equalized_odds_difference:age_band") is None
    assert "name a segment tag, as in disparate_impact:<attribute>" in (problem("disparate_impact") or "")
    assert "did you mean 'disparate_impact'" in (problem("disparate_impakt") or "")
    rules = parse_rules(
        [
            {"name": "di", "model": "m", "metric": "disparate_impact:gender", "op": "<", "warning": 0.8},
            {
                "name": "eo",
                "model": "m",
                "metric": "equalized_odds_difference",
                "feature": "age_band",
                "warning": 0.1,
            },
        ]
    )
    assert [r.metric for r in rules] == ["disparate_impact:gender", "equalized_odds_difference:age_band"]
    with pytest.raises(ConfigError, match="unknown metric 'disparate_impakt:gender'"):
        parse_rules([{"name": "x", "model": "m", "metric": "disparate_impakt:gender", "warning": 0.8}])
