"""Problems in the sections of vigil.yaml that their owners check (``rules``, ``slos``, ``alerting``,
``actions``) as ``ConfigProblem`` s, positioned when the text is known: the one place, beside
:mod:`vigil.config.source`, that turns validation errors into sentences at file:line:col.

Schemas raise the config's issues (``vigil.errors.Invalid``) at the key they concern; this module turns a
``ValidationError`` of a section, or of one entry of a list section (``rules:``, ``slos:``), into problems
naming the entry (``rule 'HighLatency'``) and what to fix, with file:line:col from the YAML.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Collection, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from vigil.config.source import Source
from vigil.errors import ConfigError, ConfigProblem, Invalid

__all__ = ["Locate", "choose", "keys_of", "locator", "parse_entries", "problems_of"]

Locate = Callable[[tuple[Any, ...], str, str], ConfigProblem]
"""(path, message, hint) -> the problem at that path of the file."""

_T = TypeVar("_T")


def locator(text: str | None, filename: str) -> Locate:
    """A :data:`Locate` for ``filename``, positioned when its ``text`` is given (and readable YAML)."""
    source = None
    if text is not None:
        try:
            source = Source.compose(text, filename)
        except ConfigError:
            source = None

    def locate(path: tuple[Any, ...], message: str, hint: str) -> ConfigProblem:
        if source is None:
            dotted = ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in path).replace(".[", "[")
            return ConfigProblem(filename, None, None, dotted, message, hint)
        source.add(path, message, hint)
        return source.problems.pop()

    return locate


def keys_of(model: type[BaseModel]) -> list[str]:
    """The keys a model's mapping takes, as written (aliases where given)."""
    return [f.alias or n for n, f in model.model_fields.items()]


def choose(word: str, choices: Collection[str], label: str) -> str:
    """``did you mean 'x'? (label: a, b)`` when a choice is close to ``word``, else ``label: a, b``."""
    listed = f"{label}: {', '.join(choices) or 'none'}"
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f"did you mean {close[0]!r}? ({listed})" if close else listed


def problems_of(
    exc: ValidationError,
    at: tuple[Any, ...],
    locate: Locate,
    *,
    who: str = "",
    allowed: Collection[str] | Callable[[tuple[Any, ...]], Collection[str]] = (),
    tags: Collection[str] = (),
    docs: str = "",
) -> list[ConfigProblem]:
    """The problems of ``exc`` raised for the value at path ``at`` (messages start with ``who``).

    ``allowed``: the keys to suggest for an unknown one (or a function of the location of the mapping, as
    pydantic gives it); ``tags``: the kind names a discriminated union puts in an error's location, first or
    after a list index (left out of the path); ``docs``: where the format is described.
    """
    prefix = f"{who}: " if who else ""
    out = []
    for error in exc.errors():
        raw = tuple(error["loc"])
        loc = tuple(
            p for j, p in enumerate(raw) if not (p in tags and (j == 0 or isinstance(raw[j - 1], int)))
        )
        key = ".".join(str(p) for p in loc)
        cause = error.get("ctx", {}).get("error")
        if isinstance(cause, Invalid):
            for issue in cause.issues:
                named = (
                    not loc or issue.path or not isinstance(loc[-1], str) or issue.message.startswith(loc[-1])
                )
                said = issue.message if named else f"{key}: {issue.message}"
                out.append(locate((*at, *loc, *issue.path), prefix + said, issue.hint))
            continue
        kind = error["type"]
        if kind == "extra_forbidden":
            keys = allowed(raw[:-1]) if callable(allowed) else allowed
            hint = choose(str(loc[-1]), keys, "allowed keys")
            out.append(locate((*at, *loc), f"{prefix}unknown key {loc[-1]!r}", hint))
        elif kind == "missing":
            out.append(
                locate((*at, *loc[:-1]), f"{prefix}required key {key!r} is missing", f"add {loc[-1]}:")
            )
        else:
            message = str(error["msg"]).removeprefix("Value error, ")
            where = f"see the format in {docs}" if docs else "fix the value"
            out.append(locate((*at, *loc), f"{prefix}{key}: {message} (got {error.get('input')!r})", where))
    return out


def parse_entries(
    section: str,
    noun: str,
    data: object,
    build: Callable[[dict[str, Any]], _T],
    allowed: Callable[[Mapping[str, Any]], Collection[str]],
    filename: str,
    text: str | None,
    docs: str,
    tags: Collection[str] = (),
) -> tuple[_T, ...]:
    """The items built from a list section's entries (None: none); one ``ConfigError`` lists every problem,
    each naming its entry, and a name used twice. ``allowed(entry)``: the keys that entry may have."""
    if data is None:
        return ()
    locate = locator(text, filename)
    if not isinstance(data, list):
        raise ConfigError(
            [locate((section,), f"must be a list of {noun}s", f"write each {noun} as - name: ...")]
        )
    problems: list[ConfigProblem] = []
    items: list[_T] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(data):
        name = item.get("name") if isinstance(item, dict) else None
        who = f"{noun} {name!r}" if isinstance(name, str) and name else f"{noun} {i + 1} (no name)"
        if not isinstance(item, dict):
            problems.append(locate((section, i), f"{who}: must be a mapping", "write it as - name: ..."))
            continue
        try:
            built = build(item)
        except Invalid as issues:
            problems.extend(
                locate((section, i, *x.path), f"{who}: {x.message}", x.hint) for x in issues.issues
            )
            continue
        except ValidationError as exc:
            problems.extend(
                problems_of(exc, (section, i), locate, who=who, allowed=allowed(item), tags=tags, docs=docs)
            )
            continue
        if name in seen:
            problems.append(
                locate(
                    (section, i, "name"),
                    f"{who}: the name is used twice (first by {noun} {seen[name] + 1})",
                    f"give each {noun} its own name",
                )
            )
            continue
        seen[str(name)] = i
        items.append(built)
    if problems:
        raise ConfigError(sorted(problems, key=lambda p: (p.line or 0, p.column or 0)))
    return tuple(items)
