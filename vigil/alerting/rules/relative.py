"""``relative``: the value against a statistic of the same metric's recent past.

The baseline is the median (``baseline: median``, the default) or mean of the metric's per-window values
over the trailing ``baseline_window`` (7d by default) before the evaluation window (same step). ``op: ">"``
breaches when value > baseline × ``factor`` and/or value > baseline × (1 + ``percent``/100) (with both given,
both must hold); ``op: "<"`` when value < baseline / ``factor`` and/or value < baseline × (1 -
``percent``/100). It breaches at ``severity`` (warning unless set), never before ``min_baseline_points``
windows of the baseline have a value, and never above a baseline of 0 (nothing is "3x" a zero).
"""

from __future__ import annotations

import statistics
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import Field, model_validator

from vigil.alerting.evaluate.window import Window
from vigil.alerting.rules.base import Duration, Evaluation, MetricRule, finite, fmt, problem, span
from vigil.alerting.state import Severity

__all__ = ["RelativeRule"]


class RelativeRule(MetricRule):
    kind: Literal["relative"] = "relative"
    op: Literal[">", "<"] = ">"
    factor: float | None = None
    percent: float | None = None
    baseline: Literal["median", "mean"] = "median"
    baseline_window: Duration = timedelta(days=7)
    min_baseline_points: Annotated[int, Field(ge=1)] = 5
    severity: Severity = Severity.WARNING

    @model_validator(mode="after")
    def _check_bounds(self) -> RelativeRule:
        if self.factor is None and self.percent is None:
            raise problem("factor", "a relative rule needs factor and/or percent", "add e.g. factor: 3")
        if self.factor is not None and not self.factor > 1:
            raise problem("factor", f"factor must be > 1 (got {self.factor:g})", "use e.g. factor: 3")
        if self.percent is not None and not (self.percent > 0 and (self.op == ">" or self.percent < 100)):
            limit = "0 < percent < 100" if self.op == "<" else "percent > 0"
            raise problem("percent", f"percent must satisfy {limit} (got {self.percent:g})", "use e.g. 50")
        if self.baseline_window <= self.window:
            raise problem(
                "baseline_window",
                "baseline_window must be longer than window",
                "use e.g. baseline_window: 7d",
            )
        return self

    @property
    def lower_is_worse(self) -> bool:
        return self.op == "<"

    @property
    def severities(self) -> tuple[Severity, ...]:
        return (self.severity,)

    def condition(self) -> str:
        """``latency_p95 above 3x its trailing 7d median (warning)``."""
        hows = [f"{self.factor:g}x"] if self.factor is not None else []
        hows += [f"{self.percent:g}%"] if self.percent is not None else []
        how = " and ".join(hows)
        side = "above" if self.op == ">" else "below"
        return (
            f"{self.metric} {how} {side} its trailing {span(self.baseline_window)} {self.baseline} "
            f"({self.severity.value})"
        )

    def relative_bound(self, baseline: float) -> float:
        """The value the metric must pass (above for ``>``, below for ``<``) given the baseline statistic."""
        bounds = []
        if self.op == ">":
            if self.factor is not None:
                bounds.append(baseline * self.factor)
            if self.percent is not None:
                bounds.append(baseline * (1 + self.percent / 100))
            return max(bounds)
        if self.factor is not None:
            bounds.append(baseline / self.factor)
        if self.percent is not None:
            bounds.append(baseline * (1 - self.percent / 100))
        return min(bounds)

    def breached(self, value: float | None, baseline: float | None = None) -> Severity | None:
        """``severity`` when ``value`` passes the bound of ``baseline``; None without either."""
        if value is None or not finite(value) or baseline is None:
            return None
        bound = self.relative_bound(baseline)
        hit = value > bound if self.op == ">" else value < bound
        return self.severity if hit else None

    def judge(self, window: Window) -> Evaluation:
        value, history = window.trailing(self.baseline_window)
        baseline = None
        if len(history) >= self.min_baseline_points:
            baseline = statistics.median(history) if self.baseline == "median" else statistics.fmean(history)
        threshold = self.relative_bound(baseline) if baseline is not None else None
        if baseline is not None and baseline <= 0 and self.op == ">":
            threshold = None  # nothing is "3x" or "50% above" a zero baseline
        breached = self.breached(value, baseline) if threshold is not None else None
        return Evaluation(self, window.model, window.start, window.end, value, baseline, threshold, breached)

    def describe(self, ev: Evaluation, where: str) -> tuple[str, dict[str, str]]:
        how = f"{self.factor:g}x" if self.factor is not None else f"{self.percent:g}%"
        side = "above" if self.op == ">" else "below"
        what = (
            f"{self.metric} of {where} is {fmt(ev.value)}, {how} {side} its {self.baseline} "
            f"{fmt(ev.baseline)} (bound {fmt(ev.threshold)})"
        )
        return what, {}
