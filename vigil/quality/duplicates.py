"""Duplicate rows: the same row several times (a retried batch written twice, a fan-out join)."""

from __future__ import annotations

from vigil.quality.base import Check, Status, pct
from vigil.stats.profile import Profile

__all__ = ["duplicate_rows"]


def duplicate_rows(ref: Profile, cur: Profile, tolerance: float = 0.01) -> Check:
    """Warn when the current share of duplicate rows exceeds the reference's by more than ``tolerance``."""
    r = ref.duplicate_rows / max(ref.rows, 1)
    c = cur.duplicate_rows / max(cur.rows, 1)
    values = {"reference": ref.duplicate_rows, "current": cur.duplicate_rows, "current_share": c}
    if cur.duplicate_rows == 0:
        return Check("duplicate_rows", None, "pass", "no duplicate rows", values)
    status: Status = "warn" if c > r + tolerance else "pass"
    return Check(
        "duplicate_rows",
        None,
        status,
        f"{cur.duplicate_rows} duplicate rows ({pct(c)}; reference {pct(r)})",
        values,
    )
