"""Out-of-range values: beyond declared bounds (fail on any) or beyond the reference's [min, max] (warn
when more than ``range_tolerance`` of the current values are outside)."""

from __future__ import annotations

import math

from vigil.quality.base import Bounds, Check, QualityRule, Status, pct
from vigil.stats.column import NumericProfile

__all__ = ["out_of_range"]


def out_of_range(name: str, ref: NumericProfile, cur: NumericProfile, rule: QualityRule) -> Check | None:
    if cur.count == 0:
        return None
    declared = rule.declared.get(name, Bounds())
    if declared.min is not None or declared.max is not None:
        lo = -math.inf if declared.min is None else declared.min
        hi = math.inf if declared.max is None else declared.max
        n = _outside(cur, lo, hi)
        values = {
            "min": lo,
            "max": hi,
            "count": n,
            "share": n / cur.count,
            "current_min": cur.moments.min,
            "current_max": cur.moments.max,
        }
        if n:
            return Check(
                "out_of_range",
                name,
                "fail",
                f"{n} values ({pct(n / cur.count)}) outside the declared [{lo:g}, {hi:g}]",
                values,
            )
        return Check("out_of_range", name, "pass", f"all values within the declared [{lo:g}, {hi:g}]", values)
    if ref.count == 0:
        return None
    lo, hi = ref.moments.min, ref.moments.max
    n = _outside(cur, lo, hi)
    share = n / cur.count
    values = {
        "min": lo,
        "max": hi,
        "count": n,
        "share": share,
        "current_min": cur.moments.min,
        "current_max": cur.moments.max,
    }
    status: Status = "warn" if share > rule.range_tolerance else "pass"
    return Check(
        "out_of_range",
        name,
        status,
        f"{pct(share)} of values outside the reference's range [{lo:.4g}, {hi:.4g}]",
        values,
    )


def _outside(p: NumericProfile, lo: float, hi: float) -> int:
    """Values outside [lo, hi]: exactly 0 when the exact min and max are inside, else estimated from the
    sketch (at least 1, since the exact min or max is outside)."""
    below = 0 if p.moments.min >= lo else max(1, round(p.sketch.rank(lo)))
    above = 0 if p.moments.max <= hi else max(1, round(p.sketch.count - p.sketch.rank(hi)))
    return int(below + above)
