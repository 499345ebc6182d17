"""The procedure as a Mermaid flowchart, for Markdown documents and anything else that renders Mermaid.

One ``subgraph`` per stage, left to right, each model's metrics and rules in a ``subgraph`` of their own;
ids from :func:`~vigil.procedure.graph.diagram_ids`. Every text
is quoted and escaped with Mermaid's entity codes (``#quot;``, ``#35;``, ``#lt;``...), so no label can end a
string or open HTML. With a :class:`~vigil.procedure.path.Path`, what it goes through has the class
``path`` (its edges a ``linkStyle``), what may mute it ``maymute``, the rest ``dim``.

>>> escape('say "hi" <b>#1</b> & more')
'say #quot;hi#quot; #lt;b#gt;#35;1#lt;/b#gt; #amp; more'
"""

from __future__ import annotations

from vigil.procedure.graph import (
    STAGE_TITLES,
    EdgeKind,
    Node,
    Procedure,
    Stage,
    diagram_ids,
    drawn_edges,
    group_id,
)
from vigil.procedure.path import Path
from vigil.procedure.style import DIM, DOTTED, MAY_MUTE, PATH, STAGE_COLOURS

__all__ = ["escape", "render_mermaid"]

_SHAPES: dict[Stage, tuple[str, str]] = {
    Stage.MODELS: ("([", "])"),
    Stage.TELEMETRY: ("[/", "/]"),
    Stage.METRICS: ("(", ")"),
    Stage.RULES: ("[", "]"),
    Stage.ROUTES: ("{{", "}}"),
    Stage.RECEIVERS: (">", "]"),
    Stage.RUNBOOKS: ("[/", "\\]"),
    Stage.INCIDENTS: ("[(", ")]"),
    Stage.ACTIONS: ("[[", "]]"),
    Stage.MUTES: ("[", "]"),
}

_ENTITIES = (("#", "#35;"), ("&", "#amp;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;"), ("|", "#124;"))


def escape(text: str) -> str:
    """``text`` safe in a quoted Mermaid label: ``#`` first (it starts every entity code), then the rest."""
    for raw, code in _ENTITIES:
        text = text.replace(raw, code)
    return text


def _label(node: Node) -> str:
    return "<br>".join([f"<b>{escape(node.title)}</b>", *(escape(line) for line in node.lines)])


def render_mermaid(procedure: Procedure, path: Path | None = None) -> str:
    """The Mermaid source (a ``flowchart LR``); the same procedure and path give the same text."""
    ids = diagram_ids(procedure)
    out = [f"%% The monitoring procedure of {procedure.source}, drawn by vigil sop".replace("\n", " ")]
    if path is not None:
        shown = " ".join(f"{k}={v}" for k, v in sorted(path.given.items()))
        out.append(f"%% Path of the alert with {shown}".replace("\n", " "))
    out.append("flowchart LR")
    for stage, nodes in procedure.stages():
        out.append(f'  subgraph stage_{stage.value}["{escape(STAGE_TITLES[stage])}"]')
        out.append("    direction TB")
        for group, members in _groups(nodes):
            indent = "    "
            if group:
                out.append(f'    subgraph {ids[group_id(members[0])]}["{escape(group)}"]')
                out.append("      direction TB")
                indent = "      "
            for node in members:
                left, right = _SHAPES[stage]
                out.append(f'{indent}{ids[node.id]}{left}"{_label(node)}"{right}')
            if group:
                out.append("    end")
        out.append("  end")
    highlighted: list[int] = []
    for index, drawn in enumerate(drawn_edges(procedure, path.edges if path is not None else ())):
        arrow = "-.->" if drawn.kind in DOTTED else "-->"
        label = drawn.label or (drawn.kind.value if drawn.kind is EdgeKind.BY_HAND else "")
        text = f'|"{escape(label)}"|' if label else ""
        source = ids[drawn.group] if drawn.group else ids[drawn.source]
        out.append(f"  {source} {arrow}{text} {ids[drawn.target]}")
        if path is not None and drawn.stands_for & path.edges:
            highlighted.append(index)
    for stage in Stage:
        fill, stroke = STAGE_COLOURS[stage]
        out.append(f"  classDef {stage.value} fill:{fill},stroke:{stroke},color:#0f172a")
    out.append(f"  classDef path fill:{PATH[0]},stroke:{PATH[1]},stroke-width:3px,color:#0f172a")
    out.append(
        f"  classDef maymute fill:{MAY_MUTE[0]},stroke:{MAY_MUTE[1]},stroke-dasharray:5 3,color:#0f172a"
    )
    out.append(f"  classDef dim fill:{DIM[0]},stroke:{DIM[1]},color:{DIM[2]}")
    if path is None:  # one class per node: a second one's style would fight the first
        for stage, nodes in procedure.stages():
            out.append(f"  class {','.join(ids[n.id] for n in nodes)} {stage.value}")
    else:
        on = [n for n in procedure.nodes if n.id in path.nodes]
        classes = {
            "path": [ids[n.id] for n in on if n.stage is not Stage.MUTES],
            "maymute": [ids[n.id] for n in on if n.stage is Stage.MUTES],
            "dim": [ids[n.id] for n in procedure.nodes if n.id not in path.nodes],
        }
        for name, refs in classes.items():
            if refs:
                out.append(f"  class {','.join(refs)} {name}")
        if highlighted:
            out.append(f"  linkStyle {','.join(map(str, highlighted))} stroke:{PATH[1]},stroke-width:3px")
    return "\n".join(out) + "\n"


def _groups(nodes: list[Node]) -> list[tuple[str, list[Node]]]:
    """``nodes`` by group (``""``: none), in the order the groups first appear."""
    out: dict[str, list[Node]] = {}
    for node in nodes:
        out.setdefault(node.group, []).append(node)
    return list(out.items())
