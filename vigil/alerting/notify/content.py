"""What every message says, taken from conventional annotation keys, plus times and the content hash.

Annotation keys read (all optional; Prometheus rule conventions where one exists):

=================  ==================================================================================
``summary``        what is wrong, one line (falls back to the ``alertname`` label, then the group key)
``description``    longer explanation
``value``          the observed number (e.g. ``0.31``)
``threshold``      the limit it crossed (e.g. ``0.2``)
``owner``          who owns the model / gets paged (falls back to an ``owner`` or ``team`` label)
``runbook_url``    link to the runbook (``runbook`` is accepted too)
``dashboard_url``  link to a dashboard showing the breach
``generator_url``  link to what produced the alert (webhook ``generatorURL``; falls back to ``dashboard_url``)
=================  ==================================================================================

How bad is the ``severity`` label (``critical`` > ``warning`` > anything else); a group's severity is the
highest among its firing alerts (or, when all are resolved, among the resolved ones). Since when is the
earliest ``starts_at`` of the firing alerts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import orjson

from vigil.alerting.alert import Alert
from vigil.alerting.dispatch.dispatcher import Notification, Reason
from vigil.timefmt import format_time

__all__ = [
    "ANNOTATION_KEYS",
    "ZERO_TIME",
    "Summary",
    "common",
    "content_hash",
    "summarize",
]

ANNOTATION_KEYS = (
    "summary",
    "description",
    "value",
    "threshold",
    "owner",
    "runbook_url",
    "runbook",
    "dashboard_url",
    "generator_url",
)

# Go's zero time, as Alertmanager writes the endsAt of a firing alert posted without one.
ZERO_TIME = "0001-01-01T00:00:00Z"

_SEVERITY_RANK = {"critical": 2, "page": 2, "warning": 1, "ticket": 1}


def common(maps: Iterable[Mapping[str, str]]) -> dict[str, str]:
    """The pairs present with the same value in every mapping (Alertmanager's commonLabels)."""
    items = list(maps)
    if not items:
        return {}
    out = dict(items[0])
    for other in items[1:]:
        out = {k: v for k, v in out.items() if other.get(k) == v}
    return out


def _first(alerts: Iterable[Alert], *keys: str, labels: bool = False) -> str | None:
    for alert in alerts:
        source = alert.labels if labels else alert.annotations
        for key in keys:
            value = source.get(key)
            if value:
                return value
    return None


@dataclass(frozen=True)
class Summary:
    """The facts a message carries; ``None`` where no alert says."""

    status: str
    what: str
    severity: str
    since: float | None
    description: str | None
    value: str | None
    threshold: str | None
    owner: str | None
    runbook_url: str | None
    dashboard_url: str | None
    n_firing: int
    n_resolved: int

    @property
    def title(self) -> str:
        """E.g. ``[FIRING:2] Drift on churn-model (critical)``."""
        count = self.n_firing if self.n_firing else self.n_resolved
        return f"[{self.status.upper()}:{count}] {self.what} ({self.severity})"

    def facts(self) -> list[tuple[str, str]]:
        """(name, text) for each known fact, in reading order: severity, since, value, ..., dashboard."""
        pairs: list[tuple[str, str | None]] = [
            ("Severity", self.severity),
            ("Since", format_time(self.since, digits=3) if self.since is not None else None),
            ("Value", self.value),
            ("Threshold", self.threshold),
            ("Owner", self.owner),
            ("Runbook", self.runbook_url),
            ("Dashboard", self.dashboard_url),
        ]
        return [(name, text) for name, text in pairs if text]


def _severity(alerts: Iterable[Alert]) -> str:
    levels = [a.labels.get("severity", "") for a in alerts]
    levels = [s for s in levels if s]
    if not levels:
        return "unknown"
    return max(levels, key=lambda s: _SEVERITY_RANK.get(s, 0))


def summarize(notification: Notification) -> Summary:
    """The facts of ``notification``, firing alerts first (resolved ones when nothing fires)."""
    primary = notification.firing or notification.resolved
    ordered = (*notification.firing, *notification.resolved)
    what = _first(primary, "summary") or _first(primary, "alertname", labels=True) or notification.group_key
    since = min((a.starts_at for a in notification.firing), default=None)
    return Summary(
        status=notification.status.value,
        what=what,
        severity=_severity(primary),
        since=since,
        description=_first(ordered, "description"),
        value=_first(primary, "value"),
        threshold=_first(primary, "threshold"),
        owner=_first(ordered, "owner") or _first(ordered, "owner", "team", labels=True),
        runbook_url=_first(ordered, "runbook_url", "runbook"),
        dashboard_url=_first(ordered, "dashboard_url"),
        n_firing=len(notification.firing),
        n_resolved=len(notification.resolved),
    )


def content_hash(notification: Notification) -> str:
    """Hex SHA-256 identifying what a notification says, for the notification log.

    Covers the group key, status, and each alert's fingerprint, status and start/end times; not the
    annotations (a ``value`` drifts between evaluations) nor ``at``, so the same notification rebuilt
    after a restart hashes the same. A ``repeat interval elapsed`` notification also covers ``at``, so
    each deliberate repeat is a new message.
    """
    body: dict[str, object] = {
        "group_key": notification.group_key,
        "status": notification.status.value,
        "alerts": [
            [a.fingerprint, a.status.value, a.starts_at, a.ends_at]
            for a in (*notification.firing, *notification.resolved)
        ],
    }
    if notification.reason is Reason.REPEAT:
        body["repeat_at"] = notification.at
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()
