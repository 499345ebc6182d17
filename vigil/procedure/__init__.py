"""The monitoring procedure as a diagram, generated from vigil.yaml (``vigil sop``, ``GET /v1/procedure``).

What an audit or an on-call's first week asks for, drawn from the config itself: the inference points
(models, versions, environments, owners) → the telemetry they send → the metrics computed from it → the
rules watching them (levels, windows, ``for``; the default rules and SLOs included) → the routes of the
Alertmanager-style tree that take their alerts → the receivers → the runbooks → the incidents → the
remediation actions (triggers, cooldowns, approvals), with what can mute an alert on the way.

* :mod:`~vigil.procedure.sections` checks every section together (what ``vigil validate`` reports);
* :mod:`~vigil.procedure.build` makes the :class:`~vigil.procedure.graph.Procedure` (nodes in stages, typed
  edges, stable ids); routing is the dispatcher's own code, rule by rule and severity by severity;
* :mod:`~vigil.procedure.path` traces one alert's labels through it, as ``amtool config routes test`` does,
  and says which routes, receivers, runbook and actions it meets;
* renderers: :mod:`~vigil.procedure.mermaid`, :mod:`~vigil.procedure.markdown`, :mod:`~vigil.procedure.dot`
  (DOT, and SVG through Graphviz's ``dot``), :mod:`~vigil.procedure.data` (JSON). Each highlights a path.

Same config, same bytes: every order is the config's, and no renderer reads a clock or a set's order.

>>> from vigil.config import parse_config
>>> config = parse_config('''
... models: {m: {task: binary, owner: {team: t}}}
... alerting: {receivers: [{name: ops, webhook: "http://127.0.0.1/hook"}]}
... ''')
>>> render(check_sections(config), "text", ["alertname=NoData model=m severity=warning"]).splitlines()[0]
'ops'
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Literal, get_args

from vigil.errors import InputError
from vigil.procedure.build import build
from vigil.procedure.data import procedure_data
from vigil.procedure.dot import GraphvizError, render_dot, render_svg
from vigil.procedure.graph import Edge, EdgeKind, Node, Procedure, Stage
from vigil.procedure.markdown import render_markdown
from vigil.procedure.mermaid import render_mermaid
from vigil.procedure.path import Path, parse_labels, trace
from vigil.procedure.sections import Sections, check_sections, load_sections

__all__ = [
    "FORMATS",
    "MEDIA_TYPES",
    "Edge",
    "EdgeKind",
    "Format",
    "GraphvizError",
    "Node",
    "Path",
    "Procedure",
    "Sections",
    "Stage",
    "build",
    "check_sections",
    "load_sections",
    "parse_labels",
    "procedure_data",
    "render",
    "render_dot",
    "render_markdown",
    "render_mermaid",
    "render_svg",
    "trace",
]

Format = Literal["mermaid", "markdown", "svg", "dot", "json", "text"]
FORMATS: tuple[str, ...] = get_args(Format)
MEDIA_TYPES: dict[str, str] = {
    "mermaid": "text/vnd.mermaid; charset=utf-8",
    "markdown": "text/markdown; charset=utf-8",
    "svg": "image/svg+xml",
    "dot": "text/vnd.graphviz; charset=utf-8",
    "json": "application/json",
    "text": "text/plain; charset=utf-8",
}
"""The media type of each format's answer."""


def render(sections: Sections, fmt: str, alert: Sequence[str] = (), *, complete: bool = True) -> str:
    """The procedure of ``sections`` in format ``fmt`` (one of :data:`FORMATS`), the path of the alert with
    the labels ``alert`` (``name=value`` items, :func:`parse_labels`) highlighted when given. ``text`` is the
    path in words, so it needs ``alert``. Raises ``InputError`` for a bad format or label, ``GraphvizError``
    when SVG cannot be drawn."""
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    labels = parse_labels(alert)
    path = trace(sections, labels, complete=complete) if alert else None
    if fmt == "text":
        if path is None:
            raise InputError("format text is the path of an alert: give its labels, e.g. alertname=NoData")
        return path.text()
    procedure = build(sections)
    if fmt == "json":
        return json.dumps(procedure_data(procedure, path), indent=2, ensure_ascii=False) + "\n"
    renderer = {"mermaid": render_mermaid, "markdown": render_markdown, "svg": render_svg, "dot": render_dot}
    return renderer[fmt](procedure, path)
