"""Label matchers in Alertmanager's form: ``name="value"``, ``name!="value"``, ``name=~"re"``, ``name!~"re"``.

Regexes are fully anchored (``=~"prod|staging"`` matches ``prod`` but not ``production``); they use
Python's ``re`` syntax, which agrees with Go's RE2 on the common subset. A label the alert lacks has the
value ``""``, so ``team=""`` matches alerts without a ``team`` label and ``team!=""`` those with one.

>>> m = parse_matcher('env =~ "prod|staging"')
>>> m.matches({"env": "staging"}), m.matches({"env": "production"})
(True, False)
>>> str(m)
'env=~"prod|staging"'
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from vigil.alerting.fingerprint import Labels
from vigil.errors import VigilError

__all__ = ["MatchType", "Matcher", "MatcherError", "matches_all", "parse_matcher"]


class MatcherError(VigilError, ValueError):
    """A matcher that cannot be parsed or whose regex does not compile."""


class MatchType(StrEnum):
    EQUAL = "="
    NOT_EQUAL = "!="
    REGEX = "=~"
    NOT_REGEX = "!~"


@dataclass(frozen=True)
class Matcher:
    """One condition on one label; ``matches(labels)`` tests it (missing label = ``""``)."""

    name: str
    type: MatchType
    value: str
    _regex: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.type in (MatchType.REGEX, MatchType.NOT_REGEX):
            try:
                compiled = re.compile(self.value)
            except re.error as exc:
                raise MatcherError(
                    f"invalid regex {self.value!r} in matcher on label {self.name!r}: {exc}; "
                    "fix the pattern, or use = / != for a literal value"
                ) from None
            object.__setattr__(self, "_regex", compiled)

    def matches(self, labels: Labels) -> bool:
        actual = labels.get(self.name, "")
        if self._regex is None:
            return (actual == self.value) == (self.type is MatchType.EQUAL)
        return (self._regex.fullmatch(actual) is not None) == (self.type is MatchType.REGEX)

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'{self.name}{self.type.value}"{escaped}"'


def matches_all(matchers: Iterable[Matcher], labels: Labels) -> bool:
    """True when every matcher matches ``labels`` (and for no matchers)."""
    return all(m.matches(labels) for m in matchers)


_NAME = r'[A-Za-z_][A-Za-z0-9_]*|"(?:[^"\\]|\\.)*"'
_VALUE = r'"(?:[^"\\]|\\.)*"|[^\s"=!~,{}]*'
_MATCHER = re.compile(rf"\s*(?P<name>{_NAME})\s*(?P<op>=~|!~|!=|=)\s*(?P<value>{_VALUE})\s*")
_ESCAPES = {"\\": "\\", '"': '"', "n": "\n", "t": "\t"}


def _unquote(text: str, source: str) -> str:
    if not text.startswith('"'):
        return text
    out: list[str] = []
    chars = iter(text[1:-1])
    for ch in chars:
        if ch != "\\":
            out.append(ch)
            continue
        nxt = next(chars, "")
        if nxt not in _ESCAPES:
            raise MatcherError(
                f"invalid matcher {source!r}: unknown escape '\\{nxt}' in a quoted string; "
                'inside quotes write a backslash as \\\\ (e.g. host=~"web\\\\.example")'
            )
        out.append(_ESCAPES[nxt])
    return "".join(out)


def parse_matcher(text: str) -> Matcher:
    """Parse one matcher, e.g. ``'env =~ "prod|staging"'`` or ``severity!=warning``.

    Raises MatcherError naming the text and the expected form.
    """
    found = _MATCHER.fullmatch(text)
    if found is None:
        raise MatcherError(
            f'invalid matcher {text!r}: expected <label><op>"<value>" with op one of =, !=, =~, !~ '
            'and the value in double quotes, e.g. env=~"prod|staging"'
        )
    name = _unquote(found["name"], text)
    if not name:
        raise MatcherError(f"invalid matcher {text!r}: the label name is empty; name the label to match")
    return Matcher(name, MatchType(found["op"]), _unquote(found["value"], text))
