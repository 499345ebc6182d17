"""What a live metric is: ``Metric`` (a name, its help and unit, and how it reads one ``Step`` of a series),
and what a label metric's figure comes with (``Support``: how many labels, their coverage, and a Wilson
interval for a proportion).

A step's realised-performance state (``Step.classification``, ``Step.regression``) is built once, from the
step's labelled predictions, on the first read, and shared by every metric of the step. The module imports
nothing heavy (numpy is needed only once a step is read), so checking a metric name costs no numpy.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import vigil.performance as performance_types
    from vigil.drift.multivariate import MultivariateOutcome
    from vigil.monitoring.predictions import Joined
    from vigil.monitoring.window import WindowState
    from vigil.performance.estimation import Band, Estimator

__all__ = ["CONFIDENCE", "Drift", "Metric", "Source", "Step", "Support"]

Source = Literal["window", "rows", "drift", "hosts", "feedback"]

CONFIDENCE = 0.95
"""The confidence of the Wilson intervals beside proportion metrics."""


@dataclass(frozen=True)
class Drift:
    """What the drift metrics read of a comparison with the baseline: its share of drifted columns, each
    compared column's effect size (NaN where the method gives none) and the columns that drifted."""

    share: float
    effects: Mapping[str, float]
    drifted: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Step:
    """What one step of a series offers a metric."""

    seconds: float
    window: WindowState | None
    """The step's windows merged (None when it has none)."""
    rows: Joined
    """The step's predictions with their labels (only the segment's with a segment)."""
    task: str
    segmented: bool
    drift: Callable[[], Drift | None]
    """The baseline compared with the step's window (computed once, on first use, or kept from an earlier
    read of the same events; None without a baseline)."""
    hosts: Mapping[str, float]
    """Mean host readings of the step (``cpu_percent``, ...), where there are any."""
    feedback: Mapping[str, Sequence[float]] = field(default_factory=dict)
    """The feedback given in the step, by kind (``thumb``, ``rating``, ``eval:<evaluator>``); read only
    when a feedback metric is asked for."""
    min_group: int = 30
    """The model's ``fairness.min_group``: smaller groups are left out of the fairness figures."""
    estimator: Callable[[], Estimator | None] = lambda: None
    """The model's performance estimator (``vigil.monitoring.estimates``), fitted on first use; None
    without a baseline of labelled scores."""
    joint: Callable[[], MultivariateOutcome | None] = lambda: None
    """The step's sampled events against the baseline file, jointly (``vigil.monitoring.multivariate``);
    None without a baseline file or with too few sampled events."""

    @cached_property
    def estimates(self) -> dict[str, Band] | None:
        """The step's estimated metrics (``vigil.monitoring.estimated``); computed once per step."""
        from vigil.monitoring.estimated import estimates

        return estimates(self)

    @cached_property
    def shift(self) -> tuple[dict[str, Band], dict[str, float]] | None:
        """Estimated and realised figures of the step's labelled predictions; computed once per step."""
        from vigil.monitoring.estimated import shift

        return shift(self)

    @cached_property
    def classification(self) -> performance_types.ClassificationState:
        """The labelled predictions' confusion counts (and, for a binary model, its score's histograms,
        log loss and Brier sums: the score is class ``1``'s probability); built once per step."""
        return self.rows.realised_classification(binary=self.task == "binary")

    @cached_property
    def regression(self) -> performance_types.RegressionState:
        """The labelled numeric predictions' error sums and sketch; built once per step."""
        return self.rows.realised_regression()

    @cached_property
    def labelled(self) -> int:
        """Predictions of the step whose label has arrived."""
        return self.rows.labelled_count() if len(self.rows) else 0


@dataclass(frozen=True)
class Support:
    """What a label metric's figure rests on: ``labelled`` predictions in the step, ``label_coverage``
    (their share of the step's predictions), and, for a proportion, its 95% Wilson interval (``lower``,
    ``upper``)."""

    labelled: int
    label_coverage: float | None
    lower: float | None = None
    upper: float | None = None


@dataclass(frozen=True)
class Metric:
    """One metric: how to compute it, and what it is."""

    name: str
    help: str
    unit: str
    """``events``, ``events/s``, ``ratio`` (0–1), ``ms``, ``s``, ``tokens``, ``USD``, ``percent``, or the
    model's own unit (``score``, ``prediction``, ``label``)."""
    source: Source
    compute: Callable[[Step, str | None], float | None]
    """The value of a step (NaN, infinities and None: no value); the second argument is the feature (or
    class) of a per-feature (per-class) metric."""
    labels: bool = False
    """Needs ground-truth labels."""
    segment: bool = False
    """Readable for one segment."""
    tasks: tuple[str, ...] = ()
    """Model tasks it applies to (empty: all); other tasks read no value."""
    when_idle: float | None = None
    """The value of a step without events (0 for counts; None: no value)."""
    proportion: Callable[[Step, str | None], tuple[int, int] | None] | None = None
    """For a proportion of the labelled predictions: its (successes, trials), for the Wilson interval."""
    band: Callable[[Step, str | None], tuple[float, float] | None] | None = None
    """For an estimate: its band (lower, upper), given as the support's interval."""
    sampled: bool = False
    """A figure over the labelled predictions, noisy when they are few: alert rules judge it only with at
    least ``min_labels`` labels in the window."""

    def read(self, step: Step, feature: str | None = None) -> float | None:
        """The metric's value for ``step``, or None when it has none."""
        if self.tasks and step.task not in self.tasks:
            return None
        idle = step.window is None or step.window.events == 0
        if self.source in ("window", "drift") and not step.segmented and idle:
            return self.when_idle
        value = self.compute(step, feature)
        return None if value is None or not math.isfinite(value) else float(value)

    def support(self, step: Step, feature: str | None = None) -> Support | None:
        """What the figure of a label metric rests on (None for other metrics, and other tasks)."""
        if (not self.labels and self.band is None) or (self.tasks and step.task not in self.tasks):
            return None
        n = len(step.rows)
        coverage = step.labelled / n if n else None
        lower = upper = None
        if self.band is not None:
            found = self.band(step, feature)
            if found is not None:
                lower, upper = found
            return Support(step.labelled, coverage, lower, upper)
        counts = self.proportion(step, feature) if self.proportion is not None and step.labelled else None
        if counts is not None and counts[1] > 0:
            from vigil.performance.interval import wilson  # numpy only once a step is read

            lower, upper = wilson(counts[0], counts[1], CONFIDENCE)
        return Support(step.labelled, coverage, lower, upper)
