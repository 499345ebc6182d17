"""The rule kinds, registered in one place, and the ``rules:`` section that declares them.

:data:`KINDS` maps each ``kind`` a ``rules:`` entry may name to its class; :data:`RuleSpec` is the
discriminated union of them (``kind`` defaults to ``threshold``) that validates one entry, and :data:`Rule`
any rule in force (the ``slo`` rules of the ``slos:`` section too). Adding a kind is one module beside the
others and one line in :data:`KINDS` and each union.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, TypeAdapter

from vigil.alerting.rules.anomaly import AnomalyRule
from vigil.alerting.rules.base import RuleBase, problem
from vigil.alerting.rules.change import ChangeRule
from vigil.alerting.rules.no_data import NoDataRule
from vigil.alerting.rules.relative import RelativeRule
from vigil.alerting.rules.slo import SloRule
from vigil.alerting.rules.threshold import ThresholdRule
from vigil.config import VigilConfig
from vigil.config.problems import keys_of, parse_entries

__all__ = ["KINDS", "DeclaredRule", "Rule", "RuleSpec", "parse_rules", "rules_from_config", "validate_rule"]

KINDS: dict[str, type[RuleBase]] = {
    "threshold": ThresholdRule,
    "relative": RelativeRule,
    "anomaly": AnomalyRule,
    "no_data": NoDataRule,
    "change": ChangeRule,
}
"""The kinds a ``rules:`` entry may name (``slo`` rules come from the ``slos:`` section)."""

DeclaredRule = ThresholdRule | RelativeRule | AnomalyRule | NoDataRule | ChangeRule
"""A rule a ``rules:`` entry declares."""
Rule = DeclaredRule | SloRule
"""Any rule in force."""


def _keys(kind: type[RuleBase]) -> set[str]:
    return {*kind.model_fields, *keys_of(kind)}


def _names(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _route(data: object) -> object:
    """The entry with its ``kind`` (threshold when left out), or an issue: an unknown kind, an SLO, or a key
    that belongs to other kinds (said as such, not as an unknown key)."""
    if not isinstance(data, Mapping):
        return data
    kind = data.get("kind", "threshold")
    if kind == "slo" or data.get("slo") is not None:
        raise problem("kind", "SLOs are declared in the slos: section", "move it under slos:")
    chosen = KINDS.get(kind) if isinstance(kind, str) else None
    if chosen is None:
        raise problem("kind", f"unknown kind {kind!r}", f"use one of {', '.join(KINDS)}")
    accepted = _keys(chosen)
    for key in data:
        owners = [name for name, other in KINDS.items() if key not in accepted and key in _keys(other)]
        if owners:
            message, hint = chosen.REFUSED.get(key) or (
                f"{key} does not apply to {kind} rules; it applies to {_names(owners)} rules",
                f"set kind: {owners[0]}, or remove {key}",
            )
            raise problem(str(key), message, hint)
    return {**data, "kind": kind}


RuleSpec = Annotated[
    ThresholdRule | RelativeRule | AnomalyRule | NoDataRule | ChangeRule,
    Field(discriminator="kind"),
    BeforeValidator(_route),
]
"""One entry of the ``rules:`` section. A problem inside a kind's fields is located under the kind's name
first (pydantic's tagged-union location: ``(1, "relative", "factor")``)."""

_RULE: TypeAdapter[DeclaredRule] = TypeAdapter(RuleSpec)


def validate_rule(data: Mapping[str, Any]) -> DeclaredRule:
    """The rule a ``rules:`` entry describes; raises pydantic's ``ValidationError`` (see :func:`parse_rules`
    for problems a person reads)."""
    return _RULE.validate_python(data)


def _allowed(entry: Mapping[str, Any]) -> list[str]:
    kind = KINDS.get(str(entry.get("kind", "threshold")))
    return keys_of(kind) if kind is not None else []


def parse_rules(data: object, filename: str = "vigil.yaml", text: str | None = None) -> tuple[Rule, ...]:
    """The rules of a ``rules:`` section (a list of mappings; None or missing gives no rules).

    Raises one ``ConfigError`` listing every problem, each naming the rule (``rules[2] 'HighLatency'``)
    and what to fix; with the file's ``text`` the problems carry line and column.
    """
    found: tuple[Rule, ...] = parse_entries(
        "rules", "rule", data, validate_rule, _allowed, filename, text, "vigil.alerting.rules", tags=KINDS
    )
    return found


def rules_from_config(
    config: VigilConfig, filename: str = "vigil.yaml", text: str | None = None
) -> tuple[Rule, ...]:
    """The rules of ``config``'s ``rules:`` section; see :func:`parse_rules`."""
    return parse_rules(config.rules, filename, text)
