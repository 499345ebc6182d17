"""Categories: values outside the declared list (fail on any) or never seen in the reference (warn when
their share exceeds ``unseen_tolerance``)."""

from __future__ import annotations

from vigil.quality.base import Bounds, Check, QualityRule, pct
from vigil.stats.column import CategoricalProfile

__all__ = ["unseen_categories"]

_SHOWN = 5


def unseen_categories(
    name: str, ref: CategoricalProfile, cur: CategoricalProfile, rule: QualityRule
) -> Check | None:
    if cur.count == 0:
        return None
    declared = rule.declared.get(name, Bounds())
    if declared.allowed is not None:
        allowed = {str(a) for a in declared.allowed}
        bad = {k: n for k, n in cur.top.counts.items() if k not in allowed}
        n = sum(bad.values()) + cur.top.other  # folded-away values cannot be shown to be allowed
        examples = _examples(bad)
        values = {"count": n, "share": n / cur.count, "examples": examples}
        if n:
            return Check(
                "unexpected_category",
                name,
                "fail",
                f"{n} values ({pct(n / cur.count)}) not in the declared list, e.g. "
                f"{', '.join(examples) or '(folded into other)'}",
                values,
            )
        return Check("unexpected_category", name, "pass", "all values in the declared list", values)
    if not ref.top.exact:
        return None  # the reference's tail was folded away: "unseen" cannot be told apart from "rare"
    unseen = {k: n for k, n in cur.top.counts.items() if k not in ref.top.counts}
    n = sum(unseen.values())
    share = n / cur.count
    examples = _examples(unseen)
    values = {"count": n, "share": share, "categories": len(unseen), "examples": examples}
    if share > rule.unseen_tolerance:
        return Check(
            "unseen_category",
            name,
            "warn",
            f"{len(unseen)} categories never seen in the reference ({pct(share)} of values), e.g. "
            f"{', '.join(examples)}",
            values,
        )
    return Check("unseen_category", name, "pass", "no categories unseen in the reference", values)


def _examples(counts: dict[str, int]) -> list[str]:
    return [k for k, _ in sorted(counts.items(), key=lambda kv: -kv[1])[:_SHOWN]]
