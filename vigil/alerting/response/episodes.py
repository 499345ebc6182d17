"""Alert episodes: what the alert pipeline did over time, kept in the store for incidents and the review.

An **episode** is one firing period of one rule on one model: from the state machine's ``fired_at`` to its
``resolved_at``. It records the highest severity reached, when it was first notified, who acknowledged it
and when, and a person's verdict (``false``: it should not have fired). Episodes are store records of kind
``episode`` with id ``<rule>/<model>/<fired_at as integer ms>``; :class:`History` writes them as the engine
sees alerts and reads them back for the review (:mod:`vigil.alerting.analysis.alert_quality`) and incidents.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from vigil.alerting.alert import Alert, AlertStatus
from vigil.alerting.state import Severity
from vigil.store.base import Store

__all__ = ["KIND", "Episode", "History", "episode_id", "episode_of"]

KIND = "episode"

Verdict = Literal["true", "false"]


def episode_id(rule: str, model: str, fired_at: float) -> str:
    return f"{rule}/{model}/{round(fired_at * 1000)}"


def episode_of(alert: Alert) -> str:
    """The id of the episode an alert belongs to (its rule, model and start)."""
    return episode_id(alert.labels.get("alertname", ""), alert.labels.get("model", ""), alert.starts_at)


@dataclass(frozen=True)
class Episode:
    """One firing period of one rule on one model (times in seconds since the epoch)."""

    rule: str
    model: str
    fired_at: float
    severity: str
    """The highest severity reached (``warning`` or ``critical``)."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """The alert's labels without ``severity``."""
    resolved_at: float | None = None
    notified_at: float | None = None
    """When a notification including it was first delivered (None: muted, or never due)."""
    acked_at: float | None = None
    acked_by: str | None = None
    verdict: Verdict | None = None
    """A person's judgement: ``true`` (a real problem) or ``false`` (should not have fired)."""
    verdict_by: str | None = None
    incident: str | None = None
    peak: float | None = None
    """The furthest value seen while firing: the lowest where lower is worse (``op: "<"``, ``no_data``,
    anomaly rules with ``direction: down``), else the highest."""
    summary: str = ""

    @property
    def id(self) -> str:
        return episode_id(self.rule, self.model, self.fired_at)

    def duration(self, now: float) -> float:
        """Seconds it fired (until ``now`` while still firing)."""
        return (self.resolved_at if self.resolved_at is not None else now) - self.fired_at

    def to_json(self) -> str:
        body = asdict(self)
        body["labels"] = dict(self.labels)
        return json.dumps(body, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Episode:
        data: dict[str, Any] = json.loads(text)
        return cls(**data)


def _further(lower_is_worse: bool, a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b) if lower_is_worse else max(a, b)


class History:
    """Episodes in a store, updated from the alerts the engine produces."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, id: str) -> Episode | None:
        record = self.store.record(KIND, id)
        return Episode.from_json(record.body) if record else None

    def put(self, episode: Episode, at: float) -> None:
        self.store.put_record(KIND, episode.id, episode.to_json(), at)

    def episodes(self, since: float | None = None) -> list[Episode]:
        """Episodes updated at or after ``since``, oldest update first."""
        return [Episode.from_json(r.body) for r in self.store.records(KIND, since)]

    def observe(
        self, alerts: Iterable[Alert], now: float, lower_is_worse: Mapping[str, bool] | None = None
    ) -> list[Episode]:
        """Fold one evaluation's alerts in (``lower_is_worse``: by rule name, whether the peak is the lowest
        value; else the highest). Returns (and stores) the episodes that changed."""
        seen: dict[str, Episode | None] = {}  # as stored before this round
        changed: dict[str, Episode] = {}
        for alert in alerts:
            rule, model = alert.labels.get("alertname", ""), alert.labels.get("model", "")
            id = episode_id(rule, model, alert.starts_at)
            if id not in seen:
                seen[id] = self.get(id)
            ep = changed.get(id) or seen[id]
            severity = alert.labels.get("severity", Severity.WARNING.value)
            value = _number(alert.annotations.get("value"))
            if ep is None:
                ep = Episode(
                    rule,
                    model,
                    alert.starts_at,
                    severity,
                    {k: v for k, v in alert.labels.items() if k != "severity"},
                    summary=alert.annotations.get("summary", ""),
                )
            if alert.status is AlertStatus.FIRING:
                top = max(Severity(ep.severity), Severity(severity), key=lambda s: s.rank)
                peak = _further((lower_is_worse or {}).get(rule, False), ep.peak, value)
                ep = replace(ep, severity=top.value, peak=peak, resolved_at=None)
            elif alert.labels.get("severity") == ep.severity or ep.resolved_at is None:
                # the resolved alert of the episode's severity ends it (a de-escalation resolves the
                # higher severity's alert while the episode goes on, and a later firing alert reopens)
                ep = replace(ep, resolved_at=alert.ends_at if alert.ends_at is not None else now)
            changed[id] = ep
        out = [ep for id, ep in changed.items() if ep != seen[id]]  # a firing alert repeats every round
        for ep in out:
            self.put(ep, now)
        return out

    def mark_notified(self, alerts: Iterable[Alert], at: float) -> None:
        for alert in alerts:
            id = episode_of(alert)
            ep = self.get(id)
            if ep is not None and ep.notified_at is None:
                self.put(replace(ep, notified_at=at), at)


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "none") else None
    except ValueError:
        return None
