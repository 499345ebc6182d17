"""Error types. Every message says what was wrong, where, and what to do about it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["InputError", "VigilError"]


class VigilError(Exception):
    """Base class of every error Vigil raises on purpose."""


class InputError(VigilError):
    """Data that cannot be used: an unreadable file, an empty table, no common columns, and the like."""


__all__ += ["ConfigError", "ConfigProblem"]


@dataclass(frozen=True)
class ConfigProblem:
    """One problem in a configuration file: where it is (1-based line and column), what, and what to do.

    ``line`` and ``column`` are None when the problem has no position (the file cannot be read).
    ``path`` is the dotted key path (``columns.age.min``), empty for problems with the file as a whole.
    """

    file: str
    line: int | None
    column: int | None
    path: str
    message: str
    hint: str = ""

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}:{self.column}"
        text = f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"
        return f"{text} — {self.hint}" if self.hint else text


class ConfigError(VigilError):
    """A configuration that cannot be used; ``problems`` lists every problem found, in file order."""

    def __init__(self, problems: Sequence[ConfigProblem]) -> None:
        self.problems = list(problems)
        lines = [str(problem) for problem in self.problems]
        if len(lines) > 1:
            lines.insert(0, f"{len(lines)} problems in the configuration:")
        super().__init__("\n".join(lines))

    def __reduce__(self) -> tuple[type[ConfigError], tuple[list[ConfigProblem]]]:
        return (type(self), (self.problems,))


__all__ += ["DurationError", "Invalid", "Issue", "as_written"]


@dataclass(frozen=True)
class Issue:
    """One problem with a value, at ``path`` relative to it (``("drift", "method")``; ``()``: the value
    itself); ``at_key`` points at the key rather than its value."""

    message: str
    hint: str
    path: tuple[Any, ...] = ()
    at_key: bool = False


class Invalid(ValueError):
    """Raised by a validator or parser: one or more issues, each at its exact path.

    A ``ValueError``, so pydantic reports it as the validator's error; the config loader places each issue
    at its file, line and column.

    >>> str(Invalid(Issue("must be <= max (max is 5)", "fix the bounds", ("min",))))
    'min: must be <= max (max is 5)'
    """

    def __init__(self, *issues: Issue) -> None:
        self.issues = issues
        super().__init__(
            "; ".join(f"{'.'.join(map(str, i.path))}: {i.message}" if i.path else i.message for i in issues)
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), self.issues)


class DurationError(Invalid):
    """Not a duration (``parse_duration``): ``str()`` is the message; ``hint`` says how to write one."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(Issue(message, hint))
        self.hint = hint

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.hint))


def as_written(value: object) -> str:
    """``value`` as a user would write it in YAML, for messages.

    >>> as_written("x"), as_written(True), as_written(5.0), as_written(None), as_written([1])
    ("'x'", 'true', '5', 'nothing', 'a list')
    """
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


__all__ += ["StoreError"]


class StoreError(VigilError):
    """The store cannot be used: its database cannot be reached, or its schema is not one this Vigil knows."""
