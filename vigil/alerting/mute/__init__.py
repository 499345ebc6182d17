"""Muting: what keeps an alert from being notified, all behind one interface (:class:`Muter`: does something
mute this label set now?): silences (:mod:`.silences`), inhibition (:mod:`.inhibit`), maintenance windows
(:mod:`.maintenance`, on the time intervals of :mod:`.intervals`) and deploy grace periods (:mod:`.deploys`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from vigil.alerting.fingerprint import Labels

__all__ = ["AnyMuter", "Muter"]


@runtime_checkable
class Muter(Protocol):
    def mutes(self, labels: Labels, now: float) -> bool:
        """True when an alert with ``labels`` must not be notified at ``now`` (seconds)."""
        ...


@dataclass(frozen=True)
class AnyMuter:
    """Mutes what any of ``muters`` mutes (e.g. the inhibitor and the silences together)."""

    muters: tuple[Muter, ...]

    def mutes(self, labels: Labels, now: float) -> bool:
        return any(m.mutes(labels, now) for m in self.muters)
