"""The one thing evaluation reads: a metric source.

``vigil.monitoring.query.Query`` is one (the live metrics);
:class:`~vigil.alerting.evaluate.cache.SeriesCache` is one over another (the engine's rounds, and replays
over stored history). Rule kinds, SLOs, the live round, replay and threshold tuning all read through this
protocol and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from vigil.spec import ModelSpec

__all__ = ["Explain", "MetricSource", "Models", "Points"]

Points = list[tuple[float, float | None]]
"""``[(step start, value), ...]``; None where a step has no value."""


Explain = Callable[[str, float, float, str | None], list[str]]
"""``explain(model, start, end, version)``: the drifted features of the range that matter most, in
sentences (``vigil.monitoring.impact.Impact.drift_matters``); what a drift alert adds to its text."""


class Models(Protocol):
    """The registered models: ``vigil.registry.Registry`` is one."""

    def get(self, name: str) -> ModelSpec | None: ...

    def names(self) -> list[str]: ...


class MetricSource(Protocol):
    """Metric series and window states by model; see ``Query.series`` for the exact semantics."""

    @property
    def registry(self) -> Models: ...

    def series(
        self,
        model: str,
        names: Sequence[str],
        start: float,
        end: float,
        step: float | None = None,
        version: str | None = None,
        segment: Mapping[str, str] | None = None,
        origin: float = 0.0,
    ) -> dict[str, Points]:
        """``{name: points}`` over ``[start, end)``, steps starting at ``origin + k × step``."""
        ...

    def windows(self, model: str, start: float, end: float, version: str | None = None) -> Mapping[Any, Any]:
        """Window states of ``model`` starting in ``[start, end)`` (read by latency SLOs only)."""
        ...
