"""Constant columns: one value everywhere carries no information (a default filled in by a broken join)."""

from __future__ import annotations

from vigil.quality.base import Check
from vigil.stats.column import CategoricalProfile, ColumnProfile

__all__ = ["constant"]


def constant(name: str, ref: ColumnProfile, cur: ColumnProfile) -> Check | None:
    if cur.count < 2 or not _is_constant(cur):
        return None
    was = _is_constant(ref)
    value = _the_value(cur)
    message = f"constant: every value is {value}" + (
        " (as in the reference)" if was else " (the reference varied)"
    )
    return Check("constant_column", name, "warn", message, {"value": value, "reference_constant": was})


def _is_constant(p: ColumnProfile) -> bool:
    if isinstance(p, CategoricalProfile):
        return p.top.exact and len(p.top.counts) == 1
    return p.count > 0 and p.moments.min == p.moments.max


def _the_value(p: ColumnProfile) -> str:
    if isinstance(p, CategoricalProfile):
        return next(iter(p.top.counts))
    return f"{p.moments.min:g}"
