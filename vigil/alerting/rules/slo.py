"""SLOs in config: the ``slos:`` section of vigil.yaml, read into rules of kind ``slo``.

Each SLO (see ``vigil.alerting.rules.error_budget`` for the math) becomes a :class:`~vigil.alerting.rules.Rule` of kind
``slo``, evaluated like the others (state machine, grouping, inhibition, notifications). It fires **critical**
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
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from vigil.alerting.rules import Duration, Rule, _Bad, _parse_section, _zeros_to_none, known_metric
from vigil.alerting.rules.error_budget import Sli, Slo
from vigil.config import VigilConfig

__all__ = ["parse_slos", "slos_from_config"]

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


class _SloSpec(BaseModel):
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
        return _zeros_to_none(data)

    @model_validator(mode="after")
    def _check(self) -> _SloSpec:
        if self.model == "*":
            raise _Bad("model", "an SLO is for one model, not '*'", "name the model; write one SLO per model")
        if not 0 < self.target < 1:
            raise _Bad(
                "target",
                f"target must be a share strictly between 0 and 1 (got {self.target:g})",
                "write 99.9% as target: 0.999",
            )
        if self.window < _SHORTEST_BURN_WINDOW:
            raise _Bad("window", "window must be at least 1h (the shortest burn-rate window)", "use e.g. 30d")
        sli = self.sli
        unused = {
            "availability": ("threshold_ms", "threshold", "op"),
            "latency": ("threshold", "op"),
        }.get(sli, ("threshold_ms",))
        for key in unused:
            if getattr(self, key) is not None:
                raise _Bad(key, f"{key} does not apply to a {sli} SLI", f"remove {key}")
        if sli == "latency":
            if self.threshold_ms is None or not self.threshold_ms > 0:
                raise _Bad(
                    "threshold_ms",
                    "a latency SLI needs threshold_ms > 0 (requests at most this slow are good)",
                    "add e.g. threshold_ms: 300",
                )
        elif sli != "availability":
            if not known_metric(sli):
                raise _Bad(
                    "sli",
                    f"unknown SLI {sli!r}",
                    "use availability, latency (with threshold_ms) or a metric such as accuracy "
                    "(with threshold)",
                )
            if self.threshold is None:
                raise _Bad(
                    "threshold",
                    f"a {sli} SLI needs threshold (windows with {sli} {self.good_op} threshold are good)",
                    "add e.g. threshold: 0.9",
                )
        return self

    @property
    def good_op(self) -> str:
        return self.op or (">=" if self.sli in _HIGHER_IS_BETTER else "<=")

    def rule(self) -> Rule:
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
        return Rule.model_validate(
            {
                "name": self.name,
                "model": self.model,
                "version": self.version,
                "kind": "slo",
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
) -> tuple[Rule, ...]:
    """The SLOs of a ``slos:`` section as rules of kind ``slo`` (each with its ``Slo`` in ``rule.slo``);
    None or missing gives none. Problems are reported as by :func:`parse_rules`, naming the SLO
    (``SLO 'credit-availability'``); an SLO may not take the name of a rule in ``rule_names`` (an alert's
    state is keyed by name and model)."""
    taken = set(rule_names)

    def build(item: dict[str, Any]) -> Rule:
        spec = _SloSpec.model_validate(item)
        if spec.name in taken:
            raise _Bad("name", "a rule has the same name", "give the SLO a name no rule uses")
        return spec.rule()

    return _parse_section(
        "slos", "SLO", data, build, _SloSpec.model_fields, filename, text, "vigil.alerting.rules.slo"
    )


def slos_from_config(
    config: VigilConfig, filename: str = "vigil.yaml", text: str | None = None
) -> tuple[Rule, ...]:
    """The SLOs of ``config``'s ``slos:`` section as rules of kind ``slo`` (see :func:`parse_slos`); their
    names must differ from those in the ``rules:`` section. Evaluate them with the other rules; their
    ``Slo`` objects (``rule.slo``) give ``vigil.alerting.rules.error_budget.slo_statuses``."""
    extra = config.model_extra or {}
    raw_rules = extra.get("rules")
    names = {
        item["name"]
        for item in (raw_rules if isinstance(raw_rules, list) else [])
        if isinstance(item, dict) and isinstance(item.get("name"), str)
    }
    return parse_slos(extra.get("slos"), filename, text, names)
