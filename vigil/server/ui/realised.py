"""The realised-quality panel of a model's page: each label figure over the whole range with the labels
behind it (count, coverage) and, for a proportion, its 95% Wilson interval, and, for a binary model, the
score's reliability diagram drawn as inline SVG.

The figures are ``Query.readings`` with one step over the range (what ``GET /v1/models/{m}/metrics``
answers for it, ``support`` included); the diagram comes from the range's labelled predictions merged into
one ``ClassificationState`` (10 equal bins; mean predicted within 5e-5 of exact, observed share exact).
"""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup, escape

from vigil.monitoring.query import Query
from vigil.performance import ReliabilityBin
from vigil.spec import ModelSpec

__all__ = ["FIGURES", "Figure", "RealisedPanel", "realised_panel", "reliability_svg"]

FIGURES: dict[str, tuple[tuple[str, str], ...]] = {
    "binary": (
        ("accuracy", "Accuracy"),
        ("precision", "Precision (class 1)"),
        ("recall", "Recall (class 1)"),
        ("f1", "F1 (class 1)"),
        ("positive_rate", "Positive rate"),
        ("roc_auc", "ROC AUC"),
        ("pr_auc", "PR AUC (average precision)"),
        ("log_loss", "Log loss"),
        ("brier", "Brier score"),
        ("ece", "Expected calibration error"),
        ("estimated_accuracy", "Accuracy estimated from the scores (band ±3 SE)"),
        ("estimated_roc_auc", "ROC AUC estimated from the scores (band ±3 SE)"),
        ("concept_shift", "Concept shift (1: realised outside the estimate's band)"),
    ),
    "multiclass": (
        ("accuracy", "Accuracy"),
        ("precision_macro", "Precision (macro)"),
        ("recall_macro", "Recall (macro)"),
        ("f1_macro", "F1 (macro)"),
        ("f1_weighted", "F1 (weighted)"),
    ),
    "regression": (
        ("mae", "MAE"),
        ("rmse", "RMSE"),
        ("mape", "MAPE"),
        ("r2", "R²"),
        ("error_p50", "Absolute error p50"),
        ("error_p90", "Absolute error p90"),
    ),
}
"""The figures the panel shows, per task: (metric, label)."""


@dataclass(frozen=True)
class Figure:
    metric: str
    label: str
    value: float | None
    lower: float | None
    upper: float | None


@dataclass(frozen=True)
class RealisedPanel:
    figures: list[Figure]
    labelled: int
    label_coverage: float | None
    bins: list[ReliabilityBin]
    svg: Markup


def realised_panel(
    query: Query, name: str, spec: ModelSpec, start: float, end: float
) -> RealisedPanel | None:
    """The panel of ``name`` over ``[start, end)``; None for a task without labels (an LLM)."""
    wanted = FIGURES.get(spec.task)
    if wanted is None:
        return None
    res = spec.window.total_seconds()
    lo, hi = (start // res) * res, (end // res) * res  # whole model windows: one step over them
    if hi <= lo:
        return None
    got = query.readings(name, [m for m, _ in wanted], lo, hi, hi - lo, origin=hi, support=True)
    figures, labelled, coverage = [], 0, None
    for metric, label in wanted:
        last = got[metric][-1] if got[metric] else None
        s = last.support if last is not None else None
        lower, upper = (s.lower, s.upper) if s is not None else (None, None)
        figures.append(Figure(metric, label, last.value if last else None, lower, upper))
        if s is not None:
            labelled, coverage = s.labelled, s.label_coverage
    bins: list[ReliabilityBin] = []
    if spec.task == "binary":
        bins = query.joined(name, lo, hi).realised_classification(binary=True).reliability()
    return RealisedPanel(figures, labelled, coverage, bins, reliability_svg(bins))


_SIZE, _PAD = 240, 30


def reliability_svg(bins: list[ReliabilityBin]) -> Markup:
    """The reliability diagram: per bin a bar of the observed share of class 1 over the bin's score range
    and a dot at (mean predicted, observed), against the dashed diagonal of a calibrated score. Text
    alternative: its ``<title>`` and the table beside it."""
    inner = _SIZE - 2 * _PAD

    def x(v: float) -> float:
        return round(_PAD + v * inner, 1)

    def y(v: float) -> float:
        return round(_SIZE - _PAD - v * inner, 1)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_SIZE} {_SIZE}" width="{_SIZE}" '
        f'height="{_SIZE}" role="img" aria-labelledby="reliability-title" class="reliability">',
        '<title id="reliability-title">Reliability diagram: observed share of class 1 against the mean '
        "predicted score, per score bin; on the dashed diagonal the score is calibrated</title>",
        f'<rect x="{_PAD}" y="{_PAD}" width="{inner}" height="{inner}" fill="none" stroke="#8c959f"/>',
        f'<line x1="{x(0)}" y1="{y(0)}" x2="{x(1)}" y2="{y(1)}" stroke="#8c959f" stroke-dasharray="4 3"/>',
    ]
    for b in bins:
        top, width, height = y(b.observed), x(b.upper) - x(b.lower) - 2, round(y(0) - y(b.observed), 1)
        parts.append(
            f'<rect class="bin" x="{x(b.lower) + 1}" y="{top}" width="{width}" height="{height}" '
            f'fill="#9ecae1"><title>{escape(_bin_text(b))}</title></rect>'
        )
        parts.append(f'<circle cx="{x(b.predicted)}" cy="{y(b.observed)}" r="3" fill="#08519c"/>')
    for v in (0.0, 0.5, 1.0):
        parts.append(f'<text x="{x(v)}" y="{_SIZE - 10}" font-size="10" text-anchor="middle">{v:g}</text>')
        parts.append(f'<text x="{_PAD - 6}" y="{y(v) + 3}" font-size="10" text-anchor="end">{v:g}</text>')
    parts.append(
        f'<text x="{_SIZE / 2}" y="{_SIZE - 1}" font-size="10" text-anchor="middle">'
        "mean predicted score</text>"
    )
    parts.append("</svg>")
    return Markup("".join(parts))


def _bin_text(b: ReliabilityBin) -> str:
    return (
        f"scores {b.lower:g}–{b.upper:g}: {b.count} rows, mean score {b.predicted:.3f}, "
        f"observed {b.observed:.3f}"
    )
