"""Incidents: firing alerts grouped for people, with a timeline, acknowledgement and resolution.

Exact semantics (records of kind ``incident`` in the store, so every server sharing it sees the same):

* A firing episode (:mod:`vigil.alerting.response.episodes`) that belongs to no incident joins the **open**
  incident of its model (open = not resolved), or opens a new one. An incident is per model: what a person
  investigates together. Its severity is the highest of its episodes'.
* The timeline records, in time order: ``opened``, ``fired`` (each episode, with its summary), ``escalated``
  (an episode's severity rose), ``notified`` (receiver and reason), ``acknowledged`` (by whom), ``note``,
  ``action`` (remediation, from :mod:`vigil.actions`), ``alert_resolved`` and ``resolved``.
* An incident resolves by itself (actor ``vigil``) when every one of its episodes has resolved; a person can
  resolve it earlier. A resolved incident is never reopened: a later firing opens a new incident.
* Acknowledging an incident acknowledges its episodes (for the review); ``MTTA`` is ``acked_at -
  opened_at`` and ``MTTR`` is ``resolved_at - opened_at``. A person's acknowledgement, note and resolution
  go to the audit log too.
* Ids are ``INC-<opened_at as YYYYMMDD-HHMMSS UTC>-<model>``, readable on a phone.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

from vigil.alerting.dispatch.dispatcher import Notification
from vigil.alerting.response.episodes import Episode, History, episode_of
from vigil.alerting.state import Severity
from vigil.store.base import Store

__all__ = ["KIND", "Incident", "Incidents", "TimelineEntry", "response_times"]

KIND = "incident"
Status = Literal["open", "acknowledged", "resolved"]


@dataclass(frozen=True)
class TimelineEntry:
    at: float
    kind: str
    actor: str
    text: str
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Incident:
    id: str
    model: str
    title: str
    severity: str
    opened_at: float
    status: Status = "open"
    acked_at: float | None = None
    acked_by: str | None = None
    resolved_at: float | None = None
    resolved_by: str | None = None
    episodes: tuple[str, ...] = ()
    timeline: tuple[TimelineEntry, ...] = ()

    @property
    def mtta(self) -> float | None:
        return None if self.acked_at is None else self.acked_at - self.opened_at

    @property
    def mttr(self) -> float | None:
        return None if self.resolved_at is None else self.resolved_at - self.opened_at

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["episodes"] = list(self.episodes)
        out["timeline"] = [{**asdict(e), "data": dict(e.data)} for e in self.timeline]
        out["mtta"], out["mttr"] = self.mtta, self.mttr
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Incident:
        fields = {k: v for k, v in data.items() if k not in ("mtta", "mttr")}
        fields["episodes"] = tuple(fields.get("episodes", ()))
        fields["timeline"] = tuple(TimelineEntry(**e) for e in fields.get("timeline", ()))
        return cls(**fields)

    def with_entries(self, *entries: TimelineEntry) -> Incident:
        """This incident with ``entries`` added to its timeline (kept in time order)."""
        return replace(self, timeline=tuple(sorted((*self.timeline, *entries), key=lambda e: e.at)))


def _stamp(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y%m%d-%H%M%S")


def _higher(a: str, b: str) -> str:
    return max(Severity(a), Severity(b), key=lambda s: s.rank).value


class Incidents:
    """The incidents in a store; ``observe`` folds in the episodes the engine changed."""

    def __init__(self, store: Store, history: History) -> None:
        self.store = store
        self.history = history

    # reading

    def get(self, id: str) -> Incident | None:
        record = self.store.record(KIND, id)
        return Incident.from_dict(json.loads(record.body)) if record else None

    def all(self, since: float | None = None) -> list[Incident]:
        """Incidents updated at or after ``since``, newest opened first."""
        found = [Incident.from_dict(json.loads(r.body)) for r in self.store.records(KIND, since)]
        return sorted(found, key=lambda i: i.opened_at, reverse=True)

    def open_for(self, model: str) -> Incident | None:
        return next((i for i in self.all() if i.model == model and i.status != "resolved"), None)

    def _put(self, incident: Incident, now: float) -> Incident:
        self.store.put_record(KIND, incident.id, json.dumps(incident.to_dict()), now)
        return incident

    def _need(self, id: str) -> Incident:
        incident = self.get(id)
        if incident is None:
            raise KeyError(f"no incident {id!r}")
        return incident

    # the engine's side

    def observe(self, episodes: Iterable[Episode], now: float) -> list[Incident]:
        """Fold in episodes that changed at ``now``; returns the incidents that changed."""
        changed: dict[str, Incident] = {}
        for ep in episodes:
            if ep.incident is None:
                if ep.resolved_at is not None:
                    continue  # fired and resolved between two rounds while muted: nothing to show
                incident = changed.get("model:" + ep.model) or self.open_for(ep.model)
                if incident is None:
                    incident = Incident(
                        f"INC-{_stamp(ep.fired_at)}-{ep.model}",
                        ep.model,
                        ep.summary or f"{ep.rule} on {ep.model}",
                        ep.severity,
                        ep.fired_at,
                    )
                    incident = incident.with_entries(
                        TimelineEntry(ep.fired_at, "opened", "vigil", f"incident opened by {ep.rule}")
                    )
                incident = replace(
                    incident,
                    episodes=(*incident.episodes, ep.id),
                    severity=_higher(incident.severity, ep.severity),
                ).with_entries(
                    TimelineEntry(
                        ep.fired_at,
                        "fired",
                        "vigil",
                        f"{ep.rule} fired ({ep.severity}): {ep.summary.removeprefix(ep.rule + ': ')}",
                        {"episode": ep.id, "labels": dict(ep.labels)},
                    )
                )
                self.history.put(replace(ep, incident=incident.id), now)
                changed["model:" + ep.model] = incident
                changed[incident.id] = incident
                continue
            incident = changed.get(ep.incident) or self.get(ep.incident)
            if incident is None or incident.status == "resolved":
                continue
            if Severity(ep.severity).rank > Severity(incident.severity).rank:
                incident = replace(incident, severity=ep.severity).with_entries(
                    TimelineEntry(
                        now, "escalated", "vigil", f"{ep.rule} is now {ep.severity}", {"episode": ep.id}
                    )
                )
            if ep.resolved_at is not None and not any(
                e.kind == "alert_resolved" and e.data.get("episode") == ep.id for e in incident.timeline
            ):
                incident = incident.with_entries(
                    TimelineEntry(
                        ep.resolved_at, "alert_resolved", "vigil", f"{ep.rule} resolved", {"episode": ep.id}
                    )
                )
            changed["model:" + ep.model] = incident
            changed[incident.id] = incident
        out: list[Incident] = []
        for key, incident in changed.items():
            if key.startswith("model:"):
                continue
            if incident.status != "resolved" and self._all_resolved(incident):
                incident = replace(
                    incident, status="resolved", resolved_at=now, resolved_by="vigil"
                ).with_entries(
                    TimelineEntry(now, "resolved", "vigil", "every alert of the incident resolved")
                )
            out.append(self._put(incident, now))
        return out

    def _all_resolved(self, incident: Incident) -> bool:
        eps = [self.history.get(id) for id in incident.episodes]
        return bool(eps) and all(ep is not None and ep.resolved_at is not None for ep in eps)

    def notified(self, notification: Notification, delivered: Sequence[str], now: float) -> None:
        """Note on each incident that ``notification`` went to the ``delivered`` receivers."""
        if not delivered:
            return
        ids = {
            ep.incident
            for a in (*notification.firing, *notification.resolved)
            if (ep := self.history.get(episode_of(a))) is not None and ep.incident
        }
        for id in sorted(ids):
            incident = self.get(id)
            if incident is None:
                continue
            text = f"notified {', '.join(delivered)} ({notification.reason.value})"
            self._put(
                incident.with_entries(
                    TimelineEntry(
                        now,
                        "notified",
                        "vigil",
                        text,
                        {"receivers": list(delivered), "group": notification.group_key},
                    )
                ),
                now,
            )

    # people's side

    def ack(self, id: str, actor: str, now: float, note: str = "") -> Incident:
        incident = self._need(id)
        if incident.status != "open":
            return incident
        before = json.dumps(incident.to_dict())
        incident = replace(incident, status="acknowledged", acked_at=now, acked_by=actor).with_entries(
            TimelineEntry(now, "acknowledged", actor, note or f"acknowledged by {actor}")
        )
        for ep_id in incident.episodes:
            ep = self.history.get(ep_id)
            if ep is not None and ep.acked_at is None:
                self.history.put(replace(ep, acked_at=now, acked_by=actor), now)
        self._put(incident, now)
        self.store.append_audit(
            now, actor, "incident.ack", f"incident/{id}", before, json.dumps(incident.to_dict())
        )
        return incident

    def note(
        self,
        id: str,
        actor: str,
        text: str,
        now: float,
        kind: str = "note",
        data: Mapping[str, Any] | None = None,
    ) -> Incident:
        incident = self._need(id).with_entries(TimelineEntry(now, kind, actor, text, dict(data or {})))
        self._put(incident, now)
        if kind == "note":
            self.store.append_audit(
                now, actor, "incident.note", f"incident/{id}", None, json.dumps({"text": text})
            )
        return incident

    def resolve(self, id: str, actor: str, now: float, note: str = "") -> Incident:
        incident = self._need(id)
        if incident.status == "resolved":
            return incident
        before = json.dumps(incident.to_dict())
        incident = replace(incident, status="resolved", resolved_at=now, resolved_by=actor).with_entries(
            TimelineEntry(now, "resolved", actor, note or f"resolved by {actor}")
        )
        self._put(incident, now)
        self.store.append_audit(
            now, actor, "incident.resolve", f"incident/{id}", before, json.dumps(incident.to_dict())
        )
        return incident

    def on_action(self, model: str, at: float, actor: str, text: str, data: Mapping[str, Any]) -> None:
        """Remediation's callback: the action goes on the model's open incident, if any."""
        incident = self.open_for(model)
        if incident is not None:
            self.note(incident.id, actor, text, at, kind="action", data=data)


def response_times(incidents: Iterable[Incident]) -> dict[str, float | int | None]:
    """Count, and mean and median MTTA and MTTR in seconds, over the incidents that have them."""
    items = list(incidents)
    mtta = [i.mtta for i in items if i.mtta is not None]
    mttr = [i.mttr for i in items if i.mttr is not None]
    return {
        "incidents": len(items),
        "acknowledged": len(mtta),
        "resolved": len(mttr),
        "mtta_mean": statistics.fmean(mtta) if mtta else None,
        "mtta_median": statistics.median(mtta) if mtta else None,
        "mttr_mean": statistics.fmean(mttr) if mttr else None,
        "mttr_median": statistics.median(mttr) if mttr else None,
    }
