"""One feature of one model over a range, for its drill-down page: the reference and current distributions
and the test (from ``Query.drift``, as ``GET /v1/models/{m}/drift`` answers), its effect size and null
rate over time (``drift:<f>``, ``null_rate:<f>``, at the steps of the model page's heatmap), its quality
checks, example events from the stored sample, and the segments where it moved furthest.

**Segments.** Windows profile the whole traffic, not each segment, so the segments are judged on the raw
events the windows keep (each window's sample, up to the model's ``sample_size``): per value of each
segment tag, how far the feature's values sit from the baseline: the mean's shift in baseline standard
deviations for a number, the total variation distance of the category shares for a category. Only
segments with at least ``MIN_SEGMENT`` sampled events are ranked.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from vigil.comparison.report import ColumnDrift
from vigil.errors import InputError
from vigil.events import PREDICTION, SCORE, SEGMENT_PREFIX
from vigil.monitoring import llm_content
from vigil.monitoring.query import Query
from vigil.quality.base import Check
from vigil.server.ui.charts import Chart, Mark
from vigil.server.ui.detail import HEAT_POINTS
from vigil.server.ui.timerange import TimeRange, nice_step
from vigil.spec import ModelSpec

__all__ = ["MIN_SEGMENT", "FeatureDetail", "SegmentShift", "feature_detail"]

MIN_SEGMENT = 20
EXAMPLES = 20
_OUTPUTS = {"prediction": PREDICTION, "score": SCORE}


@dataclass(frozen=True)
class SegmentShift:
    tag: str
    value: str
    events: int
    shift: float
    """Mean shift in baseline standard deviations (numbers) or total variation distance (categories)."""
    summary: str
    """The segment's mean, or its most common value and share."""


@dataclass
class FeatureDetail:
    model: str
    feature: str
    step: float
    column: ColumnDrift | None
    problem: str | None
    checks: list[Check]
    charts: list[Chart]
    examples: list[dict[str, Any]]
    segments: list[SegmentShift]
    sampled: int
    """Sampled events the segments were judged on."""
    numeric: bool


def feature_detail(
    query: Query, name: str, spec: ModelSpec, feature: str, span: TimeRange, marks: Sequence[Mark]
) -> FeatureDetail:
    inner = _OUTPUTS.get(feature, feature)
    window = spec.window.total_seconds()
    # the model page's heatmap cells: each step is a comparison with the baseline (kept once worked out,
    # shared with the heatmap), and a minute of traffic says little about drift
    step = nice_step(span.span, window, HEAT_POINTS)
    column, checks, problem = None, [], None
    try:
        report = query.drift(name, span.start, span.end)
        column = report.columns.get(feature) or report.columns.get(f"{feature} (model output)")
        checks = [q for q in report.quality if q.column in (feature, f"{feature} (model output)")]
        if column is None:
            problem = report.skipped.get(feature) or f"{feature!r} was not compared with the baseline"
    except InputError as exc:
        problem = str(exc)
    names = [f"null_rate:{inner}"]
    if column is not None:
        names.insert(0, f"drift:{inner}")
    read = query.series(name, names, span.start, span.end, step)
    charts = []
    if column is not None:
        charts.append(
            Chart(
                "effect",
                f"{column.method_title} effect size",
                "",
                {"effect": read[f"drift:{inner}"]},
                marks,
                thresholds=[(column.threshold, "warning")],
                extra={"ymax": column.threshold * 1.2},
            )
        )
    charts.append(Chart("nulls", "Null rate", "%", {"null rate": read[f"null_rate:{inner}"]}, marks))
    windows = query.windows(name, span.start, span.end)
    rows = [orjson.loads(raw) for state in windows.values() for _, raw in state.sample]
    rows.sort(key=lambda r: -float(r.get("ts", 0.0)))
    if spec.task == "llm" and inner in (llm_content.PROMPT, PREDICTION):  # content that came after its span
        llm_content.fill(query.store, name, rows[:EXAMPLES])
    examples = [_example(r, inner) for r in rows[:EXAMPLES]]
    numeric = column.type == "numeric" if column is not None else _looks_numeric(rows, inner)
    segments = _segments(rows, inner, column, numeric)
    return FeatureDetail(
        name, feature, step, column, problem, checks, charts, examples, segments, len(rows), numeric
    )


def _example(row: dict[str, Any], inner: str) -> dict[str, Any]:
    return {
        "ts": float(row.get("ts", math.nan)),
        "value": row.get(inner),
        "version": row.get("version"),
        "prediction": row.get(PREDICTION),
        "score": row.get(SCORE),
        "segments": {k[len(SEGMENT_PREFIX) :]: v for k, v in row.items() if k.startswith(SEGMENT_PREFIX)},
        "request_id": row.get("request_id"),
    }


def _looks_numeric(rows: Sequence[dict[str, Any]], inner: str) -> bool:
    values = [r.get(inner) for r in rows if r.get(inner) is not None]
    return bool(values) and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def _segments(
    rows: Sequence[dict[str, Any]], inner: str, column: ColumnDrift | None, numeric: bool
) -> list[SegmentShift]:
    groups: dict[tuple[str, str], list[Any]] = {}
    for r in rows:
        for key, value in r.items():
            if key.startswith(SEGMENT_PREFIX):
                groups.setdefault((key[len(SEGMENT_PREFIX) :], str(value)), []).append(r.get(inner))
    out = []
    for (tag, value), values in groups.items():
        present = [v for v in values if v is not None]
        if len(values) < MIN_SEGMENT or not present:
            continue
        if numeric:
            nums = [float(v) for v in present if isinstance(v, int | float)]
            if not nums:
                continue
            mean = sum(nums) / len(nums)
            ref = column.reference if column is not None else {}
            ref_mean, ref_std = ref.get("mean"), ref.get("std")
            shift = (mean - ref_mean) / ref_std if ref_mean is not None and ref_std else math.nan
            out.append(SegmentShift(tag, value, len(values), shift, f"mean {mean:.4g}"))
        else:
            counts = Counter(str(v) for v in present)
            shares = {k: c / len(present) for k, c in counts.items()}
            dist = column.distribution if column is not None else None
            ref_shares = dict(zip(dist["labels"], dist["reference"], strict=False)) if dist else {}
            keys = set(shares) | set(ref_shares)
            gaps = (abs(shares.get(k, 0.0) - ref_shares.get(k, 0.0)) for k in keys)
            tvd = 0.5 * sum(gaps) if dist else math.nan
            top, n = counts.most_common(1)[0]
            out.append(SegmentShift(tag, value, len(values), tvd, f"{top} {n / len(present):.0%}"))
    out.sort(key=lambda s: -abs(s.shift) if math.isfinite(s.shift) else 0.0)
    return out
