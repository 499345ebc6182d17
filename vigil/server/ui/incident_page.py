"""One incident as its page shows it: the incident (timeline, acknowledgement, MTTA/MTTR), its alert episodes
(which of them fire now), the remediation actions that apply to its model (whether each needs approval)
and their runs around the incident's time, read from the services the JSON API reads
(``Operations.incident``, ``Remediator.runs``)."""

from __future__ import annotations

from dataclasses import dataclass

from vigil.actions import Run
from vigil.actions.remediator import Remediator
from vigil.actions.runs import RunState
from vigil.alerting.engine import AlertEngine
from vigil.alerting.response.episodes import Episode, episode_of
from vigil.alerting.response.incidents import Incident
from vigil.server.services import Operations, Vigil

__all__ = ["ActionChoice", "IncidentPage", "incident_page"]

RUNS_AROUND = 3600.0
"""Runs requested this long before the incident opened (or after it resolved) are shown with it."""


@dataclass(frozen=True)
class ActionChoice:
    name: str
    kind: str
    needs_approval: bool
    executor: str


@dataclass
class IncidentPage:
    incident: Incident
    episodes: list[Episode]
    firing: dict[str, str]
    """Episode id -> the fingerprint of its alert, for the episodes that fire now."""
    actions: list[ActionChoice]
    runs: list[Run]
    """Newest request first."""
    versions: list[str]
    """The model's versions other than the live one (rollback targets), newest first."""
    live: str | None
    previous: str | None
    remediation: bool
    """Whether remediation actions are wired (alerting is on)."""

    @property
    def awaiting(self) -> int:
        return sum(r.state is RunState.AWAITING_APPROVAL for r in self.runs)


def incident_page(vigil: Vigil, engine: AlertEngine, id: str) -> IncidentPage:
    """Incident ``id`` and what its page shows; ``NotFound`` when there is none."""
    incident, episodes = Operations(vigil, engine).incident(id)
    current = {episode_of(a): a.fingerprint for a in engine.alerts() if a.status.value == "firing"}
    firing = {e.id: current[e.id] for e in episodes if e.id in current}
    remediator: Remediator | None = vigil.remediator
    spec = vigil.registry.get(incident.model)
    actions: list[ActionChoice] = []
    runs: list[Run] = []
    if remediator is not None:
        actions = [
            ActionChoice(a.name, a.kind, a.needs_approval(spec), a.executor)
            for a in remediator.specs
            if a.applies_to(incident.model)
        ]
        lo = incident.opened_at - RUNS_AROUND
        hi = incident.resolved_at + RUNS_AROUND if incident.resolved_at is not None else float("inf")
        runs = [
            r
            for r in remediator.runs(model=incident.model)
            if lo <= r.requested_at <= hi or not r.state.final
        ]
        runs.sort(key=lambda r: -r.requested_at)
    live = spec.live_version if spec is not None else None
    versions = [v for v in reversed(spec.versions) if v != live] if spec is not None else []
    previous = vigil.registry.previous(incident.model) if spec is not None else None
    return IncidentPage(
        incident=incident,
        episodes=sorted(episodes, key=lambda e: e.fired_at),
        firing=firing,
        actions=actions,
        runs=runs,
        versions=versions,
        live=live,
        previous=previous,
        remediation=remediator is not None,
    )
