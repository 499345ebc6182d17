"""Null rate: a column filling with nulls (a broken feature pipeline), or entirely null."""

from __future__ import annotations

import math

from scipy import stats

from vigil.quality.base import Check, QualityRule, Status, pct
from vigil.stats.column import ColumnProfile

__all__ = ["null_rate"]


def null_rate(name: str, ref: ColumnProfile, cur: ColumnProfile, rule: QualityRule) -> Check:
    """Fail when the current null rate rose by more than ``null_rate_fail`` (absolute) over the reference's,
    warn above ``null_rate_warn``; a rise must also be significant (two-proportion z-test, p < 0.01) so a
    few nulls in a tiny sample do not warn. An entirely null current column always fails."""
    r, c = ref.null_share, cur.null_share
    values = {"reference": r, "current": c, "current_nulls": cur.nulls, "current_rows": cur.rows}
    if cur.rows and cur.nulls == cur.rows:
        return Check("null_rate", name, "fail", f"entirely null in current ({cur.rows} rows)", values)
    if ref.rows and ref.nulls == ref.rows:
        return Check("null_rate", name, "warn", "entirely null in reference: nothing to compare with", values)
    rise = c - r
    significant = _rise_p_value(ref.nulls, ref.rows, cur.nulls, cur.rows) < 0.01
    status: Status
    if significant and rise > rule.null_rate_fail:
        status = "fail"
    elif significant and rise > rule.null_rate_warn:
        status = "warn"
    else:
        status = "pass"
    message = (
        f"null rate rose {pct(r)} → {pct(c)}" if rise > 0 else f"null rate {pct(c)} (reference {pct(r)})"
    )
    return Check("null_rate", name, status, message, values)


def _rise_p_value(x1: int, n1: int, x2: int, n2: int) -> float:
    """One-sided p-value that the second null proportion is higher than the first."""
    if n1 == 0 or n2 == 0:
        return 1.0
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 0.0 if x2 / n2 > x1 / n1 else 1.0
    z = (x2 / n2 - x1 / n1) / se
    return float(stats.norm.sf(z))
