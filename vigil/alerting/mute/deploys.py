"""Deploy grace: a model's alerts muted for a while after each deploy, a :class:`~vigil.alerting.mute.Muter`.

A :class:`DeployAnnotation` (model, version, at, by, note) records a deploy; for ``grace`` seconds after
``at`` (``at <= now < at + grace``; :data:`DEFAULT_GRACE`, 15 min, unless the annotation or
:class:`DeployGrace` says otherwise) every alert whose ``model`` label is that model, of any version, is
muted: the minutes after a rollout are noisy (warm-up latency, a shifted score distribution, drift against the
old version's traffic) and the deployer is watching anyway. **Except** alerts matching one of
:data:`DEFAULT_GRACE_EXEMPT` (``kind="no_data"`` or ``alertname="NoData"``): a deploy that breaks ingestion
leaves every other rule without data, so ``NoData`` is the only alert that can report it, and it already waits
its ``for`` (15 min by default) before firing; muting it too would double the time to page on a dead model.
``DeployGrace.annotations(model, start, end)`` lists deploys for dashboards. Annotations are store records of
kind :data:`DEPLOY_KIND` with id ``<model>/<version>/<at as integer ms>``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vigil.alerting.fingerprint import Labels
from vigil.alerting.matchers import Matcher, matches_all, parse_matcher
from vigil.alerting.mute.intervals import IntervalError, instant_of
from vigil.alerting.mute.maintenance import Problem, pydantic_problems, sentence
from vigil.errors import InputError
from vigil.timefmt import parse_duration

__all__ = ["DEFAULT_GRACE", "DEFAULT_GRACE_EXEMPT", "DEPLOY_KIND", "DeployAnnotation", "DeployGrace"]

DEPLOY_KIND = "deploy"
DEFAULT_GRACE = 15 * 60.0
DEFAULT_GRACE_EXEMPT: tuple[tuple[Matcher, ...], ...] = (
    (parse_matcher('kind="no_data"'),),
    (parse_matcher('alertname="NoData"'),),
)
"""Matcher sets whose alerts a deploy grace period never mutes (any one set matching is enough)."""


@dataclass(frozen=True)
class DeployAnnotation:
    """A deploy of ``version`` of ``model`` at ``at`` (seconds); ``grace`` seconds (None: the default)."""

    model: str
    version: str
    at: float
    by: str = ""
    note: str = ""
    grace: float | None = None

    def __post_init__(self) -> None:
        if not self.model.strip() or not self.version.strip():
            raise ValueError("a deploy annotation needs the model and the version deployed")
        if not math.isfinite(self.at):
            raise ValueError(f"a deploy's time must be finite seconds since the epoch, got {self.at!r}")
        if self.grace is not None and not (math.isfinite(self.grace) and self.grace >= 0):
            raise ValueError(f"a grace period is >= 0 seconds, got {self.grace!r}")

    @property
    def id(self) -> str:
        return f"{self.model}/{self.version}/{round(self.at * 1000)}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "version": self.version,
            "at": self.at,
            "by": self.by,
            "note": self.note,
            "grace": self.grace,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DeployAnnotation:
        """An annotation from JSON/API input: ``at`` in epoch seconds or ISO 8601 with an offset, ``grace``
        in seconds or as a duration (``"30m"``; 0: none). Raises InputError naming every problem."""
        try:
            model = _DeployModel.model_validate(dict(data))
        except ValidationError as exc:
            raise InputError(
                "invalid deploy annotation: " + "; ".join(sentence(p) for p in pydantic_problems(exc, ""))
            ) from None
        problems: list[Problem] = []
        at = 0.0
        try:
            at = instant_of(model.at)
        except IntervalError as exc:
            problems.append(("at", str(exc), exc.hint))
        grace = None
        if model.grace is not None:
            grace = _grace_of(model.grace)
            if grace is None:
                problems.append(
                    ("grace", f"not a duration: {model.grace!r}", "write it like 15m or 1h, or 0")
                )
        if problems:
            raise InputError("invalid deploy annotation: " + "; ".join(sentence(p) for p in problems))
        try:
            return cls(model.model, model.version, at, model.by, model.note, grace)
        except ValueError as exc:
            raise InputError(f"invalid deploy annotation: {exc}") from None

    @classmethod
    def from_json(cls, text: str) -> DeployAnnotation:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise InputError("invalid deploy annotation: expected a JSON object")
        return cls.from_dict(data)


class _DeployModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: str = Field(min_length=1)
    version: str = Field(min_length=1)
    at: Any
    by: str = ""
    note: str = ""
    grace: Any = None


def _grace_of(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value == 0:
        return 0.0
    if isinstance(value, str) and value.strip() in ("0", "0s"):
        return 0.0
    try:
        return parse_duration(value).total_seconds()
    except (ValueError, OverflowError):
        return None


class DeployGrace:
    """Deploy annotations; mutes a model's alerts in its deploys' grace periods (see the module docstring).

    ``exempt``: matcher sets whose alerts are never muted (one set matching suffices).
    """

    def __init__(
        self,
        annotations: Iterable[DeployAnnotation] = (),
        *,
        default_grace: float = DEFAULT_GRACE,
        exempt: Sequence[Sequence[Matcher]] = DEFAULT_GRACE_EXEMPT,
    ) -> None:
        if not (math.isfinite(default_grace) and default_grace >= 0):
            raise ValueError(f"default_grace is >= 0 seconds, got {default_grace!r}")
        self.default_grace = default_grace
        self.exempt = tuple(tuple(ms) for ms in exempt)
        self._annotations = list(annotations)

    def add(self, annotation: DeployAnnotation) -> None:
        self._annotations.append(annotation)

    def __iter__(self) -> Iterator[DeployAnnotation]:
        return iter(self._annotations)

    def grace_of(self, annotation: DeployAnnotation) -> float:
        """Seconds of grace after ``annotation`` (its own, else the default)."""
        return self.default_grace if annotation.grace is None else annotation.grace

    def in_grace(self, model: str, now: float) -> list[DeployAnnotation]:
        """The deploys of ``model`` whose grace period holds ``now`` (``at <= now < at + grace``), by time."""
        return sorted(
            (a for a in self._annotations if a.model == model and a.at <= now < a.at + self.grace_of(a)),
            key=lambda a: a.at,
        )

    def annotations(self, model: str | None, start: float, end: float) -> list[DeployAnnotation]:
        """The deploys of ``model`` (None: every model) with ``start <= at <= end``, oldest first."""
        return sorted(
            (a for a in self._annotations if (model is None or a.model == model) and start <= a.at <= end),
            key=lambda a: (a.at, a.model, a.version),
        )

    def mutes(self, labels: Labels, now: float) -> bool:
        model = labels.get("model")
        if not model or any(matches_all(ms, labels) for ms in self.exempt):
            return False
        return bool(self.in_grace(model, now))
