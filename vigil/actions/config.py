"""Remediation actions as declared in the ``actions:`` section of vigil.yaml.

Each entry is one :class:`ActionSpec`::

    actions:
      - name: rollback-credit
        model: credit              # a declared model, or "*" for every model
        kind: rollback             # rollback | retrain | fallback
        when:                      # optional automatic trigger; without it the action is manual only
          alerts: [AccuracyDrop, DriftShareHigh]   # rule names (the alertname label) that count as signals
          min_signals: 2           # DISTINCT rules of that list firing on the model at once
          severity: critical       # optional: only alerts at this severity or above count
        cooldown: 1h               # no second execution of this action on this model within this time
        approval: required         # auto | required; default: required for high_impact models, else auto
        approval_timeout: 1h       # a run nobody approved within this time is closed as rejected
        webhook: https://deploy.example.com/hooks/rollback    # POST JSON (see vigil.actions.executors)
        headers: {Authorization: "Bearer ${DEPLOY_TOKEN}"}     # webhook only
        timeout: 60s               # of the HTTP call or the command

Executors, exactly one per action:

* ``webhook: URL`` (any kind), with optional ``headers``;
* ``mlflow: {tracking_uri, registered_model, alias, token?, versions?}`` (rollback only): moves the
  registered model's alias to the target version. ``registered_model`` may contain ``{model}``
  (required when ``model: "*"``); ``versions`` maps Vigil version names to MLflow version numbers
  (default: the same text);
* ``command: [argv...]`` (any kind): run without a shell; ``{model}``, ``{version}`` (the live version),
  ``{from_version}``, ``{to_version}`` (empty when there is none), ``{action}`` and ``{run_id}`` are
  substituted in each argument.

``fallback: NAME`` is required for ``kind: fallback`` (the version or endpoint to switch to) and allowed
nowhere else. ``${ENV}`` is expanded in ``webhook``, ``headers``, ``mlflow.tracking_uri`` and
``mlflow.token``, as elsewhere in the config.

Defaults: ``min_signals`` is 2 when ``alerts`` lists two or more rules, else 1 (confirmation by a second
signal unless only one is named); ``cooldown`` 1h (``0`` turns it off); ``timeout`` 60s;
``approval_timeout`` 1h.

:func:`parse_actions` raises one ``ConfigError`` naming every bad action (``action 'rollback-credit':``)
with the file, line and column when the YAML text is given.
"""

from __future__ import annotations

import os
import string
from collections.abc import Collection, Mapping
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidatorFunctionWrapHandler,
    model_validator,
)

from vigil.actions.secrets import HIDDEN, env_refs, shown_url, url_secrets
from vigil.alerting.state import Severity
from vigil.config import VigilConfig
from vigil.config.problems import Locate, choose, locator
from vigil.errors import ConfigError, ConfigProblem
from vigil.spec import ModelSpec
from vigil.spec import expand_env as _expand_env
from vigil.timefmt import parse_duration

__all__ = [
    "COMMAND_FIELDS",
    "ActionKind",
    "ActionSpec",
    "Approval",
    "MlflowTarget",
    "Trigger",
    "actions_from_config",
    "parse_actions",
]

ActionKind = Literal["rollback", "retrain", "fallback"]
Approval = Literal["auto", "required"]
COMMAND_FIELDS = ("model", "version", "from_version", "to_version", "action", "run_id")
"""The ``{placeholders}`` a command's arguments may use."""


def _duration_or_zero(value: object) -> timedelta:
    if value in (0, "0", "0s", 0.0):
        return timedelta(0)
    return parse_duration(value)


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
Cooldown = Annotated[timedelta, BeforeValidator(_duration_or_zero)]
EnvText = Annotated[str, BeforeValidator(_expand_env), Field(min_length=1)]
Name = Annotated[str, Field(min_length=1)]


class _Bad(ValueError):
    """A problem at one key path (relative to the action), with a hint; raised from validators."""

    def __init__(self, path: tuple[str, ...], message: str, hint: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message
        self.hint = hint


def _http_url(value: str, path: tuple[str, ...]) -> None:
    if not value.startswith(("http://", "https://")):
        shown = value.split("/")[0].split("?")[0][:40]  # a path or query may hold the secret: never shown
        raise _Bad(
            path, f"must be an http:// or https:// URL (got one starting {shown!r})", "write the full URL"
        )


class Trigger(BaseModel):
    """When an action starts by itself (``when:``): ``min_signals`` distinct rules of ``alerts`` firing
    on the model at once, each at ``severity`` or above when it is given."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    alerts: tuple[Name, ...] = Field(min_length=1)
    min_signals: Annotated[int, Field(ge=1)] | None = None
    severity: Severity | None = None

    @model_validator(mode="after")
    def _check(self) -> Trigger:
        repeated = sorted({a for a in self.alerts if self.alerts.count(a) > 1})
        if repeated:
            raise _Bad(
                ("alerts",), f"lists {repeated[0]!r} twice", "each rule counts once; remove the repeat"
            )
        if self.min_signals is None:
            object.__setattr__(self, "min_signals", min(2, len(self.alerts)))
        elif self.min_signals > len(self.alerts):
            raise _Bad(
                ("min_signals",),
                f"min_signals {self.min_signals} needs at least {self.min_signals} rules in alerts "
                f"(it lists {len(self.alerts)})",
                "list more rules, or lower min_signals",
            )
        return self

    @property
    def needed(self) -> int:
        """``min_signals`` with its default applied."""
        return self.min_signals or 1


class MlflowTarget(BaseModel):
    """An MLflow registered model whose alias a rollback moves (``mlflow:``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tracking_uri: EnvText
    registered_model: Name
    alias: Name = "champion"
    token: EnvText | None = None
    """Sent as ``Authorization: Bearer``; write it as ${MLFLOW_TRACKING_TOKEN}."""
    versions: dict[str, str] = Field(default_factory=dict)
    """Vigil version name -> MLflow version number, where they differ."""

    def mlflow_version(self, version: str) -> str:
        return self.versions.get(version, version)

    def vigil_version(self, mlflow_version: str) -> str:
        for ours, theirs in self.versions.items():
            if theirs == mlflow_version:
                return ours
        return mlflow_version


class ActionSpec(BaseModel):
    """One remediation action; see the module docstring for every key and its default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name
    model: Name
    kind: ActionKind
    when: Trigger | None = None
    cooldown: Cooldown = timedelta(hours=1)
    approval: Approval | None = None
    approval_timeout: Duration = timedelta(hours=1)
    webhook: EnvText | None = None
    headers: dict[str, EnvText] = Field(default_factory=dict)
    mlflow: MlflowTarget | None = None
    command: tuple[Name, ...] | None = None
    timeout: Duration = timedelta(seconds=60)
    fallback: Name | None = None
    _written: dict[str, Any] = PrivateAttr(default_factory=dict)
    """``webhook``, ``headers`` and ``mlflow`` as written, ``${NAME}`` unexpanded."""

    @model_validator(mode="wrap")
    @classmethod
    def _keep_written(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> ActionSpec:
        spec: ActionSpec = handler(data)
        if isinstance(data, dict):
            spec._written = {key: data[key] for key in ("webhook", "headers", "mlflow") if key in data}
        return spec

    @model_validator(mode="before")
    @classmethod
    def _no_shell_line(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("command"), str):
            raise _Bad(
                ("command",),
                "command must be a list of arguments; it is never run through a shell",
                f"write it as a list, e.g. {data['command'].split()!r}",
            )
        return data

    @model_validator(mode="after")
    def _check(self) -> ActionSpec:
        given = [key for key in ("webhook", "mlflow", "command") if getattr(self, key) is not None]
        if len(given) != 1:
            got = " and ".join(given) if given else "none"
            raise _Bad(
                (given[1],) if len(given) > 1 else ("kind",),
                f"needs exactly one executor: webhook, mlflow or command (got {got})",
                "keep one of them" if given else "add webhook: URL, mlflow: {...} or command: [...]",
            )
        if self.webhook is not None:
            _http_url(self.webhook, ("webhook",))
        elif self.headers:
            raise _Bad(("headers",), "headers apply to webhook actions only", "remove headers")
        if self.mlflow is not None:
            if self.kind != "rollback":
                raise _Bad(
                    ("mlflow",),
                    "mlflow moves a registered model's alias, so it serves rollback only "
                    f"(kind is {self.kind})",
                    "use webhook: or command: for this kind, or set kind: rollback",
                )
            _http_url(self.mlflow.tracking_uri, ("mlflow", "tracking_uri"))
            if self.model == "*" and "{model}" not in self.mlflow.registered_model:
                raise _Bad(
                    ("mlflow", "registered_model"),
                    "with model: '*' one registered model cannot serve every model",
                    "write it with {model}, e.g. '{model}-model', or name one model",
                )
        if self.command is not None:
            for i, arg in enumerate(self.command):
                try:
                    fields = [field for _, field, _, _ in string.Formatter().parse(arg) if field is not None]
                except ValueError as exc:
                    raise _Bad(
                        ("command", str(i)), f"{arg!r}: {exc}", "write {{ and }} for literal braces"
                    ) from None
                for field in fields:
                    if field not in COMMAND_FIELDS:
                        raise _Bad(
                            ("command", str(i)),
                            f"unknown placeholder {{{field}}} in {arg!r}",
                            f"use {', '.join('{' + f + '}' for f in COMMAND_FIELDS)}; write {{{{ for a brace",
                        )
        if self.kind == "fallback" and self.fallback is None:
            raise _Bad(
                ("kind",),
                "a fallback action needs fallback: (what to switch to)",
                "add e.g. fallback: rules-v1",
            )
        if self.kind != "fallback" and self.fallback is not None:
            raise _Bad(
                ("fallback",), f"fallback applies to kind: fallback only (kind is {self.kind})", "remove it"
            )
        return self

    @property
    def executor(self) -> Literal["webhook", "mlflow", "command"]:
        if self.webhook is not None:
            return "webhook"
        return "mlflow" if self.mlflow is not None else "command"

    def applies_to(self, model: str) -> bool:
        return self.model in ("*", model)

    @property
    def secrets(self) -> frozenset[str]:
        """What must never be shown: header values, the MLflow token, passwords and query values of the
        URLs, and the value of every environment variable the webhook, headers or mlflow refer to."""
        found = set(self.headers.values())
        urls = [self.webhook] if self.webhook is not None else []
        if self.mlflow is not None:
            urls.append(self.mlflow.tracking_uri)
            if self.mlflow.token:
                found.add(self.mlflow.token)
        for url in urls:
            found |= url_secrets(url)
        found.update(os.environ[name] for name in env_refs(self._written) if name in os.environ)
        return frozenset(found)

    def public(self) -> dict[str, Any]:
        """The action as an API answer shows it: URLs by their origin, header values and the token hidden
        (naming the environment variables they come from)."""
        out: dict[str, Any] = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        if self.webhook is not None:
            out["webhook"] = shown_url(self.webhook)
        if self.headers:
            headers = self._written.get("headers")
            given = headers if isinstance(headers, dict) else {}
            out["headers"] = {name: _hidden(given.get(name)) for name in self.headers}
        if self.mlflow is not None:
            mlflow = self._written.get("mlflow")
            token = mlflow.get("token") if isinstance(mlflow, dict) else None
            out["mlflow"]["tracking_uri"] = shown_url(self.mlflow.tracking_uri)
            if self.mlflow.token is not None:
                out["mlflow"]["token"] = _hidden(token)
        return out

    def needs_approval(self, model: ModelSpec | None) -> bool:
        """``approval`` when set, else whether the model is high-impact (unknown models: no)."""
        if self.approval is not None:
            return self.approval == "required"
        return bool(model is not None and model.high_impact)


def _hidden(written: object) -> str:
    """``(hidden)``, naming the ``${VARIABLES}`` the value was written with."""
    names = list(dict.fromkeys(env_refs(written)))
    return f"{HIDDEN[:-1]}, from {', '.join('${' + n + '}' for n in names)})" if names else HIDDEN


def parse_actions(
    data: object,
    filename: str = "vigil.yaml",
    text: str | None = None,
    *,
    models: Collection[str] | None = None,
    rules: Collection[str] | None = None,
) -> tuple[ActionSpec, ...]:
    """The actions of an ``actions:`` section (a list of mappings; None gives none).

    With ``models`` (the declared model names) an action's ``model`` must be one of them or ``*``; with
    ``rules`` (every rule name, defaults included) each name in ``when.alerts`` must be one of them.
    Raises one ``ConfigError`` listing every problem, with line and column when ``text`` is given.
    """
    if data is None:
        return ()
    locate = locator(text, filename)
    if not isinstance(data, list):
        raise ConfigError([locate(("actions",), "must be a list of actions", "write each as - name: ...")])
    problems: list[ConfigProblem] = []
    specs: list[ActionSpec] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(data):
        name = item.get("name") if isinstance(item, dict) else None
        who = f"action {name!r}" if isinstance(name, str) and name else f"action {i + 1} (no name)"
        at = ("actions", i)
        if not isinstance(item, dict):
            problems.append(locate(at, f"{who}: must be a mapping", "write it as - name: ..."))
            continue
        try:
            spec = ActionSpec.model_validate(item)
        except ValidationError as exc:
            for error in exc.errors():
                problems.append(_problem(error, who, at, locate))
            continue
        if spec.name in seen:
            problems.append(
                locate(
                    (*at, "name"),
                    f"{who}: the name is used twice (first by action {seen[spec.name] + 1})",
                    "give each action its own name",
                )
            )
            continue
        seen[spec.name] = i
        if models is not None and spec.model != "*" and spec.model not in models:
            problems.append(
                locate(
                    (*at, "model"),
                    f"{who}: unknown model {spec.model!r}",
                    choose(spec.model, models, "models"),
                )
            )
            continue
        if rules is not None and spec.when is not None:
            unknown = [(j, a) for j, a in enumerate(spec.when.alerts) if a not in rules]
            if unknown:
                j, alert = unknown[0]
                problems.append(
                    locate(
                        (*at, "when", "alerts", j),
                        f"{who}: no rule is named {alert!r}",
                        choose(alert, rules, "rules"),
                    )
                )
                continue
        specs.append(spec)
    if problems:
        raise ConfigError(sorted(problems, key=lambda p: (p.line or 0, p.column or 0)))
    return tuple(specs)


def actions_from_config(
    config: VigilConfig,
    filename: str = "vigil.yaml",
    text: str | None = None,
    *,
    rules: Collection[str] | None = None,
) -> tuple[ActionSpec, ...]:
    """The actions of ``config``'s ``actions:`` section, their models checked against ``config.models``;
    see :func:`parse_actions`."""
    return parse_actions(config.actions, filename, text, models=list(config.models), rules=rules)


def _problem(error: Mapping[str, Any], who: str, at: tuple[Any, ...], locate: Locate) -> ConfigProblem:
    loc = tuple(error["loc"])
    cause = error.get("ctx", {}).get("error")
    if isinstance(cause, _Bad):
        path = tuple(int(p) if p.isdigit() else p for p in cause.path)
        return locate((*at, *loc, *path), f"{who}: {cause.message}", cause.hint)
    issues = getattr(cause, "issues", None)
    key = ".".join(str(p) for p in loc) or "value"
    kind = error["type"]
    if issues:  # parse_duration's and _expand_env's own message and hint
        return locate((*at, *loc), f"{who}: {key}: {issues[0].message}", issues[0].hint)
    if kind == "extra_forbidden":
        allowed = _allowed(loc[:-1])
        return locate(
            (*at, *loc), f"{who}: unknown key {loc[-1]!r}", choose(str(loc[-1]), allowed, "allowed keys")
        )
    if kind == "missing":
        return locate((*at, *loc[:-1]), f"{who}: required key {key!r} is missing", f"add {loc[-1]}:")
    if kind == "literal_error" or kind == "enum":
        expected = error.get("ctx", {}).get("expected", "")
        return locate(
            (*at, *loc), f"{who}: {key} must be {expected} (got {error['input']!r})", "pick one of these"
        )
    if kind in ("tuple_type", "list_type"):
        return locate(
            (*at, *loc), f"{who}: {key} must be a list (got {error['input']!r})", "write it as [a, b]"
        )
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return locate((*at, *loc), f"{who}: {key} must be a mapping", "write it as indented key: value lines")
    return locate(
        (*at, *loc), f"{who}: {key}: {error['msg']} (got {error.get('input')!r})", "see vigil.actions.config"
    )


def _allowed(loc: tuple[Any, ...]) -> list[str]:
    model: type[BaseModel] = ActionSpec
    if loc[:1] == ("when",):
        model = Trigger
    elif loc[:1] == ("mlflow",):
        model = MlflowTarget
    return list(model.model_fields)
