"""Missing values: nulls (a broken feature pipeline), entirely null columns, and infinities."""

from __future__ import annotations

from vigil.quality.base import Check, QualityRule, Status, pct
from vigil.stats.column import ColumnProfile, NumericProfile

__all__ = ["infinite_values", "null_rate"]


def null_rate(name: str, ref: ColumnProfile, cur: ColumnProfile, rule: QualityRule) -> Check:
    """Fail when the current null rate rose by more than ``null_rate_fail`` (absolute) over the reference's,
    warn above ``null_rate_warn``; a rise must also be significant (one-sided Fisher exact test, p < 0.01) so
    a few nulls in a tiny sample do not warn. An entirely null current column always fails."""
    r, c = ref.null_share, cur.null_share
    values = {"reference": r, "current": c, "current_nulls": cur.nulls, "current_rows": cur.rows}
    if cur.rows and cur.nulls == cur.rows:
        return Check("null_rate", name, "fail", f"entirely null in current ({cur.rows} rows)", values)
    if ref.rows and ref.nulls == ref.rows:
        return Check("null_rate", name, "warn", "entirely null in reference: nothing to compare with", values)
    rise = c - r
    # the exact test only where its answer can change the verdict (it needs scipy.stats, slow to import)
    significant = (
        rise > min(rule.null_rate_warn, rule.null_rate_fail)
        and _rise_p_value(ref.nulls, ref.rows, cur.nulls, cur.rows) < 0.01
    )
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
    """One-sided p-value that the second null proportion is higher than the first: Fisher's exact test
    (hypergeometric tail). The z-test's normal approximation fails on few nulls: with none in the reference,
    one null in 20 current rows gave p ~ 1e-12 where the exact chance is 20/1020."""
    if n1 == 0 or n2 == 0:
        return 1.0
    from scipy import stats  # deferred: most of a second to import, and most comparisons never get here

    return float(stats.hypergeom.sf(x2 - 1, n1 + n2, x1 + x2, n2))


def infinite_values(name: str, ref: NumericProfile, cur: NumericProfile) -> Check | None:
    """Infinities (a division by zero upstream): warn when their share rose significantly (the same
    exact test as nulls), fail when every non-null current value is infinite. They are kept out of the
    statistics, so without this check they would go unnoticed."""
    if cur.non_finite == 0 and ref.non_finite == 0:
        return None
    r, c = ref.non_finite / max(ref.rows, 1), cur.non_finite / max(cur.rows, 1)
    values = {"reference": r, "current": c, "current_count": cur.non_finite}
    if cur.non_finite and cur.count == 0:
        return Check(
            "infinite_values", name, "fail", f"every value in current is infinite ({cur.non_finite})", values
        )
    rose = c > r and _rise_p_value(ref.non_finite, ref.rows, cur.non_finite, cur.rows) < 0.01
    status: Status = "warn" if rose else "pass"
    return Check("infinite_values", name, status, f"infinite values {pct(r)} → {pct(c)}", values)
