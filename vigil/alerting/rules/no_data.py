"""``no_data``: the model sent no events in the evaluation window; with ``for`` that is "no events for
``for``". Its metric is ``events`` (leave ``metric`` out); with a ``segment`` it is ``predictions`` (none of
that segment's predictions were logged). It breaches at ``severity`` (warning unless set).
"""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from vigil.alerting.evaluate.window import Window
from vigil.alerting.rules.base import Evaluation, RuleBase, finite, problem
from vigil.alerting.state import Severity

__all__ = ["NoDataRule"]


class NoDataRule(RuleBase):
    kind: Literal["no_data"] = "no_data"
    severity: Severity = Severity.WARNING

    @model_validator(mode="after")
    def _check_metric(self) -> NoDataRule:
        if self.metric not in ("", "events", "predictions"):
            raise problem("metric", f"a no_data rule watches events, not {self.metric!r}", "remove metric")
        object.__setattr__(self, "metric", "predictions" if self.segment is not None else "events")
        return self

    @property
    def lower_is_worse(self) -> bool:
        return True

    @property
    def severities(self) -> tuple[Severity, ...]:
        return (self.severity,)

    def condition(self) -> str:
        """``no events (warning)``."""
        return f"no {self.metric} ({self.severity.value})"

    def breached(self, value: float | None, baseline: float | None = None) -> Severity | None:
        """``severity`` when ``value`` (the events counted) is 0."""
        return self.severity if finite(value) and value == 0 else None

    def judge(self, window: Window) -> Evaluation:
        found = window.value()
        value = 0.0 if found is None else found
        return Evaluation(
            self, window.model, window.start, window.end, value, None, 0.0, self.breached(value)
        )

    def describe(self, ev: Evaluation, where: str) -> tuple[str, dict[str, str]]:
        return f"{where} sent no {self.metric} in [{ev.start:.0f}, {ev.end:.0f})", {}
