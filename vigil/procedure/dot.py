"""The procedure as Graphviz DOT, and as SVG laid out by Graphviz's ``dot``.

The DOT text is written here: one cluster per stage, in columns (an invisible chain of ranks keeps the stages
in order), each model's metrics and rules boxed together; HTML-like labels escaped as XML; every node and
edge with an ``id`` the SVG keeps (:func:`~vigil.procedure.graph.diagram_ids` for nodes and boxes,
``e_<source>__<target>__<kind>`` for edges), so a page can find them.

:func:`render_svg` pipes it through ``dot -Tsvg``: Debian's ``graphviz`` package
(``scripts/install-debian-package.sh graphviz dot``), run as a program, so there is no Python binding to
install. The same
procedure, path and Graphviz version give the same bytes.

>>> escape('a < b & "c"')
'a &lt; b &amp; &quot;c&quot;'
"""

from __future__ import annotations

import shutil
import subprocess

from vigil.errors import VigilError
from vigil.procedure.graph import STAGE_TITLES, Node, Procedure, Stage, diagram_ids, drawn_edges, group_id
from vigil.procedure.path import Path
from vigil.procedure.style import DIM, DOTTED, MAY_MUTE, PATH, STAGE_COLOURS

__all__ = ["GraphvizError", "escape", "render_dot", "render_svg"]

_SHAPES: dict[Stage, str] = {
    Stage.MODELS: 'shape=box, style="rounded,filled"',
    Stage.TELEMETRY: 'shape=parallelogram, style="filled"',
    Stage.METRICS: 'shape=box, style="rounded,filled"',
    Stage.RULES: 'shape=box, style="filled"',
    Stage.ROUTES: 'shape=hexagon, style="filled"',
    Stage.RECEIVERS: 'shape=cds, style="filled"',
    Stage.RUNBOOKS: 'shape=note, style="filled"',
    Stage.INCIDENTS: 'shape=cylinder, style="filled"',
    Stage.ACTIONS: 'shape=box3d, style="filled"',
    Stage.MUTES: 'shape=box, style="dashed,filled"',
}

_TIMEOUT = 300.0
_FULL_EFFORT = 300


class GraphvizError(VigilError):
    """SVG cannot be made: ``dot`` is missing, or it failed."""


def escape(text: str) -> str:
    """``text`` as XML character data (Graphviz's HTML-like labels are XML)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _label(node: Node) -> str:
    lines = [f"<B>{escape(node.title)}</B>", *(escape(line) for line in node.lines)]
    return "<" + '<BR ALIGN="LEFT"/>'.join(lines) + '<BR ALIGN="LEFT"/>>'


def _colours(node: Node, path: Path | None) -> str:
    if path is None:
        fill, stroke = STAGE_COLOURS[node.stage]
        return f'fillcolor="{fill}", color="{stroke}"'
    if node.id in path.nodes and node.stage is Stage.MUTES:
        return f'fillcolor="{MAY_MUTE[0]}", color="{MAY_MUTE[1]}", penwidth=2'
    if node.id in path.nodes:
        return f'fillcolor="{PATH[0]}", color="{PATH[1]}", penwidth=3'
    return f'fillcolor="{DIM[0]}", color="{DIM[1]}", fontcolor="{DIM[2]}"'


def render_dot(procedure: Procedure, path: Path | None = None) -> str:
    """The DOT source (see the module docstring)."""
    ids = diagram_ids(procedure)
    title = f"The monitoring procedure of {procedure.source}"
    if path is not None:
        title += " · path of " + " ".join(f"{k}={v}" for k, v in sorted(path.given.items()))
    out = [
        "digraph procedure {",
        f'  graph [rankdir=LR, newrank=true, compound=true, nodesep=0.15, ranksep=0.8, fontname="Helvetica", '
        f'fontsize=14, labelloc=t, label="{_quoted(title)}", id="procedure", mclimit={_mclimit(procedure)}];',
        '  node [fontname="Helvetica", fontsize=10, margin="0.12,0.06"];',
        '  edge [fontname="Helvetica", fontsize=9, arrowsize=0.6, color="#64748b", fontcolor="#334155"];',
    ]
    ranks: list[list[str]] = []
    for stage, nodes in procedure.stages():
        out.append(f"  subgraph cluster_{stage.value} {{")
        out.append(
            f'    graph [label="{_quoted(STAGE_TITLES[stage])}", id="stage_{stage.value}", style="rounded", '
            'color="#cbd5e1", fontsize=12];'
        )
        for group, members in _groups(nodes):
            indent = "    "
            if group:
                box = ids[group_id(members[0])]
                out.append(f"    subgraph cluster_{box} {{")
                out.append(
                    f'      graph [label="{_quoted(members[0].group)}", id="{box}", style="rounded,dashed", '
                    'color="#94a3b8", fontsize=10];'
                )
                indent = "      "
            for node in members:
                out.append(
                    f'{indent}{ids[node.id]} [id="{ids[node.id]}", label={_label(node)}, '
                    f'tooltip="{_quoted(node.id)}", {_SHAPES[stage]}, {_colours(node, path)}];'
                )
            if group:
                out.append("    }")
        out.append("  }")
        ranks.extend([ids[n.id] for n in column] for column in _columns(stage, nodes))
    for i, column in enumerate(ranks):  # one column per stage, in stage order
        out.append(
            f'  {{ rank=same; rank_{i} [style=invis, shape=point, width=0, height=0, label=""]; '
            f"{'; '.join(column)}; }}"
        )
    out.append(f"  {' -> '.join(f'rank_{i}' for i in range(len(ranks)))} [style=invis, weight=100];")
    for drawn in drawn_edges(procedure, path.edges if path is not None else ()):
        source, target = ids[drawn.source], ids[drawn.target]
        name = ids[drawn.group] if drawn.group else source
        attrs = [f'id="e_{name}__{target}__{drawn.kind.value.replace(" ", "_")}"']
        if drawn.group:
            attrs.append(f'ltail="cluster_{ids[drawn.group]}"')
        if drawn.label:
            attrs.append(f'label="{_quoted(drawn.label)}"')
        if drawn.kind in DOTTED:
            attrs.append("style=dashed")
        if path is not None:
            if drawn.stands_for & path.edges:
                attrs += [f'color="{PATH[1]}"', "penwidth=2.5"]
            else:
                attrs += [f'color="{DIM[1]}"', f'fontcolor="{DIM[2]}"']
        out.append(f"  {source} -> {target} [{', '.join(attrs)}];")
    out.append("}")
    return "\n".join(out) + "\n"


def _mclimit(procedure: Procedure) -> float:
    """How hard dot works at fewer crossings: fully up to 300 boxes; a quarter beyond, where its passes over
    thousands of edges take tens of seconds for little gain (1,000 boxes: from about 40 s to 3 s)."""
    return 1.0 if len(procedure.nodes) <= _FULL_EFFORT else 0.25


def _groups(nodes: list[Node]) -> list[tuple[str, list[Node]]]:
    """``nodes`` by group (``""``: none), in the order the groups first appear."""
    out: dict[str, list[Node]] = {}
    for node in nodes:
        out.setdefault(node.group, []).append(node)
    return list(out.items())


def _columns(stage: Stage, nodes: list[Node]) -> list[list[Node]]:
    """The stage's nodes by column: one column per stage, but one per depth of the route tree."""
    if stage is not Stage.ROUTES:
        return [nodes]
    depth: dict[int, list[Node]] = {}
    for node in nodes:
        depth.setdefault(str(node.facts.get("path", "")).count(".routes["), []).append(node)
    return [depth[d] for d in sorted(depth)]


def _quoted(text: str) -> str:
    """``text`` inside a DOT double-quoted string: no escape sequence of DOT's own (``\\n``, ``\\N``) is left
    to act, and ``&`` is written as an entity, since Graphviz reads entities in every label."""
    return text.replace("&", "&amp;").replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


def render_svg(procedure: Procedure, path: Path | None = None, *, dot: str | None = None) -> str:
    """The SVG Graphviz's ``dot`` draws of :func:`render_dot`'s source (``dot``: the program, else found on
    the PATH). Raises ``GraphvizError`` when it is missing or fails, saying how to install it."""
    program = dot or shutil.which("dot")
    if program is None:
        raise GraphvizError(
            "SVG needs Graphviz's dot program, which is not installed: apt-get install graphviz (Debian, "
            "Ubuntu), brew install graphviz (macOS); or ask for --format mermaid, markdown or json"
        )
    try:
        done = subprocess.run(
            [program, "-Tsvg"],
            input=render_dot(procedure, path).encode("utf-8"),
            capture_output=True,
            timeout=_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GraphvizError(f"Graphviz's dot could not draw the procedure: {exc}") from None
    if done.returncode != 0:
        why = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GraphvizError(
            f"Graphviz's dot failed (exit {done.returncode}): {why[-1] if why else 'no message'}"
        )
    return done.stdout.decode("utf-8")
