"""Error types. Every message says what was wrong, where, and what to do about it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

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


__all__ += ["StoreError"]


class StoreError(VigilError):
    """The store cannot be used: its database cannot be reached, or its schema is not one this Vigil knows."""
