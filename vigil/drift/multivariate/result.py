"""What a multivariate drift method returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["MultivariateOutcome"]


@dataclass(frozen=True)
class MultivariateOutcome:
    """One method's verdict on the joint distribution of the features.

    ``statistic`` is compared with ``threshold`` (and ``lower_threshold`` where the statistic may also fall);
    ``p_value`` is the normal-approximation significance of the difference from the reference. ``details``
    holds the method's own figures (components kept, reference mean and spread, samples used).
    """

    method: str
    title: str
    drift: bool
    statistic: float
    threshold: float
    p_value: float | None
    lower_threshold: float | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}
