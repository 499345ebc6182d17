"""Out-of-range values: beyond declared bounds (fail on any) or beyond the reference's [min, max] (warn
when the share of current values outside exceeds the reference's own by more than ``range_tolerance``).

Infinities count as outside any finite range. The profile keeps their number, not their sign, so against
one-sided declared bounds they are not counted (they may lie on the open side).
"""

from __future__ import annotations

import math

from vigil.quality.base import Bounds, Check, QualityRule, Status, pct
from vigil.stats.column import NumericProfile

__all__ = ["out_of_range"]


def out_of_range(name: str, ref: NumericProfile, cur: NumericProfile, rule: QualityRule) -> Check | None:
    total = cur.count + cur.non_finite
    if total == 0:
        return None
    declared = rule.declared.get(name, Bounds())
    if declared.min is not None or declared.max is not None:
        lo = -math.inf if declared.min is None else declared.min
        hi = math.inf if declared.max is None else declared.max
        infinite = cur.non_finite if math.isfinite(lo) and math.isfinite(hi) else 0
        n = _outside(cur, lo, hi) + infinite
        values = _values(lo, hi, n, total, cur)
        if n:
            return Check(
                "out_of_range",
                name,
                "fail",
                f"{n} values ({pct(n / total)}) outside the declared [{lo:g}, {hi:g}]",
                values,
            )
        return Check("out_of_range", name, "pass", f"all values within the declared [{lo:g}, {hi:g}]", values)
    if ref.count == 0:
        return None
    lo, hi = ref.moments.min, ref.moments.max
    n = _outside(cur, lo, hi) + cur.non_finite
    share = n / total
    ref_share = ref.non_finite / (ref.count + ref.non_finite)  # the reference's infinities, outside too
    values = _values(lo, hi, n, total, cur)
    status: Status = "warn" if share > ref_share + rule.range_tolerance else "pass"
    return Check(
        "out_of_range",
        name,
        status,
        f"{pct(share)} of values outside the reference's range [{lo:.4g}, {hi:.4g}]",
        values,
    )


def _values(lo: float, hi: float, n: int, total: int, cur: NumericProfile) -> dict[str, float | int | None]:
    return {
        "min": lo,
        "max": hi,
        "count": n,
        "share": n / total,
        "non_finite": cur.non_finite,
        "current_min": cur.moments.min if cur.count else None,
        "current_max": cur.moments.max if cur.count else None,
    }


def _outside(p: NumericProfile, lo: float, hi: float) -> int:
    """Finite values outside [lo, hi]: exactly 0 when the exact min and max are inside, else estimated from
    the sketch (at least 1, since the exact min or max is outside)."""
    if p.count == 0:
        return 0
    below = 0 if p.moments.min >= lo else max(1, round(p.sketch.rank(lo)))
    above = 0 if p.moments.max <= hi else max(1, round(p.sketch.count - p.sketch.rank(hi)))
    return int(below + above)
