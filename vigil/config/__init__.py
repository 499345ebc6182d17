"""vigil.yaml: the root schema, with every section, and its loading.

``load_config`` and ``parse_config`` raise one ``ConfigError`` that lists every problem found, each at
the file, line and column of the YAML node it concerns (see :mod:`vigil.config.source`). A section or key
this schema does not know is refused, with the nearest known name; top-level keys starting with ``x-``
are left alone, to hold YAML anchors (as in Docker Compose files).

The ``rules``, ``slos``, ``alerting`` and ``actions`` sections are declared here and kept as written:
their owners (``vigil.alerting.rules``, ``vigil.alerting.settings``, ``vigil.actions``) check them, with the
helpers of :mod:`vigil.config.problems`, and :mod:`vigil.loading` checks the whole file at once.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field, ValidationError, field_validator
from yaml.nodes import ScalarNode

from vigil.config.source import Source
from vigil.errors import ConfigError, ConfigProblem, Invalid, Issue, as_written
from vigil.spec import (
    FOLDER,
    ColumnSpec,
    DriftSettings,
    ModelSpec,
    OtlpSettings,
    PricingSettings,
    QualitySettings,
    Section,
    SecuritySettings,
    check,
    suggest,
)

__all__ = [
    "SECTIONS_CHECKED_ELSEWHERE",
    "Checked",
    "VigilConfig",
    "check_config",
    "load_config",
    "parse_config",
    "read_config",
]

SECTIONS_CHECKED_ELSEWHERE = ("rules", "slos", "alerting", "actions")
"""Sections kept as written, for their owners (alerting and actions) to check."""


class VigilConfig(Section):
    """A whole vigil.yaml."""

    model_config = ConfigDict(extra="allow")

    version: Literal[1] = 1
    drift: DriftSettings = Field(default_factory=DriftSettings)
    quality: QualitySettings = Field(default_factory=QualitySettings)
    columns: dict[str, ColumnSpec] = Field(default_factory=dict)
    models: dict[str, ModelSpec] = Field(default_factory=dict)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    otlp: OtlpSettings = Field(default_factory=OtlpSettings)
    pricing: PricingSettings = Field(default_factory=PricingSettings)
    rules: Any = None
    """``rules:`` as written; checked by :func:`vigil.alerting.rules.parse_rules`."""
    slos: Any = None
    """``slos:`` as written; checked by :func:`vigil.alerting.rules.parse_slos`."""
    alerting: Any = None
    """``alerting:`` as written; checked by :func:`vigil.alerting.settings.load_alerting`."""
    actions: Any = None
    """``actions:`` as written; checked by :func:`vigil.actions.parse_actions`."""

    @property
    def has_alerting(self) -> bool:
        """Whether the file has an ``alerting:`` section (an empty one included): alerting is on."""
        return "alerting" in self.model_fields_set

    @field_validator("version", mode="before")
    @classmethod
    def _check_version(cls, value: object) -> object:
        if type(value) is not int or value != 1:
            raise Invalid(
                Issue(
                    f"unsupported config version {as_written(value)}",
                    "set version: 1, the only version this Vigil reads",
                )
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

    @check()
    def _known_sections(self) -> Iterator[Issue]:
        sections = list(type(self).model_fields)
        for name in self.model_extra or {}:
            if not name.startswith("x-"):
                yield Issue(
                    f"unknown section {as_written(name)}", suggest(name, sections, "sections"), (name,), True
                )

    def column(self, name: str) -> ColumnSpec:
        """The declared spec of column ``name``, or the default spec when it is not declared."""
        return self.columns.get(name) or ColumnSpec()


def load_config(path: str | os.PathLike[str]) -> VigilConfig:
    """Read and check the config file at ``path``; raise ``ConfigError`` listing every problem.

    Files the config names (baseline files) are looked for from the file's folder, and must exist.
    """
    return parse_config(read_config(path), os.fspath(path), folder=Path(path).parent)


def read_config(path: str | os.PathLike[str]) -> str:
    """The text of the config file at ``path``; ``ConfigError`` when it is missing or not UTF-8 text."""
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
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        problem = ConfigProblem(name, line, column, "", "is not UTF-8 text", "save the file as UTF-8")
        raise ConfigError([problem]) from None


def parse_config(
    text: str, filename: str = "<string>", *, folder: str | os.PathLike[str] | None = None
) -> VigilConfig:
    """Check config ``text`` (``filename`` names it in messages); an empty text gives the defaults.

    With ``folder`` (the config file's), the files the config names are looked for there and must exist.

    >>> parse_config("drift: {alpha: 0.01}").drift.alpha
    0.01
    """
    checked = check_config(text, filename, folder=folder)
    if checked.problems or checked.config is None:
        raise ConfigError(checked.problems)
    return checked.config


@dataclass(frozen=True)
class Checked:
    """The outcome of :func:`check_config`: the config when it is valid, the mapping as written (sections
    with text names; empty when the text is no mapping), and every problem of the root schema."""

    config: VigilConfig | None
    data: dict[str, Any]
    problems: list[ConfigProblem]


def check_config(
    text: str, filename: str = "<string>", *, folder: str | os.PathLike[str] | None = None
) -> Checked:
    """Check config ``text`` against the root schema without raising for what it finds (a YAML syntax
    error still raises ``ConfigError``): what :mod:`vigil.loading` needs to go on checking the sections
    their owners check when the rest of the file has problems."""
    source = Source.compose(text, filename)
    data = source.data
    if data is None:
        data = {}
    if not isinstance(data, dict):
        source.add(
            (),
            f"the top level must be a mapping of sections (got {as_written(data)})",
            "start the file with version: 1 and sections such as drift:, quality:, columns:",
        )
        return Checked(None, {}, source.sorted_problems())
    config: VigilConfig | None = None
    context = {FOLDER: Path(folder)} if folder is not None else None
    named = _text_keys(data, source)
    try:
        config = VigilConfig.model_validate(named, context=context)
    except ValidationError as exc:
        source.report(exc, VigilConfig)
    if source.problems:
        config = None
    return Checked(config, named, source.sorted_problems())


def _text_keys(data: dict[Any, Any], source: Source) -> dict[str, Any]:
    """``data`` without the sections whose name is not text, each reported."""
    for key in data:
        if not isinstance(key, str):
            node = source.node((key,), at_key=True)
            shown = node.value if isinstance(node, ScalarNode) else as_written(key)
            source.add(
                (key,), f"section name must be a string (got {shown})", f"quote it: '{shown}'", at_key=True
            )
    return {key: value for key, value in data.items() if isinstance(key, str)}
