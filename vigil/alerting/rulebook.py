"""The rule book: every rule in force, and where each comes from.

* ``config``: the ``rules:`` section, and the ``slos:`` section (each SLO a rule of kind ``slo``);
* ``default``: :func:`~vigil.alerting.rules.default_rules` for each registered model (unless
  ``alerting.default_rules`` is false), bar those the config already names for that model;
* ``api``: rules added through the API, kept in the store (records of kind :data:`RULE_KIND`, the body as
  given) so every server sharing it evaluates the same; each change is audited with the rule before and after.

A rule of the config or a default rule cannot be replaced through the API: the config is the truth for those.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from vigil.alerting.evaluate.source import Models
from vigil.alerting.rules import (
    DeclaredRule,
    Rule,
    parse_rules,
    rules_from_config,
    slos_from_config,
)
from vigil.alerting.rules.defaults import defaults_besides
from vigil.alerting.rules.section import validate_rule
from vigil.config import VigilConfig
from vigil.store.base import Store

__all__ = ["RULE_KIND", "RuleBook"]

RULE_KIND = "rule"

log = logging.getLogger("vigil.alerting")


class RuleBook:
    """The static rules (the config's, then the defaults) and the store's API rules (see the module)."""

    def __init__(self, static: Sequence[Rule], store: Store, defaults: Iterable[Rule] = ()) -> None:
        self.static = tuple(static)
        self.store = store
        self._defaults = frozenset(id(r) for r in defaults)

    @classmethod
    def from_config(
        cls, config: VigilConfig, models: Models, store: Store, *, defaults: bool = True
    ) -> RuleBook:
        """The config's rules and SLOs, and (with ``defaults``) the default rules of every model in
        ``models``. Raises ``ConfigError`` for a bad ``rules:`` or ``slos:`` section."""
        configured: list[Rule] = [*rules_from_config(config), *slos_from_config(config)]
        extra: list[Rule] = []
        if defaults:
            specs = [(name, spec) for name in models.names() if (spec := models.get(name)) is not None]
            extra.extend(defaults_besides(specs, configured))
        return cls([*configured, *extra], store, extra)

    def api_rules(self) -> list[tuple[DeclaredRule, dict[str, Any]]]:
        """Rules added through the API: each with the mapping it was given as (one no longer valid is skipped
        with a warning)."""
        out = []
        for record in self.store.records(RULE_KIND):
            given = json.loads(record.body)
            try:
                out.append((validate_rule(given), given))
            except ValidationError:
                log.warning("rule %r in the store is no longer valid; skipped", record.id)
        return out

    def rules(self) -> tuple[Rule, ...]:
        """Every rule in force: the static ones, then the API's (read from the store now)."""
        static = {r.name for r in self.static}
        return self.static + tuple(r for r, _ in self.api_rules() if r.name not in static)

    def source(self, rule: Rule, api: Iterable[str] = ()) -> str:
        """Where ``rule`` comes from: ``api`` (its name in ``api``), ``default`` or ``config``."""
        return "api" if rule.name in api else "default" if id(rule) in self._defaults else "config"

    def views(self) -> list[dict[str, Any]]:
        """Every rule in force as JSON, with its ``source``."""
        api = {r.name for r, _ in self.api_rules()}
        return [
            {
                **rule.model_dump(mode="json", by_alias=True, exclude_none=True),
                "source": self.source(rule, api),
            }
            for rule in self.rules()
        ]

    def put(self, given: Mapping[str, Any], actor: str, now: float) -> Rule:
        """Add or replace an API rule (checked as a ``rules:`` entry: ``ConfigError``); audited. Raises
        ValueError for the name of a static rule."""
        rule = parse_rules([dict(given)], "the request")[0]
        if any(r.name == rule.name for r in self.static):
            raise ValueError(f"rule {rule.name!r} comes from the config (or the defaults); change it there")
        old = self.store.record(RULE_KIND, rule.name)
        body = json.dumps(dict(given), sort_keys=True)
        self.store.put_record(RULE_KIND, rule.name, body, now)
        action = "rule.update" if old else "rule.create"
        self.store.append_audit(now, actor, action, f"rule/{rule.name}", old.body if old else None, body)
        return rule

    def delete(self, name: str, actor: str, now: float) -> bool:
        """Remove an API rule (audited); False when there is none of that name."""
        old = self.store.record(RULE_KIND, name)
        if old is None:
            return False
        self.store.delete_record(RULE_KIND, name)
        self.store.append_audit(now, actor, "rule.delete", f"rule/{name}", old.body, None)
        return True
