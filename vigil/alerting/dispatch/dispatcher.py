"""Grouping and timing of notifications: what to notify, and when (Alertmanager's dispatcher + dedup).

Driven by explicit times (seconds): ``receive(alerts, now)`` files alerts into groups, ``flush(now)``
returns the notifications due at ``now``; call ``flush`` at ``next_flush_at()`` (or more often).

Exact semantics, per group (alerts with equal values of the ``group_by`` labels; ``("...",)`` groups by
all labels; a missing label is left out of the group labels):

* A new group is flushed first at ``created + group_wait``, then every ``group_interval`` after each flush
  (``next = flush time + group_interval``).
* At a flush, muted alerts (``muter.mutes(labels, now)``) are left out; if nothing is left, nothing is
  sent and the notification log is unchanged. Otherwise the firing (F) and resolved (R) fingerprints are
  compared with the last notification sent for the group (Alertmanager's ``needsUpdate``):

  - nothing sent before: send if F is non-empty (``first notification``); alerts that fired and resolved
    within ``group_wait`` are never sent, unless ``flush``'s ``notified`` says an alert of R was notified
    as firing before this dispatcher existed (another server's, or this one's before a restart): then
    ``all alerts resolved``;
  - F has an alert not in the last F: ``new alerts added``;
  - F empty: ``all alerts resolved`` if the last notification had firing alerts, else nothing;
  - R has an alert not in the last R: ``some alerts resolved``;
  - otherwise ``repeat interval elapsed`` once ``now - last sent >= repeat_interval`` (so the re-send
    happens at the first flush at or after it: ``repeat_interval`` rounds up to ``group_interval``).

  So the same (group, firing set, resolved set) is never sent twice within ``repeat_interval``.
* After a flush the group's resolved alerts are dropped; a group left empty is forgotten with its log, so
  a later alert in it starts a new group (``group_wait``, ``first notification``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from vigil.alerting.alert import Alert, AlertStatus
from vigil.alerting.fingerprint import Labels
from vigil.alerting.mute import Muter

__all__ = ["Dispatcher", "Notification", "Reason", "Route"]


class Reason(StrEnum):
    """Why a notification was sent, in Alertmanager's words (``notification_reason``)."""

    FIRST = "first notification"
    NEW_ALERTS = "new alerts added"
    SOME_RESOLVED = "some alerts resolved"
    ALL_RESOLVED = "all alerts resolved"
    REPEAT = "repeat interval elapsed"


@dataclass(frozen=True)
class Route:
    """Where and how alerts are grouped; intervals in seconds (Alertmanager's defaults)."""

    receiver: str = "default"
    group_by: tuple[str, ...] = ("alertname",)
    group_wait: float = 30.0
    group_interval: float = 300.0
    repeat_interval: float = 4 * 3600.0

    def __post_init__(self) -> None:
        if not self.group_wait >= 0:
            raise ValueError(f"Route.group_wait must be >= 0 seconds, got {self.group_wait!r}")
        for name in ("group_interval", "repeat_interval"):
            if not getattr(self, name) > 0:
                raise ValueError(f"Route.{name} must be > 0 seconds, got {getattr(self, name)!r}")

    def group_labels(self, labels: Labels) -> dict[str, str]:
        if self.group_by == ("...",):
            return dict(labels)
        return {name: labels[name] for name in self.group_by if name in labels}


@dataclass(frozen=True)
class Notification:
    """One message to a receiver: a group's firing and resolved alerts (each sorted by fingerprint)."""

    receiver: str
    group_key: str
    group_labels: Mapping[str, str]
    firing: tuple[Alert, ...]
    resolved: tuple[Alert, ...]
    reason: Reason
    at: float

    @property
    def status(self) -> AlertStatus:
        return AlertStatus.FIRING if self.firing else AlertStatus.RESOLVED


@dataclass(frozen=True)
class _Sent:
    firing: frozenset[str]
    resolved: frozenset[str]
    at: float


@dataclass
class _Group:
    key: str
    labels: Mapping[str, str]
    next_flush: float
    alerts: dict[str, Alert] = field(default_factory=dict)


def _group_key(receiver: str, labels: Mapping[str, str]) -> str:
    pairs = ",".join(f'{name}="{labels[name]}"' for name in sorted(labels))
    return f"{receiver}:{{{pairs}}}"


def _reason(
    last: _Sent | None,
    firing: frozenset[str],
    resolved: frozenset[str],
    now: float,
    repeat: float,
    announced: bool = False,
) -> Reason | None:
    if last is None:
        return Reason.FIRST if firing else Reason.ALL_RESOLVED if announced else None
    if not firing <= last.firing:
        return Reason.NEW_ALERTS
    if not firing:
        return Reason.ALL_RESOLVED if last.firing else None
    if not resolved <= last.resolved:
        return Reason.SOME_RESOLVED
    return Reason.REPEAT if now - last.at >= repeat else None


class Dispatcher:
    """Groups alerts for one route and decides which notifications are due; holds no clock."""

    def __init__(self, route: Route | None = None) -> None:
        self.route = route or Route()
        self._groups: dict[str, _Group] = {}
        self._sent: dict[str, _Sent] = {}

    def receive(self, alerts: Iterable[Alert], now: float) -> None:
        """File ``alerts`` into their groups; an alert replaces the one with the same fingerprint."""
        for alert in alerts:
            labels = self.route.group_labels(alert.labels)
            key = _group_key(self.route.receiver, labels)
            group = self._groups.get(key)
            if group is None:
                group = _Group(key, MappingProxyType(labels), now + self.route.group_wait)
                self._groups[key] = group
            group.alerts[alert.fingerprint] = alert

    def next_flush_at(self) -> float | None:
        """When the next group is due, or None with no groups."""
        return min((g.next_flush for g in self._groups.values()), default=None)

    def alerts(self) -> list[Alert]:
        """Every alert held, firing or not yet notified as resolved, sorted by fingerprint."""
        return sorted(
            (a for g in self._groups.values() for a in g.alerts.values()), key=lambda a: a.fingerprint
        )

    def flush(
        self, now: float, muter: Muter | None = None, notified: Callable[[Alert], bool] | None = None
    ) -> list[Notification]:
        """The notifications due at ``now``, sorted by group key; updates the notification log.
        ``notified(alert)``: was this alert announced as firing before (see the module docstring)?"""
        out: list[Notification] = []
        for key in sorted(self._groups):
            group = self._groups[key]
            if now < group.next_flush:
                continue
            group.next_flush = now + self.route.group_interval
            shown = [a for a in group.alerts.values() if muter is None or not muter.mutes(a.labels, now)]
            if shown:
                firing = sorted(
                    (a for a in shown if a.status is AlertStatus.FIRING), key=lambda a: a.fingerprint
                )
                resolved = sorted(
                    (a for a in shown if a.status is AlertStatus.RESOLVED), key=lambda a: a.fingerprint
                )
                firing_fps = frozenset(a.fingerprint for a in firing)
                resolved_fps = frozenset(a.fingerprint for a in resolved)
                last = self._sent.get(key)
                announced = last is None and notified is not None and any(notified(a) for a in resolved)
                reason = _reason(last, firing_fps, resolved_fps, now, self.route.repeat_interval, announced)
                if reason is not None:
                    out.append(
                        Notification(
                            self.route.receiver,
                            key,
                            group.labels,
                            tuple(firing),
                            tuple(resolved),
                            reason,
                            now,
                        )
                    )
                    self._sent[key] = _Sent(firing_fps, resolved_fps, now)
            for fp in [fp for fp, a in group.alerts.items() if a.status is AlertStatus.RESOLVED]:
                del group.alerts[fp]
            if not group.alerts:
                del self._groups[key]
                self._sent.pop(key, None)
        return out
