"""What a data-quality check answers, and the settings the checks share."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Bounds", "Check", "QualityRule", "Status"]

Status = Literal["pass", "warn", "fail"]


@dataclass(frozen=True)
class Check:
    """One check's verdict: ``status`` with a sentence and the numbers behind it."""

    check: str
    column: str | None
    status: Status
    message: str
    values: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "column": self.column,
            "status": self.status,
            "message": self.message,
            "values": dict(self.values),
        }


@dataclass(frozen=True)
class Bounds:
    """What a column is declared to hold (from the config): numeric bounds, allowed categories."""

    min: float | None = None
    max: float | None = None
    allowed: Sequence[str] | None = None


@dataclass(frozen=True)
class QualityRule:
    """The config's ``quality:`` section."""

    null_rate_warn: float = 0.01
    null_rate_fail: float = 0.05
    range_tolerance: float = 0.001
    unseen_tolerance: float = 0.0
    declared: Mapping[str, Bounds] = field(default_factory=dict)


def pct(x: float) -> str:
    """A share as a percentage that keeps small numbers visible (0.004%, 2.1%, 45%)."""
    if x == 0:
        return "0%"
    p = 100 * x
    return f"{p:.2g}%" if p < 10 else f"{p:.0f}%"
