"""``slo``: an SLO's burn-rate alerts, and the ``slos:`` section of vigil.yaml that declares them.

Each SLO (see :mod:`vigil.alerting.rules.error_budget` for the math) becomes a :class:`SloRule`, evaluated
like the other rules (state machine, grouping, inhibition, notifications). It fires **critical**
(a page) while a page tier of the multi-window burn-rate alerts holds (> 14.4 over 1h and 5m, or > 6 over 6h
and 30m, for a 30-day window) and **warning** (a ticket) while only a ticket tier holds (> 3 over 24h and 2h,
or > 1 over 3d and 6h). Its alerts are labelled ``alertname`` = the SLO's name, ``slo``, ``sli``,
``kind: slo``. ::

    slos:
      - name: credit-availability
        model: credit
        sli: availability          # bad = failed requests
        target: 0.999
        window: 30d                # the default; at least 1h
        owner: risk-oncall@example.com
        runbook: https://wiki.example.com/runbooks/credit-slo
      - name: credit-latency
        model: credit
        sli: latency               # bad = requests slower than threshold_ms
        threshold_ms: 300
        target: 0.99
      - name: credit-accuracy
        model: credit
        sli: accuracy              # any metric: good = model windows where accuracy >= 0.9
        threshold: 0.9
        op: ">="                   # the default for accuracy, precision, recall, f1, label_coverage,
        target: 0.95               # throughput, events and predictions; "<=" for every other metric
        min_events: 10             # optional: judge a tier only with this many events (windows) in it

They also take ``version``, ``labels``, ``route``, ``summary``, ``for`` and ``keep_firing_for``.

:func:`parse_slos` checks the section and raises one ``ConfigError`` naming every bad SLO and what to fix
(with file:line when given the text), as :func:`~vigil.alerting.rules.parse_rules` does for ``rules:``.
A rule of kind ``slo`` is judged from its SLO's status at the end of the model's last complete window:
**critical** while a page tier holds, **warning** while only a ticket tier holds; its value is the
long-window burn rate of the first tier that holds at that severity (else of the first tier), its threshold
that tier's factor.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from vigil.alerting.evaluate.source import MetricSource
from vigil.alerting.evaluate.window import Window
from vigil.alerting.rules.base import (
    Duration,
    Evaluation,
    RuleBase,
    fmt,
    known_metric,
    problem,
    zeros_to_none,
)
from vigil.alerting.rules.error_budget import Sli, Slo, SloStatus, slo_status
from vigil.alerting.state import Severity
from vigil.config import VigilConfig
from vigil.config.problems import keys_of, parse_entries
from vigil.spec import ModelSpec
from vigil.timefmt import format_span

__all__ = ["SloRule", "SloSpec", "parse_slos", "slos_from_config"]

_HIGHER_IS_BETTER = (
    "accuracy",
    "precision",
    "recall",
    "f1",
    "label_coverage",
    "throughput",
    "events",
    "predictions",
)
_SHORTEST_BURN_WINDOW = timedelta(hours=1)


_SEVERITY = {"page": Severity.CRITICAL, "ticket": Severity.WARNING}
_SLI_METRICS = {"availability": "events,errors,error_rate", "latency": "latency_p50,latency_p95,latency_p99"}


class SloRule(RuleBase):
    """The rule of one SLO (built by :meth:`SloSpec.rule`; its name, model and version are its SLO's)."""

    kind: Literal["slo"] = "slo"
    objective: Slo = Field(alias="slo")

    @model_validator(mode="after")
    def _check_objective(self) -> SloRule:
        slo = self.objective
        if (slo.name, slo.model, slo.version) != (self.name, self.model, self.version):
            raise problem(
                "slo", "an SLO rule's name, model and version are its SLO's", "build it with parse_slos"
            )
        if self.segment is not None:
            raise problem("segment", "SLOs do not take a segment", "remove segment")
        object.__setattr__(self, "metric", slo.sli.label)
        return self

    @property
    def slo(self) -> Slo:
        return self.objective

    def evaluate(self, model: str, spec: ModelSpec, source: MetricSource, now: float) -> Evaluation:
        """The SLO's status at the end of ``model``'s last complete window before ``now``, judged."""
        res = spec.window.total_seconds()
        end = math.floor(now / res) * res
        slo = self.objective
        status = slo_status(source, slo, end)
        breached = _SEVERITY[status.severity] if status.severity is not None else None
        tiers = [a.window for a in status.alerts if a.severity == status.severity] or list(slo.burn_windows)
        value = status.burn_rates[tiers[0].long] if tiers else None
        threshold = tiers[0].factor if tiers else None
        return Evaluation(self, model, end - slo.window, end, value, None, threshold, breached, status=status)

    @property
    def severities(self) -> tuple[Severity, ...]:
        return tuple(
            _SEVERITY[t] for t in ("page", "ticket") if any(w.severity == t for w in self.slo.burn_windows)
        )

    def condition(self) -> str:
        """``availability 99.9% over 30d: critical at burn rate 14.4x (1h and 5m), 6x (6h and 30m); warning at
        ...``; the SLI says what is good (requests without error, requests of at most 300 ms, windows with
        accuracy >= 0.9)."""
        slo = self.objective
        sli = slo.sli
        if sli.kind == "latency":
            good = f"requests of at most {sli.threshold_ms:g} ms"
        elif sli.kind == "quality":
            good = f"windows with {sli.metric} {'>=' if sli.op == '<' else '<='} {sli.threshold:g}"
        else:
            good = "requests without error"
        tiers = []
        for tier in ("page", "ticket"):
            windows = [w for w in slo.burn_windows if w.severity == tier]
            if windows:
                rates = ", ".join(
                    f"{w.factor:g}x ({format_span(w.long)} and {format_span(w.short)})" for w in windows
                )
                tiers.append(f"{_SEVERITY[tier].value} at burn rate {rates}")
        return f"{slo.target * 100:g}% {good} over {format_span(slo.window)}: {'; '.join(tiers)}"

    def judge(self, window: Window) -> Evaluation:
        return self.evaluate(window.model, window.spec, window.source, window.end)

    def breached(self, value: float | None, baseline: float | None = None) -> Severity | None:
        """None: an SLO is judged from its status (see :meth:`evaluate`), not from one value."""
        return None

    def extra_labels(self) -> dict[str, str]:
        return {"slo": self.objective.name, "sli": self.objective.sli.label}

    def describe(self, ev: Evaluation, where: str) -> tuple[str, dict[str, str]]:
        if ev.status is None:
            return f"{self.metric} of {where} is {fmt(ev.value)} (> {fmt(ev.threshold)})", {}
        return _slo_notes(ev.status, where)

    def dashboard(self, ev: Evaluation) -> tuple[str, float, float]:
        slo = self.objective
        names = _SLI_METRICS.get(slo.sli.kind, self.metric)
        longest = max((w.long for w in slo.burn_windows), default=slo.window)
        return names, ev.end - longest, max(60.0, longest / 72)


class SloSpec(BaseModel):
    """One entry of the ``slos:`` section (see the module docstring); :meth:`rule` builds its rule."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False)

    name: Annotated[str, Field(min_length=1)]
    model: Annotated[str, Field(min_length=1)]
    version: str | None = None
    sli: Annotated[str, Field(min_length=1)] = "availability"
    threshold_ms: float | None = None
    threshold: float | None = None
    op: Literal[">=", "<="] | None = None
    target: float
    window: Duration = timedelta(days=30)
    min_events: Annotated[float, Field(ge=0)] = 0.0
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

    @model_validator(mode="after")
    def _check(self) -> SloSpec:
        if self.model == "*":
            raise problem(
                "model", "an SLO is for one model, not '*'", "name the model; write one SLO per model"
            )
        if not 0 < self.target < 1:
            raise problem(
                "target",
                f"target must be a share strictly between 0 and 1 (got {self.target:g})",
                "write 99.9% as target: 0.999",
            )
        if self.window < _SHORTEST_BURN_WINDOW:
            raise problem(
                "window", "window must be at least 1h (the shortest burn-rate window)", "use e.g. 30d"
            )
        sli = self.sli
        unused = {
            "availability": ("threshold_ms", "threshold", "op"),
            "latency": ("threshold", "op"),
        }.get(sli, ("threshold_ms",))
        for key in unused:
            if getattr(self, key) is not None:
                raise problem(key, f"{key} does not apply to a {sli} SLI", f"remove {key}")
        if sli == "latency":
            if self.threshold_ms is None or not self.threshold_ms > 0:
                raise problem(
                    "threshold_ms",
                    "a latency SLI needs threshold_ms > 0 (requests at most this slow are good)",
                    "add e.g. threshold_ms: 300",
                )
        elif sli != "availability":
            if not known_metric(sli):
                raise problem(
                    "sli",
                    f"unknown SLI {sli!r}",
                    "use availability, latency (with threshold_ms) or a metric such as accuracy "
                    "(with threshold)",
                )
            if self.threshold is None:
                raise problem(
                    "threshold",
                    f"a {sli} SLI needs threshold (windows with {sli} {self.good_op} threshold are good)",
                    "add e.g. threshold: 0.9",
                )
        return self

    @property
    def good_op(self) -> str:
        return self.op or (">=" if self.sli in _HIGHER_IS_BETTER else "<=")

    def rule(self) -> SloRule:
        if self.sli == "availability":
            sli = Sli()
        elif self.sli == "latency":
            sli = Sli("latency", threshold_ms=self.threshold_ms)
        else:
            bad_op: Literal[">", "<"] = "<" if self.good_op == ">=" else ">"
            sli = Sli("quality", metric=self.sli, op=bad_op, threshold=self.threshold)
        slo = Slo(
            self.name,
            self.model,
            sli,
            self.target,
            self.window.total_seconds(),
            self.version,
            min_events=self.min_events,
        )
        return SloRule.model_validate(
            {
                "name": self.name,
                "model": self.model,
                "version": self.version,
                "slo": slo,
                "window": timedelta(seconds=min(w.short for w in slo.burn_windows)),
                "for": self.for_,
                "keep_firing_for": self.keep_firing_for,
                "labels": self.labels,
                "owner": self.owner,
                "runbook": self.runbook,
                "route": self.route,
                "summary": self.summary,
            }
        )


def parse_slos(
    data: object,
    filename: str = "vigil.yaml",
    text: str | None = None,
    rule_names: Collection[str] = (),
) -> tuple[SloRule, ...]:
    """The SLOs of a ``slos:`` section as rules of kind ``slo`` (each with its ``Slo`` in ``rule.slo``);
    None or missing gives none. Problems are reported as by :func:`parse_rules`, naming the SLO
    (``SLO 'credit-availability'``); an SLO may not take the name of a rule in ``rule_names`` (an alert's
    state is keyed by name and model)."""
    taken = set(rule_names)

    def build(item: dict[str, Any]) -> SloRule:
        spec = SloSpec.model_validate(item)
        if spec.name in taken:
            raise problem("name", "a rule has the same name", "give the SLO a name no rule uses")
        return spec.rule()

    return parse_entries(
        "slos", "SLO", data, build, lambda _: keys_of(SloSpec), filename, text, "vigil.alerting.rules.slo"
    )


def slos_from_config(
    config: VigilConfig, filename: str = "vigil.yaml", text: str | None = None
) -> tuple[SloRule, ...]:
    """The SLOs of ``config``'s ``slos:`` section as rules of kind ``slo`` (see :func:`parse_slos`); their
    names must differ from those in the ``rules:`` section. Evaluate them with the other rules; their
    ``Slo`` objects (``rule.slo``) give ``vigil.alerting.rules.error_budget.slo_statuses``."""
    raw_rules = config.rules
    names = {
        item["name"]
        for item in (raw_rules if isinstance(raw_rules, list) else [])
        if isinstance(item, dict) and isinstance(item.get("name"), str)
    }
    return parse_slos(config.slos, filename, text, names)


def _slo_notes(status: SloStatus, where: str) -> tuple[str, dict[str, str]]:
    slo = status.slo
    tiers = "; ".join(
        f"{format_span(w.long)}/{format_span(w.short)} > {w.factor:g} ({w.severity})"
        for w in slo.burn_windows
    )
    notes = {
        f"burn_rate_{format_span(length)}": f"{rate:.4g}"
        for length, rate in sorted(status.burn_rates.items())
    }
    notes |= {
        "error_budget_remaining": f"{status.budget_remaining:.4g}",
        "target": f"{slo.target:g}",
        "slo_window": format_span(slo.window),
        "burn_windows": tiers,
    }
    left = f"{status.budget_remaining:.1%} of the {format_span(slo.window)} error budget left"
    if status.alerts:
        worst = next(a for a in status.alerts if a.severity == status.severity)
        w = worst.window
        what = (
            f"SLO {slo.name} ({slo.sli.label} {slo.target:g}) of {where} burns its error budget "
            f"{worst.long_rate:.3g}x over {format_span(w.long)} and {worst.short_rate:.3g}x over "
            f"{format_span(w.short)} "
            f"(> {w.factor:g}: {w.severity}); {left}"
        )
    else:
        rates = ", ".join(f"{format_span(w.long)} {status.burn_rates[w.long]:.3g}x" for w in slo.burn_windows)
        what = f"SLO {slo.name} ({slo.sli.label} {slo.target:g}) of {where}: burn rates {rates}; {left}"
    return what, notes
