"""Alert rules: what to watch on which model, when it is bad, and who to tell (the ``rules:`` section).

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
* ``no_data``: the model sent no events in the evaluation window; with ``for`` this is "no events for
  ``for``". Its metric is ``events`` (leave ``metric`` out).

Every rule has ``for`` and ``keep_firing_for`` (see ``vigil.alerting.state``), ``labels`` (added to its
alerts: team, service, a severity route...), ``owner``, ``runbook`` (a URL or inline Markdown), ``route``
(the receiver's name, added as the ``route`` label), and an optional ``summary``.

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

:func:`parse_rules` checks a ``rules:`` list and raises one ``ConfigError`` naming every bad rule and what
to fix; :func:`default_rules` gives the rules every new model gets (documented there).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from vigil.alerting.state import Severity, Timing
from vigil.config import ModelSpec, VigilConfig, parse_duration
from vigil.errors import ConfigError, ConfigProblem
from vigil.monitoring.query import METRICS

__all__ = ["DEFAULT_RULES_DOC", "Rule", "default_rules", "known_metric", "parse_rules", "rules_from_config"]

Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
Kind = Literal["threshold", "relative", "no_data"]
_PER_FEATURE = ("drift", "null_rate")


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


class Rule(BaseModel):
    """One alert rule. Build it from YAML with :func:`parse_rules`, or in code with ``Rule(name=..., ...)``
    (``for`` is ``for_`` in code). Durations are timedeltas (written 30s, 5m, 2h, 7d in YAML)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False)

    name: Annotated[str, Field(min_length=1)]
    model: Annotated[str, Field(min_length=1)] = "*"
    version: str | None = None
    feature: str | None = None
    segment: str | None = None
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
    severity: Severity = Severity.WARNING
    window: Duration = timedelta(minutes=5)
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
        # parse_duration refuses 0; "for: 0" means "at once" here, as in Prometheus.
        if isinstance(data, dict):
            data = dict(data)
            for key in ("for", "for_", "keep_firing_for"):
                if data.get(key) in (0, "0", "0s", 0.0):
                    data[key] = None
        return data

    @model_validator(mode="after")
    def _check(self) -> Rule:
        metric = self.metric
        if self.kind == "no_data":
            if metric not in ("", "events"):
                raise _Bad("metric", f"a no_data rule watches events, not {metric!r}", "remove metric")
            for key in ("warning", "critical", "factor", "percent"):
                if getattr(self, key) is not None:
                    raise _Bad(key, f"{key} does not apply to no_data rules", f"remove {key}")
            object.__setattr__(self, "metric", "events")
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
            object.__setattr__(self, "metric", metric)
        if self.segment is not None:
            raise _Bad(
                "segment",
                "segment selectors are not supported yet (metric series are per model and version)",
                "remove segment",
            )
        if self.kind == "threshold":
            self._check_levels()
        elif self.kind == "relative":
            self._check_relative()
        if self.window <= timedelta(0):
            raise _Bad("window", "window must be positive", "write it like 5m")
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
        if self.baseline_window <= self.window:
            raise _Bad(
                "baseline_window",
                "baseline_window must be longer than window",
                "use e.g. baseline_window: 7d",
            )

    @property
    def timing(self) -> Timing:
        hold = self.for_.total_seconds() if self.for_ else 0.0
        keep = self.keep_firing_for.total_seconds() if self.keep_firing_for else 0.0
        return Timing(for_warning=hold, for_critical=hold, keep_firing_for=keep)

    def applies_to(self, model: str) -> bool:
        return self.model in ("*", model)

    def levels(self) -> dict[Severity, float]:
        """The threshold levels given, by severity."""
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

    def breached(self, value: float | None, baseline: float | None = None) -> Severity | None:
        """The severity this rule's condition gives ``value`` (None: no breach, or no value)."""
        if value is None or math.isnan(value):
            return None
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


def parse_rules(data: object, filename: str = "vigil.yaml", text: str | None = None) -> tuple[Rule, ...]:
    """The rules of a ``rules:`` section (a list of mappings; None or missing gives no rules).

    Raises one ``ConfigError`` listing every problem, each naming the rule (``rules[2] 'HighLatency'``)
    and what to fix; with the file's ``text`` the problems carry line and column.
    """
    if data is None:
        return ()
    locate = _locator(text, filename)
    if not isinstance(data, list):
        raise ConfigError([locate(("rules",), "must be a list of rules", "write each rule as - name: ...")])
    problems: list[ConfigProblem] = []
    rules: list[Rule] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(data):
        name = item.get("name") if isinstance(item, dict) else None
        who = f"rule {name!r}" if isinstance(name, str) and name else f"rule {i + 1} (no name)"
        if not isinstance(item, dict):
            problems.append(locate(("rules", i), f"{who}: must be a mapping", "write it as - name: ..."))
            continue
        try:
            rule = Rule.model_validate(item)
        except ValidationError as exc:
            for error in exc.errors():
                loc = tuple(error["loc"])
                cause = error.get("ctx", {}).get("error")
                if isinstance(cause, _Bad):
                    problems.append(locate(("rules", i, cause.key), f"{who}: {cause.message}", cause.hint))
                    continue
                key = str(loc[0]) if loc else ""
                message, hint = _explain(error, key)
                problems.append(locate(("rules", i, *loc), f"{who}: {message}", hint))
            continue
        if rule.name in seen:
            problems.append(
                locate(
                    ("rules", i, "name"),
                    f"{who}: the name is used twice (first by rule {seen[rule.name] + 1})",
                    "give each rule its own name",
                )
            )
            continue
        seen[rule.name] = i
        rules.append(rule)
    if problems:
        raise ConfigError(sorted(problems, key=lambda p: (p.line or 0, p.column or 0)))
    return tuple(rules)


def rules_from_config(
    config: VigilConfig, filename: str = "vigil.yaml", text: str | None = None
) -> tuple[Rule, ...]:
    """The rules of ``config``'s ``rules:`` section (kept in ``model_extra``); see :func:`parse_rules`."""
    return parse_rules((config.model_extra or {}).get("rules"), filename, text)


def _explain(error: Mapping[str, Any], key: str) -> tuple[str, str]:
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"unknown key {key!r}", f"allowed keys: {', '.join(f.alias or n for n, f in _FIELDS.items())}"
    if kind == "missing":
        return f"required key {key!r} is missing", f"add {key}:"
    cause = error.get("ctx", {}).get("error")
    issues = getattr(cause, "issues", None)
    if issues:  # parse_duration's own message and hint
        return f"{key}: {issues[0].message}", issues[0].hint
    return (
        f"{key}: {error['msg']} (got {error.get('input')!r})",
        "see the rule format in vigil.alerting.rules",
    )


_FIELDS = Rule.model_fields


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
Rules every model gets (``default_rules``), labelled with the model owner's team:

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


def default_rules(model_name: str, spec: ModelSpec) -> list[Rule]:
    """Sensible rules for a new model, so it is monitored from day one; see ``DEFAULT_RULES_DOC``."""
    base: dict[str, Any] = {"model": model_name, "labels": {"team": spec.owner.team}}
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
    return [Rule.model_validate({**base, **s}) for s in specs]
