"""Data-quality thresholds (``quality:``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from pydantic import Field

from vigil.errors import Issue, as_written
from vigil.spec.fields import Section, check

__all__ = ["QualitySettings"]


class QualitySettings(Section):
    """Data-quality thresholds (``quality:``); rates and tolerances are shares between 0 and 1."""

    null_rate_warn: Annotated[float, Field(ge=0, le=1)] = 0.01
    null_rate_fail: Annotated[float, Field(ge=0, le=1)] = 0.05
    range_tolerance: Annotated[float, Field(ge=0, le=1)] = 0.001
    unseen_tolerance: Annotated[float, Field(ge=0, le=1)] = 0.0

    @check("null_rate_warn", "null_rate_fail")
    def _warn_not_above_fail(self) -> Iterator[Issue]:
        if self.null_rate_warn > self.null_rate_fail:
            default = "" if "null_rate_fail" in self.model_fields_set else ", the default"
            yield Issue(
                f"must be <= null_rate_fail (null_rate_fail is {as_written(self.null_rate_fail)}{default})",
                "lower null_rate_warn or raise null_rate_fail",
                ("null_rate_warn",),
            )
