"""Threshold tuning: levels proposed for a rule from its metric's own history, each candidate replayed.

See :func:`suggest_thresholds` for the method.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any

from vigil.alerting.analysis.alert_quality import quantile
from vigil.alerting.analysis.replay import replay, window_width
from vigil.alerting.evaluate.cache import SeriesCache
from vigil.alerting.evaluate.source import MetricSource
from vigil.alerting.rules import AnomalyRule, NoDataRule, RelativeRule, SloRule, ThresholdRule, known_metric
from vigil.alerting.rules.base import MetricRule, RuleBase

__all__ = ["Candidate", "Suggestion", "suggest_thresholds"]

_MAD_TO_SIGMA = 1.482602218505602
"""1 / Φ⁻¹(3/4): the MAD of a normal distribution times this is its standard deviation."""


@dataclass(frozen=True)
class Candidate:
    """A rule with these levels (a threshold rule unless it is the current rule) and what it would have done
    over the history: the share of windows breaching and the episodes and firing time of its replay."""

    name: str
    warning: float | None
    critical: float | None
    breach_share: float
    episodes: int
    firing_seconds: float

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Suggestion:
    """Levels proposed for one rule on one model from its metric's history; see :func:`suggest_thresholds`."""

    rule: str
    model: str
    metric: str
    op: str
    kind: str
    start: float
    end: float
    step: float
    windows: int
    values: int
    median: float | None
    mad: float | None
    sigma: float | None
    quantiles: dict[str, float]
    warning: float | None
    critical: float | None
    candidates: tuple[Candidate, ...]
    method: str
    notes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        body = dict(self.__dict__)
        body["candidates"] = [c.to_dict() for c in self.candidates]
        body["notes"] = list(self.notes)
        return body


def suggest_thresholds(
    rule: RuleBase,
    query: MetricSource,
    model: str,
    start: float,
    end: float,
    *,
    warning_sigmas: float = 3.0,
    critical_sigmas: float = 5.0,
    tail_quantile: float = 0.99,
) -> Suggestion:
    """Propose warning and critical levels for ``rule`` on ``model`` from its metric's history.

    Method. The history is the metric's value per window of the rule's width ``W`` (its window rounded up to
    the model's resolution, as evaluation reads it), for every whole aligned window in ``[start, end)``;
    ``x`` are the values (windows without one are left out). With ``m`` the median of ``x``,
    ``σ̂ = 1.4826·median(|x - m|)`` (the MAD scaled to σ for normal data) and ``Q`` the
    linear-interpolation quantile of ``x`` (numpy's default), the tail scale is

    ``σ̃ = max(σ̂, |Q(0.99) - m| / 3)``  (``Q(0.01)`` for ``op: "<"``)

    and the levels are ``warning = m ± 3·σ̃``, ``critical = m ± 5·σ̃`` (+ for ``>``, - for ``<``; the 3, 5 and
    0.99 are the keyword arguments). So warning = max(m + 3σ̂, Q(0.99)): at most 1% of the past windows
    cross it, and it stays clear of the bulk when the tail is thin (for normal data m + 3σ̂ is the
    99.87th percentile). Critical extrapolates the same tail scale (5/3 as far from the median) instead of
    reading Q(0.999), which sits inside past incidents once they fill 0.1% of the windows; both levels
    hold while incidents fill less than 1% of the history (the breakdown of Q(0.99); σ̂'s is 50%).
    Critical is None when it is not beyond warning (σ̃ = 0: a metric constant in most windows).

    Each candidate (the current rule as it is, its current levels alone, m ± 3σ̂, m ± 5σ̂, Q(0.99) and
    Q(0.999) alone, and the suggested pair) is replayed with :mod:`vigil.alerting.analysis.replay` every ``W``
    over the same windows (``for`` and ``keep_firing_for`` of the rule apply); a candidate other than the
    current rule is a threshold rule on the same metric, version, segment, op, window and timing.
    ``breach_share`` is the share of all the windows (with or without a value) whose value breaches.

    Relative and anomaly rules get levels for a threshold rule on their metric, on the side of their ``op``
    (anomaly: ``direction`` ``down`` is "<", ``up`` and ``both`` ">"); the current rule is replayed as it
    is. Raises ValueError for an unregistered model, a ``no_data`` or ``slo`` rule, or an unknown metric.
    """
    spec = query.registry.get(model)
    if spec is None:
        raise ValueError(f"model {model!r} is not registered; suggest thresholds for a registered model")
    if isinstance(rule, NoDataRule | SloRule) or not known_metric(rule.metric):
        raise ValueError(
            f"rule {rule.name!r} ({rule.kind}) has no levels on a metric to suggest; "
            "suggest thresholds for threshold, relative or anomaly rules"
        )
    width = window_width(rule, spec.window.total_seconds())
    first = math.ceil(start / width) * width
    last = math.floor(end / width) * width
    source = SeriesCache(query, horizon=last)
    notes: list[str] = []
    points: list[tuple[float, float | None]] = []
    if last > first:
        points = source.series(model, [rule.metric], first, last, width, rule.version, segment=rule.segment)[
            rule.metric
        ]
    x = sorted(v for _, v in points if v is not None and math.isfinite(v))
    op = _op(rule)
    sign, pm = (-1.0, "-") if op == "<" else (1.0, "+")
    q_tail, q_far = (1 - tail_quantile, 0.001) if op == "<" else (tail_quantile, 0.999)
    name_tail, name_far = f"p{_pct(q_tail)}", f"p{_pct(q_far)}"
    method = (
        f"median {pm} k·σ̃, σ̃ = max(1.4826·MAD, |{name_tail} - median| / {warning_sigmas:g}), "
        f"k = {warning_sigmas:g} (warning) / {critical_sigmas:g} (critical), over {width:g} s windows"
    )
    median = mad = sigma = warning = critical = None
    quantiles: dict[str, float] = {}
    levels: list[tuple[str, float | None, float | None]] = []
    if isinstance(rule, ThresholdRule):
        levels += [("current warning", rule.warning, None), ("current critical", rule.critical, None)]
    if not x:
        notes.append(
            f"no values of {rule.metric} in whole {width:g} s windows of the range: nothing to suggest"
        )
    else:
        median = statistics.median(x)
        mad = statistics.median(abs(v - median) for v in x)
        sigma = _MAD_TO_SIGMA * mad
        quantiles = {name_tail: quantile(x, q_tail), name_far: quantile(x, q_far)}
        tail = max(sigma, abs(quantiles[name_tail] - median) / warning_sigmas)
        warning = median + sign * warning_sigmas * tail
        critical = median + sign * critical_sigmas * tail
        if not sign * (critical - warning) > 0:
            notes.append(f"{rule.metric} barely varies (σ̃ = 0): warning only, at {warning:.6g}")
            critical = None
        if len(x) * (1 - tail_quantile) < 1:
            notes.append(f"only {len(x)} windows: {name_tail} is close to the most extreme value seen")
        levels += [
            (f"median{pm}{warning_sigmas:g}σ", median + sign * warning_sigmas * sigma, None),
            (f"median{pm}{critical_sigmas:g}σ", median + sign * critical_sigmas * sigma, None),
            (name_tail, quantiles[name_tail], None),
            (name_far, quantiles[name_far], None),
            ("suggested", warning, critical),
        ]
    if not isinstance(rule, ThresholdRule):
        notes.append(f"a {rule.kind} rule: the suggested levels are for a threshold rule on {rule.metric}")
    mine = (rule.warning, rule.critical) if isinstance(rule, ThresholdRule) else (None, None)  # anomaly: z
    candidates = [_candidate("current rule", rule, *mine, source, model, first, last, width)]
    for name, w, c in levels:
        if w is not None or c is not None:
            candidates.append(
                _candidate(name, _threshold(rule, op, w, c), w, c, source, model, first, last, width)
            )
    return Suggestion(
        rule=rule.name,
        model=model,
        metric=rule.metric,
        op=op,
        kind=rule.kind,
        start=first,
        end=max(first, last),
        step=width,
        windows=len(points),
        values=len(x),
        median=median,
        mad=mad,
        sigma=sigma,
        quantiles=quantiles,
        warning=warning,
        critical=critical,
        candidates=tuple(candidates),
        method=method,
        notes=tuple(notes),
    )


def _pct(q: float) -> str:
    return f"{q * 100:.6g}"


def _op(rule: RuleBase) -> str:
    """The side a level is crossed on: the rule's ``op``; an anomaly rule's ``direction`` (``down``: "<",
    else ">": a two-sided rule gets levels for rises)."""
    if isinstance(rule, AnomalyRule):
        return "<" if rule.direction == "down" else ">"
    return rule.op if isinstance(rule, ThresholdRule | RelativeRule) else ">"


def _threshold(rule: RuleBase, op: str, warning: float | None, critical: float | None) -> ThresholdRule:
    # Only the fields a threshold rule shares with any kind: new kinds' own fields stay behind.
    return ThresholdRule.model_validate(
        {
            "name": rule.name,
            "model": rule.model,
            "version": rule.version,
            "segment": rule.segment,
            "metric": rule.metric,
            "op": op,
            "warning": warning,
            "critical": critical,
            "window": rule.window,
            "for": rule.for_,
            "keep_firing_for": rule.keep_firing_for,
            **({"min_labels": rule.min_labels} if isinstance(rule, MetricRule) else {}),
        }
    )


def _candidate(
    name: str,
    rule: RuleBase,
    warning: float | None,
    critical: float | None,
    source: MetricSource,
    model: str,
    first: float,
    last: float,
    width: float,
) -> Candidate:
    if last - first < width:
        return Candidate(name, warning, critical, 0.0, 0, 0.0)
    # evaluating at first + W, …, last reads exactly the windows [first, last), one per evaluation
    run = replay(rule, source, model, first + width, last, width)
    return Candidate(
        name, warning, critical, run.breaching / run.evaluations, len(run.firings), run.firing_seconds
    )
