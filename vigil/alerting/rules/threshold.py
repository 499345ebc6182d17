"""``threshold``: the value against fixed levels.

``op: ">"`` breaches when value > level (``warning`` below ``critical``), ``op: "<"`` when value < level
(``warning`` above ``critical``); the highest level passed is the severity. At least one level.
"""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from vigil.alerting.evaluate.window import Window
from vigil.alerting.rules.base import Evaluation, MetricRule, by_rank, finite, fmt, levels_of, problem
from vigil.alerting.state import Severity

__all__ = ["ThresholdRule"]


class ThresholdRule(MetricRule):
    kind: Literal["threshold"] = "threshold"
    op: Literal[">", "<"] = ">"
    warning: float | None = None
    critical: float | None = None

    @model_validator(mode="after")
    def _check_levels(self) -> ThresholdRule:
        w, c = self.warning, self.critical
        if w is None and c is None:
            raise problem(
                "warning", "a threshold rule needs warning and/or critical", "add e.g. critical: 0.1"
            )
        if w is not None and c is not None:
            if self.op == ">" and not w < c:
                raise problem(
                    "warning",
                    f"warning ({w:g}) must be below critical ({c:g}) for '>' rules",
                    "lower warning or raise critical",
                )
            if self.op == "<" and not w > c:
                raise problem(
                    "warning",
                    f"warning ({w:g}) must be above critical ({c:g}) for '<' rules",
                    "raise warning or lower critical",
                )
        return self

    @property
    def lower_is_worse(self) -> bool:
        return self.op == "<"

    def levels(self) -> dict[Severity, float]:
        """The levels given, by severity."""
        return levels_of(self.warning, self.critical)

    @property
    def severities(self) -> tuple[Severity, ...]:
        return by_rank(self.levels())

    def condition(self) -> str:
        """``error_rate > 0.05 warning, > 0.1 critical``: each level given, warning first."""
        levels = ", ".join(f"{self.op} {limit:g} {s.value}" for s, limit in self.levels().items())
        return f"{self.metric} {levels}"

    def breached(self, value: float | None, baseline: float | None = None) -> Severity | None:
        """The highest level ``value`` passes (strictly, on the side of ``op``); None for no value."""
        if value is None or not finite(value):
            return None
        for level in (Severity.CRITICAL, Severity.WARNING):
            limit = self.levels().get(level)
            if limit is not None and (value > limit if self.op == ">" else value < limit):
                return level
        return None

    def judge(self, window: Window) -> Evaluation:
        value = window.value()
        breached = self.breached(value)
        levels = self.levels()
        shown = breached or (Severity.WARNING if Severity.WARNING in levels else Severity.CRITICAL)
        return Evaluation(self, window.model, window.start, window.end, value, None, levels[shown], breached)

    def describe(self, ev: Evaluation, where: str) -> tuple[str, dict[str, str]]:
        return f"{self.metric} of {where} is {fmt(ev.value)} ({self.op} {fmt(ev.threshold)})", {}
