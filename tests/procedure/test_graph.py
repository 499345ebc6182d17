"""The procedure graph of a config: every model, rule (defaults and SLOs included), route, receiver, runbook,
incident and action, joined as the config and the engine join them."""

from __future__ import annotations

import re

from tests.procedure.conftest import NESTED, checked
from vigil.alerting.rules.defaults import DEFAULT_RUNBOOKS
from vigil.procedure import EdgeKind, Procedure, Sections, Stage, build
from vigil.procedure.graph import diagram_ids

ROOT = "route:alerting.route"


def _rules(p: Procedure) -> dict[str, list[str]]:
    """Rule names by model, in order."""
    out: dict[str, list[str]] = {}
    for node in p.stage(Stage.RULES):
        out.setdefault(node.group, []).append(node.title)
    return out


def _targets(p: Procedure, source: str, kind: EdgeKind) -> dict[str, str]:
    return {e.target: e.label for e in p.out(source, kind)}


def test_the_example_places_every_rule_on_every_model_it_watches(example: Sections) -> None:
    p = build(example)
    assert [n.id for n in p.stage(Stage.MODELS)] == [
        "model:credit-risk",
        "model:churn",
        "model:support-assistant",
    ]
    defaults = ["ErrorRateHigh", "LatencyP95Spike", "DriftShareHigh", "NullRateHigh", "NoData"]
    assert _rules(p) == {
        "credit-risk": [
            "HighLatency",
            "IncomeDrift",
            "EuAccuracy",
            "credit-availability",
            "credit-latency",
            *defaults,
            "AccuracyDrop",
            "RocAucDrop",
            "CalibrationOff",
            "ConceptShift",
        ],
        "churn": [
            "HighLatency",
            "ChurnTrafficAnomaly",
            *defaults,
            "AccuracyDrop",
            "RocAucDrop",
            "CalibrationOff",
            "ConceptShift",
        ],
        "support-assistant": [
            "HighLatency",
            "AssistantCost",
            *defaults,
            "CostPerPredictionSpike",
            "TopSpenderShareJump",
            "NegativeFeedbackSurge",
        ],
    }
    sources = {n.id: n.facts["source"] for n in p.stage(Stage.RULES)}
    assert sources["rule:credit-risk/credit-latency"] == "slo"
    assert sources["rule:churn/NoData"] == "default"
    assert sources["rule:churn/HighLatency"] == "config"
    credit = p.node("model:credit-risk").facts
    assert (credit["live"], credit["rollback"], credit["high_impact"]) == ("v2", "v1", True)
    assert credit["owner"] == {"team": "risk-ml", "contact": "#risk-oncall"}


def test_a_rule_of_the_config_replaces_the_default_of_its_name() -> None:
    text = NESTED.replace(
        "  - {name: Ghost", "  - {name: NoData, model: eta, kind: no_data, for: 1h}\n  - {name: Ghost"
    )
    p = build(checked(text))
    no_data = [n for n in p.stage(Stage.RULES) if n.id == "rule:eta/NoData"]
    assert len(no_data) == 1 and no_data[0].facts["source"] == "config" and no_data[0].facts["for"] == "1h"
    assert p.node("rule:fraud/NoData").facts["source"] == "default"


def test_each_rule_reads_its_models_metric_from_the_telemetry_that_makes_it(example: Sections) -> None:
    p = build(example)
    for rule in p.stage(Stage.RULES):
        (watch,) = p.into(rule.id, EdgeKind.WATCHES)
        metric = p.node(watch.source)
        assert metric.group == rule.group and metric.facts["model"] == rule.facts["model"]
        feeds = {e.source for e in p.into(metric.id, EdgeKind.FEEDS)}
        assert feeds, metric.id
        for telemetry in feeds:
            assert (f"model:{rule.group}", telemetry, EdgeKind.SENDS) in {e.key for e in p.edges}
    assert {e.source for e in p.into("metric:credit-risk/accuracy[region=eu]", EdgeKind.FEEDS)} == {
        "telemetry:events",
        "telemetry:labels",
    }
    assert {e.source for e in p.into("metric:credit-risk/drift:income", EdgeKind.FEEDS)} == {
        "telemetry:events"
    }
    host = build(checked(NESTED))
    assert {e.source for e in host.into("metric:eta/host_cpu_percent", EdgeKind.FEEDS)} == {"telemetry:hosts"}


def test_rules_route_by_severity_through_the_tree(example: Sections) -> None:
    p = build(example)
    routes = "route:alerting.route.routes"
    assert _targets(p, "rule:churn/HighLatency", EdgeKind.ROUTES) == {
        f"{routes}[0]": "critical",
        f"{routes}[1]": "critical",
        f"{routes}[4]": "warning",
    }
    # the owner's team label takes credit-risk's warnings to its own chat, drift to the nested route
    assert _targets(p, "rule:credit-risk/HighLatency", EdgeKind.ROUTES)[f"{routes}[2]"] == "warning"
    assert _targets(p, "rule:credit-risk/IncomeDrift", EdgeKind.ROUTES)[f"{routes}[2].routes[0]"] == "warning"
    # the rule's route: label is routed on
    assert _targets(p, "rule:support-assistant/AssistantCost", EdgeKind.ROUTES) == {f"{routes}[3]": "warning"}
    assert _targets(p, f"{routes}[0]", EdgeKind.NOTIFIES) == {"receiver:pager": ""}
    assert _targets(p, ROOT, EdgeKind.NOTIFIES) == {"receiver:ops": ""}
    assert set(_targets(p, ROOT, EdgeKind.CHILD)) == {f"{routes}[{i}]" for i in range(5)}
    assert set(_targets(p, f"{routes}[2]", EdgeKind.CHILD)) == {f"{routes}[2].routes[0]"}
    facts = p.node(f"{routes}[0]").facts
    assert (facts["continue"], facts["group_wait"], facts["id"]) == (True, 10.0, '{}/{severity="critical"}/0')


def test_continue_and_a_root_without_receiver_in_a_deep_tree(nested: Sections) -> None:
    p = build(nested)
    r0 = "route:alerting.route.routes[0]"
    # tier=gold (a rule label) takes the third level; continue at two levels adds risk-chat and the pager
    assert _targets(p, "rule:fraud/FraudScoreShift", EdgeKind.ROUTES) == {
        f"{r0}.routes[0].routes[0]": "critical",
        f"{r0}.routes[1]": "critical",
        "route:alerting.route.routes[2]": "critical",
        f"{r0}.routes[2]": "warning",
    }
    assert _targets(p, "rule:fraud/NoData", EdgeKind.ROUTES) == {r0: "warning"}  # alertname!="NoData"
    assert _targets(p, "rule:eta/EtaCost", EdgeKind.ROUTES) == {"route:alerting.route.routes[1]": "warning"}
    assert _targets(p, "rule:eta/Slow", EdgeKind.ROUTES)[ROOT] == "warning"
    # the root names no receiver: every receiver
    assert set(_targets(p, ROOT, EdgeKind.NOTIFIES)) == {n.id for n in p.stage(Stage.RECEIVERS)}
    assert p.node(f"{r0}.routes[0].routes[0]").facts["group_wait"] == 0.0
    assert p.node(f"{r0}.routes[2]").facts["group_by"] == ["..."]
    assert p.node("receiver:finance").facts == {
        "kind": "email",
        "where": "e-mail to fin@example.com via smtp.example.com:25",
    }


def test_runbooks_incidents_and_actions(example: Sections) -> None:
    p = build(example)
    assert {e.source for e in p.into("runbook:default/ErrorRateHigh", EdgeKind.RUNBOOK)} == {
        "rule:credit-risk/ErrorRateHigh",
        "rule:churn/ErrorRateHigh",
        "rule:support-assistant/ErrorRateHigh",
    }
    assert p.node("runbook:default/ErrorRateHigh").facts["text"] == DEFAULT_RUNBOOKS["ErrorRateHigh"]
    assert len(p.into("runbook:https://runbooks.example.com/latency", EdgeKind.RUNBOOK)) == 3
    for rule in p.stage(Stage.RULES):
        assert _targets(p, rule.id, EdgeKind.OPENS) == {f"incident:{rule.group}": ""}
    assert {e.source: e.label for e in p.into("action:rollback-credit", EdgeKind.SIGNALS)} == {
        "rule:credit-risk/IncomeDrift": "1 of 2 signals",
        "rule:credit-risk/AccuracyDrop": "1 of 2 signals",
    }
    assert {e.source for e in p.into("action:retrain-churn", EdgeKind.SIGNALS)} == {
        "rule:churn/DriftShareHigh"
    }
    assert {e.source for e in p.into("action:assistant-fallback")} == {"incident:support-assistant"}
    rollback = p.node("action:rollback-credit").facts
    assert (rollback["approval"], rollback["cooldown"]) == (["credit-risk"], "1h")
    assert p.node("action:retrain-churn").facts["approval"] == []


def test_what_can_mute_an_alert_is_drawn(example: Sections) -> None:
    mutes = {n.id for n in build(example).stage(Stage.MUTES)}
    assert mutes == {
        "mute:inhibit/critical mutes warning",
        "mute:inhibit/no data mutes drift",
        "mute:maintenance/credit-db-vacuum",
        "mute:deploy-grace",
        "mute:silences",
    }


def test_notes_say_what_an_audit_should_look_at(nested: Sections) -> None:
    notes = build(nested).notes
    assert any("Ghost is for model nobody" in n for n in notes)
    assert any("MaeRise on eta never counts for action retrain-eta" in n for n in notes)
    assert any(n.startswith("Without a runbook:") and "EtaCost on eta" in n for n in notes)
    assert any("alerting.route.routes[3]" in n for n in notes)  # team="nobody": no rule gets there
    assert not any("Slow on" in n for n in notes if n.startswith("Without"))


def test_without_an_alerting_section_nothing_is_routed() -> None:
    text = NESTED.split("alerting:")[0]
    p = build(checked(text))
    assert not p.stage(Stage.ROUTES) and not p.stage(Stage.RECEIVERS) and not p.stage(Stage.INCIDENTS)
    assert not p.stage(Stage.MUTES)
    assert {n.id for n in p.stage(Stage.ACTIONS)} == {"action:rollback-any", "action:retrain-eta"}
    assert not [e for e in p.edges if e.kind in (EdgeKind.SIGNALS, EdgeKind.ROUTES)]
    assert any("no alerting: section" in n for n in p.notes)


def test_ids_are_unique_safe_and_stable(example: Sections, nested: Sections) -> None:
    for sections in (example, nested):
        p = build(sections)
        ids = diagram_ids(p)
        assert len(set(ids.values())) == len(ids)
        assert all(re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", v) for v in ids.values())
        assert build(sections) == p  # the same config, the same graph
    # another model added: every node already there keeps its ids
    before = diagram_ids(build(checked(NESTED)))
    text = NESTED.replace("models:\n", "models:\n  aaa: {task: llm, owner: {team: t}}\n", 1)
    after = diagram_ids(build(checked(text)))
    assert {k: after[k] for k in before} == before
    assert len(after) > len(before)


def test_two_names_that_differ_only_in_punctuation_get_distinct_ids() -> None:
    text = "models:\n  a-b: {task: binary, owner: {team: t}}\n  a.b: {task: binary, owner: {team: t}}\n"
    p = build(checked(text))
    ids = diagram_ids(p)
    assert ids["model:a-b"] != ids["model:a.b"]
    assert len(set(ids.values())) == len(ids)
