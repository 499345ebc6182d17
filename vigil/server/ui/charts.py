"""What a chart on a page is: the description ``vigil.js`` draws with uPlot, written into the page as JSON.

A chart holds its times (``x``, epoch seconds, one per step), one or more series of values (None where a
step has no value), and what explains it: deploys as marks, alert episodes as shaded bands (with their
severity), levels as dashed lines. Its ``summary`` is what a screen reader announces in its place.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from vigil.server.ui.render import fmt_number

__all__ = ["Band", "Chart", "Mark", "Points", "spark"]

Points = Sequence[tuple[float, float | None]]


@dataclass(frozen=True)
class Mark:
    """A moment on the time axis (a deploy, a rollback, a change a change rule detected)."""

    t: float
    label: str


@dataclass(frozen=True)
class Band:
    """A period on the time axis (an alert episode); ``to`` None: still going."""

    start: float
    end: float | None
    label: str
    severity: str


@dataclass
class Chart:
    """One chart: ``series`` maps a label to its points (all on the same steps)."""

    id: str
    title: str
    unit: str
    series: Mapping[str, Points]
    marks: Sequence[Mark] = ()
    bands: Sequence[Band] = ()
    thresholds: Sequence[tuple[float, str]] = ()
    """(value, severity) levels drawn as dashed lines."""
    kind: str = "line"
    """``line``, or ``spark`` (small, no axes)."""
    ymin: float | None = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not any(v is not None for points in self.series.values() for _, v in points)

    def spec(self) -> dict[str, Any]:
        """The JSON ``vigil.js`` draws (times from the first series; values rounded to 6 significant
        digits, so pages stay light)."""
        first = next(iter(self.series.values()), ())
        return {
            "kind": self.kind,
            "unit": self.unit,
            "x": [t for t, _ in first],
            "series": [{"label": k, "values": [_round(v) for _, v in pts]} for k, pts in self.series.items()],
            "marks": [{"t": m.t, "label": m.label} for m in self.marks],
            "bands": [
                {"from": b.start, "to": b.end, "label": b.label, "severity": b.severity} for b in self.bands
            ],
            "thresholds": [{"value": v, "severity": s} for v, s in self.thresholds],
            "ymin": self.ymin,
            **self.extra,
        }

    def summary(self) -> str:
        """In words, for screen readers: per series its latest value and range."""
        parts = []
        for label, points in self.series.items():
            values = [v for _, v in points if v is not None and math.isfinite(v)]
            if not values:
                parts.append(f"{label}: no data")
                continue
            u = self.unit
            parts.append(
                f"{label}: latest {fmt_number(values[-1], u)}, "
                f"min {fmt_number(min(values), u)}, max {fmt_number(max(values), u)}"
            )
        if self.bands:
            parts.append(f"{len(self.bands)} alert episode(s) marked")
        if self.marks:
            kinds = ", ".join(sorted({m.label.split(" ", 1)[0] for m in self.marks}))
            parts.append(f"{len(self.marks)} moment(s) marked ({kinds})")
        return f"{self.title}. " + "; ".join(parts)


def spark(id: str, title: str, unit: str, points: Points) -> Chart:
    """A sparkline: one series, no axes."""
    return Chart(id, title, unit, {title: points}, kind="spark")


def _round(v: float | None) -> float | None:
    if v is None or not math.isfinite(v):
        return None
    return float(f"{v:.6g}")


def marks_in(changes: Iterable[tuple[float, str]], start: float, end: float) -> list[Mark]:
    """The changes (time, label) that fall in ``[start, end]`` as marks."""
    return [Mark(t, label) for t, label in changes if start <= t <= end]
