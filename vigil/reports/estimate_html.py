"""Self-contained HTML page of a performance estimate (the dict ``estimate_files`` returns).

One chart per metric: the estimate per chunk as a line, its band shaded, the realised figure as a dot where
the chunk has labels (red when it lies outside the band: concept shift); then a table of every chunk.
Inline CSS and SVG, nothing fetched; data goes through Jinja's autoescaping.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from vigil._version import __version__
from vigil.reports.html import environment, fmt_number

__all__ = ["render_estimate_html"]

_W, _H = 540, 150
_LEFT, _RIGHT, _TOP, _BOTTOM = 40, 10, 10, 22

_NAMES = {
    "roc_auc": "ROC AUC",
    "accuracy": "Accuracy",
    "precision": "Precision",
    "recall": "Recall",
    "f1": "F1",
}


@dataclass(frozen=True)
class Dot:
    x: float
    y: float
    outside: bool
    title: str


@dataclass(frozen=True)
class MetricChart:
    name: str
    band: str
    line: str
    dots: list[Dot]
    ticks: list[tuple[float, str]]
    width: int = _W
    height: int = _H


def _chart(metric: str, chunks: Sequence[Mapping[str, Any]]) -> MetricChart:
    n = max(len(chunks), 1)
    lows, highs = [], []
    for c in chunks:
        e = c["estimated"][metric]
        if e["value"] is not None:
            lows.append(e["lower"])
            highs.append(e["upper"])
        if (r := (c.get("realised") or {}).get(metric)) is not None:
            lows.append(r)
            highs.append(r)
    bottom = max(0.0, min(lows, default=0.0) - 0.02)
    top = min(1.0, max(highs, default=1.0) + 0.02)
    span = max(top - bottom, 1e-6)

    def x(i: int) -> float:
        return round(_LEFT + (i + 0.5) * (_W - _LEFT - _RIGHT) / n, 1)

    def y(v: float) -> float:
        return round(_TOP + (top - v) / span * (_H - _TOP - _BOTTOM), 1)

    upper, lower, line, dots = [], [], [], []
    for i, c in enumerate(chunks):
        e = c["estimated"][metric]
        if e["value"] is not None:
            upper.append(f"{x(i)},{y(e['upper'])}")
            lower.append(f"{x(i)},{y(e['lower'])}")
            line.append(f"{x(i)},{y(e['value'])}")
        if (r := (c.get("realised") or {}).get(metric)) is not None:
            off = metric in (c.get("outside") or [])
            title = (
                f"rows {c['start']}–{c['end']}: realised {fmt_number(r)}, estimated {fmt_number(e['value'])}"
            )
            dots.append(Dot(x(i), y(r), off, title))
    ticks = [(y(v), fmt_number(v)) for v in (bottom, (bottom + top) / 2, top)]
    return MetricChart(_NAMES[metric], " ".join(upper + lower[::-1]), " ".join(line), dots, ticks)


def _cell(figure: Mapping[str, Any] | None) -> str:
    if not figure or figure.get("value") is None:
        return "—"
    return f"{fmt_number(figure['value'])} [{fmt_number(figure['lower'])}, {fmt_number(figure['upper'])}]"


def render_estimate_html(result: Mapping[str, Any]) -> str:
    """One HTML document for an estimate result (``vigil.comparison.estimate.estimate_files``)."""
    chunks = result["chunks"]
    metrics = result["metrics"]
    rows = [
        {
            "span": f"{c['start']:,}–{c['end']:,}",
            "estimated": [_cell(c["estimated"][m]) for m in metrics],
            "realised": [fmt_number((c.get("realised") or {}).get(m)) for m in metrics],
            "outside": set(c.get("outside") or []),
            "shift": c["concept_shift"],
        }
        for c in chunks
    ]
    template = environment().get_template("estimate.html.j2")
    return template.render(
        version=__version__,
        result=result,
        names=[_NAMES[m] for m in metrics],
        metrics=metrics,
        charts=[_chart(m, chunks) for m in metrics],
        rows=rows,
        labelled=sum(1 for c in chunks if c["concept_shift"] is not None),
    )
