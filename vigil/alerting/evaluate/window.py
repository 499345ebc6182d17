"""Which window a rule judges at ``now``, and the reads of its metric there.

For a rule of ``window`` ``W`` on a model of resolution ``R`` (its window length): the width is ``W`` rounded
up to a multiple of ``R`` (at least ``R``). The evaluation window is the last *complete* window
``[e - width, e)`` with ``e = floor(now / width) × width``; a ``sliding`` rule judges the latest complete
model windows instead, ``e = floor(now / R) × R``. Complete windows hold all their events (bar late ones),
and an aligned start is where ``Query.series`` starts its steps; a sliding window's value is read with steps
starting at ``e`` (``origin=e``), while its history stays on whole multiples of the width.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from vigil.alerting.evaluate.source import MetricSource, Points
from vigil.spec import ModelSpec

__all__ = ["LABELLED", "Window", "width_of"]

LABELLED = "labelled"
"""The metric that counts a step's labelled predictions (read beside a rule's metric for ``min_labels``)."""


def width_of(window: timedelta, resolution: float) -> float:
    """``window`` in seconds rounded up to a multiple of ``resolution`` (seconds), at least one."""
    return float(max(resolution, math.ceil(window.total_seconds() / resolution) * resolution))


@dataclass(frozen=True)
class Window:
    """``[start, end)`` of ``width`` seconds on ``model``, and the rule's ``metric`` read from ``source``."""

    model: str
    spec: ModelSpec
    source: MetricSource
    metric: str
    version: str | None
    segment: Mapping[str, str] | None
    start: float
    end: float
    width: float
    min_labels: int = 0
    """Steps with fewer labelled predictions than this read no value (a metric of the labels only)."""

    @classmethod
    def at(
        cls,
        now: float,
        model: str,
        spec: ModelSpec,
        source: MetricSource,
        *,
        metric: str,
        window: timedelta,
        sliding: bool = False,
        version: str | None = None,
        segment: Mapping[str, str] | None = None,
        min_labels: int = 0,
    ) -> Window:
        """The window a rule with these settings judges at ``now`` (see the module docstring)."""
        res = spec.window.total_seconds()
        width = width_of(window, res)
        grid = res if sliding else width
        end = math.floor(now / grid) * grid
        return cls(model, spec, source, metric, version, segment, end - width, end, width, min_labels)

    @property
    def aligned(self) -> bool:
        """Whether the window starts on a whole multiple of its width (else it slides)."""
        return self.end % self.width == 0

    def read(self, lo: float, hi: float, origin: float = 0.0) -> Points:
        """The metric over ``[lo, hi)`` in steps of the width, starting at whole multiples of it past
        ``origin``; a step with fewer than ``min_labels`` labels reads None."""
        names = [self.metric, LABELLED] if self.min_labels else [self.metric]
        got = self.source.series(
            self.model, names, lo, hi, self.width, self.version, segment=self.segment, origin=origin
        )
        if not self.min_labels:
            return got[self.metric]
        labelled = dict(got.get(LABELLED, []))
        return [(t, v if (labelled.get(t) or 0) >= self.min_labels else None) for t, v in got[self.metric]]

    def latest(self) -> float | None:
        """The value over ``[start, end)`` (read with steps starting at ``end`` when the window slides)."""
        if self.aligned:
            points = self.read(self.start, self.end)
        else:
            points = self.read(self.start, self.end, origin=self.end)
        return points[-1][1] if points and points[-1][0] == self.start else None

    def value(self) -> float | None:
        """The value of the window: the last step read over it (aligned), else :meth:`latest`."""
        if self.aligned:
            points = self.read(self.start, self.end)
            return points[-1][1] if points else None
        return self.latest()

    def trailing(self, span: timedelta) -> tuple[float | None, list[float]]:
        """The value and the finite values of the whole steps over ``span`` before the window (rounded up to
        whole widths); a sliding window's history ends at the last whole step before its start."""
        back = math.ceil(span.total_seconds() / self.width) * self.width
        if self.aligned:
            points = self.read(self.start - back, self.end)
            value = points[-1][1] if points and points[-1][0] == self.start else None
        else:
            below = math.floor(self.start / self.width) * self.width
            points, value = self.read(below - back, below), self.latest()
        history = [v for t, v in points if t < self.start and v is not None and math.isfinite(v)]
        return value, history
