"""The pieces every section of vigil.yaml is built from.

:class:`Section` is the base of every section model: unknown keys are refused, values are taken as
written (no coercion), and checks across fields (methods marked :func:`check`) run on the fields that are
valid even when others are not, so one run reports every problem. Validators raise
:class:`~vigil.errors.Invalid` with :class:`~vigil.errors.Issue` s at exact paths; the config loader
places each at its file, line and column.

``Duration`` and ``Secret`` are field types: ``"5m"`` as a timedelta, ``"${NAME}"`` read from the
environment (so secrets stay out of files).
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable, Collection, Iterable
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, ClassVar, Optional, Self, TypeVar, get_args

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ModelWrapValidatorHandler,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    create_model,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import InitErrorDetails, PydanticCustomError
from pydantic_core.core_schema import ErrorType

from vigil.errors import Invalid, Issue
from vigil.timefmt import parse_duration

__all__ = [
    "FOLDER",
    "SECTION",
    "Duration",
    "Secret",
    "Section",
    "check",
    "config_folder",
    "expand_env",
    "suggest",
]

SECTION = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)
"""The settings of every section model: unknown keys refused, no coercion, immutable, finite numbers."""

FOLDER = "folder"
"""The validation context key of the config file's folder: relative paths start there, and files the
config names are checked to exist (``model_validate(data, context={FOLDER: path})``)."""


def config_folder(info: ValidationInfo) -> Path | None:
    """The config file's folder from a validator's ``info``; None when the config is not from a file."""
    folder = info.context.get(FOLDER) if isinstance(info.context, dict) else None
    return Path(folder) if folder is not None else None


_Method = TypeVar("_Method", bound=Callable[..., Iterable[Issue]])


def check(*reads: str) -> Callable[[_Method], _Method]:
    """Mark a method of a :class:`Section` as a check across the fields it ``reads``.

    The method yields :class:`~vigil.errors.Issue` s (paths relative to the section). It runs once the
    fields are validated, whenever all of ``reads`` are valid, whatever the state of the others.
    """

    def mark(method: _Method) -> _Method:
        setattr(method, "__check_reads__", frozenset(reads))  # noqa: B010 -- a mark on a function
        return method

    return mark


class Section(BaseModel):
    """Base of every section model (see the module docstring)."""

    model_config = SECTION

    __checks__: ClassVar[tuple[tuple[frozenset[str], str], ...]] = ()
    __partial__: ClassVar[bool] = False

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        found: dict[str, frozenset[str]] = {}
        for klass in reversed(cls.__mro__):
            for name, member in vars(klass).items():
                reads = getattr(member, "__check_reads__", None)
                if isinstance(reads, frozenset):
                    found[name] = reads
        cls.__checks__ = tuple((reads, name) for name, reads in found.items())

    @model_validator(mode="wrap")
    @classmethod
    def _check_what_is_valid(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        if cls.__partial__:
            return handler(data)
        try:
            section = handler(data)
        except ValidationError as exc:
            if not (cls.__checks__ and isinstance(data, dict)):
                raise
            raise cls._with_checks(data, exc) from None
        issues = section._issues(frozenset())
        if issues:
            raise Invalid(*issues)
        return section

    def _issues(self, invalid: frozenset[str]) -> list[Issue]:
        """What the checks find, leaving out those that read an ``invalid`` field."""
        found: list[Issue] = []
        for reads, name in type(self).__checks__:
            if invalid.isdisjoint(reads):
                found.extend(getattr(self, name)())
        return found

    @classmethod
    def _with_checks(cls, data: dict[Any, Any], exc: ValidationError) -> ValidationError:
        """``exc`` and what the checks find among the fields that ``exc`` leaves valid."""
        errors = _line_errors(exc)
        names = {name: name for name in cls.model_fields}
        names.update({field.alias: name for name, field in cls.model_fields.items() if field.alias})
        failed = {error["loc"][0] for error in exc.errors() if error["loc"]}
        kept = {key: value for key, value in data.items() if key not in failed}
        try:
            # No validation context: the fields kept have passed its checks (files that must exist).
            partial = cls._partial().model_validate(kept)
        except ValidationError:
            partial = None  # what is left cannot be built: its problems are already in ``exc``
        if partial is not None:
            issues = partial._issues(frozenset(names.get(str(key), str(key)) for key in failed))
            if issues:
                error = Invalid(*issues)
                errors.append(InitErrorDetails(type="value_error", loc=(), input=data, ctx={"error": error}))
        return ValidationError.from_exception_data(cls.__name__, errors)

    @classmethod
    def _partial(cls) -> type[Self]:
        """This model with its required fields optional: what validates the fields left valid."""
        twin = _PARTIALS.get(cls)
        if twin is None:
            optional: dict[str, Any] = {
                name: (Optional[field.annotation], FieldInfo.merge_field_infos(field, default=None))  # noqa: UP045
                for name, field in cls.model_fields.items()
                if field.is_required()
            }
            twin = create_model(cls.__name__, __base__=cls, __module__=cls.__module__, **optional)
            twin.__partial__ = True
            _PARTIALS[cls] = twin
        return twin  # type: ignore[return-value]  # built from cls above


_PARTIALS: dict[type[Section], type[Section]] = {}
_KNOWN_ERRORS = frozenset(get_args(ErrorType))


def _line_errors(exc: ValidationError) -> list[InitErrorDetails]:
    """The errors of ``exc`` in the form that builds a ValidationError again."""
    out: list[InitErrorDetails] = []
    for error in exc.errors(include_url=False):
        kind = error["type"]
        ctx = error.get("ctx")
        details = InitErrorDetails(
            type=kind if kind in _KNOWN_ERRORS else PydanticCustomError(kind, error["msg"], ctx),
            loc=error["loc"],
            input=error["input"],
        )
        if ctx is not None:
            details["ctx"] = ctx
        out.append(details)
    return out


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
"""A duration written ``30s``, ``5m``, ``2h``, ``7d``, ``1w`` (or a number of seconds)."""

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def expand_env(value: object) -> object:
    """``${NAME}`` in a string becomes the environment variable NAME (so secrets stay out of files)."""
    if not isinstance(value, str):
        return value
    missing = [m.group(1) for m in _ENV.finditer(value) if m.group(1) not in os.environ]
    if missing:
        raise Invalid(
            Issue(f"environment variable {missing[0]} is not set", f"export {missing[0]}=... first")
        )
    return _ENV.sub(lambda m: os.environ[m.group(1)], value)


Secret = Annotated[str, BeforeValidator(expand_env), StringConstraints(min_length=1)]
"""A non-empty string whose ``${NAME}`` parts are read from the environment."""


def suggest(word: object, choices: Collection[str], label: str) -> str:
    """``did you mean 'x'? (label: a, b)`` when a choice is close to ``word``, else ``label: a, b``.

    >>> suggest("alpah", ["alpha", "correction"], "allowed keys")
    "did you mean 'alpha'? (allowed keys: alpha, correction)"
    """
    listed = f"{label}: {', '.join(choices)}"
    close = difflib.get_close_matches(str(word), list(choices), n=1)
    return f"did you mean {close[0]!r}? ({listed})" if close else listed
