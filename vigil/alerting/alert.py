"""An alert as the dispatcher sees it: a label set (its identity), a status and its times.

:func:`alerts_for` turns a state-machine transition into the alerts to hand to the dispatcher.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from vigil.alerting.fingerprint import Labels, fingerprint
from vigil.alerting.state import AlertState, Phase

__all__ = ["Alert", "AlertStatus", "alerts_for"]


class AlertStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


@dataclass(frozen=True, eq=False)
class Alert:
    """One alert instance; ``fingerprint`` (of ``labels``) is its identity. Times are seconds."""

    labels: Labels
    status: AlertStatus = AlertStatus.FIRING
    starts_at: float = 0.0
    ends_at: float | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)
    fingerprint: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", MappingProxyType(dict(self.labels)))
        object.__setattr__(self, "annotations", MappingProxyType(dict(self.annotations)))
        object.__setattr__(self, "fingerprint", fingerprint(self.labels))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Alert):
            return NotImplemented
        return (self.fingerprint, self.status, self.starts_at, self.ends_at, dict(self.annotations)) == (
            other.fingerprint,
            other.status,
            other.starts_at,
            other.ends_at,
            dict(other.annotations),
        )

    def __hash__(self) -> int:
        return hash((self.fingerprint, self.status))


def alerts_for(
    labels: Labels, prev: AlertState, new: AlertState, annotations: Mapping[str, str] | None = None
) -> list[Alert]:
    """The alerts to send after ``prev -> new``; ``severity`` is added to ``labels``.

    Firing: one firing alert (``starts_at = fired_at``). Resolved: one resolved alert (``ends_at =
    resolved_at``). A severity change while firing changes the label set, so the old severity's alert is
    also sent as resolved, ending at ``new.evaluated_at``. Pending and inactive: nothing.
    """
    notes = annotations or {}
    out: list[Alert] = []
    if new.phase in (Phase.FIRING, Phase.RESOLVED) and new.severity is not None and new.fired_at is not None:
        if (
            new.phase is Phase.FIRING
            and prev.phase is Phase.FIRING
            and prev.severity is not None
            and prev.severity is not new.severity
            and prev.fired_at is not None
        ):
            out.append(
                Alert(
                    {**labels, "severity": prev.severity.value},
                    AlertStatus.RESOLVED,
                    prev.fired_at,
                    new.evaluated_at,
                    notes,
                )
            )
        resolved = new.phase is Phase.RESOLVED
        out.append(
            Alert(
                {**labels, "severity": new.severity.value},
                AlertStatus.RESOLVED if resolved else AlertStatus.FIRING,
                new.fired_at,
                new.resolved_at if resolved else None,
                notes,
            )
        )
    return out
