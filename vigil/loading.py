"""vigil.yaml checked whole: the root schema, every section its owners check, and the references between
sections, with every problem in one ``ConfigError``. ``vigil validate`` and ``vigil serve`` load here.

The root schema (:mod:`vigil.config`) checks models, columns, drift, quality and security; the ``rules``,
``slos``, ``alerting`` and ``actions`` sections are checked by the packages that use them, even when the rest
of the file has problems, so that one run reports everything. Then what one section says of another:

* a rule or an SLO names a model that is not declared (unless ``security.auto_register`` lets models
  arrive on their own);
* a rule's or an SLO's ``route`` names a receiver that ``alerting.receivers`` does not have;
* an action names an undeclared model, or a rule (``when.alerts``) that neither the config nor the default
  rules have;
* a route names an undeclared receiver (checked by the ``alerting`` section itself).

Each problem is at its file:line:col, with the nearest name ("did you mean").
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

from vigil.actions.config import ActionSpec, parse_actions
from vigil.alerting.rules import Rule, parse_rules, parse_slos
from vigil.alerting.rules.defaults import default_rules
from vigil.alerting.settings import AlertingSettings, parse_alerting
from vigil.config import VigilConfig, check_config, read_config
from vigil.config.problems import Locate, choose, locator
from vigil.errors import ConfigError, ConfigProblem
from vigil.spec import ModelSpec
from vigil.spec.models import Task

__all__ = ["Loaded", "load", "load_text"]


@dataclass(frozen=True)
class Loaded:
    """A valid vigil.yaml: the root config and the checked sections."""

    config: VigilConfig
    rules: tuple[Rule, ...]
    slos: tuple[Rule, ...]
    actions: tuple[ActionSpec, ...]
    alerting: AlertingSettings | None
    """The ``alerting:`` section; None when the file has none (alerting is off)."""

    def counts(self) -> list[str]:
        """What the file declares, counted: ``["2 models", "0 columns declared", "3 rules", ...]``."""
        out = [
            f"{len(self.config.models)} models",
            f"{len(self.config.columns)} columns declared",
            f"{len(self.rules)} rules",
            f"{len(self.slos)} SLOs",
            f"{len(self.actions)} actions",
        ]
        if self.alerting is not None:
            out.append(f"{len(self.alerting.receivers)} receivers")
        return out


def load(path: str | os.PathLike[str]) -> Loaded:
    """Read and check the config file at ``path`` whole; one ``ConfigError`` lists every problem."""
    return load_text(read_config(path), os.fspath(path), folder=Path(path).parent)


def load_text(
    text: str, filename: str = "vigil.yaml", *, folder: str | os.PathLike[str] | None = None
) -> Loaded:
    """Check config ``text`` whole (``folder``: where the files it names are looked for)."""
    checked = check_config(text, filename, folder=folder)
    problems = list(checked.problems)
    data = checked.data
    raw_models = data.get("models")
    models: dict[str, ModelSpec | None] = (
        dict(checked.config.models)
        if checked.config is not None
        else {str(k): None for k in raw_models}
        if isinstance(raw_models, dict)
        else {}
    )

    def section(parse: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return parse(*args, **kwargs)
        except ConfigError as exc:
            problems.extend(exc.problems)
            return None

    rules: tuple[Rule, ...] = section(parse_rules, data.get("rules"), filename, text) or ()
    rule_names = {
        str(item["name"]) for _, item in _entries(data.get("rules")) if isinstance(item.get("name"), str)
    }
    slos: tuple[Rule, ...] = section(parse_slos, data.get("slos"), filename, text, rule_names) or ()
    alerting: AlertingSettings | None = None
    if "alerting" in data:
        alerting = section(parse_alerting, data.get("alerting"), filename, text)
    known_rules = [*(r.name for r in rules), *(r.name for r in slos)]
    if alerting is None or alerting.default_rules:
        known_rules.extend(_default_names(models.items()))
    actions: tuple[ActionSpec, ...] = (
        section(
            parse_actions,
            data.get("actions"),
            filename,
            text,
            models=list(models),
            rules=list(dict.fromkeys(known_rules)),
        )
        or ()
    )
    auto_register = checked.config is not None and checked.config.security.auto_register
    locate = locator(text, filename)
    if not auto_register:
        problems.extend(_unknown_models("rules", "rule", data, list(models), locate))
        problems.extend(_unknown_models("slos", "SLO", data, list(models), locate))
    if "alerting" in data:
        problems.extend(_unknown_receivers(data, _receiver_names(data.get("alerting")), locate))
    if problems or checked.config is None:
        raise ConfigError(_in_order(problems))
    return Loaded(checked.config, rules, slos, actions, alerting)


def _entries(data: object) -> list[tuple[int, dict[str, Any]]]:
    """The mappings of a list section, with their positions."""
    items = data if isinstance(data, list) else []
    return [(i, item) for i, item in enumerate(items) if isinstance(item, dict)]


def _unknown_models(
    section: str, noun: str, data: dict[str, Any], models: Sequence[str], locate: Locate
) -> list[ConfigProblem]:
    """The entries of list section ``section`` naming an undeclared model, as written (an entry with other
    problems included: they are reported beside)."""
    out = []
    for i, item in _entries(data.get(section)):
        model, name = item.get("model"), item.get("name")
        if isinstance(model, str) and model not in ("*", "", *models):
            who = f"{noun} {name!r}" if isinstance(name, str) and name else f"{noun} {i + 1} (no name)"
            out.append(
                locate(
                    (section, i, "model"),
                    f"{who}: unknown model {model!r}",
                    f"{choose(model, models, 'models')}; declare it under models:, or set "
                    "security.auto_register: true",
                )
            )
    return out


def _unknown_receivers(data: dict[str, Any], receivers: Sequence[str], locate: Locate) -> list[ConfigProblem]:
    """The rules and SLOs whose ``route`` names a receiver ``alerting.receivers`` does not have."""
    out = []
    for section, noun in (("rules", "rule"), ("slos", "SLO")):
        for i, item in _entries(data.get(section)):
            route, name = item.get("route"), item.get("name")
            if isinstance(route, str) and route not in receivers:
                who = f"{noun} {name!r}" if isinstance(name, str) and name else f"{noun} {i + 1} (no name)"
                out.append(
                    locate(
                        (section, i, "route"),
                        f"{who}: route names receiver {route!r}, which is not configured",
                        f"{choose(route, receivers, 'receivers')}; add it under alerting.receivers",
                    )
                )
    return out


def _receiver_names(alerting: object) -> list[str]:
    """The receivers' names as written (the section may have problems of its own)."""
    receivers = alerting.get("receivers") if isinstance(alerting, dict) else None
    return [name for _, item in _entries(receivers) if isinstance(name := item.get("name"), str)]


def _default_names(models: Iterable[tuple[str, ModelSpec | None]]) -> list[str]:
    """The names of the default rules of ``models``; of every task's defaults for a model whose
    declaration has problems (its task is not known for sure)."""
    names: list[str] = []
    for name, spec in models:
        specs = (
            [spec]
            if spec is not None
            else [ModelSpec.model_validate({"task": t, "owner": {"team": "-"}}) for t in get_args(Task)]
        )
        for one in specs:
            names.extend(r.name for r in default_rules(name, one))
    return names


def _in_order(problems: list[ConfigProblem]) -> list[ConfigProblem]:
    """By position in the file; those without one last, in the order found."""
    return sorted(problems, key=lambda p: (p.line is None, p.line or 0, p.column or 0))
