"""Alert rules: what to watch on which model, when it is bad, and who to tell (the ``rules:`` section of
vigil.yaml; the ``slos:`` section, which becomes rules of kind ``slo``, is :mod:`vigil.alerting.rules.slo`).

A rule reads one metric of ``Query.series`` (a name in ``METRICS``, ``drift:<feature>``,
``null_rate:<feature>``, a per-class ``recall:<class>``, or a fairness figure of a segment tag such as
``disparate_impact:<attribute>``) over its evaluation ``window`` and decides a severity. Kinds (one module
each, owning its fields, checks and judgement; registered in :mod:`vigil.alerting.rules.section`):

* ``threshold`` (:class:`ThresholdRule`): the value against fixed levels; ``op: ">"`` breaches when
  value > level (``warning`` below ``critical``), ``op: "<"`` when value < level (``warning`` above
  ``critical``). At least one level.
* ``relative`` (:class:`RelativeRule`): the value against a statistic (``baseline: median`` or ``mean``) of
  the same metric's per-window values over the trailing ``baseline_window`` (7d by default) before the
  evaluation window. ``op: ">"``: breach when value > baseline × ``factor`` and/or value > baseline × (1 +
  ``percent``/100) (with both given, both must hold). ``op: "<"``: value < baseline / ``factor`` and/or value
  < baseline × (1 - ``percent``/100). It breaches at ``severity`` (warning unless set), and never before
  ``min_baseline_points`` windows of the baseline have a value.
* ``anomaly`` (:class:`AnomalyRule`): the robust z-score of the value against the same metric's
  per-window values: z = (value - median) / (1.4826 × MAD), with the mean-absolute-deviation
  fallback when the MAD is 0 and ±inf off a constant history. The history is every window of the trailing
  ``baseline_window`` (7d by default); with ``seasonality`` (e.g. ``1d`` or ``1w``) only the windows at the
  same phase of each of the last ``baseline_window / seasonality`` seasons, and one window either side
  (3 per season). ``warning`` and ``critical`` are z levels (3.5 and 5 when neither is given; give one to
  alert at that level only); ``direction: up`` breaches when z > level, ``down`` when z < -level, ``both``
  (the default) when |z| > level. No breach before ``min_baseline_points`` history windows have a value.
* ``no_data`` (:class:`NoDataRule`): the model sent no events in the evaluation window; with ``for`` this is
  "no events for ``for``". Its metric is ``events`` (leave ``metric`` out); with a ``segment`` it is
  ``predictions`` (none of that segment's predictions were logged).
* ``change`` (:class:`ChangeRule`): a sequential change detector (``detector: page_hinkley``, the
  default, ``cusum`` or ``adwin``, :mod:`vigil.detectors`) replayed over the metric's per-window series;
  ``arl`` (10000 by default) is the mean number of windows between false alarms on an in-control series.
  It breaches at ``severity`` while the latest change was detected within ``hold`` (1h): "change detected
  at <time>", with the estimated change point as the ``change_at`` annotation (see
  :mod:`vigil.alerting.rules.change` for the warm-up, the replay span ``history`` and why a replay).

``sliding: true`` makes a rule judge the latest complete model windows spanning its ``window`` at every
evaluation (a ``1h`` rule on a model with ``1m`` windows reads the last 60 minutes each minute), rather
than whole ``window``-aligned buckets (the last complete hour, 18:00–19:00, judged from 19:00). Default
rules slide; see :mod:`vigil.alerting.evaluate.window` for the exact windows.

**Few labels.** A rule on a metric of the labels alone (accuracy, precision, recall, f1 and their averages
and per-class forms, roc_auc, pr_auc, log_loss, brier, ece, positive_rate, mae, rmse, mape, r2, error_p50,
error_p90) judges only windows holding at least ``min_labels`` labelled predictions (100 by default; 0 turns
the guard off); a window with fewer reads as no value, for its verdict and for a relative or anomaly
rule's history alike, so a window of 40 labels does not page anyone.

Every rule has ``for`` and ``keep_firing_for`` (see ``vigil.alerting.state``), ``labels`` (added to its
alerts: team, service, a severity route...), ``owner``, ``runbook`` (a URL or inline Markdown), ``route``
(the receiver's name, added as the ``route`` label), and an optional ``summary``.

**Segments.** ``segment: "region=eu"`` (or ``{region: eu}``, several tags all having to match) restricts a
rule to the predictions of one segment. Metric windows are not kept per segment, so only the metrics
computed from the prediction log accept one (``vigil.monitoring.query.SEGMENT_METRICS``: accuracy,
precision, recall, f1, mae, rmse, label_coverage, label_lag_p50, predictions, score_mean,
prediction_mean); alerts carry a ``segment`` label (``region=eu``).

Recipes::

    rules:
      - {name: CpuHot, metric: host_cpu_percent, critical: 80, window: 5m, for: 10m}   # also host_gpu_percent
      # "error rate over 5% or over 3x its usual level": two rules, each alerting on its own; the threshold
      # also covers a usual level of 0, which nothing can be 3x above
      - {name: ErrorRateHigh, metric: error_rate, warning: 0.05}
      - {name: ErrorRateSpike, metric: error_rate, kind: relative, factor: 3, baseline: median}
      # daily cost more than 20% above its mean of the previous week (days are UTC days)
      - {name: DailyCostUp, metric: cost, kind: relative, percent: 20, baseline: mean, window: 1d}
      # the error rate's level moved (a step from 1% to 3%), one false alarm per ~10,000 windows
      - {name: ErrorRateChanged, metric: error_rate, kind: change, detector: page_hinkley, arl: 10000}

Example::

    rules:
      - name: LatencySpike
        model: credit              # or "*" for every model
        version: v2                # optional: only this version's events
        metric: latency_p95
        kind: relative
        factor: 3                  # p95 over 5m > 3x its trailing 7-day median
        baseline: median
        baseline_window: 7d
        window: 5m
        for: 10m
        keep_firing_for: 5m
        severity: critical
        labels: {team: risk, service: scoring}
        owner: risk-oncall@example.com
        runbook: https://wiki.example.com/runbooks/latency
        route: pager
      - name: IncomeDrift
        model: credit
        metric: drift             # with feature: the same as metric: drift:income
        feature: income
        warning: 0.1
        critical: 0.25
        window: 1h
      - name: TrafficAnomaly
        model: credit
        metric: throughput
        kind: anomaly
        window: 1h
        seasonality: 1d           # against the same hour of the last 7 days
        direction: down           # only drops
      - name: EuAccuracy
        model: credit
        metric: accuracy
        segment: region=eu
        op: "<"
        critical: 0.8
        window: 1h

:func:`parse_rules` checks the section and raises one ``ConfigError`` naming every bad rule and what to fix
(with file:line when given the text); :func:`validate_rule` builds one rule from a mapping (``Rule(...)``
is a union: build a kind in code as ``ThresholdRule(name=..., ...)``); :func:`default_rules` gives the rules
every new model gets (documented there).
"""

from __future__ import annotations

from vigil.alerting.rules.anomaly import ANOMALY_LEVELS, AnomalyRule
from vigil.alerting.rules.base import Evaluation, RuleBase, known_metric
from vigil.alerting.rules.change import ChangeRule
from vigil.alerting.rules.defaults import DEFAULT_RULES_DOC, DEFAULT_RUNBOOKS, default_rules
from vigil.alerting.rules.no_data import NoDataRule
from vigil.alerting.rules.relative import RelativeRule
from vigil.alerting.rules.section import (
    KINDS,
    DeclaredRule,
    Rule,
    RuleSpec,
    parse_rules,
    rules_from_config,
    validate_rule,
)
from vigil.alerting.rules.slo import SloRule, SloSpec, parse_slos, slos_from_config
from vigil.alerting.rules.threshold import ThresholdRule

__all__ = [
    "ANOMALY_LEVELS",
    "DEFAULT_RULES_DOC",
    "DEFAULT_RUNBOOKS",
    "KINDS",
    "AnomalyRule",
    "ChangeRule",
    "DeclaredRule",
    "Evaluation",
    "NoDataRule",
    "RelativeRule",
    "Rule",
    "RuleBase",
    "RuleSpec",
    "SloRule",
    "SloSpec",
    "ThresholdRule",
    "default_rules",
    "known_metric",
    "parse_rules",
    "parse_slos",
    "rules_from_config",
    "slos_from_config",
    "validate_rule",
]
