"""Positions and problems: where each value of a vigil.yaml is, and what is wrong with it, in sentences.

:class:`Source` composes the YAML once, keeps the key and value node at every path, and collects
:class:`~vigil.errors.ConfigProblem` s at ``file:line:col``. :meth:`Source.report` turns a pydantic
``ValidationError`` into problems: unknown keys with a did-you-mean, bounds with the allowed range, and the
validators' own :class:`~vigil.errors.Issue` s at their exact paths. Every section's problems go through it.
"""

from __future__ import annotations

import difflib
import re
import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from vigil.errors import ConfigError, ConfigProblem, Invalid, as_written
from vigil.spec.fields import suggest

__all__ = ["KeyPath", "Source"]

KeyPath = tuple[Any, ...]
"""Where a value is: keys and list indexes from the top of the file (``("columns", "age", "min")``)."""


def _norm(path: KeyPath) -> KeyPath:
    """A path as pydantic writes locations: int and str keys as they are, any other key as text."""
    return tuple(int(p) if isinstance(p, bool) else p if isinstance(p, int | str) else str(p) for p in path)


@dataclass(frozen=True)
class _Entry:
    """The YAML nodes at one path: the key node (None for list items and the root) and the value node."""

    key: Node | None
    value: Node


class Source:
    """Composed YAML of one file: its data, the node at every path, and the problems found so far."""

    def __init__(self, filename: str, data: Any, entries: dict[KeyPath, _Entry]) -> None:
        self.filename = filename
        self.data = data
        self.entries = entries
        self.problems: list[ConfigProblem] = []

    @classmethod
    def compose(cls, text: str, filename: str) -> Source:
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
            message = f"duplicate key {as_written(path[-1])} (first at line {first_line})"
            source.add(path, message, "keep only one; YAML would silently use the last", node=node)
        return source

    def add(
        self, path: KeyPath, message: str, hint: str, *, at_key: bool = False, node: Node | None = None
    ) -> None:
        """Record a problem at ``path``: its key or value node, else the nearest enclosing node."""
        path = _norm(path)
        if node is None:
            node = self.node(path, at_key=at_key)
        line = column = None
        if node is not None and node.start_mark is not None:
            line, column = node.start_mark.line + 1, node.start_mark.column + 1
        self.problems.append(ConfigProblem(self.filename, line, column, self.dotted(path), message, hint))

    def report(self, exc: ValidationError, model: type[BaseModel], at: KeyPath = ()) -> None:
        """Add the problems of ``exc``, raised validating ``model`` from the value at ``at``."""
        for error in exc.errors():
            self._explain(error, model, at)

    def node(self, path: KeyPath, *, at_key: bool = False) -> Node | None:
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

    def dotted(self, path: KeyPath) -> str:
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

    def _explain(self, error: Mapping[str, Any], model: type[BaseModel], at: KeyPath) -> None:
        """Add the problems of one pydantic error."""
        inner: KeyPath = tuple(error["loc"])
        at_key = bool(inner) and inner[-1] == "[key]"
        if at_key:
            inner = inner[:-1]
        where, _ = _walk(model, inner)
        loc = (*at, *where)
        parent = _walk(model, inner[:-1])[1] if inner else None
        cause = error.get("ctx", {}).get("error")
        if isinstance(cause, Invalid):
            for issue in cause.issues:
                self.add((*loc, *issue.path), issue.message, issue.hint, at_key=issue.at_key)
            return
        kind: str = error["type"]
        value = error["input"]
        name = str(loc[-1]) if loc else "value"
        if kind == "extra_forbidden":
            allowed = _allowed_keys(parent)
            self.add(
                loc,
                f"unknown key {as_written(loc[-1])}",
                suggest(loc[-1], allowed, "allowed keys"),
                at_key=True,
            )
        elif kind == "missing":
            self.add(loc, f"required key {name!r} is missing", f"add {name}: to this section")
        elif kind == "literal_error":
            choices = re.findall(r"'([^']*)'", error["ctx"]["expected"])
            if at_key:
                self.add(
                    loc,
                    f"unknown key {as_written(loc[-1])}",
                    suggest(loc[-1], choices, "allowed keys"),
                    at_key=True,
                )
            else:
                message = f"must be one of {', '.join(choices)} (got {as_written(value)})"
                close = difflib.get_close_matches(str(value), choices, n=1)
                self.add(loc, message, f"did you mean {close[0]!r}?" if close else "pick one of these")
        elif kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal", "finite_number"):
            ops = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}
            limit = next(iter(error.get("ctx", {}).values()), None)
            message = f"must be {ops[kind]} {as_written(limit)}" if kind in ops else "must be a finite number"
            fallback = (
                f"use a number {ops[kind]} {as_written(limit)}" if kind in ops else "write a plain number"
            )
            self.add(
                loc,
                f"{message} (got {as_written(value)})",
                (_range_hint(parent, loc[-1]) if loc else "") or fallback,
            )
        elif kind in ("float_type", "float_parsing", "int_type", "int_parsing", "int_from_float"):
            hint = (
                "write it without quotes" if isinstance(value, str) else "write a plain number such as 0.05"
            )
            if kind.startswith("int"):
                hint = "write a whole number"
            self.add(loc, f"must be a number (got {as_written(value)})", hint)
        elif kind in ("bool_type", "bool_parsing"):
            self.add(
                loc, f"must be true or false (got {as_written(value)})", "write true or false, without quotes"
            )
        elif kind == "string_type":
            node = self.node(loc, at_key=at_key)
            shown = node.value if isinstance(node, ScalarNode) else as_written(value)
            what = "key" if at_key else "value"
            self.add(loc, f"{what} must be a string (got {shown})", f"quote it: '{shown}'", at_key=at_key)
        elif kind in ("dict_type", "model_type", "model_attributes_type"):
            self.add(
                loc, f"must be a mapping (got {as_written(value)})", "write it as indented key: value lines"
            )
        elif kind in ("list_type", "tuple_type"):
            self.add(loc, f"must be a list (got {as_written(value)})", "write it as [a, b, c]")
        elif kind == "recursion_loop":
            self.add(loc, "refers to itself through a YAML alias", "remove the recursive alias")
        elif kind == "value_error" and cause is not None:
            self.add(loc, str(cause), "see vigil/examples/vigil.yaml for the expected form", at_key=at_key)
        else:
            self.add(
                loc, str(error["msg"]), "see vigil/examples/vigil.yaml for the expected form", at_key=at_key
            )


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
    node: Node, path: KeyPath, keys: SafeConstructor, seen: frozenset[int] = frozenset()
) -> Iterator[tuple[KeyPath, _Entry]]:
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


def _duplicate_keys(root: Node) -> Iterator[tuple[KeyPath, Node, Node]]:
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


def _unwrap(annotation: Any) -> Any:
    """``X`` for ``X | None`` and ``Annotated[X, ...]``; anything else unchanged."""
    if get_origin(annotation) is Annotated:
        return _unwrap(get_args(annotation)[0])
    if get_origin(annotation) in (Union, types.UnionType):
        args = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(args) == 1:
            return _unwrap(args[0])
    return annotation


def _walk(model: type[BaseModel], loc: KeyPath) -> tuple[KeyPath, type[BaseModel] | None]:
    """Where pydantic's ``loc`` under ``model`` is in the data, and the model that validates the value there.

    A tagged union's member is named by its tag in ``loc`` but not in the data: such parts are dropped.
    """
    annotation: Any = model
    path: list[Any] = []
    for i, part in enumerate(loc):
        annotation = _unwrap(annotation)
        if get_origin(annotation) in (Union, types.UnionType):
            annotation = _member_tagged(annotation, part)
            if annotation is None:
                return (*path, *loc[i:]), None
            continue
        path.append(part)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = _field(annotation, part)
            annotation = None if field is None else field.annotation
        elif get_origin(annotation) is dict:
            annotation = get_args(annotation)[1]
        elif get_origin(annotation) in (tuple, list) and isinstance(part, int):
            annotation = get_args(annotation)[0]
        else:
            annotation = None
        if annotation is None:
            return (*path, *loc[i + 1 :]), None
    annotation = _unwrap(annotation)
    return tuple(path), annotation if isinstance(annotation, type) and issubclass(
        annotation, BaseModel
    ) else None


def _member_tagged(union: Any, tag: object) -> type[BaseModel] | None:
    """The model of ``union`` whose discriminator (a ``Literal`` field) takes the value ``tag``."""
    for member in get_args(union):
        model = _unwrap(member)
        if isinstance(model, type) and issubclass(model, BaseModel):
            for field in model.model_fields.values():
                kind = _unwrap(field.annotation)
                if get_origin(kind) is Literal and tag in get_args(kind):
                    return model
    return None


def _field(model: type[BaseModel], key: object) -> FieldInfo | None:
    """The field of ``model`` written ``key`` (its name or its alias)."""
    for name, field in model.model_fields.items():
        if key in (name, field.alias):
            return field
    return None


def _allowed_keys(section: type[BaseModel] | None) -> list[str]:
    """The keys of ``section`` as they are written."""
    return (
        [field.alias or name for name, field in section.model_fields.items()] if section is not None else []
    )


def _range_hint(section: type[BaseModel] | None, key: object) -> str:
    """``use a value with 0 < alpha < 1`` from the constraints of ``section``'s ``key``; empty without any."""
    field = _field(section, key) if section is not None else None
    low = high = ""
    for rule in _constraints(field) if field is not None else []:
        if getattr(rule, "gt", None) is not None:
            low = f"{as_written(rule.gt)} < "
        if getattr(rule, "ge", None) is not None:
            low = f"{as_written(rule.ge)} <= "
        if getattr(rule, "lt", None) is not None:
            high = f" < {as_written(rule.lt)}"
        if getattr(rule, "le", None) is not None:
            high = f" <= {as_written(rule.le)}"
    if not (low or high):
        return ""
    return f"use a value with {low}{key}{high}"


def _constraints(field: FieldInfo) -> list[Any]:
    """The constraints of ``field``, those written inside ``Annotated[X, Field(...)] | None`` included."""
    found = list(field.metadata)
    for arg in get_args(field.annotation) if get_origin(field.annotation) in (Union, types.UnionType) else []:
        if get_origin(arg) is Annotated:
            for item in get_args(arg)[1:]:
                found.extend(item.metadata if isinstance(item, FieldInfo) else [item])
    return found
