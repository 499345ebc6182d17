"""Rule parsing (good rules, each bad case naming the rule), the breach decision, and the default rules."""

from __future__ import annotations

from datetime import timedelta

import pytest

from vigil.alerting.rules import (
    NoDataRule,
    RelativeRule,
    ThresholdRule,
    default_rules,
    parse_rules,
    rules_from_config,
)
from vigil.alerting.state import Severity
from vigil.config import parse_config
from vigil.errors import ConfigError

GOOD = """
rules:
  - name: LatencySpike
    model: credit
    version: v2
    metric: latency_p95
    kind: relative
    factor: 3
    baseline_window: 7d
    for: 10m
    keep_firing_for: 5m
    severity: critical
    labels: {team: risk, service: scoring}
    owner: oncall@example.com
    runbook: |
      # Latency
      Check the upstream.
    route: pager
  - name: IncomeDrift
    metric: drift
    feature: income
    warning: 0.1
    critical: 0.25
    window: 1h
  - name: LowAccuracy
    model: credit
    metric: accuracy
    op: "<"
    warning: 0.9
    critical: 0.8
  - name: Silent
    kind: no_data
    for: 15m
"""


def test_good_rules_parse() -> None:
    text = GOOD
    rules = rules_from_config(parse_config(text), "vigil.yaml", text)
    spike, drift, acc, silent = rules
    assert isinstance(spike, RelativeRule) and isinstance(acc, ThresholdRule)
    assert spike.model == "credit" and spike.version == "v2" and spike.severity is Severity.CRITICAL
    assert spike.timing.for_warning == 600 and spike.timing.keep_firing_for == 300
    assert spike.baseline_window == timedelta(days=7) and spike.runbook is not None
    assert spike.runbook.startswith("# Latency")
    assert spike.labels == {"team": "risk", "service": "scoring"} and spike.route == "pager"
    assert drift.metric == "drift:income" and drift.model == "*" and drift.window == timedelta(hours=1)
    assert acc.op == "<" and acc.levels() == {Severity.WARNING: 0.9, Severity.CRITICAL: 0.8}
    assert silent.metric == "events" and silent.timing.for_warning == 900


def test_no_section_gives_no_rules() -> None:
    assert rules_from_config(parse_config("")) == ()


@pytest.mark.parametrize(
    ("rule", "key", "words"),
    [
        ("{name: R, metric: latency_p96, critical: 1}", "metric", "unknown metric 'latency_p96'"),
        ("{name: R, metric: 'drift:', critical: 1}", "metric", "unknown metric"),
        ("{name: R, metric: error_rate, warning: 0.5, critical: 0.2}", "warning", "must be below critical"),
        ("{name: R, metric: accuracy, op: '<', warning: 0.8, critical: 0.9}", "warning", "must be above"),
        ("{name: R, metric: error_rate}", "", "needs warning and/or critical"),
        ("{name: R, metric: error_rate, kind: relative}", "", "needs factor and/or percent"),
        ("{name: R, metric: error_rate, kind: relative, factor: 0.5}", "factor", "factor must be > 1"),
        ("{name: R, metric: error_rate, kind: relative, factor: 2, critical: 1}", "critical", "threshold"),
        (
            "{name: R, metric: error_rate, kind: relative, factor: 2, baseline_window: 1m}",
            "baseline_window",
            "longer",
        ),
        ("{name: R, metric: error_rate, factor: 2, critical: 1}", "factor", "relative rules"),
        ("{name: R, kind: no_data, metric: error_rate}", "metric", "watches events"),
        ("{name: R, kind: no_data, critical: 1}", "critical", "does not apply"),
        ("{name: R, metric: error_rate, critical: 1, for: soon}", "for", "not a duration"),
        ("{name: R, metric: error_rate, critical: 1, colour: red}", "colour", "unknown key 'colour'"),
        ("{name: R, metric: error_rate, critical: 1, kind: ratio}", "kind", "kind"),
        ("{name: R, metric: latency_p95, feature: age, critical: 1}", "feature", "does not apply"),
        ("{name: R, metric: accuracy, critical: 1, segment: eu}", "segment", "'eu' is not key=value"),
        ("{name: R, metric: accuracy, critical: 1, segment: {region: null}}", "segment", "plain value"),
        (
            "{name: R, metric: error_rate, critical: 1, segment: region=eu}",
            "segment",
            "error_rate is not kept per segment",
        ),
        ("{name: R, critical: 1}", "", "metric is missing"),
    ],
)
def test_a_bad_rule_is_named_with_its_problem(rule: str, key: str, words: str) -> None:
    text = f"rules:\n  - {{name: Fine, metric: errors, critical: 1}}\n  - {rule}\n"
    with pytest.raises(ConfigError) as info:
        rules_from_config(parse_config(text), "vigil.yaml", text)
    (problem,) = info.value.problems
    assert "rule 'R'" in problem.message and words in problem.message, problem
    assert problem.line == 3 and problem.file == "vigil.yaml"
    assert problem.path.startswith("rules[1]") and key in problem.path
    assert problem.hint


def test_every_problem_is_listed_and_names_repeat_and_nameless_rules() -> None:
    data = [
        {"name": "A", "metric": "errors", "critical": 1},
        {"name": "A", "metric": "errors", "critical": 1},
        {"metric": "errors", "critical": 1},
        "oops",
    ]
    with pytest.raises(ConfigError) as info:
        parse_rules(data)
    messages = [p.message for p in info.value.problems]
    assert any("rule 'A'" in m and "used twice" in m for m in messages)
    assert any("rule 3 (no name)" in m and "'name' is missing" in m for m in messages)
    assert any("rule 4 (no name)" in m and "mapping" in m for m in messages)
    with pytest.raises(ConfigError, match="must be a list"):
        parse_rules({"name": "A"})


def test_segment_selectors() -> None:
    text = """
rules:
  - {name: A, model: credit, metric: accuracy, op: "<", critical: 0.8, segment: "region=eu"}
  - {name: B, model: credit, metric: f1, op: "<", critical: 0.5, segment: {tier: 1, region: us}}
  - {name: C, model: credit, kind: no_data, segment: region=eu, for: 15m}
"""
    a, b, c = rules_from_config(parse_config(text), "vigil.yaml", text)
    assert a.segment == {"region": "eu"} and a.segment_text == "region=eu"
    assert b.segment == {"region": "us", "tier": "1"} and b.segment_text == "region=us,tier=1"
    assert c.metric == "predictions"  # no predictions of that segment logged in the window
    with pytest.raises(ConfigError) as info:
        parse_rules([{"name": "R", "metric": "latency_p95", "critical": 1, "segment": "region=eu"}])
    message = info.value.problems[0].message
    assert "latency_p95 is not kept per segment" in message
    assert "segments apply to accuracy, precision, recall, f1, mae, rmse" in message


def test_the_recipes_of_the_module_docstring_parse() -> None:
    cpu, gpu, high, spike, cost = parse_rules(
        [
            {"name": "CpuHot", "metric": "host_cpu_percent", "critical": 80, "window": "5m", "for": "10m"},
            {"name": "GpuHot", "metric": "host_gpu_percent", "critical": 80, "window": "5m", "for": "10m"},
            {"name": "ErrorRateHigh", "metric": "error_rate", "warning": 0.05},
            {"name": "ErrorRateSpike", "metric": "error_rate", "kind": "relative", "factor": 3},
            {
                "name": "DailyCostUp",
                "metric": "cost",
                "kind": "relative",
                "percent": 20,
                "baseline": "mean",
                "window": "1d",
            },
        ]
    )
    assert isinstance(cost, RelativeRule)
    assert cpu.breached(80.5) is Severity.CRITICAL and cpu.breached(80.0) is None
    assert cpu.timing.for_critical == 600 and gpu.metric == "host_gpu_percent"
    assert high.breached(0.06) is Severity.WARNING and spike.breached(0.04, 0.01) is Severity.WARNING
    assert cost.relative_bound(100.0) == pytest.approx(120.0) and cost.window == timedelta(days=1)


def test_breach_decisions() -> None:
    up = ThresholdRule(name="R", metric="error_rate", warning=0.1, critical=0.2)
    assert [up.breached(v) for v in (None, 0.05, 0.1, 0.15, 0.25)] == [
        None,
        None,
        None,
        Severity.WARNING,
        Severity.CRITICAL,
    ]
    down = ThresholdRule(name="R", metric="accuracy", op="<", warning=0.9)
    assert down.breached(0.85) is Severity.WARNING and down.breached(0.95) is None
    rel = RelativeRule(name="R", metric="latency_p95", factor=3, percent=250)
    assert rel.relative_bound(10.0) == 35.0  # both must hold: the larger bound
    assert rel.breached(36.0, 10.0) is Severity.WARNING and rel.breached(34.0, 10.0) is None
    assert rel.breached(100.0, None) is None
    drop = RelativeRule(name="R", metric="accuracy", op="<", percent=10, severity="critical")
    assert drop.relative_bound(0.9) == pytest.approx(0.81)
    assert drop.breached(0.8, 0.9) is Severity.CRITICAL
    silent = NoDataRule(name="R", for_="5m")
    assert silent.breached(0.0) is Severity.WARNING and silent.breached(3.0) is None


CONFIG = """
models:
  clf: {task: binary, owner: {team: risk, contact: risk@example.com}}
  multi: {task: multiclass, owner: {team: risk}}
  reg: {task: regression, owner: {team: pricing}}
  chat: {task: llm, owner: {team: assistants}}
"""


@pytest.mark.parametrize(
    ("model", "extra"),
    [
        ("clf", {"AccuracyDrop", "RocAucDrop", "CalibrationOff", "ConceptShift"}),
        ("multi", {"AccuracyDrop"}),
        ("reg", {"MaeRise"}),
        ("chat", {"CostPerPredictionSpike", "TopSpenderShareJump", "NegativeFeedbackSurge"}),
    ],
)
def test_default_rules_per_task(model: str, extra: set[str]) -> None:
    spec = parse_config(CONFIG).models[model]
    rules = {r.name: r for r in default_rules(model, spec)}
    common = {"ErrorRateHigh", "LatencyP95Spike", "DriftShareHigh", "NullRateHigh", "NoData"}
    assert set(rules) == common | extra
    assert all(r.model == model and r.labels["team"] == spec.owner.team for r in rules.values())
    assert rules["LatencyP95Spike"].kind == "relative" and rules["LatencyP95Spike"].factor == 3
    assert rules["NoData"].kind == "no_data" and rules["NoData"].timing.for_warning == 900
    if "RocAucDrop" in rules:  # binary: ranking and calibration, judged only with 100 labels an hour
        auc, ece = rules["RocAucDrop"], rules["CalibrationOff"]
        assert (
            isinstance(auc, RelativeRule) and auc.metric == "roc_auc" and auc.op == "<" and auc.percent == 5
        )
        assert isinstance(ece, ThresholdRule) and (ece.metric, ece.warning, ece.critical) == ("ece", 0.1, 0.2)
        shift = rules["ConceptShift"]  # a realised figure outside the estimate's band, with 100 labels
        assert isinstance(shift, ThresholdRule) and (shift.metric, shift.warning) == ("concept_shift", 0.5)
        assert auc.labels_needed == ece.labels_needed == rules["AccuracyDrop"].labels_needed == 100
        assert shift.labels_needed == 100
        assert rules["ErrorRateHigh"].labels_needed == 0
    if "AccuracyDrop" in rules:
        acc = rules["AccuracyDrop"]
        assert isinstance(acc, RelativeRule)
        assert acc.metric == "accuracy" and acc.op == "<" and acc.kind == "relative"
    if "CostPerPredictionSpike" in rules:
        cost = rules["CostPerPredictionSpike"]
        assert isinstance(cost, RelativeRule)
        assert cost.baseline == "mean"
    if model == "clf":
        assert rules["ErrorRateHigh"].owner == "risk@example.com"
    parse_rules([r.model_dump(by_alias=True) for r in rules.values()])  # they round-trip
