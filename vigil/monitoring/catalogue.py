"""The metric catalogue: every live metric's name paired with its computation, unit and help.

``Query.series`` computes metrics from here; the API's metric list, rule validation and the docs read
their names and help from here, and ``problem(name)`` says what is wrong with a name (with a did-you-mean).
A metric reads one step of a series (``Step``): the merged window of the step (service, LLM and data
metrics), the predictions joined with their labels (label metrics, per segment too: the arithmetic is
``vigil.performance`` over their columns), the baseline comparison (drift), or the hosts' readings. The
module itself imports nothing heavy, so checking a rule's metric name costs no numpy.

Two metrics take a feature: ``drift:<feature>`` (the drift method's effect size against the baseline) and
``null_rate:<feature>``; three take a class: ``precision:<class>``, ``recall:<class>``, ``f1:<class>``.
The fairness figures take a segment tag (``PER_ATTRIBUTE``, computed in ``vigil.monitoring.fairness``):
``disparate_impact:<attribute>`` and the three differences.
The realised-quality metrics (AUCs, calibration, averages over classes, regression errors) are defined in
``realised``; ``Metric.support`` gives the labels behind a label metric's figure and, for a proportion, its
Wilson interval.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from vigil.monitoring.estimated import ESTIMATED
from vigil.monitoring.feedbacks import FEEDBACK, PER_EVALUATOR
from vigil.monitoring.metric import Drift, Metric, Step, Support
from vigil.monitoring.realised import PER_CLASS, REALISED, confusion_of
from vigil.monitoring.segments import Segment, parse_segment, segment_text

if TYPE_CHECKING:
    import vigil.performance as performance_types
    from vigil.drift.multivariate import MultivariateOutcome
    from vigil.monitoring.predictions import Joined
    from vigil.monitoring.window import WindowState

__all__ = [
    "CATALOGUE",
    "METRICS",
    "PER_ATTRIBUTE",
    "PER_CLASS",
    "PER_EVALUATOR",
    "PER_FEATURE",
    "SEGMENT_METRICS",
    "Drift",
    "Metric",
    "Segment",
    "Step",
    "Support",
    "lookup",
    "markdown",
    "parse_segment",
    "problem",
    "segment_text",
]


def _window(fn: Callable[[WindowState, float, str], float]) -> Callable[[Step, str | None], float | None]:
    def compute(step: Step, feature: str | None) -> float | None:
        assert step.window is not None
        return fn(step.window, step.seconds, step.task)

    return compute


_MIN_PRICED_CALLS = 20
"""Fewer priced calls than this in a step and one user's share of them says nothing (one call is 100%)."""


def _top_share(w: WindowState, tag: str) -> float:
    """The costliest value's share of the window's cost (NaN without cost, without that tag, or with
    fewer than ``_MIN_PRICED_CALLS`` priced calls)."""
    spenders = w.spend.get(tag)
    total = w.cost.mean * w.cost.count if w.cost.count else 0.0
    if spenders is None or not spenders.cost or not total > 0 or w.cost.count < _MIN_PRICED_CALLS:
        return math.nan
    return min(max(spenders.cost.values()) / total, 1.0)


def _output_mean(
    window: Callable[[WindowState, str], float], rows: Callable[[Joined, str], float]
) -> Callable[[Step, str | None], float | None]:
    """A mean over the window's profile, or over the segment's predictions when the series has a segment."""

    def compute(step: Step, feature: str | None) -> float | None:
        if step.segmented:
            return rows(step.rows, step.task)
        assert step.window is not None
        return window(step.window, step.task)

    return compute


def _labelled(fn: Callable[[Joined], float]) -> Callable[[Step, str | None], float | None]:
    """A metric of the labelled rows: None without rows or without labels."""

    def compute(step: Step, feature: str | None) -> float | None:
        rows = step.rows
        if not len(rows):
            return None
        done = rows.take(rows.labelled)
        return fn(done) if len(done) else None

    return compute


def _by_class(
    binary: Callable[[performance_types.Confusion], float],
    multiclass: Callable[[performance_types.ClassificationState], float],
) -> Callable[[Step, str | None], float | None]:
    """Binary: a figure of class 1's confusion counts; multiclass: a figure of every class's counts."""

    def compute(step: Step, feature: str | None) -> float | None:
        read = _labelled(
            (lambda r: binary(r.confusion()))
            if step.task == "binary"
            else lambda r: multiclass(r.classification())
        )
        return read(step, feature)

    return compute


def _binary(
    counts: Callable[[performance_types.Confusion], tuple[int, int]],
) -> Callable[[Step, str | None], tuple[int, int] | None]:
    """A binary model's class-1 proportion as (successes, trials); None for other tasks (a macro average is
    not one proportion)."""
    return lambda step, feature: counts(confusion_of(step, None)) if step.task == "binary" else None


def _coverage(step: Step, feature: str | None) -> float | None:
    return step.rows.label_coverage() if len(step.rows) else None


def _drift_share(step: Step, feature: str | None) -> float | None:
    drift = step.drift()
    return None if drift is None else drift.share


def _feature_drift(step: Step, feature: str | None) -> float | None:
    drift = step.drift()
    return None if drift is None else drift.effects.get(feature or "", math.nan)


def _joint(read: Callable[[MultivariateOutcome], float]) -> Callable[[Step, str | None], float | None]:
    def compute(step: Step, feature: str | None) -> float | None:
        outcome = step.joint()
        return None if outcome is None else read(outcome)

    return compute


def _host(reading: str) -> Callable[[Step, str | None], float | None]:
    return lambda step, feature: step.hosts.get(reading)


_CLASSES = ("binary", "multiclass")

CATALOGUE: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric(
            "events",
            "events in the step",
            "events",
            "window",
            _window(lambda w, s, t: w.events),
            when_idle=0.0,
        ),
        Metric(
            "throughput",
            "events per second",
            "events/s",
            "window",
            _window(lambda w, s, t: w.events / s),
            when_idle=0.0,
        ),
        Metric(
            "errors", "failed requests", "events", "window", _window(lambda w, s, t: w.errors), when_idle=0.0
        ),
        Metric(
            "error_rate",
            "share of requests that failed",
            "ratio",
            "window",
            _window(lambda w, s, t: w.error_rate),
        ),
        Metric(
            "latency_p50",
            "median latency, ms (1% relative error)",
            "ms",
            "window",
            _window(lambda w, s, t: w.latency_quantile(0.5)),
        ),
        Metric(
            "latency_p95",
            "95th percentile latency, ms",
            "ms",
            "window",
            _window(lambda w, s, t: w.latency_quantile(0.95)),
        ),
        Metric(
            "latency_p99",
            "99th percentile latency, ms",
            "ms",
            "window",
            _window(lambda w, s, t: w.latency_quantile(0.99)),
        ),
        Metric(
            "latency_mean",
            "mean latency, ms",
            "ms",
            "window",
            _window(lambda w, s, t: w.latency_moments.mean if w.latency_moments.count else math.nan),
        ),
        Metric(
            "score_mean",
            "mean score (positive-class probability)",
            "score",
            "window",
            _output_mean(lambda w, t: w.score_mean(), lambda r, t: r.score_mean()),
            segment=True,
        ),
        Metric(
            "prediction_mean",
            "mean prediction (regression); share of predictions of class 1 (binary)",
            "prediction",
            "window",
            _output_mean(lambda w, t: w.prediction_mean(t), lambda r, t: r.prediction_mean(t)),
            segment=True,
        ),
        Metric(
            "tokens_in",
            "input tokens",
            "tokens",
            "window",
            _window(lambda w, s, t: w.tokens_in),
            when_idle=0.0,
        ),
        Metric(
            "tokens_out",
            "output tokens",
            "tokens",
            "window",
            _window(lambda w, s, t: w.tokens_out),
            when_idle=0.0,
        ),
        Metric(
            "cost",
            "cost, USD",
            "USD",
            "window",
            _window(lambda w, s, t: w.cost.mean * w.cost.count if w.cost.count else 0.0),
            when_idle=0.0,
        ),
        Metric(
            "cost_per_prediction",
            "mean cost of one prediction, USD",
            "USD",
            "window",
            _window(lambda w, s, t: w.cost.mean if w.cost.count else math.nan),
        ),
        Metric(
            "top_spender_share",
            "the costliest user's share of the cost (`user` of `spend.by`; steps of 20 priced calls or more)",
            "ratio",
            "window",
            _window(lambda w, s, t: _top_share(w, "user")),
        ),
        Metric(
            "tokens_per_prediction",
            "mean tokens (in + out) per prediction",
            "tokens",
            "window",
            _window(lambda w, s, t: (w.tokens_in + w.tokens_out) / w.events),
        ),
        Metric(
            "null_rate",
            "share of nulls over all features",
            "ratio",
            "window",
            lambda s, f: s.window.null_rate(f) if s.window is not None else None,
        ),
        Metric(
            "drift_share", "share of features drifted against the baseline", "ratio", "drift", _drift_share
        ),
        Metric(
            "multivariate_drift",
            "1 when the sampled events' PCA reconstruction error left the baseline file's band "
            "(mean ± 3 sd), else 0; needs 100 sampled events in the step",
            "ratio",
            "drift",
            _joint(lambda o: float(o.drift)),
        ),
        Metric(
            "reconstruction_error",
            "mean PCA reconstruction error of the sampled events against the baseline file's components",
            "score",
            "drift",
            _joint(lambda o: o.statistic),
        ),
        Metric(
            "predictions",
            "predictions in the prediction log (sent with a request id; first per id)",
            "predictions",
            "rows",
            lambda s, f: float(len(s.rows)),
            segment=True,
        ),
        Metric(
            "accuracy",
            "share of labelled predictions that were right (classification)",
            "ratio",
            "rows",
            _labelled(lambda r: r.accuracy()),
            labels=True,
            segment=True,
            tasks=_CLASSES,
            proportion=lambda s, f: (s.classification.correct(), s.classification.rows),
            sampled=True,
        ),
        Metric(
            "precision",
            "labelled predictions of class 1 that were right (binary); macro average of classes (multiclass)",
            "ratio",
            "rows",
            _by_class(lambda c: c.precision, lambda s: s.precision("macro")),
            labels=True,
            segment=True,
            tasks=_CLASSES,
            proportion=_binary(lambda c: (c.tp, c.tp + c.fp)),
            sampled=True,
        ),
        Metric(
            "recall",
            "labelled cases of class 1 that were predicted 1 (binary); macro average of classes (multiclass)",
            "ratio",
            "rows",
            _by_class(lambda c: c.recall, lambda s: s.recall("macro")),
            labels=True,
            segment=True,
            tasks=_CLASSES,
            proportion=_binary(lambda c: (c.tp, c.tp + c.fn)),
            sampled=True,
        ),
        Metric(
            "f1",
            "harmonic mean of precision and recall (binary); the macro average of each class's (multiclass)",
            "ratio",
            "rows",
            _by_class(lambda c: c.f1, lambda s: s.f1("macro")),
            labels=True,
            segment=True,
            tasks=_CLASSES,
            sampled=True,
        ),
        Metric(
            "mae",
            "mean absolute error of labelled predictions (regression)",
            "label",
            "rows",
            _labelled(lambda r: r.mae()),
            labels=True,
            segment=True,
            tasks=("regression",),
            sampled=True,
        ),
        Metric(
            "rmse",
            "root mean squared error of labelled predictions (regression)",
            "label",
            "rows",
            _labelled(lambda r: r.rmse()),
            labels=True,
            segment=True,
            tasks=("regression",),
            sampled=True,
        ),
        *REALISED,
        *ESTIMATED,
        *FEEDBACK,
        Metric(
            "label_coverage",
            "share of predictions with a label so far",
            "ratio",
            "rows",
            _coverage,
            labels=True,
            segment=True,
        ),
        Metric(
            "label_lag_p50",
            "median delay from prediction to label, seconds",
            "s",
            "rows",
            _labelled(lambda r: r.label_lag_p50()),
            labels=True,
            segment=True,
        ),
        Metric(
            "host_cpu_percent",
            "mean CPU use of the hosts serving the model (SDK readings), percent",
            "percent",
            "hosts",
            _host("cpu_percent"),
        ),
        Metric(
            "host_memory_percent",
            "mean memory use of those hosts, percent",
            "percent",
            "hosts",
            _host("memory_percent"),
        ),
        Metric(
            "host_gpu_percent",
            "mean GPU utilisation of those hosts, percent (NVIDIA only)",
            "percent",
            "hosts",
            _host("gpu_percent"),
        ),
        Metric(
            "host_gpu_memory_percent",
            "mean GPU memory use of those hosts, percent (NVIDIA only)",
            "percent",
            "hosts",
            _host("gpu_memory_percent"),
        ),
    )
}
"""Every metric with a plain name, in the order the API lists them."""

PER_FEATURE: dict[str, Metric] = {
    "drift": Metric(
        "drift",
        "the drift method's effect size for one feature against the baseline",
        "effect",
        "drift",
        _feature_drift,
    ),
    "null_rate": Metric(
        "null_rate",
        "share of nulls of one feature",
        "ratio",
        "window",
        lambda s, f: s.window.null_rate(f) if s.window is not None else None,
    ),
}
"""Metrics of one feature, read as ``name:<feature>``."""


def _fairness(name: str) -> Callable[[Step, str | None], float | None]:
    """A fairness figure of the step's labelled rows across the groups of one segment tag."""

    def compute(step: Step, attribute: str | None) -> float | None:
        from vigil.monitoring import fairness  # numpy: only once a figure is read

        if not attribute or not len(step.rows):
            return None
        return fairness.figure(step.rows, name, attribute, step.min_group)

    return compute


_FAIRNESS_HELP = {
    "demographic_parity_difference": "max − min share of predictions of class 1 across the groups of one "
    "segment tag",
    "equal_opportunity_difference": "max − min true-positive rate across the groups of one segment tag",
    "equalized_odds_difference": "the larger of the true- and false-positive-rate differences across the "
    "groups of one tag",
    "disparate_impact": "min / max share of predictions of class 1 across the groups of one tag (under 0.8 "
    "fails the four-fifths rule)",
}
PER_ATTRIBUTE: dict[str, Metric] = {
    name: Metric(name, text, "ratio", "rows", _fairness(name), labels=True, tasks=("binary",))
    for name, text in _FAIRNESS_HELP.items()
}
"""Fairness figures of one segment tag (a protected attribute), read as ``name:<attribute>``; groups with
fewer labelled predictions than the model's ``fairness.min_group`` (30 by default) are left out."""

METRICS: dict[str, str] = {name: m.help for name, m in CATALOGUE.items()}
"""Metric names ``Query.series`` knows, with their help, besides ``drift:<feature>``,
``null_rate:<feature>`` and the per-class ``PER_CLASS`` (``recall:<class>``)."""
SEGMENT_METRICS: tuple[str, ...] = (
    *(n for n, m in CATALOGUE.items() if m.segment and m.labels),
    *(n for n, m in CATALOGUE.items() if m.segment and not m.labels and m.source == "rows"),
    *(n for n, m in CATALOGUE.items() if m.segment and m.source == "window"),
)
"""Metrics computed from the prediction–label join, so readable for one segment: those of the labels, then
the prediction count, then the means (with a segment, over that segment's predictions)."""


def lookup(name: str) -> tuple[Metric, str | None]:
    """The metric a name reads, and its feature (``drift:age``: drift and ``age``); KeyError if unknown."""
    if name in CATALOGUE:
        return CATALOGUE[name], None
    base, sep, feature = name.partition(":")
    if sep and feature and base in PER_FEATURE:
        return PER_FEATURE[base], feature
    if sep and feature and base in PER_CLASS:
        return PER_CLASS[base], feature
    if sep and feature and base in PER_ATTRIBUTE:
        return PER_ATTRIBUTE[base], feature
    if sep and feature and base in PER_EVALUATOR:
        return PER_EVALUATOR[base], feature
    raise KeyError(name)


def problem(name: str) -> str | None:
    """What is wrong with a metric name, as a sentence with a did-you-mean; None when it is known."""
    try:
        lookup(name)
        return None
    except KeyError:
        pass
    base, sep, _ = name.partition(":")
    if sep and base in PER_FEATURE:
        return f"unknown metric {name!r}: name a feature, as in {base}:<feature>"
    if sep and base in PER_CLASS:
        return f"unknown metric {name!r}: name a class, as in {base}:<class>"
    if base in PER_ATTRIBUTE:
        return f"unknown metric {name!r}: name a segment tag, as in {base}:<attribute>"
    if base in PER_EVALUATOR:
        return f"unknown metric {name!r}: name an evaluator, as in {base}:<evaluator>"
    known = [
        *CATALOGUE,
        *(f"{b}:<feature>" for b in PER_FEATURE),
        *(f"{b}:<class>" for b in PER_CLASS),
        *(f"{b}:<attribute>" for b in PER_ATTRIBUTE),
        *(f"{b}:<evaluator>" for b in PER_EVALUATOR),
    ]
    close = difflib.get_close_matches(name, [*CATALOGUE, *PER_FEATURE, *PER_ATTRIBUTE], n=3, cutoff=0.6)
    hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
    return f"unknown metric {name!r}; {hint}known: {', '.join(known)}"


def markdown() -> str:
    """The catalogue as the Markdown table of the README (a test keeps the two the same)."""
    lines = ["| metric | unit | needs | per segment | what |", "|---|---|---|---|---|"]
    rows = [
        *((n, m) for n, m in CATALOGUE.items()),
        *((f"{n}:<feature>", m) for n, m in PER_FEATURE.items()),
        *((f"{n}:<class>", m) for n, m in PER_CLASS.items()),
        *((f"{n}:<attribute>", m) for n, m in PER_ATTRIBUTE.items()),
        *((f"{n}:<evaluator>", m) for n, m in PER_EVALUATOR.items()),
    ]
    for name, m in rows:
        needs = (
            "labels"
            if m.labels
            else {
                "window": "events",
                "rows": "predictions with a request id",
                "drift": "a baseline",
                "hosts": "SDK host readings",
                "feedback": "feedback",
            }[m.source]
        )
        tasks = f" ({', '.join(m.tasks)})" if m.tasks else ""
        lines.append(f"| `{name}` | {m.unit} | {needs}{tasks} | {'yes' if m.segment else ''} | {m.help} |")
    return "\n".join(lines)
