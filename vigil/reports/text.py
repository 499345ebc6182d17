"""A plain-text summary of a report, for the terminal and CI logs."""

from __future__ import annotations

from vigil.reports.model import Report

__all__ = ["summary"]


def summary(report: Report) -> str:
    lines = []
    verdict = "YES" if report.dataset_drift else "no"
    lines.append(
        f"Dataset drift: {verdict} — {len(report.drifted)} of {report.n_tested} columns drifted "
        f"({report.drift_share:.0%}; dataset drift at ≥ {float(report.settings['drift_share']):.0%})"
    )
    ranked = sorted(report.columns.values(), key=lambda c: (not c.drift, -c.effect / (c.threshold or 1)))
    drifted = [c for c in ranked if c.drift]
    if drifted:
        width = max(len(c.column) for c in drifted)
        lines.append("Drifted columns:")
        for c in drifted:
            p = c.p_value_adjusted if c.p_value_adjusted is not None else c.p_value
            lines.append(
                f"  {c.column:<{width}}  {c.method:<14} effect {c.effect:.3g} ≥ {c.threshold:.3g}"
                f"  p {_p(p)}" + (f"  ({c.note})" if c.note else "")
            )
    counts = {s: sum(1 for q in report.quality if q.status == s) for s in ("fail", "warn", "pass")}
    lines.append(f"Data quality: {counts['fail']} fail, {counts['warn']} warn, {counts['pass']} pass")
    for q in report.quality:
        if q.status != "pass":
            lines.append(f"  {q.status.upper():<4}  {q.column or '(table)'}: {q.check}: {q.message}")
    if report.skipped:
        lines.append("Not tested:")
        lines.extend(f"  {n}: {why}" for n, why in report.skipped.items())
    return "\n".join(lines)


def _p(p: float | None) -> str:
    if p is None:
        return "—"
    if p < 1e-300:
        return "< 1e-300"
    return f"{p:.2g}"
