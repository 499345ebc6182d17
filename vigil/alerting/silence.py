"""Silences: mute alerts matching all of a silence's matchers between ``starts_at`` and ``ends_at``.

A silence is ``pending`` before ``starts_at``, ``active`` for ``starts_at <= now < ends_at`` and
``expired`` from ``ends_at`` on (Alertmanager's states); only an active silence mutes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum

from vigil.alerting.fingerprint import Labels
from vigil.alerting.matchers import Matcher, matches_all

__all__ = ["Silence", "SilenceState", "Silences"]


class SilenceState(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Silence:
    """One silence; times in seconds. Raises ValueError for a silence that cannot be used."""

    matchers: tuple[Matcher, ...]
    starts_at: float
    ends_at: float
    created_by: str
    comment: str
    id: str = ""

    def __post_init__(self) -> None:
        if not self.matchers:
            raise ValueError('a silence needs at least one matcher; add e.g. alertname="..."')
        if all(m.matches({}) for m in self.matchers):
            raise ValueError(
                "a silence whose matchers all match the empty label set would mute every alert; "
                "add a matcher that requires a label value"
            )
        if not self.ends_at > self.starts_at:
            raise ValueError(
                f"a silence must end after it starts (starts_at={self.starts_at}, ends_at={self.ends_at})"
            )
        if not self.created_by.strip():
            raise ValueError("a silence needs created_by: say who created it")

    def state(self, now: float) -> SilenceState:
        if now < self.starts_at:
            return SilenceState.PENDING
        if now < self.ends_at:
            return SilenceState.ACTIVE
        return SilenceState.EXPIRED

    def mutes(self, labels: Labels, now: float) -> bool:
        return self.state(now) is SilenceState.ACTIVE and matches_all(self.matchers, labels)


class Silences:
    """A set of silences; mutes what any active one mutes."""

    def __init__(self, silences: Iterable[Silence] = ()) -> None:
        self._silences = list(silences)

    def add(self, silence: Silence) -> None:
        self._silences.append(silence)

    def __iter__(self) -> Iterator[Silence]:
        return iter(self._silences)

    def silenced_by(self, labels: Labels, now: float) -> list[Silence]:
        """The active silences that match ``labels``, in the order they were added."""
        return [s for s in self._silences if s.mutes(labels, now)]

    def mutes(self, labels: Labels, now: float) -> bool:
        return any(s.mutes(labels, now) for s in self._silences)
