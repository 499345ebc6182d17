"""A plain-text summary of a drift report, for the terminal and CI logs.

:func:`summary` takes the JSON-ready dict produced by ``Report.to_dict()``, as
:func:`vigil.reports.html.render_html` does; a value the JSON form holds as null (NaN, an infinity) prints
as ``—``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = ["summary"]


def summary(report: Mapping[str, Any]) -> str:
    """The verdict, the drifted columns (largest effect relative to its threshold first), the quality checks
    that did not pass, and what was not tested."""
    lines = []
    columns: Mapping[str, Mapping[str, Any]] = report["columns"]
    drift_share = float(report["drift_share"])
    verdict = "YES" if report["dataset_drift"] else "no"
    lines.append(
        f"Dataset drift: {verdict} — {report['n_drifted']} of {report['n_tested']} columns drifted "
        f"({drift_share:.0%}; dataset drift at ≥ {float(report['settings']['drift_share']):.0%})"
    )
    drifted = sorted((name for name, c in columns.items() if c["drift"]), key=lambda n: -_ratio(columns[n]))
    if drifted:
        width = max(len(name) for name in drifted)
        lines.append("Drifted columns:")
        for name in drifted:
            c = columns[name]
            p = c.get("p_value_adjusted")
            if p is None:
                p = c.get("p_value")
            lines.append(
                f"  {name:<{width}}  {c['method']:<14} effect {_g(c['effect'])} ≥ {_g(c['threshold'])}"
                f"  p {_p(p)}" + (f"  ({c['note']})" if c.get("note") else "")
            )
    impact = report.get("importance")
    if impact and impact["summary"]:
        lines.append("Drift that matters (by importance to the model's output × drift):")
        lines.extend(f"  {s}" for s in impact["summary"])
    lines.extend(_multivariate(report.get("multivariate")))
    quality: list[Mapping[str, Any]] = report["quality"]
    counts = {s: sum(1 for q in quality if q["status"] == s) for s in ("fail", "warn", "pass")}
    lines.append(f"Data quality: {counts['fail']} fail, {counts['warn']} warn, {counts['pass']} pass")
    for q in quality:
        if q["status"] != "pass":
            where = q["column"] or "(table)"
            lines.append(f"  {q['status'].upper():<4}  {where}: {q['check']}: {q['message']}")
    skipped: Mapping[str, str] = report["skipped"]
    if skipped:
        lines.append("Not tested:")
        lines.extend(f"  {n}: {why}" for n, why in skipped.items())
    return "\n".join(lines)


def _multivariate(joint: Mapping[str, Any] | None) -> list[str]:
    """One line for the joint verdict, one per method."""
    if joint is None:
        return []
    if not joint["methods"]:
        return [f"Multivariate drift: not tested — {joint.get('note', '')}"]
    verdict = "YES" if joint["drift"] else "no"
    lines = [f"Multivariate drift: {verdict} — over {len(joint['features'])} features"]
    for m in joint["methods"]:
        band = (
            f"{_g(m['lower_threshold'])}..{_g(m['threshold'])}"
            if m.get("lower_threshold") is not None
            else (f"≤ {_g(m['threshold'])}")
        )
        flag = "DRIFT" if m["drift"] else "ok"
        lines.append(f"  {m['title']:<40} {_g(m['statistic'])} (normal {band})  p {_p(m['p_value'])}  {flag}")
    return lines


def _ratio(column: Mapping[str, Any]) -> float:
    """A drifted column's effect over its threshold; an effect held as null (infinite) ranks first."""
    effect, threshold = column["effect"], column["threshold"]
    if effect is None:
        return math.inf
    return float(effect) / (threshold or 1)


def _g(x: float | None) -> str:
    return "—" if x is None else f"{x:.3g}"


def _p(p: float | None) -> str:
    if p is None:
        return "—"
    if p < 1e-300:
        return "< 1e-300"
    return f"{p:.2g}"
