"""Every section of a vigil.yaml checked together: what ``vigil validate`` reports, and what the procedure is
drawn from.

:func:`check_sections` parses the ``rules:``, ``slos:``, ``actions:`` and ``alerting:`` sections of a loaded
config (the others are checked by :func:`vigil.config.load_config`) and raises one ``ConfigError`` listing
every problem of all of them. An action's trigger may name a default rule (``AccuracyDrop``...), as the
server allows: the rule names it is checked against are those of the ``rules:`` and ``slos:`` sections and
the default rules of the declared models (unless ``alerting.default_rules`` is false).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from vigil.actions.config import ActionSpec, actions_from_config
from vigil.alerting.rules import DeclaredRule, Rule, rules_from_config, slos_from_config
from vigil.alerting.rules.defaults import defaults_besides
from vigil.alerting.settings import AlertingSettings, load_alerting
from vigil.config import VigilConfig
from vigil.errors import ConfigError, ConfigProblem
from vigil.loading import load

__all__ = ["Sections", "check_sections", "load_sections"]


@dataclass(frozen=True)
class Sections:
    """A config with its alerting and actions sections parsed."""

    config: VigilConfig
    rules: tuple[Rule, ...]
    """The ``rules:`` section."""
    slos: tuple[Rule, ...]
    """The ``slos:`` section, each SLO a rule of kind ``slo``."""
    defaults: tuple[DeclaredRule, ...]
    """The default rules of the declared models that the config does not replace (none when turned off)."""
    actions: tuple[ActionSpec, ...]
    alerting: AlertingSettings | None
    """None without an ``alerting:`` section: then no rule is evaluated and nothing is sent."""
    filename: str = "vigil.yaml"

    @property
    def in_force(self) -> tuple[Rule, ...]:
        """Every rule, as the server's rule book orders them: the config's, the SLOs', then the defaults."""
        return (*self.rules, *self.slos, *self.defaults)


def check_sections(config: VigilConfig, filename: str = "vigil.yaml", text: str | None = None) -> Sections:
    """``config``'s sections parsed; one ``ConfigError`` with every problem (positioned when ``text`` is the
    file's text)."""
    problems: list[ConfigProblem] = []
    rules: tuple[Rule, ...] = ()
    slos: tuple[Rule, ...] = ()
    actions: tuple[ActionSpec, ...] = ()
    alerting: AlertingSettings | None = None
    try:
        rules = rules_from_config(config, filename, text)
    except ConfigError as exc:
        problems.extend(exc.problems)
    try:
        slos = slos_from_config(config, filename, text)
    except ConfigError as exc:
        problems.extend(exc.problems)
    late: list[ConfigProblem] = []  # the alerting section's, listed last as vigil validate always did
    if config.has_alerting:
        try:
            alerting = load_alerting(config, filename, text)
        except ConfigError as exc:
            late.extend(exc.problems)
    # a broken alerting section hides whether default rules are on: count them, so no action is refused for it
    on = alerting is None or alerting.default_rules
    defaults = tuple(defaults_besides(config.models.items(), (*rules, *slos))) if on else ()
    names = {r.name for r in (*rules, *slos)}
    if on:
        names |= {r.name for r in defaults_besides(config.models.items(), ())}
    try:
        actions = actions_from_config(config, filename, text, rules=sorted(names))
    except ConfigError as exc:
        problems.extend(exc.problems)
    problems.extend(late)
    if problems:
        raise ConfigError(problems)
    return Sections(config, rules, slos, defaults, actions, alerting, filename)


def load_sections(path: str | os.PathLike[str]) -> Sections:
    """The config file at ``path`` checked whole (:func:`vigil.loading.load`: every problem of every section
    and the references between them, in one ``ConfigError``), with its default rules."""
    loaded = load(path)
    config = loaded.config
    on = loaded.alerting is None or loaded.alerting.default_rules
    rules = (*loaded.rules, *loaded.slos)
    defaults = tuple(defaults_besides(config.models.items(), rules)) if on else ()
    return Sections(
        config, loaded.rules, loaded.slos, defaults, loaded.actions, loaded.alerting, os.fspath(path)
    )
