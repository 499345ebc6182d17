"""What the diagrams share: a colour and a shape per stage, the path's colours, and each edge kind's look."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from vigil.procedure.graph import EdgeKind, Stage

__all__ = ["DIM", "DOTTED", "MAY_MUTE", "PATH", "STAGE_COLOURS"]

STAGE_COLOURS: Mapping[Stage, tuple[str, str]] = MappingProxyType(
    {
        Stage.MODELS: ("#dbeafe", "#1d4ed8"),
        Stage.TELEMETRY: ("#e0f2fe", "#0369a1"),
        Stage.METRICS: ("#ecfeff", "#0e7490"),
        Stage.RULES: ("#f1f5f9", "#334155"),
        Stage.ROUTES: ("#ede9fe", "#6d28d9"),
        Stage.RECEIVERS: ("#fae8ff", "#a21caf"),
        Stage.RUNBOOKS: ("#f0fdf4", "#15803d"),
        Stage.INCIDENTS: ("#fff1f2", "#be123c"),
        Stage.ACTIONS: ("#ffedd5", "#c2410c"),
        Stage.MUTES: ("#f8fafc", "#64748b"),
    }
)
"""(fill, stroke) of each stage's boxes: light fills, dark strokes, dark text on both."""

PATH = ("#fde68a", "#b45309")
"""(fill, stroke) of what a highlighted path goes through; its edges take the stroke."""
MAY_MUTE = ("#fffbeb", "#b45309")
"""(fill, stroke) of what may mute the path's alert: drawn dashed, for the alert does not go through it."""
DIM = ("#f8fafc", "#cbd5e1", "#94a3b8")
"""(fill, stroke, text) of what the path does not touch."""

DOTTED: frozenset[EdgeKind] = frozenset({EdgeKind.RUNBOOK, EdgeKind.OPENS, EdgeKind.BY_HAND})
"""Edges drawn dotted: what an alert links to or leads to, rather than where it goes."""
