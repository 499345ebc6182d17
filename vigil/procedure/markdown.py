"""The procedure as a Markdown document: the Mermaid diagram, then the same facts as tables.

Every table is read off the graph (a rule's receivers are those its routes notify), so the document and
the diagram cannot disagree. Table cells escape ``|`` and turn newlines into ``<br>``.

>>> cell("a | b\\nc")
'a \\\\| b<br>c'
"""

from __future__ import annotations

import re

from vigil.procedure.graph import EdgeKind, Node, Procedure, Stage
from vigil.procedure.mermaid import render_mermaid
from vigil.procedure.path import Path
from vigil.procedure.placed import duration

__all__ = ["cell", "render_markdown"]


def cell(value: object) -> str:
    """``value`` as the text of one Markdown table cell."""
    text = "" if value is None else str(value)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", "").replace("\n", "<br>").strip()


def _table(head: list[str], rows: list[list[object]]) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return [*out, ""]


def _code(text: str) -> str:
    """``text`` as inline code, fenced with more backticks than any run of them in it."""
    fence = "`" * (max(map(len, re.findall("`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def render_markdown(procedure: Procedure, path: Path | None = None) -> str:
    """The document (see the module docstring)."""
    p = procedure
    rules = p.stage(Stage.RULES)
    sources = [str(r.facts.get("source")) for r in rules]
    out = [
        "# Monitoring procedure",
        "",
        f"Drawn by `vigil sop` from {_code(p.source)}: {len(p.stage(Stage.MODELS))} models, "
        f"{len(rules)} rules in force on them ({sources.count('config')} from `rules:`, "
        f"{sources.count('slo')} from `slos:`, {sources.count('default')} default), "
        f"{len(p.stage(Stage.ROUTES))} routes, "
        f"{len(p.stage(Stage.RECEIVERS))} receivers, {len(p.stage(Stage.ACTIONS))} actions.",
        "",
        "```mermaid",
        render_mermaid(p, path).rstrip("\n"),
        "```",
        "",
    ]
    if path is not None:
        shown = " ".join(f"{k}={v}" for k, v in sorted(path.given.items()))
        out += [f"## Path of {_code(shown)}", "", "Highlighted above; in words:", "", "```text"]
        out += [path.text().rstrip("\n"), "```", ""]
    if p.notes:
        out += ["## Notes", "", *(f"- {note}" for note in p.notes), ""]
    out += _models(p)
    out += _rules(p)
    out += _routes(p)
    out += _actions(p)
    out += _mutes(p)
    out += _runbooks(p)
    return "\n".join(out).rstrip("\n") + "\n"


def _models(p: Procedure) -> list[str]:
    rows: list[list[object]] = []
    for node in p.stage(Stage.MODELS):
        f = node.facts
        owner = f["owner"]
        versions = ", ".join(f"**{v}**" if v == f["live"] else v for v in f["versions"]) or f"{f['live']}"
        rows.append(
            [
                node.title,
                f["task"],
                f["environment"],
                versions,
                f.get("rollback") or "",
                owner["team"] + (f" ({owner['contact']})" if owner.get("contact") else ""),
                "yes" if f["high_impact"] else "",
                f.get("baseline") or "none",
                f["window"],
            ]
        )
    head = ["model", "task", "environment", "versions (**live**)", "rollback to", "owner", "high impact"]
    return ["## Inference points", "", *_table([*head, "baseline", "window"], rows)]


def _receivers_of(p: Procedure, route_path: str) -> list[str]:
    return [p.node(e.target).title for e in p.out(f"route:{route_path}", EdgeKind.NOTIFIES)]


def _rules(p: Procedure) -> list[str]:
    out = ["## Rules, by model", ""]
    by_model: dict[str, list[Node]] = {}
    for node in p.stage(Stage.RULES):
        by_model.setdefault(node.group, []).append(node)
    for model, nodes in by_model.items():
        out += [f"### {model}", ""]
        rows: list[list[object]] = []
        for node in nodes:
            f = node.facts
            timing = f"{f['window']}" + (f", for {f['for']}" if f.get("for") else "")
            goes: list[str] = []
            for severity in ("warning", "critical"):
                paths = f.get("routes", {}).get(severity)
                if paths is None:
                    goes.append("")
                    continue
                receivers = [r for route in paths for r in _receivers_of(p, route)]
                shown = ", ".join(dict.fromkeys(receivers)) or "(no receiver)"
                goes.append(f"{shown} ({'; '.join(paths)})")
            books = [p.node(e.target) for e in p.out(node.id, EdgeKind.RUNBOOK)]
            actions = [p.node(e.target).title for e in p.out(node.id, EdgeKind.SIGNALS)]
            rows.append(
                [
                    node.title,
                    f["source"],
                    f["condition"],
                    timing if f["kind"] != "slo" else "",
                    *goes,
                    books[0].title if books else "**none**",
                    ", ".join(actions),
                ]
            )
        head = ["rule", "from", "fires when", "window, for", "warning goes to", "critical goes to", "runbook"]
        out += _table([*head, "counts for"], rows)
    return out


def _routes(p: Procedure) -> list[str]:
    routes = p.stage(Stage.ROUTES)
    if not routes:
        return []
    rows: list[list[object]] = []
    for node in routes:
        f = node.facts
        depth = str(f["path"]).count(".routes[")
        timing = " / ".join(duration(f[k]) for k in ("group_wait", "group_interval", "repeat_interval"))
        rows.append(
            [
                "↳ " * depth + str(f["path"]),
                ", ".join(f["matchers"]) or "(every alert)",
                ", ".join(_receivers_of(p, str(f["path"]))) or "(none)",
                ", ".join(f["group_by"]),
                timing,
                "yes" if f["continue"] else "",
                len(p.into(node.id, EdgeKind.ROUTES)),
            ]
        )
    head = ["route", "matchers", "receivers", "group by", "wait / interval / repeat", "continue", "rules"]
    out = ["## Routes", "", "Tried depth first; the first child that matches takes the alert, unless it has"]
    out += ["`continue`. `rules`: how many of the rules above reach it.", "", *_table(head, rows)]
    rows = []
    for node in p.stage(Stage.RECEIVERS):
        f = node.facts
        by = [str(p.node(e.source).facts["path"]) for e in p.into(node.id, EdgeKind.NOTIFIES)]
        rows.append([node.title, f["kind"], f["where"], ", ".join(by) or "(no route)"])
    return [*out, "## Receivers", "", *_table(["receiver", "kind", "where", "routes"], rows)]


def _actions(p: Procedure) -> list[str]:
    actions = p.stage(Stage.ACTIONS)
    if not actions:
        return []
    rows: list[list[object]] = []
    for node in actions:
        f = node.facts
        when = f["when"]
        if when is None:
            trigger = "by hand only"
        else:
            at = f" at {when['severity']} or above" if when["severity"] else ""
            trigger = f"{when['min_signals']} of {', '.join(when['alerts'])}{at}"
        approval = ", ".join(f["approval"]) if f["approval"] else "not needed"
        what = f["kind"] + (f" to {f['fallback']}" if f.get("fallback") else "")
        models = ", ".join(f["models"]) or "(no declared model)"
        rows.append([node.title, what, models, trigger, f["cooldown"] or "none", approval, f["executor"]])
    head = ["action", "does", "models", "trigger", "cooldown", "approval on", "executor"]
    return ["## Remediation", "", *_table(head, rows)]


def _mutes(p: Procedure) -> list[str]:
    mutes = p.stage(Stage.MUTES)
    if not mutes:
        return []
    rows: list[list[object]] = [[node.title, "; ".join(node.lines)] for node in mutes]
    return ["## Muting", "", *_table(["what", "how"], rows)]


def _runbooks(p: Procedure) -> list[str]:
    out: list[str] = []
    for node in p.stage(Stage.RUNBOOKS):
        f = node.facts
        if f["kind"] == "url":
            continue
        readers = [p.node(e.source).id.removeprefix("rule:") for e in p.into(node.id, EdgeKind.RUNBOOK)]
        out += [f"### {node.title}", "", f"For {', '.join(sorted(readers))}.", ""]
        out += [f"> {line}" if line else ">" for line in str(f["text"]).strip().splitlines()]
        out.append("")
    urls = [n for n in p.stage(Stage.RUNBOOKS) if n.facts["kind"] == "url"]
    head = ["## Runbooks", ""]
    if urls:
        for node in urls:
            readers = sorted(
                {p.node(e.source).id.removeprefix("rule:") for e in p.into(node.id, EdgeKind.RUNBOOK)}
            )
            head.append(f"- <{node.facts['url']}>: {', '.join(readers)}")
        head.append("")
    return [*head, *out] if urls or out else []
