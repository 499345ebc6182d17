"""Load and check vigil.yaml: drift defaults, data-quality thresholds and column declarations.

``load_config`` and ``parse_config`` raise one ``ConfigError`` that lists every problem found, each at
the file, line and column of the YAML node it concerns. The top level stays open to sections other
modules read (they are kept in ``VigilConfig.model_extra``); the sections defined here reject unknown keys.
"""

from __future__ import annotations

import difflib
import os
import re
import types
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from vigil.errors import ConfigError, ConfigProblem

__all__ = [
    "CATEGORICAL_METHODS",
    "COLUMN_ROLES",
    "COLUMN_TYPES",
    "DRIFT_METHODS",
    "METHODS_BY_TYPE",
    "NUMERIC_METHODS",
    "RESERVED_ACTORS",
    "TASKS",
    "ApiKey",
    "ApiKeys",
    "Baseline",
    "CategoricalMethod",
    "ColumnDrift",
    "ColumnRole",
    "ColumnSpec",
    "ColumnType",
    "Correction",
    "DriftMethod",
    "DriftSettings",
    "ModelSpec",
    "NumericMethod",
    "Owner",
    "QualitySettings",
    "Retention",
    "SecuritySettings",
    "Task",
    "VigilConfig",
    "load_config",
    "parse_config",
    "parse_duration",
]

ColumnType = Literal["numeric", "categorical", "datetime", "text"]
ColumnRole = Literal["feature", "id", "timestamp", "target", "prediction", "pii"]
Correction = Literal["none", "bonferroni", "bh"]
NumericMethod = Literal["ks", "wasserstein", "psi", "jensen_shannon", "hellinger", "cvm"]
CategoricalMethod = Literal["chi2", "psi", "jensen_shannon", "hellinger"]
DriftMethod = Literal["ks", "chi2", "psi", "jensen_shannon", "hellinger", "wasserstein", "cvm"]

COLUMN_TYPES: tuple[str, ...] = get_args(ColumnType)
COLUMN_ROLES: tuple[str, ...] = get_args(ColumnRole)
NUMERIC_METHODS: tuple[str, ...] = get_args(NumericMethod)
CATEGORICAL_METHODS: tuple[str, ...] = get_args(CategoricalMethod)
DRIFT_METHODS: tuple[str, ...] = get_args(DriftMethod)
METHODS_BY_TYPE: dict[str, tuple[str, ...]] = {
    "numeric": NUMERIC_METHODS,
    "categorical": CATEGORICAL_METHODS,
    "datetime": NUMERIC_METHODS,  # compared as timestamps
    "text": (),
}
"""Drift methods that apply to each column type (besides ``auto``)."""

_UNTESTED_ROLES = ("id", "pii", "timestamp")
_SECTION = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)

_Path = tuple[Any, ...]


def _norm(path: _Path) -> _Path:
    """A path as pydantic writes locations: int and str keys as they are, any other key as text."""
    return tuple(int(p) if isinstance(p, bool) else p if isinstance(p, int | str) else str(p) for p in path)


@dataclass(frozen=True)
class _Issue:
    """A problem found by a validator, at a path relative to the value it validated."""

    path: _Path
    message: str
    hint: str
    at_key: bool = False


class _Issues(ValueError):
    """Raised by validators to report one or more issues with exact paths."""

    def __init__(self, issues: Sequence[_Issue]) -> None:
        super().__init__("; ".join(issue.message for issue in issues))
        self.issues = tuple(issues)


def _fmt(value: object) -> str:
    """Show a value as the user would write it in YAML."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return str(value)


class DriftSettings(BaseModel):
    """Defaults for drift tests (``drift:``)."""

    model_config = _SECTION

    alpha: Annotated[float, Field(gt=0, lt=1)] = 0.05
    correction: Correction = "none"
    drift_share: Annotated[float, Field(gt=0, le=1)] = 0.5
    numeric_method: Literal["auto", NumericMethod] = "auto"
    categorical_method: Literal["auto", CategoricalMethod] = "auto"
    thresholds: dict[DriftMethod, Annotated[float, Field(gt=0)]] = Field(default_factory=dict)
    calibrate: bool = False


class QualitySettings(BaseModel):
    """Data-quality thresholds (``quality:``); rates and tolerances are shares between 0 and 1."""

    model_config = _SECTION

    null_rate_warn: Annotated[float, Field(ge=0, le=1)] = 0.01
    null_rate_fail: Annotated[float, Field(ge=0, le=1)] = 0.05
    range_tolerance: Annotated[float, Field(ge=0, le=1)] = 0.001
    unseen_tolerance: Annotated[float, Field(ge=0, le=1)] = 0.0

    @model_validator(mode="after")
    def _warn_not_above_fail(self) -> QualitySettings:
        if self.null_rate_warn > self.null_rate_fail:
            default = "" if "null_rate_fail" in self.model_fields_set else ", the default"
            raise _Issues(
                [
                    _Issue(
                        ("null_rate_warn",),
                        f"must be <= null_rate_fail (null_rate_fail is {_fmt(self.null_rate_fail)}{default})",
                        "lower null_rate_warn or raise null_rate_fail",
                    )
                ]
            )
        return self


class ColumnDrift(BaseModel):
    """Per-column drift override (``columns.NAME.drift:``)."""

    model_config = _SECTION

    method: Literal["auto", DriftMethod] = "auto"
    threshold: Annotated[float, Field(gt=0)] | None = None

    @model_validator(mode="after")
    def _threshold_needs_method(self) -> ColumnDrift:
        if self.threshold is not None and self.method == "auto":
            raise _Issues(
                [
                    _Issue(
                        ("threshold",),
                        "a threshold needs an explicit method (method is auto)",
                        "add method: psi (or another method) next to it, or remove threshold",
                    )
                ]
            )
        return self


class ColumnSpec(BaseModel):
    """What is declared about one column (``columns.NAME:``); every key is optional."""

    model_config = _SECTION

    type: ColumnType | None = None
    role: ColumnRole = "feature"
    min: float | None = None
    max: float | None = None
    allowed: tuple[str | int, ...] | None = None
    drift: ColumnDrift | None = None
    ignore: bool = False
    redact: Literal["hmac", "drop"] = "hmac"
    """For ``role: pii`` at ingest: replace the value by a keyed HMAC (a stable pseudonym), or drop it."""
    scrub: bool | None = None
    """At ingest, replace e-mail addresses, phone and card numbers and IP addresses in this field's text:
    ``true`` or ``false``; unset, the model's ``scrub`` decides (on for ``type: text``, and for an LLM's
    features that are not declared another type)."""

    @field_validator("allowed", mode="before")
    @classmethod
    def _check_allowed(cls, value: object) -> object:
        if value is None:
            return None
        if not isinstance(value, list):
            raise _Issues([_Issue((), f"must be a list (got {_fmt(value)})", "write it as [A, B, C]")])
        issues = []
        first: dict[object, int] = {}
        for i, item in enumerate(value):
            if isinstance(item, bool) or not isinstance(item, str | int):
                hint = "quote it" + (
                    " (YAML reads yes/no/on/off as true/false)" if isinstance(item, bool) else ""
                )
                issues.append(
                    _Issue((i,), f"must be a category name or integer code (got {_fmt(item)})", hint)
                )
            elif item in first:
                issues.append(
                    _Issue((i,), f"{_fmt(item)} is listed twice (first as item {first[item]})", "remove one")
                )
            else:
                first[item] = i
        if not value:
            issues.append(_Issue((), "lists no categories", "list at least one, or remove allowed"))
        if issues:
            raise _Issues(issues)
        return tuple(value)

    @model_validator(mode="after")
    def _check_consistent(self) -> ColumnSpec:
        issues: list[_Issue] = []
        kind = "not set" if self.type is None else self.type
        for bound in ("min", "max"):
            if getattr(self, bound) is not None and self.type != "numeric":
                issues.append(
                    _Issue(
                        (bound,),
                        f"{bound} applies only to numeric columns (type is {kind})",
                        f"remove {bound}, or set type: numeric",
                        at_key=True,
                    )
                )
        if self.min is not None and self.max is not None and self.min > self.max:
            issues.append(_Issue(("min",), f"must be <= max (max is {_fmt(self.max)})", "fix the bounds"))
        if self.allowed is not None and self.type != "categorical":
            issues.append(
                _Issue(
                    ("allowed",),
                    f"allowed applies only to categorical columns (type is {kind})",
                    "remove allowed, or set type: categorical",
                    at_key=True,
                )
            )
        if self.drift is not None:
            if self.role in _UNTESTED_ROLES:
                issues.append(
                    _Issue(
                        ("drift",),
                        f"{self.role} columns are never drift-tested",
                        "remove drift, or set role: feature",
                        at_key=True,
                    )
                )
            method = self.drift.method
            if method != "auto" and self.type is not None and method not in METHODS_BY_TYPE[self.type]:
                usable = ", ".join(("auto", *METHODS_BY_TYPE[self.type]))
                issues.append(
                    _Issue(
                        ("drift", "method"),
                        f"{method} does not apply to {self.type} columns",
                        f"use one of: {usable}",
                    )
                )
        if issues:
            raise _Issues(issues)
        return self


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: object) -> timedelta:
    """``"30s"``, ``"1m"``, ``"2h"``, ``"7d"``, ``"1w"`` (or a number of seconds) as a timedelta.

    >>> parse_duration("90s"), parse_duration("1.5h")
    (datetime.timedelta(seconds=90), datetime.timedelta(seconds=5400))
    """
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return timedelta(seconds=float(value))
    match = _DURATION.match(value) if isinstance(value, str) else None
    if match is None or float(match.group(1)) <= 0:
        raise _Issues([_Issue((), f"not a duration: {_fmt(value)}", "write it like 30s, 1m, 2h, 7d or 1w")])
    return timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2)])


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _expand_env(value: object) -> object:
    """``${NAME}`` in a string becomes the environment variable NAME (so secrets stay out of files)."""
    if not isinstance(value, str):
        return value
    missing = [m.group(1) for m in _ENV.finditer(value) if m.group(1) not in os.environ]
    if missing:
        raise _Issues(
            [_Issue((), f"environment variable {missing[0]} is not set", f"export {missing[0]}=... first")]
        )
    return _ENV.sub(lambda m: os.environ[m.group(1)], value)


Secret = Annotated[str, BeforeValidator(_expand_env), StringConstraints(min_length=1)]
Task = Literal["binary", "multiclass", "regression", "llm"]
TASKS: tuple[str, ...] = get_args(Task)


class Owner(BaseModel):
    """Who answers for a model (``models.NAME.owner:``)."""

    model_config = _SECTION

    team: Annotated[str, StringConstraints(min_length=1)]
    contact: str | None = None
    """Where to reach them: an e-mail address, a chat channel, a pager handle."""


def _time_of(value: object) -> object:
    """A config time: ISO 8601 text or a datetime, UTC unless it says otherwise."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise _Issues(  # noqa: B904 -- reported as a config problem, not chained
                [_Issue((), f"not a time: {_fmt(value)}", "write it like 2026-10-01T00:00:00Z")]
            )
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return value


class PredictionBaseline(BaseModel):
    """A production time range whose predictions and scores stand in for those a baseline file lacks
    (``baseline.predictions: {from:, to:}``)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True)

    start: datetime = Field(alias="from")
    end: datetime = Field(alias="to")

    _times = field_validator("start", "end", mode="before")(_time_of)

    @model_validator(mode="after")
    def _ordered(self) -> PredictionBaseline:
        if self.start >= self.end:
            raise _Issues(
                [_Issue(("from",), "from: must come before to:", "give a range, from earlier than to")]
            )
        return self


class Baseline(BaseModel):
    """What a model's present is compared with: a file (training or validation data) or a production time
    range (``from``/``to``). A file without ``prediction``/``score`` columns can take its predictions from
    a production range (``predictions: {from:, to:}``)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True)

    file: str | None = None
    start: datetime | None = Field(default=None, alias="from")
    end: datetime | None = Field(default=None, alias="to")
    predictions: PredictionBaseline | None = None

    @field_validator("start", "end", mode="before")
    @classmethod
    def _parse_time(cls, value: object) -> object:
        return _time_of(value)

    @model_validator(mode="after")
    def _one_kind(self) -> Baseline:
        has_range = self.start is not None or self.end is not None
        if (self.file is None) == (not has_range):
            raise _Issues([_Issue((), "give either file: or from: and to:", "choose one kind of baseline")])
        if has_range and (self.start is None or self.end is None or self.start >= self.end):
            raise _Issues([_Issue((), "from: must come before to:", "give both, from earlier than to")])
        if self.predictions is not None and self.file is None:
            raise _Issues(
                [
                    _Issue(
                        ("predictions",),
                        "predictions: applies to a baseline file; a time-range baseline already compares "
                        "the predictions of its range",
                        "remove predictions:, or use file: with it",
                    )
                ]
            )
        return self


class Retention(BaseModel):
    """How long each kind of data is kept (``models.NAME.retention:``)."""

    model_config = _SECTION

    events: Duration = timedelta(minutes=5)
    """How long the ingest log keeps a batch after it was folded into windows (a margin for replays).
    Raw events live on as each window's sample, under the window retentions."""
    minutes: Duration = timedelta(days=2)
    hours: Duration = timedelta(days=30)
    days: Duration = timedelta(days=400)
    predictions: Duration = timedelta(days=30)
    """Predictions kept for joining late labels."""


class ModelSpec(BaseModel):
    """One monitored model (``models.NAME:``): an inference point declared as code."""

    model_config = _SECTION

    task: Task
    owner: Owner
    environment: str = "production"
    versions: tuple[Annotated[str, StringConstraints(min_length=1)], ...] = ()
    """Known versions, oldest first; the one before ``live`` is the rollback target."""
    live: str | None = None
    description: str | None = None
    features: dict[str, ColumnSpec] = Field(default_factory=dict)
    segments: tuple[str, ...] = ()
    """Event ``segments`` keys (or features) to slice by."""
    baseline: Baseline | None = None
    window: Duration = timedelta(minutes=1)
    sampling_rate: Annotated[float, Field(gt=0, le=1)] = 1.0
    """Share of events profiled (the rest are counted in service metrics only)."""
    sample_size: Annotated[int, Field(ge=0, le=10_000)] = 100
    """Raw events kept per window for drill-down."""
    retention: Retention = Field(default_factory=Retention)
    high_impact: bool = False
    """Remediation actions on this model wait for a person's approval."""
    scrub: bool = True
    """Scrub free text at ingest (e-mail addresses, phone and card numbers, IP addresses): every ``error``,
    an LLM's completions and prompts, and features declared ``type: text``. ``false`` leaves them as sent
    (features marked ``scrub: true`` are still scrubbed)."""

    @field_validator("versions", "segments", mode="before")
    @classmethod
    def _list(cls, value: object) -> object:
        return tuple(value) if isinstance(value, list) else value

    @field_validator("features", mode="before")
    @classmethod
    def _empty_features(cls, value: object) -> object:
        if isinstance(value, dict):
            return {name: {} if spec is None else spec for name, spec in value.items()}
        return value

    @model_validator(mode="after")
    def _check(self) -> ModelSpec:
        issues: list[_Issue] = []
        if self.live is not None and self.versions and self.live not in self.versions:
            issues.append(
                _Issue(
                    ("live",),
                    f"live version {_fmt(self.live)} is not among versions {list(self.versions)}",
                    "add it to versions, or fix the name",
                )
            )
        if len(set(self.versions)) != len(self.versions):
            issues.append(_Issue(("versions",), "lists a version twice", "remove the repeat"))
        if self.window < timedelta(seconds=1) or timedelta(days=1) % self.window:
            issues.append(
                _Issue(("window",), "must divide a day evenly (at least 1s)", "use 10s, 1m, 5m, 15m or 1h")
            )
        if issues:
            raise _Issues(issues)
        return self

    @property
    def live_version(self) -> str:
        """The live version, else the newest declared, else ``"default"``."""
        return self.live or (self.versions[-1] if self.versions else "default")

    @property
    def previous_version(self) -> str | None:
        """The version before the live one: what a rollback goes to."""
        if not self.versions or self.live_version not in self.versions:
            return None
        i = self.versions.index(self.live_version)
        return self.versions[i - 1] if i > 0 else None


_HOLDER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}")
RESERVED_ACTORS = ("vigil", "config")
"""Names Vigil itself acts under (automatic runs, the config's deploys): no key may carry them."""


class ApiKey(BaseModel):
    """One key and the person or service that holds it (``{name: alice, key: "${ALICE_KEY}"}``).

    ``name`` is None for a key written as a plain string: such a key is accepted, but it names nobody, so
    what is done with it is recorded as unverified and it cannot approve an action.
    """

    model_config = _SECTION

    name: str | None = None
    key: Secret = Field(repr=False)

    @field_validator("name", mode="before")
    @classmethod
    def _check_name(cls, value: object) -> object:
        if value is None:
            return None
        if not isinstance(value, str) or not _HOLDER.fullmatch(value):
            raise _Issues(
                [
                    _Issue(
                        (),
                        f"a key holder's name must be a word of letters, digits and . _ @ + - "
                        f"(at most 64; got {_fmt(value)})",
                        "write a user or service name such as alice or billing-service",
                    )
                ]
            )
        if value in RESERVED_ACTORS:
            raise _Issues(
                [_Issue((), f"{value!r} is the name Vigil itself acts under", "choose another name")]
            )
        return value


def _key_entries(value: object) -> object:
    """A list of keys: plain strings (no holder) or ``{name, key}`` mappings."""
    if not isinstance(value, list | tuple):
        return value
    bad = [i for i, item in enumerate(value) if not isinstance(item, str | dict)]
    if bad:
        raise _Issues(
            [
                _Issue(
                    (i,),
                    f"must be a key holder and their key (got {_fmt(value[i])})",
                    'write it as {name: alice, key: "${ALICE_KEY}"}',
                )
                for i in bad
            ]
        )
    return tuple({"key": item} if isinstance(item, str) else item for item in value)


Keys = Annotated[tuple[ApiKey, ...], BeforeValidator(_key_entries)]


class ApiKeys(BaseModel):
    """Keys accepted at the door (``security.api_keys:``); none configured means the API is open.

    Each key is ``{name: HOLDER, key: "${ENV_VAR}"}``; the holder is who Vigil records as doing what is
    done with the key (acks, silences, approvals, the audit log). A plain string is still accepted: it
    names nobody (see :class:`ApiKey`).
    """

    model_config = _SECTION

    ingest: Keys = ()
    """May only send events, labels and host metrics."""
    admin: Keys = ()
    """May do everything, reads and registrations included."""

    @model_validator(mode="after")
    def _one_holder_per_key(self) -> ApiKeys:
        issues: list[_Issue] = []
        seen: dict[str, tuple[str, int, str | None]] = {}
        for level in ("admin", "ingest"):
            for i, entry in enumerate(getattr(self, level)):
                first = seen.setdefault(entry.key, (level, i, entry.name))
                if first[:2] == (level, i):
                    continue
                if first[0] == level or first[2] != entry.name:
                    issues.append(
                        _Issue(
                            (level, i),
                            f"the same key as {first[0]}[{first[1]}]"
                            + (f" ({first[2]})" if first[2] else ""),
                            "give each holder a key of their own",
                        )
                    )
        if issues:
            raise _Issues(issues)
        return self


class SecuritySettings(BaseModel):
    """Access and privacy at ingest (``security:``)."""

    model_config = _SECTION

    api_keys: ApiKeys = Field(default_factory=ApiKeys)
    pii_key: Secret | None = None
    """The HMAC key for PII pseudonyms; write it as ${VIGIL_PII_KEY}. Without it PII fields are dropped."""
    auto_register: bool = False
    """Accept events of undeclared models (registered on first sight) instead of answering 404."""


class VigilConfig(BaseModel):
    """A whole vigil.yaml; sections not defined here are kept, unchecked, in ``model_extra``."""

    model_config = ConfigDict(extra="allow", strict=True, frozen=True, allow_inf_nan=False)

    version: Literal[1] = 1
    drift: DriftSettings = Field(default_factory=DriftSettings)
    quality: QualitySettings = Field(default_factory=QualitySettings)
    columns: dict[str, ColumnSpec] = Field(default_factory=dict)
    models: dict[str, ModelSpec] = Field(default_factory=dict)
    security: SecuritySettings = Field(default_factory=SecuritySettings)

    @field_validator("version", mode="before")
    @classmethod
    def _check_version(cls, value: object) -> object:
        if type(value) is not int or value != 1:
            raise _Issues(
                [
                    _Issue(
                        (),
                        f"unsupported config version {_fmt(value)}",
                        "set version: 1, the only version this Vigil reads",
                    )
                ]
            )
        return value

    @field_validator("drift", "quality", "security", "models", mode="before")
    @classmethod
    def _empty_section(cls, value: object) -> object:
        return {} if value is None else value

    @field_validator("columns", mode="before")
    @classmethod
    def _empty_columns(cls, value: object) -> object:
        if value is None:
            return {}
        if isinstance(value, dict):
            return {name: {} if spec is None else spec for name, spec in value.items()}
        return value

    def column(self, name: str) -> ColumnSpec:
        """The declared spec of column ``name``, or the default spec when it is not declared."""
        return self.columns.get(name) or ColumnSpec()


def load_config(path: str | os.PathLike[str]) -> VigilConfig:
    """Read and check the config file at ``path``; raise ``ConfigError`` listing every problem."""
    name = os.fspath(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        hint = "check the path, or start from a copy of vigil/examples/vigil.yaml"
        raise ConfigError([ConfigProblem(name, None, None, "", "file not found", hint)]) from None
    except OSError as exc:
        message = f"cannot be read ({exc.strerror or exc})"
        raise ConfigError(
            [ConfigProblem(name, None, None, "", message, "check the path and permissions")]
        ) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        problem = ConfigProblem(name, line, column, "", "is not UTF-8 text", "save the file as UTF-8")
        raise ConfigError([problem]) from None
    return parse_config(text, name)


def parse_config(text: str, filename: str = "<string>") -> VigilConfig:
    """Check config ``text`` (``filename`` names it in messages); an empty text gives the defaults.

    >>> parse_config("drift: {alpha: 0.01}").drift.alpha
    0.01
    """
    source = _Source.compose(text, filename)
    data = source.data
    if data is None:
        data = {}
    if not isinstance(data, dict):
        source.add(
            (),
            f"the top level must be a mapping of sections (got {_fmt(data)})",
            "start the file with version: 1 and sections such as drift:, quality:, columns:",
        )
        raise ConfigError(source.sorted_problems())
    config: VigilConfig | None = None
    try:
        config = VigilConfig.model_validate(_check_section_names(data, source))
    except ValidationError as exc:
        for error in exc.errors():
            _report(error, source)
    if source.problems or config is None:
        raise ConfigError(source.sorted_problems())
    return config


@dataclass(frozen=True)
class _Entry:
    """The YAML nodes at one path: the key node (None for list items and the root) and the value node."""

    key: Node | None
    value: Node


class _Source:
    """Composed YAML of one file: its data, the node at every path, and the problems found so far."""

    def __init__(self, filename: str, data: Any, entries: dict[_Path, _Entry]) -> None:
        self.filename = filename
        self.data = data
        self.entries = entries
        self.problems: list[ConfigProblem] = []

    @classmethod
    def compose(cls, text: str, filename: str) -> _Source:
        """Compose and construct ``text``; raise ``ConfigError`` for YAML that cannot be read."""
        loader: yaml.SafeLoader | None = None
        try:
            loader = yaml.SafeLoader(text)
            root = loader.get_single_node()
            if root is None:
                return cls(filename, None, {})
            duplicates = list(_duplicate_keys(root))
            data = loader.construct_document(root)
        except yaml.YAMLError as exc:
            raise ConfigError([_yaml_problem(exc, text, filename)]) from None
        finally:
            if loader is not None:
                loader.dispose()
        # Indexed after construction: merge keys (<<) are then resolved into ordinary entries.
        source = cls(filename, data, {(): _Entry(None, root), **dict(_entries(root, (), SafeConstructor()))})
        for path, node, first in duplicates:
            first_line = first.start_mark.line + 1
            message = f"duplicate key {_fmt(path[-1])} (first at line {first_line})"
            source.add(path, message, "keep only one; YAML would silently use the last", node=node)
        return source

    def add(
        self, path: _Path, message: str, hint: str, *, at_key: bool = False, node: Node | None = None
    ) -> None:
        """Record a problem at ``path``: its key or value node, else the nearest enclosing node."""
        path = _norm(path)
        if node is None:
            node = self.node(path, at_key=at_key)
        line = column = None
        if node is not None and node.start_mark is not None:
            line, column = node.start_mark.line + 1, node.start_mark.column + 1
        self.problems.append(ConfigProblem(self.filename, line, column, self.dotted(path), message, hint))

    def node(self, path: _Path, *, at_key: bool = False) -> Node | None:
        """The node at ``path`` (its key node if ``at_key``), else that of the nearest enclosing entry."""
        path = _norm(path)
        entry = self.entries.get(path)
        if entry is not None:
            return entry.key if at_key and entry.key is not None else entry.value
        for end in range(len(path) - 1, -1, -1):
            entry = self.entries.get(path[:end])
            if entry is not None:
                return entry.value
        return None

    def dotted(self, path: _Path) -> str:
        """``columns.age.min``; list items as ``[2]`` and unusual keys as ``['page views']``."""
        text = ""
        for end, part in enumerate(path, start=1):
            entry = self.entries.get(path[:end])
            if entry is not None and entry.key is None and isinstance(part, int):
                text += f"[{part}]"
            elif isinstance(part, str) and re.fullmatch(r"[\w\-]+", part):
                text += f".{part}" if text else part
            else:
                text += f"[{part!r}]"
        return text

    def sorted_problems(self) -> list[ConfigProblem]:
        """Problems in file order; those without a position first."""
        return sorted(self.problems, key=lambda p: (p.line or 0, p.column or 0))


def _key_of(node: Node, constructor: SafeConstructor) -> Any:
    """The Python value of a mapping key node, or its text when it has none."""
    if isinstance(node, ScalarNode):
        try:
            key = constructor.construct_object(node)
            hash(key)
            return key
        except (yaml.YAMLError, TypeError):
            pass
    return str(node.value)


def _entries(
    node: Node, path: _Path, keys: SafeConstructor, seen: frozenset[int] = frozenset()
) -> Iterator[tuple[_Path, _Entry]]:
    """Every mapping entry and list item under ``node``, by path (recursive aliases visited once)."""
    if id(node) in seen:
        return
    seen = seen | {id(node)}
    if isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            child = _norm((*path, _key_of(key_node, keys)))
            yield child, _Entry(key_node, value_node)
            yield from _entries(value_node, child, keys, seen)
    elif isinstance(node, SequenceNode):
        for i, item in enumerate(node.value):
            yield (*path, i), _Entry(None, item)
            yield from _entries(item, (*path, i), keys, seen)


def _duplicate_keys(root: Node) -> Iterator[tuple[_Path, Node, Node]]:
    """(path, key node, first key node) for each key repeated within one mapping."""
    keys = SafeConstructor()
    checked: set[int] = set()
    for path, entry in [((), _Entry(None, root)), *_entries(root, (), keys)]:
        node = entry.value
        if not isinstance(node, MappingNode) or id(node) in checked:
            continue
        checked.add(id(node))
        first: dict[Any, Node] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = _key_of(key_node, keys)
            if key in first:
                yield (*path, key), key_node, first[key]
            else:
                first[key] = key_node


def _yaml_problem(exc: yaml.YAMLError, text: str, filename: str) -> ConfigProblem:
    """The problem for YAML that cannot be parsed, at the position PyYAML reports."""
    line = column = None
    what = str(exc)
    if isinstance(exc, yaml.MarkedYAMLError):
        what = exc.problem or "cannot be parsed"
        if exc.problem_mark is not None:
            line, column = exc.problem_mark.line + 1, exc.problem_mark.column + 1
        if exc.context:
            context_at = ""
            if exc.context_mark is not None:
                context_at = f" at line {exc.context_mark.line + 1}, column {exc.context_mark.column + 1}"
            if what.startswith("but "):
                what = f"{exc.context}{context_at}, {what}"
            else:
                what = f"{what} ({exc.context}{context_at})"
    elif isinstance(exc, yaml.reader.ReaderError):
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        what = f"character U+{code:04X} is not allowed ({exc.reason})"
    hint = "indent with spaces, not tabs" if "'\\t'" in what else "fix the YAML here"
    return ConfigProblem(filename, line, column, "", f"invalid YAML: {what}", hint)


def _check_section_names(data: dict[Any, Any], source: _Source) -> dict[str, Any]:
    """``data`` without non-text keys; reports those and unknown keys that look like a misspelled section.

    Other unknown top-level keys are kept: they are sections that other modules read.
    """
    known = list(VigilConfig.model_fields)
    for key in data:
        if not isinstance(key, str):
            node = source.node((key,), at_key=True)
            shown = node.value if isinstance(node, ScalarNode) else _fmt(key)
            source.add(
                (key,),
                f"section name must be a string (got {shown})",
                f"quote it: '{shown}'",
                at_key=True,
            )
            continue
        if key in known:
            continue
        close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.8)
        if close:
            source.add(
                (key,),
                f"unknown section {_fmt(key)}",
                f"did you mean {close[0]!r}? (sections checked here: {', '.join(known)})",
                at_key=True,
            )
    return {key: value for key, value in data.items() if isinstance(key, str)}


def _report(error: Any, source: _Source) -> None:
    """Add the problems of one pydantic error to ``source``."""
    loc: _Path = tuple(error["loc"])
    at_key = bool(loc) and loc[-1] == "[key]"
    if at_key:
        loc = loc[:-1]
    cause = error.get("ctx", {}).get("error")
    if isinstance(cause, _Issues):
        for issue in cause.issues:
            source.add((*loc, *issue.path), issue.message, issue.hint, at_key=issue.at_key)
        return
    kind: str = error["type"]
    value = error["input"]
    name = str(loc[-1]) if loc else "value"
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        source.add(
            loc, f"unknown key {_fmt(loc[-1])}", _choose_hint(loc[-1], allowed, "allowed keys"), at_key=True
        )
    elif kind == "missing":
        source.add(loc, f"required key {name!r} is missing", f"add {name}: to this section")
    elif kind == "literal_error":
        choices = re.findall(r"'([^']*)'", error["ctx"]["expected"])
        if at_key:
            source.add(
                loc,
                f"unknown key {_fmt(loc[-1])}",
                _choose_hint(loc[-1], choices, "allowed keys"),
                at_key=True,
            )
        else:
            message = f"must be one of {', '.join(choices)} (got {_fmt(value)})"
            close = difflib.get_close_matches(str(value), choices, n=1)
            source.add(loc, message, f"did you mean {close[0]!r}?" if close else "pick one of these")
    elif kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal", "finite_number"):
        ops = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}
        limit = next(iter(error.get("ctx", {}).values()), None)
        message = f"must be {ops[kind]} {_fmt(limit)}" if kind in ops else "must be a finite number"
        fallback = f"use a number {ops[kind]} {_fmt(limit)}" if kind in ops else "write a plain number"
        source.add(loc, f"{message} (got {_fmt(value)})", _range_hint(loc) or fallback)
    elif kind in ("float_type", "float_parsing", "int_type", "int_parsing", "int_from_float"):
        hint = "write it without quotes" if isinstance(value, str) else "write a plain number such as 0.05"
        if kind.startswith("int"):
            hint = "write a whole number"
        source.add(loc, f"must be a number (got {_fmt(value)})", hint)
    elif kind in ("bool_type", "bool_parsing"):
        source.add(loc, f"must be true or false (got {_fmt(value)})", "write true or false, without quotes")
    elif kind == "string_type":
        node = source.node(loc, at_key=at_key)
        shown = node.value if isinstance(node, ScalarNode) else _fmt(value)
        what = "key" if at_key else "value"
        source.add(loc, f"{what} must be a string (got {shown})", f"quote it: '{shown}'", at_key=at_key)
    elif kind in ("dict_type", "model_type", "model_attributes_type"):
        source.add(loc, f"must be a mapping (got {_fmt(value)})", "write it as indented key: value lines")
    elif kind in ("list_type", "tuple_type"):
        source.add(loc, f"must be a list (got {_fmt(value)})", "write it as [a, b, c]")
    elif kind == "recursion_loop":
        source.add(loc, "refers to itself through a YAML alias", "remove the recursive alias")
    else:
        source.add(
            loc, str(error["msg"]), "see vigil/examples/vigil.yaml for the expected form", at_key=at_key
        )


def _choose_hint(word: object, choices: Sequence[str], label: str) -> str:
    """``did you mean 'x'? (label: a, b)`` when a choice is close to ``word``, else ``label: a, b``."""
    listed = f"{label}: {', '.join(choices)}"
    close = difflib.get_close_matches(str(word), list(choices), n=1)
    return f"did you mean {close[0]!r}? ({listed})" if close else listed


def _unwrap(annotation: Any) -> Any:
    """``X`` for ``X | None``; anything else unchanged."""
    if get_origin(annotation) in (Union, types.UnionType):
        args = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _model_at(path: _Path) -> type[BaseModel] | None:
    """The model class that validates the mapping at ``path``, if any."""
    annotation: Any = VigilConfig
    for part in path:
        annotation = _unwrap(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(part) if isinstance(part, str) else None
            if field is None:
                return None
            annotation = field.annotation
        elif get_origin(annotation) is dict:
            annotation = get_args(annotation)[1]
        elif get_origin(annotation) is tuple and isinstance(part, int):
            annotation = get_args(annotation)[0]
        else:
            return None
    annotation = _unwrap(annotation)
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _allowed_keys(path: _Path) -> list[str]:
    """The keys of the section at ``path``."""
    model = _model_at(path)
    return list(model.model_fields) if model is not None else []


def _range_hint(loc: _Path) -> str:
    """``use a value with 0 < alpha < 1`` from the field's constraints; empty if it has none."""
    model = _model_at(loc[:-1]) if loc else None
    field: FieldInfo | None = model.model_fields.get(loc[-1]) if model is not None else None
    low = high = ""
    for rule in field.metadata if field is not None else []:
        if getattr(rule, "gt", None) is not None:
            low = f"{_fmt(rule.gt)} < "
        if getattr(rule, "ge", None) is not None:
            low = f"{_fmt(rule.ge)} <= "
        if getattr(rule, "lt", None) is not None:
            high = f" < {_fmt(rule.lt)}"
        if getattr(rule, "le", None) is not None:
            high = f" <= {_fmt(rule.le)}"
    if not (low or high):
        return ""
    return f"use a value with {low}{loc[-1]}{high}"
