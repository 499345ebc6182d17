"""What is declared about a column (``columns.NAME:`` and ``models.NAME.features.NAME:``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Literal, get_args

from pydantic import Field, field_validator

from vigil.errors import Invalid, Issue, as_written
from vigil.spec.drift import METHODS_BY_TYPE, DriftMethod
from vigil.spec.fields import Section, check

__all__ = ["COLUMN_ROLES", "COLUMN_TYPES", "ColumnDrift", "ColumnRole", "ColumnSpec", "ColumnType"]

ColumnType = Literal["numeric", "categorical", "datetime", "text", "embedding"]
ColumnRole = Literal["feature", "id", "timestamp", "target", "prediction", "pii"]
COLUMN_TYPES: tuple[str, ...] = get_args(ColumnType)
COLUMN_ROLES: tuple[str, ...] = get_args(ColumnRole)

_UNTESTED_ROLES = ("id", "pii", "timestamp")


class ColumnDrift(Section):
    """Per-column drift override (``columns.NAME.drift:``)."""

    method: Literal["auto", DriftMethod] = "auto"
    threshold: Annotated[float, Field(gt=0)] | None = None

    @check("method", "threshold")
    def _threshold_needs_method(self) -> Iterator[Issue]:
        if self.threshold is not None and self.method == "auto":
            yield Issue(
                "a threshold needs an explicit method (method is auto)",
                "add method: psi (or another method) next to it, or remove threshold",
                ("threshold",),
            )


class ColumnSpec(Section):
    """What is declared about one column (``columns.NAME:``); every key is optional."""

    type: ColumnType | None = None
    role: ColumnRole = "feature"
    min: float | None = None
    max: float | None = None
    allowed: tuple[str | int, ...] | None = None
    drift: ColumnDrift | None = None
    dimensions: Annotated[int, Field(gt=0)] | None = None
    """For ``type: embedding``: the length of every vector (records of another length are refused)."""
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
            raise Invalid(Issue(f"must be a list (got {as_written(value)})", "write it as [A, B, C]"))
        issues = []
        first: dict[object, int] = {}
        for i, item in enumerate(value):
            if isinstance(item, bool) or not isinstance(item, str | int):
                hint = "quote it" + (
                    " (YAML reads yes/no/on/off as true/false)" if isinstance(item, bool) else ""
                )
                issues.append(
                    Issue(f"must be a category name or integer code (got {as_written(item)})", hint, (i,))
                )
            elif item in first:
                issues.append(
                    Issue(
                        f"{as_written(item)} is listed twice (first as item {first[item]})",
                        "remove one",
                        (i,),
                    )
                )
            else:
                first[item] = i
        if not value:
            issues.append(Issue("lists no categories", "list at least one, or remove allowed"))
        if issues:
            raise Invalid(*issues)
        return tuple(value)

    def _kind(self) -> str:
        return "not set" if self.type is None else self.type

    @check("type", "min", "max")
    def _bounds_for_numbers(self) -> Iterator[Issue]:
        for bound in ("min", "max"):
            if getattr(self, bound) is not None and self.type != "numeric":
                yield Issue(
                    f"{bound} applies only to numeric columns (type is {self._kind()})",
                    f"remove {bound}, or set type: numeric",
                    (bound,),
                    at_key=True,
                )

    @check("type", "dimensions")
    def _dimensions_for_embeddings(self) -> Iterator[Issue]:
        if self.dimensions is not None and self.type != "embedding":
            yield Issue(
                f"dimensions applies only to embedding columns (type is {self._kind()})",
                "remove dimensions, or set type: embedding",
                ("dimensions",),
                at_key=True,
            )

    @check("min", "max")
    def _bounds_in_order(self) -> Iterator[Issue]:
        if self.min is not None and self.max is not None and self.min > self.max:
            yield Issue(f"must be <= max (max is {as_written(self.max)})", "fix the bounds", ("min",))

    @check("type", "allowed")
    def _allowed_for_categories(self) -> Iterator[Issue]:
        if self.allowed is not None and self.type != "categorical":
            yield Issue(
                f"allowed applies only to categorical columns (type is {self._kind()})",
                "remove allowed, or set type: categorical",
                ("allowed",),
                at_key=True,
            )

    @check("role", "drift")
    def _drift_for_tested_roles(self) -> Iterator[Issue]:
        if self.drift is not None and self.role in _UNTESTED_ROLES:
            yield Issue(
                f"{self.role} columns are never drift-tested",
                "remove drift, or set role: feature",
                ("drift",),
                at_key=True,
            )

    @check("type", "drift")
    def _method_fits_type(self) -> Iterator[Issue]:
        method = None if self.drift is None else self.drift.method
        if (
            method not in (None, "auto")
            and self.type is not None
            and method not in METHODS_BY_TYPE[self.type]
        ):
            usable = ", ".join(("auto", *METHODS_BY_TYPE[self.type]))
            yield Issue(
                f"{method} does not apply to {self.type} columns",
                f"use one of: {usable}",
                ("drift", "method"),
            )
