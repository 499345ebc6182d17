"""Self-contained HTML rendering of a drift report.

:func:`render_html` takes the JSON-ready dict produced by ``Report.to_dict()`` and returns one HTML document
with inline CSS, a little inline JavaScript (sorting and filtering the summary table) and inline SVG charts
drawn here from the report's histograms. Nothing is loaded from the network, so the file opens offline, and
since the dict only holds bounded histograms and summaries, the size of the page does not depend on how many
rows were compared.

Everything that comes from the data (column names, category labels, sources, messages) goes through Jinja's
autoescaping; the template never marks user data as safe.
"""

from __future__ import annotations

import functools
import math
import numbers
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jinja2

__all__ = ["environment", "render_html"]

#: Categorical charts show at most this many categories (the largest ones); the rest are counted.
MAX_CATEGORIES = 20

# Chart geometry, in SVG user units (the SVG scales down with the window).
_CHART_WIDTH = 540
_LABEL_WIDTH = 132
_VALUE_ROOM = 46  # room right of the longest bar for its percentage
_LEGEND_HEIGHT = 26
_AXIS_HEIGHT = 22
_BAR_HEIGHT = 9
_BAR_GAP = 1
_GROUP_GAP = 7
_LABEL_CHARS = 18  # labels longer than this are shortened (full text in a tooltip)

_DASH = "—"
_STATUS_ORDER = {"fail": 0, "error": 0, "warn": 1, "pass": 2}


# --------------------------------------------------------------------------------------------------
# number formatting


def _real(x: object) -> float | None:
    """``x`` as a float if it is a real number (not a bool), else None."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        return None
    return float(x)


def _sci(x: float, sig: int) -> str:
    mantissa, exponent = f"{x:.{max(sig - 1, 0)}e}".split("e")
    if "." in mantissa:
        mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exponent)}"


def fmt_number(x: object, sig: int = 3) -> str:
    """A number for people: ``sig`` significant digits, thousands separators, ``—`` for None.

    >>> [fmt_number(v) for v in (None, 0.2134, 100000, 41234.6, 1.5e-7, float("nan"), float("-inf"))]
    ['—', '0.213', '100,000', '41,235', '1.5e-7', 'NaN', '−∞']
    """
    if x is None:
        return _DASH
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, numbers.Integral):
        return f"{int(x):,}"
    value = _real(x)
    if value is None:
        return str(x)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude < 1e-3 or magnitude >= 1e15:
        return _sci(value, sig)
    if magnitude >= 10**sig or value.is_integer():
        return f"{round(value):,}"
    return f"{value:.{sig}g}"


def fmt_p_value(p: object) -> str:
    """p-values: two significant digits, scientific below 0.001.

    >>> [fmt_p_value(v) for v in (1.23e-40, 0.0342, 0.5, 1.0, 0.0, None)]
    ['1.2e-40', '0.034', '0.5', '1', '<1e-300', '—']
    """
    value = _real(p)
    if value is None or not math.isfinite(value):
        return fmt_number(p)
    if value == 0:
        return "<1e-300"
    if value < 1e-3:
        return _sci(value, 2)
    return f"{value:.2g}"


def fmt_percent(share: object) -> str:
    """A share in [0, 1] as a percentage with up to 3 significant digits.

    >>> [fmt_percent(v) for v in (0.25, 0.125, 1 / 3, 0.0004, 0.0, None)]
    ['25%', '12.5%', '33.3%', '0.04%', '0%', '—']
    """
    value = _real(share)
    if value is None or not math.isfinite(value):
        return fmt_number(share)
    return f"{value * 100:.3g}%"


def _fmt_share(share: float | None) -> str:
    if share is None:
        return _DASH
    if 0 < share < 0.001:
        return "<0.1%"
    return f"{share * 100:.1f}%"


def _sort_key(x: object) -> str:
    """The ``data-sort`` value of a numeric cell: parseFloat-able, or empty (sorted last)."""
    value = _real(x)
    if value is None or math.isnan(value):
        return ""
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return repr(value)


def _text(x: object, default: str = _DASH) -> str:
    return default if x is None else str(x)


# --------------------------------------------------------------------------------------------------
# view model handed to the template


@dataclass(frozen=True)
class Tick:
    x: float
    text: str


@dataclass(frozen=True)
class ChartRow:
    label: str
    full_label: str
    y: float
    cur_y: float
    label_y: float
    ref_width: float
    cur_width: float
    ref_text: str
    cur_text: str


@dataclass(frozen=True)
class Chart:
    kind: str
    width: int
    height: int
    label_width: int
    bar_height: int
    bars_bottom: float
    rows: list[ChartRow]
    ticks: list[Tick]
    hidden: int
    hidden_ref: str
    hidden_cur: str


@dataclass(frozen=True)
class StatRow:
    key: str
    reference: str
    current: str


@dataclass(frozen=True)
class ColumnView:
    name: str
    anchor: str
    type: str
    method: str
    method_title: str
    statistic: str
    statistic_sort: str
    p_value: str
    p_value_sort: str
    p_adjusted: bool
    p_raw: str
    alpha: str
    effect: str
    effect_sort: str
    threshold: str
    threshold_sort: str
    threshold_source: str
    ratio: str
    drift: bool | None
    error_bound: str | None
    note: str | None
    stats: list[StatRow]
    chart: Chart | None


@dataclass(frozen=True)
class QualityRow:
    check: str
    column: str
    status: str
    message: str


def _nice_step(top: float, max_ticks: int = 5) -> float:
    """A 1/2/5 x 10^k step so that 0..top takes at most ``max_ticks`` steps."""
    raw = top / max_ticks
    power = 10.0 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if factor * power >= raw:
            return factor * power
    return 10 * power  # pragma: no cover - the loop always returns


def _share(values: Sequence[Any], i: int) -> float | None:
    if i >= len(values):
        return None
    value = _real(values[i])
    if value is None or not math.isfinite(value):
        return None
    return max(value, 0.0)


def _shorten(label: str) -> str:
    return label if len(label) <= _LABEL_CHARS else label[: _LABEL_CHARS - 1] + "…"


def _build_chart(dist: object) -> Chart | None:
    if not isinstance(dist, Mapping):
        return None
    labels_raw = dist.get("labels") or []
    if not isinstance(labels_raw, Sequence) or isinstance(labels_raw, str | bytes) or not labels_raw:
        return None
    labels = [_text(label, "(null)") for label in labels_raw]
    kind = str(dist.get("kind") or "categories")
    ref_raw = dist.get("reference") or []
    cur_raw = dist.get("current") or []
    ref_vals: Sequence[Any] = ref_raw if isinstance(ref_raw, Sequence) else []
    cur_vals: Sequence[Any] = cur_raw if isinstance(cur_raw, Sequence) else []
    ref = [_share(ref_vals, i) for i in range(len(labels))]
    cur = [_share(cur_vals, i) for i in range(len(labels))]

    shown = list(range(len(labels)))
    hidden: list[int] = []
    if kind != "bins" and len(labels) > MAX_CATEGORIES:
        by_size = sorted(shown, key=lambda i: -max(ref[i] or 0.0, cur[i] or 0.0))
        keep = set(by_size[:MAX_CATEGORIES])
        shown = [i for i in shown if i in keep]
        hidden = [i for i in range(len(labels)) if i not in keep]

    top = max([v for i in shown for v in (ref[i], cur[i]) if v is not None] + [0.0])
    step = _nice_step(top) if top > 0 else 0.25
    axis_max = step * math.ceil(top / step) if top > 0 else 1.0
    bar_span = _CHART_WIDTH - _LABEL_WIDTH - _VALUE_ROOM

    def width(v: float | None) -> float:
        return 0.0 if v is None else round(bar_span * min(v / axis_max, 1.0), 1)

    group = 2 * _BAR_HEIGHT + _BAR_GAP + _GROUP_GAP
    rows = [
        ChartRow(
            label=_shorten(labels[i]),
            full_label=labels[i],
            y=_LEGEND_HEIGHT + k * group,
            cur_y=_LEGEND_HEIGHT + k * group + _BAR_HEIGHT + _BAR_GAP,
            label_y=_LEGEND_HEIGHT + k * group + _BAR_HEIGHT + _BAR_GAP / 2,
            ref_width=width(ref[i]),
            cur_width=width(cur[i]),
            ref_text=_fmt_share(ref[i]),
            cur_text=_fmt_share(cur[i]),
        )
        for k, i in enumerate(shown)
    ]
    bars_bottom = _LEGEND_HEIGHT + len(shown) * group - _GROUP_GAP / 2
    n_ticks = round(axis_max / step)
    ticks = [
        Tick(x=round(_LABEL_WIDTH + bar_span * j / n_ticks, 1), text=f"{axis_max * j / n_ticks * 100:.3g}%")
        for j in range(n_ticks + 1)
    ]
    return Chart(
        kind="bins" if kind == "bins" else "categories",
        width=_CHART_WIDTH,
        height=math.ceil(bars_bottom + _AXIS_HEIGHT),
        label_width=_LABEL_WIDTH,
        bar_height=_BAR_HEIGHT,
        bars_bottom=bars_bottom,
        rows=rows,
        ticks=ticks,
        hidden=len(hidden),
        hidden_ref=_fmt_share(sum(ref[i] or 0.0 for i in hidden)),
        hidden_cur=_fmt_share(sum(cur[i] or 0.0 for i in hidden)),
    )


def _summary_rows(reference: object, current: object) -> list[StatRow]:
    ref = reference if isinstance(reference, Mapping) else {}
    cur = current if isinstance(current, Mapping) else {}
    keys = list(ref) + [k for k in cur if k not in ref]
    return [
        StatRow(key=str(k), reference=fmt_number(ref.get(k), 4), current=fmt_number(cur.get(k), 4))
        for k in keys
    ]


def _ratio(effect: object, threshold: object) -> float | None:
    e, t = _real(effect), _real(threshold)
    if e is None or t is None or math.isnan(e) or math.isnan(t):
        return None
    if t == 0:
        return math.inf if e > 0 else None
    return e / t


def _anchor(index: int, name: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")[:40]
    return f"col-{index}-{slug}" if slug else f"col-{index}"


def _column_view(index: int, name: str, col: Mapping[str, Any]) -> ColumnView:
    p_adj = col.get("p_value_adjusted")
    p_shown = p_adj if p_adj is not None else col.get("p_value")
    drift = col.get("drift")
    ratio = _ratio(col.get("effect"), col.get("threshold"))
    error_bound = col.get("error_bound")
    note = col.get("note")
    return ColumnView(
        name=name,
        anchor=_anchor(index, name),
        type=_text(col.get("type")),
        method=_text(col.get("method")),
        method_title=_text(col.get("method_title") or col.get("method")),
        statistic=fmt_number(col.get("statistic")),
        statistic_sort=_sort_key(col.get("statistic")),
        p_value=fmt_p_value(p_shown),
        p_value_sort=_sort_key(p_shown),
        p_adjusted=p_adj is not None,
        p_raw=fmt_p_value(col.get("p_value")),
        alpha=fmt_number(col.get("alpha")),
        effect=fmt_number(col.get("effect")),
        effect_sort=_sort_key(col.get("effect")),
        threshold=fmt_number(col.get("threshold")),
        threshold_sort=_sort_key(col.get("threshold")),
        threshold_source=_text(col.get("threshold_source"), ""),
        ratio=_DASH if ratio is None else f"{fmt_number(ratio, 2)}×",
        drift=None if drift is None else bool(drift),
        error_bound=None if error_bound is None else fmt_number(error_bound),
        note=None if note is None or note == "" else str(note),
        stats=_summary_rows(col.get("reference"), col.get("current")),
        chart=_build_chart(col.get("distribution")),
    )


def _default_order(item: tuple[str, Mapping[str, Any]]) -> tuple[int, float, str]:
    name, col = item
    ratio = _ratio(col.get("effect"), col.get("threshold"))
    return (0 if col.get("drift") else 1, -(ratio if ratio is not None else -math.inf), name)


def _verdict(report: Mapping[str, Any], threshold: object) -> tuple[bool, str]:
    n_drifted, n_tested = report.get("n_drifted"), report.get("n_tested")
    share = report.get("drift_share")
    if share is None and isinstance(n_drifted, int) and isinstance(n_tested, int) and n_tested > 0:
        share = n_drifted / n_tested
    detected = bool(report.get("dataset_drift"))
    details = (
        f"{fmt_number(n_drifted)} of {fmt_number(n_tested)} columns drifted "
        f"({fmt_percent(share)}, threshold {fmt_percent(threshold)})"
    )
    return detected, ("Dataset drift detected: " if detected else "No dataset drift: ") + details


_SETTING_NAMES = {
    "alpha": "alpha",
    "correction": "multiple-testing correction",
    "drift_share": "dataset drift threshold (share of columns)",
    "exact": "exact statistics",
    "bins": "bins",
}


def _settings(settings: Mapping[str, Any]) -> list[tuple[str, str]]:
    items: list[tuple[str, str]] = []
    for key, value in settings.items():
        if key == "drift_share":
            text = fmt_percent(value)
        elif isinstance(value, str):
            text = value
        else:
            text = fmt_number(value)
        items.append((_SETTING_NAMES.get(str(key), str(key)), text))
    return items


def _mapping(x: object) -> Mapping[str, Any]:
    return x if isinstance(x, Mapping) else {}


def _build_context(report: Mapping[str, Any]) -> dict[str, Any]:
    settings = _mapping(report.get("settings"))
    reference, current = _mapping(report.get("reference")), _mapping(report.get("current"))
    columns_raw = _mapping(report.get("columns"))
    ordered = sorted(((str(name), _mapping(col)) for name, col in columns_raw.items()), key=_default_order)
    columns = [_column_view(i, name, col) for i, (name, col) in enumerate(ordered)]
    detected, verdict = _verdict(report, settings.get("drift_share"))

    quality_raw = report.get("quality") or []
    quality = [
        QualityRow(
            check=_text(q.get("check")),
            column=_text(q.get("column")),
            status=_text(q.get("status"), "unknown").lower(),
            message=_text(q.get("message"), ""),
        )
        for q in (quality_raw if isinstance(quality_raw, Sequence) else [])
        if isinstance(q, Mapping)
    ]
    quality.sort(key=lambda q: (_STATUS_ORDER.get(q.status, 3), q.column, q.check))
    quality_counts = {s: sum(1 for q in quality if q.status == s) for s in ("fail", "warn", "pass")}

    skipped = [(str(k), _text(v, "")) for k, v in _mapping(report.get("skipped")).items()]
    return {
        "version": _text(report.get("vigil_version")),
        "generated_at": _text(report.get("generated_at")),
        "reference": {"source": _text(reference.get("source")), "rows": fmt_number(reference.get("rows"))},
        "current": {"source": _text(current.get("source")), "rows": fmt_number(current.get("rows"))},
        "detected": detected,
        "verdict": verdict,
        "columns": columns,
        "skipped": skipped,
        "quality": quality,
        "quality_counts": quality_counts,
        "settings": _settings(settings),
        "multivariate": _multivariate(report.get("multivariate")),
        "impact": [str(s) for s in (_mapping(report.get("importance")).get("summary") or [])],
    }


def _multivariate(joint: object) -> dict[str, Any] | None:
    """The joint tests' table: each method's statistic, its normal band, p-value and verdict."""
    if not isinstance(joint, Mapping):
        return None
    methods = []
    for m in joint.get("methods") or []:
        lower = m.get("lower_threshold")
        upper = fmt_number(m.get("threshold"))
        methods.append(
            {
                "title": _text(m.get("title")),
                "statistic": fmt_number(m.get("statistic")),
                "band": f"{fmt_number(lower)} – {upper}" if lower is not None else f"≤ {upper}",
                "p_value": fmt_number(m.get("p_value")),
                "drift": bool(m.get("drift")),
            }
        )
    features = [str(f) for f in joint.get("features") or []]
    return {
        "drift": bool(joint.get("drift")),
        "features": features,
        "note": joint.get("note"),
        "methods": methods,
    }


@functools.cache
def environment() -> jinja2.Environment:
    """The reports' Jinja environment (package templates, autoescaped, strict about undefined names); one
    per process."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("vigil.reports", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(report: Mapping[str, Any]) -> str:
    """Render a report dict (as from ``Report.to_dict()``) as one self-contained HTML document."""
    template = environment().get_template("report.html.j2")
    return template.render(**_build_context(report))
