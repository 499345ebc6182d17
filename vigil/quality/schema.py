"""Schema changes: a column missing, a new column, a column whose kind changed, values of the wrong type."""

from __future__ import annotations

from collections.abc import Mapping

from vigil.quality.base import Check, Status, pct
from vigil.stats.column import ColumnProfile, NumericProfile
from vigil.stats.profile import Profile

__all__ = ["schema", "type_mismatches"]


def schema(ref: Profile, cur: Profile, ignored: Mapping[str, object] | None = None) -> list[Check]:
    ignored = ignored or {}
    out: list[Check] = []
    ref_names = [n for n in ref.types if n not in ignored]
    cur_names = [n for n in cur.types if n not in ignored]
    missing = [n for n in ref_names if n not in cur.types]
    new = [n for n in cur_names if n not in ref.types]
    for name in missing:
        out.append(
            Check(
                "missing_column",
                name,
                "fail",
                "in the reference but missing from current",
                {"reference_type": ref.types[name]},
            )
        )
    for name in new:
        out.append(
            Check(
                "new_column",
                name,
                "warn",
                "in current but not in the reference (not compared)",
                {"current_type": cur.types[name]},
            )
        )
    for name in ref_names:
        if name in cur.types and _family(ref.types[name]) != _family(cur.types[name]):
            a, b = ref.columns.get(name), cur.columns.get(name)
            kind_changed = a is not None and b is not None and a.kind != b.kind
            mismatched = isinstance(b, NumericProfile) and b.type_mismatches > 0
            status: Status = "fail" if kind_changed or mismatched else "warn"
            out.append(
                Check(
                    "type_change",
                    name,
                    status,
                    f"type changed: {ref.types[name]} → {cur.types[name]}",
                    {"reference_type": ref.types[name], "current_type": cur.types[name]},
                )
            )
    if not out:
        out.append(Check("schema", None, "pass", f"same {len(ref_names)} columns and types", {}))
    return out


def type_mismatches(name: str, cur: ColumnProfile) -> Check | None:
    """Values that could not be read as the column's type (a word in a numeric CSV column, say)."""
    if not isinstance(cur, NumericProfile) or cur.type_mismatches == 0:
        return None
    share = cur.type_mismatches / max(cur.rows, 1)
    return Check(
        "type_mismatch",
        name,
        "fail",
        f"{cur.type_mismatches} values ({pct(share)}) are not numbers; they were counted as nulls",
        {"count": cur.type_mismatches, "share": share},
    )


def _family(arrow_type: str) -> str:
    """What a type means for monitoring: int64 vs double or string vs large_string is no schema change."""
    t = arrow_type.lower()
    if t == "bool":
        return "bool"
    if any(t.startswith(p) for p in ("int", "uint", "float", "double", "halffloat", "decimal")):
        return "number"
    if "string" in t or (t.startswith("dictionary") and "string" in t):
        return "text"
    if t.startswith(("timestamp", "date")):
        return "time"
    return t
