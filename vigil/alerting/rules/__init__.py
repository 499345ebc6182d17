"""Alert rules: what to watch on which model, when it is bad, and who to tell (the ``rules:`` section of
vigil.yaml; the ``slos:`` section, which becomes rules of kind ``slo``, is :mod:`vigil.alerting.rules.slo`).

A rule reads one metric of ``Query.series`` (a name in ``METRICS``, ``drift:<feature>`` or
``null_rate:<feature>``) over its evaluation ``window`` and decides a severity. Kinds:

* ``threshold``: the value against fixed levels; ``op: ">"`` breaches when value > level (``warning`` below
  ``critical``), ``op: "<"`` when value < level (``warning`` above ``critical``). At least one level.
* ``relative``: the value against a statistic (``baseline: median`` or ``mean``) of the same metric's
  per-window values over the trailing ``baseline_window`` (7d by default) before the evaluation window.
  ``op: ">"``: breach when value > baseline × ``factor`` and/or value > baseline × (1 + ``percent``/100)
  (with both given, both must hold). ``op: "<"``: value < baseline / ``factor`` and/or
  value < baseline × (1 - ``percent``/100). It breaches at ``severity`` (warning unless set), and never
  before ``min_baseline_points`` windows of the baseline have a value.
* ``anomaly``: the robust z-score of the value against the same metric's per-window values
  (``vigil.alerting.rules.anomaly``): z = (value - median) / (1.4826 × MAD), with the mean-absolute-deviation
  fallback when the MAD is 0 and ±inf off a constant history. The history is every window of the trailing
  ``baseline_window`` (7d by default); with ``seasonality`` (e.g. ``1d`` or ``1w``) only the windows at the
  same phase of each of the last ``baseline_window / seasonality`` seasons, and one window either side
  (3 per season). ``warning`` and ``critical`` are z levels (3.5 and 5 when neither is given; give one to
  alert at that level only); ``direction: up`` breaches when z > level, ``down`` when z < -level, ``both``
  (the default) when |z| > level. No breach before ``min_baseline_points`` history windows have a value.
* ``no_data``: the model sent no events in the evaluation window; with ``for`` this is "no events for
  ``for``". Its metric is ``events`` (leave ``metric`` out); with a ``segment`` it is ``predictions`` (none
  of that segment's predictions were logged).

``sliding: true`` makes a rule judge the latest complete model windows spanning its ``window`` at every
evaluation (a ``1h`` rule on a model with ``1m`` windows reads the last 60 minutes each minute), rather
than whole ``window``-aligned buckets (the last complete hour, 18:00–19:00, judged from 19:00). Default
rules slide; see ``vigil.alerting.evaluate.round`` for the exact windows.

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
(with file:line when given the text); :func:`default_rules` gives the rules every new model gets
(documented there).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from vigil.alerting.rules.error_budget import Slo
from vigil.alerting.state import Severity, Timing
from vigil.config import ModelSpec, VigilConfig, parse_duration
from vigil.errors import ConfigError, ConfigProblem
from vigil.monitoring.query import METRICS, SEGMENT_METRICS, parse_segment, segment_text

__all__ = [
    "ANOMALY_LEVELS",
    "DEFAULT_RULES_DOC",
    "DEFAULT_RUNBOOKS",
    "Rule",
    "default_rules",
    "known_metric",
    "parse_rules",
    "rules_from_config",
]

Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
Kind = Literal["threshold", "relative", "no_data", "anomaly", "slo"]
_PER_FEATURE = ("drift", "null_rate")
ANOMALY_LEVELS = {Severity.WARNING: 3.5, Severity.CRITICAL: 5.0}
"""The z levels of an anomaly rule that gives neither ``warning`` nor ``critical``."""


def known_metric(name: str) -> bool:
    """True for a metric name ``Query.series`` knows: ``METRICS``, ``drift:<f>`` and ``null_rate:<f>``."""
    if name in METRICS:
        return True
    base, sep, feature = name.partition(":")
    return bool(sep) and base in _PER_FEATURE and bool(feature)


class _Bad(ValueError):
    """A rule problem at one key, with a hint; raised from validators."""

    def __init__(self, key: str, message: str, hint: str) -> None:
        super().__init__(message)
        self.key = key
        self.message = message
        self.hint = hint


def _zeros_to_none(data: Any) -> Any:
    # parse_duration refuses 0; "for: 0" means "at once" here, as in Prometheus.
    if isinstance(data, dict):
        data = dict(data)
        for key in ("for", "for_", "keep_firing_for"):
            if data.get(key) in (0, "0", "0s", 0.0):
                data[key] = None
    return data


class Rule(BaseModel):
    """One alert rule. Build it from YAML with :func:`parse_rules`, or in code with ``Rule(name=..., ...)``
    (``for`` is ``for_`` in code). Durations are timedeltas (written 30s, 5m, 2h, 7d in YAML). Rules of
    kind ``slo`` carry their :class:`~vigil.alerting.rules.error_budget.Slo` and come from
    :func:`~vigil.alerting.rules.slo.parse_slos`."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False)

    name: Annotated[str, Field(min_length=1)]
    model: Annotated[str, Field(min_length=1)] = "*"
    version: str | None = None
    feature: str | None = None
    segment: dict[str, str] | None = None
    metric: str = ""
    kind: Kind = "threshold"
    op: Literal[">", "<"] = ">"
    warning: float | None = None
    critical: float | None = None
    factor: float | None = None
    percent: float | None = None
    baseline: Literal["median", "mean"] = "median"
    baseline_window: Duration = timedelta(days=7)
    min_baseline_points: Annotated[int, Field(ge=1)] = 5
    seasonality: Duration | None = None
    direction: Literal["up", "down", "both"] = "both"
    severity: Severity = Severity.WARNING
    window: Duration = timedelta(minutes=5)
    sliding: bool = False
    """Judge the latest complete model windows spanning ``window`` (see the module docstring)."""
    for_: Duration | None = Field(default=None, alias="for")
    keep_firing_for: Duration | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    owner: str | None = None
    runbook: str | None = None
    route: str | None = None
    summary: str | None = None
    slo: Slo | None = None

    @model_validator(mode="before")
    @classmethod
    def _zero_durations(cls, data: Any) -> Any:
        return _zeros_to_none(data)

    @field_validator("segment", mode="before")
    @classmethod
    def _segment(cls, value: object) -> object:
        if value is None:
            return None
        try:
            return parse_segment(value)
        except ValueError as exc:
            raise _Bad("segment", str(exc), "write it like region=eu, or as a mapping {region: eu}") from None

    @model_validator(mode="after")
    def _check(self) -> Rule:
        if self.kind == "slo" or self.slo is not None:
            return self._check_slo()
        metric = self.metric
        if self.kind == "no_data":
            if metric not in ("", "events", "predictions"):
                raise _Bad("metric", f"a no_data rule watches events, not {metric!r}", "remove metric")
            for key in ("warning", "critical", "factor", "percent"):
                if getattr(self, key) is not None:
                    raise _Bad(key, f"{key} does not apply to no_data rules", f"remove {key}")
            object.__setattr__(self, "metric", "predictions" if self.segment is not None else "events")
        else:
            if not metric:
                raise _Bad("metric", "metric is missing", "add metric: e.g. error_rate or latency_p95")
            if self.feature is not None:
                if metric in _PER_FEATURE:
                    metric = f"{metric}:{self.feature}"
                elif metric.partition(":")[2] != self.feature:
                    raise _Bad(
                        "feature",
                        f"feature {self.feature!r} does not apply to metric {metric!r}",
                        "use metric: drift or null_rate with feature:, or remove feature",
                    )
            if not known_metric(metric):
                raise _Bad(
                    "metric",
                    f"unknown metric {metric!r}",
                    f"use one of {', '.join(METRICS)}, drift:<feature>, null_rate:<feature>",
                )
            if self.segment is not None and metric not in SEGMENT_METRICS:
                raise _Bad(
                    "segment",
                    f"{metric} is not kept per segment (metric windows are per model and version); "
                    f"segments apply to {', '.join(SEGMENT_METRICS)}",
                    "remove segment, or watch one of those metrics",
                )
            object.__setattr__(self, "metric", metric)
        if self.kind != "anomaly":
            if self.seasonality is not None:
                raise _Bad(
                    "seasonality", "seasonality applies to anomaly rules", "set kind: anomaly, or remove it"
                )
            if self.direction != "both":
                raise _Bad("direction", "direction applies to anomaly rules", "set kind: anomaly, or use op")
        if self.kind == "threshold":
            self._check_levels()
        elif self.kind == "relative":
            self._check_relative()
        elif self.kind == "anomaly":
            self._check_anomaly()
        if self.window <= timedelta(0):
            raise _Bad("window", "window must be positive", "write it like 5m")
        return self

    def _check_slo(self) -> Rule:
        if self.slo is None:
            raise _Bad("kind", "SLO rules are declared in the slos: section", "move it under slos:")
        if self.kind != "slo":
            raise _Bad("slo", "only rules of kind slo carry an SLO", "declare it under slos:")
        if (self.slo.name, self.slo.model, self.slo.version) != (self.name, self.model, self.version):
            raise _Bad(
                "slo", "an SLO rule's name, model and version are its SLO's", "build it with parse_slos"
            )
        if self.segment is not None:
            raise _Bad("segment", "SLOs do not take a segment", "remove segment")
        object.__setattr__(self, "metric", self.slo.sli.label)
        return self

    def _check_levels(self) -> None:
        for key in ("factor", "percent"):
            if getattr(self, key) is not None:
                raise _Bad(key, f"{key} applies to relative rules", "set kind: relative, or remove it")
        w, c = self.warning, self.critical
        if w is None and c is None:
            raise _Bad("warning", "a threshold rule needs warning and/or critical", "add e.g. critical: 0.1")
        if w is not None and c is not None:
            if self.op == ">" and not w < c:
                raise _Bad(
                    "warning",
                    f"warning ({w:g}) must be below critical ({c:g}) for '>' rules",
                    "lower warning or raise critical",
                )
            if self.op == "<" and not w > c:
                raise _Bad(
                    "warning",
                    f"warning ({w:g}) must be above critical ({c:g}) for '<' rules",
                    "raise warning or lower critical",
                )

    def _check_relative(self) -> None:
        for key in ("warning", "critical"):
            if getattr(self, key) is not None:
                raise _Bad(
                    key, f"{key} applies to threshold rules", "give factor: and/or percent: and severity:"
                )
        if self.factor is None and self.percent is None:
            raise _Bad("factor", "a relative rule needs factor and/or percent", "add e.g. factor: 3")
        if self.factor is not None and not self.factor > 1:
            raise _Bad("factor", f"factor must be > 1 (got {self.factor:g})", "use e.g. factor: 3")
        if self.percent is not None and not (self.percent > 0 and (self.op == ">" or self.percent < 100)):
            limit = "0 < percent < 100" if self.op == "<" else "percent > 0"
            raise _Bad("percent", f"percent must satisfy {limit} (got {self.percent:g})", "use e.g. 50")
        self._check_baseline_window()

    def _check_baseline_window(self) -> None:
        if self.baseline_window <= self.window:
            raise _Bad(
                "baseline_window",
                "baseline_window must be longer than window",
                "use e.g. baseline_window: 7d",
            )

    def _check_anomaly(self) -> None:
        for key in ("factor", "percent"):
            if getattr(self, key) is not None:
                raise _Bad(
                    key, f"{key} applies to relative rules", "anomaly rules take z levels: warning, critical"
                )
        if self.op != ">":
            raise _Bad("op", "anomaly rules have no op", "use direction: up, down or both")
        if self.baseline != "median":
            raise _Bad(
                "baseline", "anomaly rules compare with the median (a robust z-score)", "remove baseline"
            )
        if self.warning is None and self.critical is None:
            object.__setattr__(self, "warning", ANOMALY_LEVELS[Severity.WARNING])
            object.__setattr__(self, "critical", ANOMALY_LEVELS[Severity.CRITICAL])
        for key in ("warning", "critical"):
            level = getattr(self, key)
            if level is not None and not level > 0:
                raise _Bad(key, f"{key} is a z level and must be > 0 (got {level:g})", "use e.g. 3.5")
        if self.warning is not None and self.critical is not None and not self.warning < self.critical:
            raise _Bad(
                "warning",
                f"warning ({self.warning:g}) must be below critical ({self.critical:g})",
                "lower warning or raise critical",
            )
        self._check_baseline_window()
        season = self.seasonality
        if season is None:
            points = int(self.baseline_window / self.window)
            where = (
                f"baseline_window {_span(self.baseline_window)} holds {points} windows of "
                f"{_span(self.window)}"
            )
        else:
            if season < 3 * self.window:
                raise _Bad(
                    "seasonality",
                    f"seasonality ({_span(season)}) must be at least 3 windows ({_span(3 * self.window)})",
                    "use e.g. seasonality: 1d",
                )
            if self.baseline_window < season:
                raise _Bad(
                    "baseline_window",
                    f"baseline_window ({_span(self.baseline_window)}) must hold at least one season "
                    f"({_span(season)})",
                    f"use e.g. baseline_window: {_span(4 * season)}",
                )
            points = 3 * self.seasons
            where = f"{self.seasons} season(s) of {_span(season)} give {points} windows"
        if points < self.min_baseline_points:
            raise _Bad(
                "baseline_window",
                f"{where}, fewer than min_baseline_points ({self.min_baseline_points}): it could never alert",
                "lengthen baseline_window or lower min_baseline_points",
            )

    @property
    def seasons(self) -> int:
        """How many past seasons a seasonal anomaly rule compares with: floor(baseline_window / seasonality)
        (0 without seasonality)."""
        return int(self.baseline_window // self.seasonality) if self.seasonality else 0

    @property
    def segment_text(self) -> str | None:
        """The segment selector as text (``region=eu``), or None."""
        return None if self.segment is None else segment_text(self.segment)

    @property
    def timing(self) -> Timing:
        hold = self.for_.total_seconds() if self.for_ else 0.0
        keep = self.keep_firing_for.total_seconds() if self.keep_firing_for else 0.0
        return Timing(for_warning=hold, for_critical=hold, keep_firing_for=keep)

    def applies_to(self, model: str) -> bool:
        return self.model in ("*", model)

    def levels(self) -> dict[Severity, float]:
        """The threshold levels given (z levels for anomaly rules), by severity."""
        out = {}
        if self.warning is not None:
            out[Severity.WARNING] = self.warning
        if self.critical is not None:
            out[Severity.CRITICAL] = self.critical
        return out

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

    def breached_z(self, z: float | None) -> Severity | None:
        """The severity an anomaly rule gives a z-score: the highest level passed (strictly) in the rule's
        direction; None for no z (NaN included)."""
        if z is None or math.isnan(z):
            return None
        signed = z if self.direction == "up" else -z if self.direction == "down" else abs(z)
        for level in (Severity.CRITICAL, Severity.WARNING):
            limit = self.levels().get(level)
            if limit is not None and signed > limit:
                return level
        return None

    def breached(self, value: float | None, baseline: float | None = None) -> Severity | None:
        """The severity this rule's condition gives ``value`` (None: no breach, or no value). For anomaly
        rules ``value`` is the z-score (see :meth:`breached_z`); slo rules are judged from their SLO's
        status by ``vigil.alerting.evaluate.round``, and give None here."""
        if value is None or math.isnan(value):
            return None
        if self.kind == "slo":
            return None
        if self.kind == "anomaly":
            return self.breached_z(value)
        if self.kind == "no_data":
            return self.severity if value == 0 else None
        if self.kind == "relative":
            if baseline is None:
                return None
            bound = self.relative_bound(baseline)
            hit = value > bound if self.op == ">" else value < bound
            return self.severity if hit else None
        for level in (Severity.CRITICAL, Severity.WARNING):
            limit = self.levels().get(level)
            if limit is not None and (value > limit if self.op == ">" else value < limit):
                return level
        return None


def _span(d: timedelta) -> str:
    seconds = d.total_seconds()
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


def parse_rules(data: object, filename: str = "vigil.yaml", text: str | None = None) -> tuple[Rule, ...]:
    """The rules of a ``rules:`` section (a list of mappings; None or missing gives no rules).

    Raises one ``ConfigError`` listing every problem, each naming the rule (``rules[2] 'HighLatency'``)
    and what to fix; with the file's ``text`` the problems carry line and column.
    """

    def build(item: dict[str, Any]) -> Rule:
        if item.get("kind") == "slo" or item.get("slo") is not None:
            raise _Bad("kind", "SLOs are declared in the slos: section", "move it under slos:")
        return Rule.model_validate(item)

    return _parse_section("rules", "rule", data, build, Rule.model_fields, filename, text)


def rules_from_config(
    config: VigilConfig, filename: str = "vigil.yaml", text: str | None = None
) -> tuple[Rule, ...]:
    """The rules of ``config``'s ``rules:`` section (kept in ``model_extra``); see :func:`parse_rules`."""
    return parse_rules((config.model_extra or {}).get("rules"), filename, text)


def _parse_section(
    section: str,
    noun: str,
    data: object,
    build: Callable[[dict[str, Any]], Rule],
    fields: Mapping[str, Any],
    filename: str,
    text: str | None,
    docs: str = "vigil.alerting.rules",
) -> tuple[Rule, ...]:
    """The rules built from a section's entries; one ConfigError lists every problem (hints cite ``docs``)."""
    if data is None:
        return ()
    locate = _locator(text, filename)
    if not isinstance(data, list):
        raise ConfigError(
            [locate((section,), f"must be a list of {noun}s", f"write each {noun} as - name: ...")]
        )
    problems: list[ConfigProblem] = []
    rules: list[Rule] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(data):
        name = item.get("name") if isinstance(item, dict) else None
        who = f"{noun} {name!r}" if isinstance(name, str) and name else f"{noun} {i + 1} (no name)"
        if not isinstance(item, dict):
            problems.append(locate((section, i), f"{who}: must be a mapping", "write it as - name: ..."))
            continue
        try:
            rule = build(item)
        except _Bad as bad:
            problems.append(locate((section, i, bad.key), f"{who}: {bad.message}", bad.hint))
            continue
        except ValidationError as exc:
            for error in exc.errors():
                loc = tuple(error["loc"])
                cause = error.get("ctx", {}).get("error")
                if isinstance(cause, _Bad):
                    problems.append(locate((section, i, cause.key), f"{who}: {cause.message}", cause.hint))
                    continue
                key = str(loc[0]) if loc else ""
                message, hint = _explain(error, key, fields, section, docs)
                problems.append(locate((section, i, *loc), f"{who}: {message}", hint))
            continue
        if rule.name in seen:
            problems.append(
                locate(
                    (section, i, "name"),
                    f"{who}: the name is used twice (first by {noun} {seen[rule.name] + 1})",
                    f"give each {noun} its own name",
                )
            )
            continue
        seen[rule.name] = i
        rules.append(rule)
    if problems:
        raise ConfigError(sorted(problems, key=lambda p: (p.line or 0, p.column or 0)))
    return tuple(rules)


def _explain(
    error: Mapping[str, Any], key: str, fields: Mapping[str, Any], section: str, docs: str
) -> tuple[str, str]:
    kind = error["type"]
    if kind == "extra_forbidden":
        allowed = ", ".join(f.alias or n for n, f in fields.items() if n != "slo")
        return f"unknown key {key!r}", f"allowed keys: {allowed}"
    if kind == "missing":
        return f"required key {key!r} is missing", f"add {key}:"
    cause = error.get("ctx", {}).get("error")
    issues = getattr(cause, "issues", None)
    if issues:  # parse_duration's own message and hint
        return f"{key}: {issues[0].message}", issues[0].hint
    return (
        f"{key}: {error['msg']} (got {error.get('input')!r})",
        f"see the {section} format in {docs}",
    )


def _locator(text: str | None, filename: str) -> Any:
    """A function (path, message, hint) -> ConfigProblem, positioned when the file text is known."""
    source = None
    if text is not None:
        from vigil.config import _Source  # the config module's YAML positions

        try:
            source = _Source.compose(text, filename)
        except ConfigError:
            source = None

    def locate(path: tuple[Any, ...], message: str, hint: str) -> ConfigProblem:
        dotted = ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in path).replace(".[", "[")
        if source is None:
            return ConfigProblem(filename, None, None, dotted, message, hint)
        source.add(path, message, hint)
        return source.problems.pop()

    return locate


DEFAULT_RULES_DOC = """\
Rules every model gets (``default_rules``), labelled with the model owner's team. Each judges the latest
complete model windows over its range at every evaluation (``sliding: true``): drift seen at 18:42 fires
once the 18:42 window closes, not at 19:00.

* ``ErrorRateHigh``: error_rate over 5m > 5% warning, > 10% critical, for 5m.
* ``LatencyP95Spike``: latency_p95 over 5m > 3× its trailing 7-day median, for 10m (warning).
* ``DriftShareHigh``: drift_share over 1h > 0.3 warning, > 0.5 critical (quiet without a baseline).
* ``NullRateHigh``: null_rate over 15m > 1% warning, > 5% critical (the quality defaults), for 15m.
* ``NoData``: no events in 5m windows for 15m (warning; its inhibition mutes the model's other alerts).
* ``AccuracyDrop`` (binary, multiclass): accuracy over 1h 10% below its 7-day median; quiet until labels
  have arrived for at least 5 hourly windows.
* ``MaeRise`` (regression): mae over 1h 20% above its 7-day median, likewise once labels exist.
* ``CostPerPredictionSpike`` (llm): cost_per_prediction over 1h 50% above its 7-day mean.
"""


DEFAULT_RUNBOOKS: dict[str, str] = {
    "ErrorRateHigh": (
        "The model's requests fail. Look at the errors in the event sample "
        "(`GET /v1/models/{model}/events`); check the serving service's logs and its dependencies. If a "
        "deploy started it, roll back (`vigil actions run rollback-{model}` when one is configured)."
    ),
    "LatencyP95Spike": (
        "p95 latency is over 3x its usual level. Check the hosts' CPU, memory and GPU "
        "(`host_cpu_percent` and the others), the request volume (`throughput`) and any dependency the "
        "model calls; a recent deploy or larger inputs are the usual causes."
    ),
    "DriftShareHigh": (
        "A large share of the features no longer look like the baseline. Open the drift report "
        "(`GET /v1/models/{model}/drift`) to see which ones moved and how; an upstream change (a pipeline, "
        "a unit, a new source of traffic) is more likely than a changed world. Decide whether to fix the "
        "input, retrain, or move the baseline."
    ),
    "NullRateHigh": (
        "Features arrive empty more often than before. Find the columns with `null_rate:<feature>` and "
        "check the producer of those fields (a renamed field, a failed join, a broken upstream job)."
    ),
    "NoData": (
        "The model sent no events for 15 minutes. Is the service up and taking traffic? Is its SDK "
        "pointed at this server with a valid key? A deploy that broke logging shows here first."
    ),
    "AccuracyDrop": (
        "Accuracy on labelled predictions fell 10% below its weekly median. Check label coverage and lag "
        "first (late or partial labels bias it), then drift of the features and the prediction; retrain or "
        "roll back if the fall is real."
    ),
    "MaeRise": (
        "The mean absolute error rose 20% above its weekly median. Check label coverage and lag, then the "
        "drift report; retrain or roll back if the rise is real."
    ),
    "CostPerPredictionSpike": (
        "Each prediction costs 50% more than last week's mean. Compare tokens in and out per prediction "
        "(prompt growth, longer answers, retries) and check for a model or price change in the last deploy."
    ),
}
"""A short inline runbook for each default rule (``{model}`` is the model's name)."""


def default_rules(model_name: str, spec: ModelSpec) -> list[Rule]:
    """Sensible rules for a new model, so it is monitored from day one; see ``DEFAULT_RULES_DOC``. Each
    carries its inline runbook from ``DEFAULT_RUNBOOKS``."""
    base: dict[str, Any] = {"model": model_name, "labels": {"team": spec.owner.team}, "sliding": True}
    if spec.owner.contact:
        base["owner"] = spec.owner.contact
    specs: list[dict[str, Any]] = [
        {"name": "ErrorRateHigh", "metric": "error_rate", "warning": 0.05, "critical": 0.10, "for": "5m"},
        {
            "name": "LatencyP95Spike",
            "metric": "latency_p95",
            "kind": "relative",
            "factor": 3,
            "baseline": "median",
            "for": "10m",
        },
        {"name": "DriftShareHigh", "metric": "drift_share", "warning": 0.3, "critical": 0.5, "window": "1h"},
        {"name": "NullRateHigh", "metric": "null_rate", "warning": 0.01, "critical": 0.05, "window": "15m"}
        | {"for": "15m"},
        {"name": "NoData", "kind": "no_data", "window": "5m", "for": "15m"},
    ]
    relative_1h: dict[str, Any] = {"kind": "relative", "window": "1h", "baseline_window": "7d"}
    if spec.task in ("binary", "multiclass"):
        specs.append({"name": "AccuracyDrop", "metric": "accuracy", "op": "<", "percent": 10, **relative_1h})
    elif spec.task == "regression":
        specs.append({"name": "MaeRise", "metric": "mae", "percent": 20, **relative_1h})
    elif spec.task == "llm":
        specs.append(
            {"name": "CostPerPredictionSpike", "metric": "cost_per_prediction", "percent": 50}
            | relative_1h
            | {"baseline": "mean"}
        )
    return [
        Rule.model_validate({**base, "runbook": DEFAULT_RUNBOOKS[s["name"]].format(model=model_name), **s})
        for s in specs
    ]
