"""The procedure as JSON values: what ``GET /v1/procedure?format=json`` answers and a dashboard draws from."""

from __future__ import annotations

from typing import Any

from vigil.procedure.graph import STAGE_TITLES, Procedure, diagram_ids
from vigil.procedure.path import Path

__all__ = ["procedure_data"]


def procedure_data(procedure: Procedure, path: Path | None = None) -> dict[str, Any]:
    """Stages, nodes (with ``ref``, the id the SVG and Mermaid diagrams give the node), edges, notes, and the
    path when there is one."""
    ids = diagram_ids(procedure)
    return {
        "source": procedure.source,
        "stages": [{"id": stage.value, "title": STAGE_TITLES[stage]} for stage, _ in procedure.stages()],
        "nodes": [
            {
                "id": n.id,
                "ref": ids[n.id],
                "stage": n.stage.value,
                "group": n.group or None,
                "title": n.title,
                "lines": list(n.lines),
                "facts": dict(n.facts),
            }
            for n in procedure.nodes
        ],
        "edges": [
            {"source": e.source, "target": e.target, "kind": e.kind.value, "label": e.label}
            for e in procedure.edges
        ],
        "notes": list(procedure.notes),
        "path": path.as_dict() if path is not None else None,
    }
