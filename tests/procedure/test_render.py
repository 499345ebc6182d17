"""The renderers: Mermaid that Mermaid itself parses, SVG that is XML naming every model and receiver,
Markdown whose tables say what the graph says, JSON; the same bytes for the same config; names that try to
break out of a label stay inside it; no secret is ever drawn."""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET
from collections import Counter

import pytest

from tests.procedure.conftest import NESTED, checked, mermaid_parse
from vigil.procedure import Sections, Stage, build, render, trace
from vigil.procedure.graph import diagram_ids, drawn_edges

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = r"""
models:
  'we"ird <m>&#1;|{x}\ end': {task: binary, owner: {team: "t\"<b>", contact: "#c;|`x`"}, versions: ['v"1']}
  end: {task: llm, owner: {team: subgraph}}
  'click': {task: regression, owner: {team: "%%{init: x}%%"}}
rules:
  - {name: 'Q"uote<&>#35;|x', metric: error_rate, critical: 0.5, runbook: "one \"q\" <b>\n| two | --> ;"}
  - {name: 'style', metric: latency_p95, warning: 100, labels: {team: 'a"b'}}
alerting:
  route:
    receiver: 'r"1'
    routes:
      - {matchers: ['team=~"a\"b|t.*"'], receiver: '<r2>'}
  receivers:
    - {name: 'r"1', webhook: "http://127.0.0.1:9/x?token=SECRET-ONE"}
    - {name: '<r2>', slack: "https://hooks.example.com/SECRET-TWO"}
"""
"""Names with quotes, brackets, entities, pipes, braces, backslashes, Mermaid keywords and directives."""

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")


def _all_formats(sections: Sections, alert: list[str]) -> list[str]:
    formats = ["mermaid", "markdown", "dot", "json"] + (["svg"] if shutil.which("dot") else [])
    return [render(sections, f, alert) for f in formats]


# -- Mermaid ------------------------------------------------------------------------------------------------


def _mermaid_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("%%")]


@pytest.mark.parametrize("which", ["example", "nested", "hostile"])
def test_mermaid_keeps_to_the_syntax_rules(which: str, example: Sections, nested: Sections) -> None:
    sections = {"example": example, "nested": nested, "hostile": checked(HOSTILE)}[which]
    for alert in ([], ["alertname=ErrorRateHigh model=churn severity=critical"]):
        text = render(sections, "mermaid", alert)
        lines = _mermaid_lines(text)
        assert lines[0] == "flowchart LR"
        depth = 0
        for line in lines:
            word = line.split()[0]
            depth += word == "subgraph"
            depth -= word == "end"
            assert depth >= 0, line
        assert depth == 0
        declared = re.findall(r"^\s+([A-Za-z][A-Za-z0-9_]*)[\[({>]", text, re.M)
        assert len(declared) == len(set(declared)) == len(build(sections).nodes)
        assert "end" not in declared and "subgraph" not in declared
        for line in lines:
            labels = re.findall(r'"([^"]*)"', line)
            assert line.count('"') == 2 * len(labels), line  # every quote opens and closes a label
            for label in labels:
                assert not re.search(r"<(?!/?b>|br>)", label), label  # no HTML but <b> and <br>
        if alert:
            assert re.search(r"^\s+class \S+ path$", text, re.M) and "linkStyle" in text


def test_runbooks_are_drawn_as_arrows_only_on_a_path(example: Sections) -> None:
    assert " -.-> runbook_" not in render(example, "mermaid")
    traced = render(example, "mermaid", ["alertname=IncomeDrift model=credit-risk severity=warning"])
    assert re.findall(r"^  (\S+) -.-> runbook_\S+$", traced, re.M) == ["rule_credit_risk_IncomeDrift"]
    assert "runbook: https://runbooks.example.com/credit-risk/drift" in render(example, "mermaid")
    assert re.search(r"^  class mute_\S+ maymute$", traced, re.M)  # what may mute it: dashed, not the path


def test_mermaids_own_parser_accepts_every_diagram(example: Sections, nested: Sections) -> None:
    hostile = checked(HOSTILE)
    texts = [render(s, "mermaid") for s in (example, nested, hostile)]
    texts += [render(example, "mermaid", ["alertname=IncomeDrift model=credit-risk severity=warning"])]
    texts += [render(nested, "mermaid", ["alertname=FraudScoreShift model=fraud severity=critical"])]
    texts += [render(hostile, "mermaid", ['alertname="Q\\"uote<&>#35;|x"', "severity=critical"])]
    texts.append('flowchart LR\n  a["x"y"] --> b\n')  # the parser does refuse a broken label
    verdicts = mermaid_parse(texts)
    assert [v["ok"] for v in verdicts[:-1]] == [True] * (len(texts) - 1), verdicts
    assert {v.get("type") for v in verdicts[:-1]} == {"flowchart-v2"}
    assert verdicts[-1]["ok"] is False


# -- SVG ----------------------------------------------------------------------------------------------------


@needs_dot
def test_svg_is_xml_and_shows_every_model_and_receiver(example: Sections) -> None:
    p = build(example)
    svg = render(example, "svg")
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    ids = diagram_ids(p)
    groups = {g.get("id"): g for g in root.iter(f"{SVG}g")}
    for node in p.nodes:
        group = groups[ids[node.id]]
        text = " ".join(t.text or "" for t in group.iter(f"{SVG}text"))
        assert node.title[:20] in text, node.id
    words = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
    for name in ["credit-risk", "churn", "support-assistant", "ops", "pager", "chat", "risk-chat", "finops"]:
        assert name in words
    assert {f"stage_{s.value}" for s, _ in p.stages()} <= set(groups)


@needs_dot
def test_svg_highlights_the_path_in_colour_and_width(example: Sections) -> None:
    p = build(example)
    path = trace(example, {"alertname": "IncomeDrift", "model": "credit-risk", "severity": "warning"})
    root = ET.fromstring(render(example, "svg", ["alertname=IncomeDrift model=credit-risk severity=warning"]))
    ids = diagram_ids(p)
    by_id = {g.get("id"): g for g in root.iter(f"{SVG}g")}
    shapes = (f"{SVG}polygon", f"{SVG}path", f"{SVG}ellipse")
    for node in p.nodes:
        shape = next(e for e in by_id[ids[node.id]].iter() if e.tag in shapes)
        fill = "#fffbeb" if node.stage is Stage.MUTES else "#fde68a"  # what may mute it: a paler fill
        on = shape.get("stroke") == "#b45309" and shape.get("fill") == fill
        assert on == (node.id in path.nodes), node.id
    edges = [g for g in root.iter(f"{SVG}g") if g.get("class") == "edge"]
    lit = [g for g in edges if any(e.get("stroke") == "#b45309" for e in g.iter(f"{SVG}path"))]
    expected = {
        f"e_{ids[d.group or d.source]}__{ids[d.target]}__{d.kind.value}"
        for d in drawn_edges(p, path.edges)
        if d.stands_for & path.edges
    }
    assert "e_group_rules_credit_risk__incident_credit_risk__opens" in expected  # one arrow for the model
    assert {g.get("id") for g in lit} == expected


@needs_dot
def test_hostile_names_stay_inside_their_labels_in_svg() -> None:
    sections = checked(HOSTILE)
    for alert in ([], ["alertname=style model=end severity=warning"]):
        root = ET.fromstring(render(sections, "svg", alert))  # well-formed XML, whatever the names
        words = [t.text or "" for t in root.iter(f"{SVG}text")]
        assert 'we"ird <m>&#1;|{x}\\ end' in words
        assert "<r2>" in words and 'r"1' in words


# -- Markdown -----------------------------------------------------------------------------------------------


def test_markdown_has_the_diagram_and_the_same_facts_as_tables(example: Sections) -> None:
    text = render(example, "markdown", ["alertname=HighLatency model=churn severity=critical"])
    mermaid = text.split("```mermaid\n", 1)[1].split("```", 1)[0]
    assert mermaid == render(example, "mermaid", ["alertname=HighLatency model=churn severity=critical"])
    path = text.split("## Path of `alertname=HighLatency model=churn severity=critical`", 1)[1]
    assert path.split("```text\n", 1)[1].startswith("pager,chat\n")
    churn = text.split("### churn\n", 1)[1].split("\n### ", 1)[0]
    rows = {line.split(" | ")[0].strip("| "): line for line in churn.splitlines() if line.startswith("| ")}
    assert "tickets (alerting.route.routes[4])" in rows["HighLatency"]
    assert "pager, chat (alerting.route.routes[0]; alerting.route.routes[1])" in rows["HighLatency"]
    assert "retrain-churn" in rows["DriftShareHigh"] and "**none**" in rows["ChurnTrafficAnomaly"]
    for table in re.findall(r"(?:^\|.*\|\n)+", text, re.M):
        widths = Counter(len(re.findall(r"(?<!\\)\|", line)) for line in table.splitlines())
        assert len(widths) == 1, table  # every row of a table has as many cells as its head
    assert (
        "## Remediation" in text
        and "| rollback-credit | rollback | credit-risk | 2 of AccuracyDrop, IncomeDrift |" in text
    )


def test_markdown_cells_escape_pipes_and_newlines() -> None:
    text = render(checked(HOSTILE), "markdown")
    for table in re.findall(r"(?:^\|.*\|\n)+", text, re.M):
        widths = Counter(len(re.findall(r"(?<!\\)\|", line)) for line in table.splitlines())
        assert len(widths) == 1, table
    assert "> | two \\| --> ;" not in text and "> | two | --> ;" in text  # runbook text quoted as written


# -- JSON, determinism, secrets -----------------------------------------------------------------------------


def test_json_lists_the_graph_and_the_path(example: Sections) -> None:
    data = json.loads(render(example, "json", ["alertname=IncomeDrift model=credit-risk severity=warning"]))
    p = build(example)
    assert [n["id"] for n in data["nodes"]] == [n.id for n in p.nodes]
    assert len(data["edges"]) == len(p.edges)
    assert {s["id"] for s in data["stages"]} == {s.value for s, _ in p.stages()}
    assert data["path"]["receivers"] == ["risk-chat"]
    refs = {n["id"]: n["ref"] for n in data["nodes"]}
    assert refs["rule:credit-risk/IncomeDrift"] == "rule_credit_risk_IncomeDrift"
    assert json.loads(render(example, "json"))["path"] is None


def test_the_same_config_gives_the_same_bytes(example: Sections, nested: Sections) -> None:
    alert = ["alertname=Slow model=fraud severity=critical"]
    for sections in (example, nested):
        assert _all_formats(sections, alert) == _all_formats(sections, alert)
    again = checked(NESTED)
    assert _all_formats(again, alert) == _all_formats(nested, alert)


def test_no_secret_is_drawn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_HOOK", "https://hooks.slack.com/services/T0/B0/SECRET-THREE")
    monkeypatch.setenv("PD_KEY", "SECRET-FOUR")
    monkeypatch.setenv("DEPLOY", "https://deploy.example.com/hooks/SECRET-FIVE")
    receivers = (
        '  receivers:\n    - {name: s, slack: "${SLACK_HOOK}"}\n    - {name: p, pagerduty: "${PD_KEY}"}\n'
    )
    action = '  - {name: a, model: end, kind: retrain, webhook: "${DEPLOY}", headers: {X: SECRET-SIX}}\n'
    text = HOSTILE.replace("  receivers:\n", receivers) + "actions:\n" + action
    sections = checked(text)
    for out in _all_formats(sections, ["alertname=style model=end severity=warning"]):
        assert "SECRET" not in out


def test_a_stage_with_nothing_is_left_out() -> None:
    text = "models:\n  m: {task: binary, owner: {team: t}}\n"
    p = build(checked(text))
    stages = [Stage.MODELS, Stage.TELEMETRY, Stage.METRICS, Stage.RULES, Stage.RUNBOOKS]
    assert [s for s, _ in p.stages()] == stages
    assert "subgraph stage_routes" not in render(checked(text), "mermaid")
