"""What every rule kind shares: its fields, their checks, and the verdict of a judgement.

A kind (one module each beside this one) subclasses :class:`RuleBase` with its ``kind`` literal, its own
fields and checks, and :meth:`RuleBase.judge`: how it turns its window of a metric series into a severity.
Checks raise ``vigil.errors.Invalid`` (of ``Issue``), each issue at the key it concerns, so a problem reads
the same wherever the rule was written (``rules:``, the API, code).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from vigil.alerting.evaluate.source import MetricSource
from vigil.alerting.evaluate.window import Window
from vigil.alerting.rules.error_budget import Slo, SloStatus
from vigil.alerting.state import Severity, Timing
from vigil.config.problems import choose
from vigil.errors import Invalid, Issue
from vigil.monitoring.catalogue import (
    METRICS,
    PER_ATTRIBUTE,
    PER_CLASS,
    PER_EVALUATOR,
    SEGMENT_METRICS,
    lookup,
    parse_segment,
    segment_text,
)
from vigil.spec import ModelSpec
from vigil.timefmt import format_span, parse_duration

__all__ = [
    "DEFAULT_MIN_LABELS",
    "PER_FEATURE",
    "Duration",
    "Evaluation",
    "MetricRule",
    "RuleBase",
    "by_rank",
    "finite",
    "fmt",
    "known_metric",
    "levels_of",
    "problem",
    "span",
    "zeros_to_none",
]

Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def span(d: timedelta) -> str:
    """A duration as a rule is written: its largest whole unit, weeks included (``5m``, ``1d``, ``2w``)."""
    return format_span(d, weeks=True)


PER_FEATURE = ("drift", "null_rate")

DEFAULT_MIN_LABELS = 100
"""Labelled predictions a window needs before a rule judges a metric of the labels (``min_labels``): at 100,
a 95% Wilson interval on an accuracy near 0.9 is about ±0.06 wide; a window of 40 labels does not page."""


def problem(key: str, message: str, hint: str) -> Invalid:
    """A rule problem at ``key`` (empty: the rule as a whole), to raise from a check."""
    return Invalid(Issue(message, hint, (key,) if key else ()))


def known_metric(name: str) -> bool:
    """True for a metric name ``Query.series`` knows: ``METRICS``, ``drift:<f>``, ``null_rate:<f>`` and the
    per-class ``precision:<class>``, ``recall:<class>``, ``f1:<class>``, and fairness figures of a segment tag
    (``disparate_impact:<attribute>``, ...), and an evaluator's ``eval_score:<evaluator>``: what the
    catalogue looks up."""
    try:
        lookup(name)
    except KeyError:
        return False
    return True


def fmt(value: float | None) -> str:
    """A value in an annotation: six significant digits, ``none`` for no value."""
    return "none" if value is None else f"{value:.6g}"


def zeros_to_none(data: Any) -> Any:
    """``data`` with a duration of 0 (``for``, ``keep_firing_for``) as None: "at once"."""
    # parse_duration refuses 0; "for: 0" means "at once" here, as in Prometheus.
    if isinstance(data, dict):
        data = dict(data)
        for key in ("for", "for_", "keep_firing_for"):
            if data.get(key) in (0, "0", "0s", 0.0):
                data[key] = None
    return data


@dataclass(frozen=True)
class Evaluation:
    """One rule on one model at one time: the window read, the value, the baseline and the verdict.

    Anomaly rules add ``z``, the history's ``mad`` (unscaled), the ``scale`` z divides by and the number of
    history ``points`` (``baseline`` is the history's median); slo rules add the SLO's ``status``; change
    rules the latest change's estimated start ``change_at`` and ``detected_at`` (step starts, seconds),
    ``points`` the changes detected over the replay and ``baseline`` the level before the latest."""

    rule: RuleBase
    model: str
    start: float
    end: float
    value: float | None
    baseline: float | None
    threshold: float | None
    breached: Severity | None
    z: float | None = None
    mad: float | None = None
    scale: float | None = None
    points: int | None = None
    status: SloStatus | None = None
    change_at: float | None = None
    detected_at: float | None = None


class RuleBase(BaseModel):
    """The fields of every rule (see :mod:`vigil.alerting.rules`); durations are timedeltas, written 30s,
    5m, 2h, 7d in YAML (``for`` is ``for_`` in code)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False)

    REFUSED: ClassVar[Mapping[str, tuple[str, str]]] = {}
    """Keys of other kinds this kind refuses with its own (message, hint); others get a generic one."""

    kind: str
    name: Annotated[str, Field(min_length=1)]
    model: Annotated[str, Field(min_length=1)] = "*"
    version: str | None = None
    metric: str = ""
    segment: dict[str, str] | None = None
    window: Duration = timedelta(minutes=5)
    sliding: bool = False
    """Judge the latest complete model windows spanning ``window`` (:mod:`vigil.alerting.evaluate.window`)."""
    for_: Duration | None = Field(default=None, alias="for")
    keep_firing_for: Duration | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    owner: str | None = None
    runbook: str | None = None
    route: str | None = None
    summary: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _zero_durations(cls, data: Any) -> Any:
        return zeros_to_none(data)

    @field_validator("segment", mode="before")
    @classmethod
    def _segment(cls, value: object) -> object:
        if value is None:
            return None
        try:
            return parse_segment(value)
        except ValueError as exc:
            raise problem("", str(exc), "write it like region=eu, or as a mapping {region: eu}") from None

    @model_validator(mode="after")
    def _positive_window(self) -> RuleBase:
        if self.window <= timedelta(0):
            raise problem("window", "window must be positive", "write it like 5m")
        return self

    @property
    def segment_text(self) -> str | None:
        """The segment selector as text (``region=eu``), or None."""
        return None if self.segment is None else segment_text(self.segment)

    @property
    def timing(self) -> Timing:
        hold = self.for_.total_seconds() if self.for_ else 0.0
        keep = self.keep_firing_for.total_seconds() if self.keep_firing_for else 0.0
        return Timing(for_warning=hold, for_critical=hold, keep_firing_for=keep)

    @property
    def slo(self) -> Slo | None:
        """The objective an ``slo`` rule judges; None for the other kinds."""
        return None

    @property
    def lower_is_worse(self) -> bool:
        """Whether the value falls as things get worse: the peak of an episode is then its lowest value."""
        return False

    def applies_to(self, model: str) -> bool:
        return self.model in ("*", model)

    # judgement ----------------------------------------------------------------------------------------------

    def evaluate(self, model: str, spec: ModelSpec, source: MetricSource, now: float) -> Evaluation:
        """Read this rule's metric for ``model`` over its window at ``now`` and judge it."""
        window = Window.at(
            now,
            model,
            spec,
            source,
            metric=self.metric,
            window=self.window,
            sliding=self.sliding,
            version=self.version,
            segment=self.segment,
            min_labels=self.labels_needed,
        )
        return self.judge(window)

    @property
    def labels_needed(self) -> int:
        """The labels a window needs before its value is judged (0: none)."""
        return 0

    def judge(self, window: Window) -> Evaluation:
        """The verdict on ``window`` (each kind says how)."""
        raise NotImplementedError

    def breached(self, value: float | None, baseline: float | None = None) -> Severity | None:
        """The severity this rule's condition gives ``value`` (None: no breach, or no value)."""
        raise NotImplementedError

    @property
    def severities(self) -> tuple[Severity, ...]:
        """The severities this rule's alerts can have, the most severe first (each kind says which)."""
        raise NotImplementedError

    def condition(self) -> str:
        """When it breaches, in words: ``error_rate > 0.05 warning, > 0.1 critical`` (each kind says how)."""
        raise NotImplementedError

    # what its alerts say ------------------------------------------------------------------------------------

    def extra_labels(self) -> dict[str, str]:
        """Labels this kind adds to its alerts (after ``segment``, before ``team``)."""
        return {}

    def describe(self, ev: Evaluation, where: str) -> tuple[str, dict[str, str]]:
        """One sentence on what ``ev`` found on ``where``, and annotations this kind adds."""
        raise NotImplementedError

    def dashboard(self, ev: Evaluation) -> tuple[str, float, float]:
        """The metric names, start and step of the dashboard link of an alert (it ends at ``ev.end``)."""
        width = ev.end - ev.start
        return self.metric, ev.end - 12 * width, width


class MetricRule(RuleBase):
    """A rule on one metric of ``Query.series``: a name in ``METRICS``, ``drift:<feature>`` or
    ``null_rate:<feature>`` (``metric: drift`` with ``feature: income`` is ``drift:income``)."""

    feature: str | None = None
    min_labels: Annotated[int, Field(ge=0)] = DEFAULT_MIN_LABELS
    """A metric of the labels alone (accuracy, roc_auc, mae...) is judged only in windows holding at least
    this many labelled predictions; fewer read as no value (no breach, no history point)."""

    @property
    def labels_needed(self) -> int:
        metric, _ = lookup(self.metric)
        return self.min_labels if metric.sampled else 0

    @model_validator(mode="after")
    def _check_metric(self) -> MetricRule:
        metric = self.metric
        if not metric:
            raise problem("", "metric is missing", "add metric: e.g. error_rate or latency_p95")
        if self.feature is not None:
            if metric in PER_FEATURE or metric in PER_ATTRIBUTE:
                metric = f"{metric}:{self.feature}"
            elif metric.partition(":")[2] != self.feature:
                raise problem(
                    "feature",
                    f"feature {self.feature!r} does not apply to metric {metric!r}",
                    "use metric: drift or null_rate (or a fairness figure) with feature:, or remove feature",
                )
        if not known_metric(metric):
            known = [
                *METRICS,
                "drift:<feature>",
                "null_rate:<feature>",
                *(f"{c}:<class>" for c in PER_CLASS),
                *(f"{name}:<attribute>" for name in PER_ATTRIBUTE),
                *(f"{name}:<evaluator>" for name in PER_EVALUATOR),
            ]
            raise problem("metric", f"unknown metric {metric!r}", choose(metric, known, "metrics"))
        if self.segment is not None and metric not in SEGMENT_METRICS:
            raise problem(
                "segment",
                f"{metric} is not kept per segment (metric windows are per model and version); "
                f"segments apply to {', '.join(SEGMENT_METRICS)}",
                "remove segment, or watch one of those metrics",
            )
        object.__setattr__(self, "metric", metric)
        return self


def levels_of(warning: float | None, critical: float | None) -> dict[Severity, float]:
    """The levels given, by severity."""
    out = {}
    if warning is not None:
        out[Severity.WARNING] = warning
    if critical is not None:
        out[Severity.CRITICAL] = critical
    return out


def by_rank(levels: Mapping[Severity, float]) -> tuple[Severity, ...]:
    """The severities of ``levels``, the most severe first."""
    return tuple(sorted(levels, key=lambda s: -s.rank))


def finite(value: float | None) -> bool:
    """A value that can breach: not None and not NaN."""
    return value is not None and not math.isnan(value)
