"""The services the routes call: ``Vigil``, the running parts of one server (registry, aggregator, ingestor,
query), and ``Operations``, the changes people make on the response side that the alerting package has
no service for. Services write the store and the audit log; routes only read requests and shape answers.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from vigil.actions import Deployments, record_deploy
from vigil.actions.remediator import Remediator
from vigil.alerting.analysis.alert_quality import FLAP_WINDOW, Review, review
from vigil.alerting.analysis.tuning import Suggestion, suggest_thresholds
from vigil.alerting.engine import AlertEngine
from vigil.alerting.mute.deploys import DEPLOY_KIND, DeployAnnotation
from vigil.alerting.mute.maintenance import MAINTENANCE_KIND, MaintenanceWindow
from vigil.alerting.response.episodes import Episode, episode_of
from vigil.alerting.response.incidents import Incident
from vigil.broker import Lag, Publisher
from vigil.config import VigilConfig
from vigil.errors import InputError, StoreError
from vigil.ingest.pipeline import Ingestor
from vigil.ingest.validate import BadRequest, Limits
from vigil.monitoring.aggregator import Aggregator
from vigil.monitoring.query import Baselines, Query
from vigil.otlp.content import Pending
from vigil.registry import Registry
from vigil.server.errors import Conflict, NotFound, UnknownModel
from vigil.server.wire import iso
from vigil.spec import ModelSpec
from vigil.store.base import AuditEntry, Store

__all__ = ["Health", "Operations", "Vigil"]


@dataclass(frozen=True)
class Health:
    """``status``: ``ok``, ``degraded`` (events held) or ``unavailable`` (the store cannot be used)."""

    status: str
    problems: list[str]
    held: dict[str, Any]
    """Events of models the config no longer declares: ``events``, ``batches``, ``models``."""
    quarantined: dict[str, Any]
    """Events that cannot be folded, in the same shape."""


class Vigil:
    """The running parts of one server process (what routes use)."""

    def __init__(
        self,
        config: VigilConfig,
        store: Store,
        *,
        clock: Callable[[], float] = time.time,
        writer: str = "main",
        limits: Limits | None = None,
        root: Path | None = None,
        flush_every: float = 2.0,
        publisher: Publisher | None = None,
        max_lag: int = 10_000,
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.registry = Registry(config, store)
        self._record_config_deploys(clock())
        self.baselines = Baselines(self.registry, store, root)
        self.aggregator = Aggregator(
            store,
            self.registry,
            writer=writer,
            clock=clock,
            flush_every=flush_every,
            baselines=self._template_baseline,
        )
        self.ingestor = Ingestor(
            self.registry,
            store,
            self.aggregator,
            config.security,
            limits=limits,
            writer=writer,
            clock=clock,
            publisher=publisher,
            max_lag=max_lag,
        )
        self.query = Query(store, self.registry, self.aggregator, self.baselines, clock)
        self.aggregator.maintained = self._after_maintenance
        self.started_at = clock()
        self._drift_pruned = 0.0
        self.remediator: Remediator | None = None
        """The remediation actions, when alerting is on (wired by the composition root)."""
        self.otlp_content = Pending()
        """Prompts and completions from OTLP log records, waiting for their spans."""
        self._otlp_counts: Counter[tuple[str, str]] = Counter()
        self._otlp_lock = threading.Lock()

    def _record_config_deploys(self, now: float) -> None:
        """A ``live:`` edited in the config since the store last recorded it is a deploy: record it now."""
        deployments = Deployments(self.store, self.registry.declared, lambda _: self.registry.refresh())
        for name in self.registry.names():
            deployments.get(name, now)

    def _after_maintenance(self, model: str, now: float) -> None:
        """Keep the drift of the steps just complete and the current hour so far (read by the dashboard),
        and forget kept drift past the hours' retention (read by nothing any more), once an hour."""
        self.query.keep_drift(model, now)
        spec = self.registry.get(model)
        if spec is not None:
            self.query.hours.keep(model, int(spec.window.total_seconds()), now)
        if now - self._drift_pruned >= 3600:
            self._drift_pruned = now
            longest = max((s.retention.hours.total_seconds() for _, s in self.registry.items()), default=0.0)
            self.query.kept.prune(now - longest - 86_400)

    def _template_baseline(self, model: str) -> Any:
        try:
            return self.baselines.file_profile(model)
        except InputError:
            return None

    # -- models ----------------------------------------------------------------------------------------------

    def count_otlp(self, signal: str, **outcomes: int) -> None:
        """Count OTLP items received (``vigil_otlp_received_total``): ``spans``, ``log_records`` or
        ``data_points``, by outcome."""
        with self._otlp_lock:
            for outcome, n in outcomes.items():
                if n:
                    self._otlp_counts[signal, outcome] += n

    def otlp_counts(self) -> dict[tuple[str, str], int]:
        """OTLP items received since start, by (signal, outcome)."""
        with self._otlp_lock:
            return dict(self._otlp_counts)

    def otlp_model(self, service: str) -> str:
        """The model whose events an OpenTelemetry service's LLM spans are (``otlp.services``)."""
        return self.config.otlp.model_of(service)

    def spec(self, model: str) -> ModelSpec:
        """The declaration of ``model``; ``UnknownModel`` when it is not registered."""
        spec = self.registry.get(model)
        if spec is None:
            raise UnknownModel(self.registry.unknown(model), self.registry.names())
        return spec

    def register(self, name: str, fields: dict[str, Any]) -> ModelSpec:
        """Register ``name`` from the fields of a ``models:`` entry; the config's models cannot be replaced
        (``registry.Conflict``), and invalid fields are refused naming each (422)."""
        try:
            spec = ModelSpec.model_validate(fields, strict=False)
        except ValidationError as exc:
            problems = [{"field": ".".join(map(str, e["loc"])), "reason": e["msg"]} for e in exc.errors()]
            raise BadRequest(422, "invalid model", problems=problems) from None
        self.registry.register(name, spec)
        return spec

    # -- the server's own state ---------------------------------------------------------------------------

    def health(self) -> Health:
        """Whether the store can be written and every accepted event is counted, in words."""
        problems: list[str] = []
        down = False
        try:
            self.store.check()
        except StoreError as exc:
            problems.append(str(exc))
            down = True
        for trouble in (self.aggregator.trouble, self.ingestor.refusing()):
            if trouble is not None:
                problems.append(f"{trouble[0]} (since {iso(trouble[1])})")
                down = True
        held = self.aggregator.held()
        summaries: dict[str, dict[str, Any]] = {}
        for kind, name in (("undeclared", "held"), ("damaged", "quarantined")):
            of_kind = [h for h in held if h.kind == kind]
            models = sorted({h.model for h in of_kind})
            events = sum(h.rows for h in of_kind)
            summaries[name] = {"events": events, "batches": len(of_kind), "models": models}
            if not of_kind:
                continue
            first = of_kind[0]
            problems.append(
                f"{events} events of {', '.join(models)} are kept but not counted: the config no longer "
                "declares these models; declare them again to count them"
                if kind == "undeclared"
                else f"{events} events cannot be folded (batch {first.seq} of {first.model}: "
                f"{first.reason}); they are kept in the store's log"
            )
        lag = self.broker_lag()
        if lag is not None and lag.behind > self.ingestor.max_lag:
            problems.append(
                f"the workers are behind: {lag.behind} batches published and not folded yet (limit "
                f"{self.ingestor.max_lag}); events are refused (503) until they catch up: start more workers"
            )
        status = "unavailable" if down else "degraded" if problems else "ok"
        return Health(status, problems, summaries["held"], summaries["quarantined"])

    def broker_lag(self) -> Lag | None:
        """The workers' lag behind the broker's stream (None without a broker, or not read yet)."""
        publisher = self.ingestor.publisher
        return publisher.lag() if publisher is not None else None

    def audit(self, since: float, target: str | None, limit: int) -> list[AuditEntry]:
        """The audit log from ``since`` (only ``target``'s), oldest first, at most ``limit`` (1–10,000)."""
        return self.store.audit_log(since, target, max(1, min(limit, 10_000)))


class Operations:
    """What people do through the response routes beyond one call of the engine: each change is written
    to the store, and to the audit log with the state before and after."""

    def __init__(self, vigil: Vigil, engine: AlertEngine) -> None:
        self.vigil = vigil
        self.engine = engine

    def acknowledge_alert(self, fingerprint: str, actor: str, note: str) -> Incident:
        """Acknowledge the incident of the current alert ``fingerprint``."""
        alert = next((a for a in self.engine.alerts() if a.fingerprint == fingerprint), None)
        if alert is None:
            raise NotFound(f"no current alert with fingerprint {fingerprint!r}")
        ep = self.engine.history.get(episode_of(alert))
        if ep is None or ep.incident is None:
            raise NotFound("that alert belongs to no incident")
        if self.engine.incidents.get(ep.incident) is None:
            raise NotFound(f"no incident {ep.incident!r}")
        return self.engine.acknowledge(ep.incident, actor, self.vigil.clock(), note)

    def verdict(
        self, fingerprint: str, episode: object, verdict: Literal["true", "false"], actor: str
    ) -> str:
        """Mark the episode of the current alert ``fingerprint`` (else ``episode``, a past one) ``true`` or
        ``false``; returns the episode's id."""
        alert = next((a for a in self.engine.alerts() if a.fingerprint == fingerprint), None)
        which = episode_of(alert) if alert is not None else episode
        if not isinstance(which, str):
            raise NotFound(f"no current alert {fingerprint!r}; give 'episode' for a past one")
        now = self.vigil.clock()
        ep = self.engine.history.get(which)
        if ep is None:
            raise NotFound(f"no alert episode {which!r}")
        marked = replace(ep, verdict=verdict, verdict_by=actor)
        self.engine.history.put(marked, now)
        self.vigil.store.append_audit(
            now, actor, "alert.verdict", f"episode/{which}", ep.to_json(), marked.to_json()
        )
        return which

    def incident(self, id: str) -> tuple[Incident, list[Episode]]:
        """Incident ``id`` and its episodes."""
        found = self.engine.incidents.get(id)
        if found is None:
            raise NotFound(f"no incident {id!r}")
        episodes = [self.engine.history.get(e) for e in found.episodes]
        return found, [e for e in episodes if e is not None]

    def change_incident(self, id: str, what: str, actor: str, note: str) -> Incident:
        """Acknowledge (``ack``), resolve (``resolve``) or add ``note`` to (``note``) incident ``id``."""
        if what == "note" and not note.strip():
            raise InputError("give the note's 'text'")
        if self.engine.incidents.get(id) is None:
            raise NotFound(f"no incident {id!r}")
        now = self.vigil.clock()
        if what == "ack":
            return self.engine.acknowledge(id, actor, now, note)
        if what == "resolve":
            return self.engine.incidents.resolve(id, actor, now, note)
        return self.engine.incidents.note(id, actor, note, now)

    def deploy(self, model: str, given: dict[str, Any], actor: str) -> tuple[DeployAnnotation, float]:
        """Record a deploy of ``model`` (its version becomes live) and note it on the model's open
        incident; returns the annotation and its grace period in seconds."""
        self.vigil.spec(model)
        now = self.vigil.clock()
        fields = {k: v for k, v in given.items() if k != "by"}
        annotation = DeployAnnotation.from_dict({"at": now, **fields, "model": model, "by": actor})
        registry = self.vigil.registry
        self.vigil.store.put_record(DEPLOY_KIND, annotation.id, annotation.to_json(), now)
        record_deploy(
            self.vigil.store,
            model,
            annotation.version,
            annotation.at,
            actor,
            annotation.note,
            registry.declared,
            lambda _: registry.refresh(),
        )
        incident = self.engine.incidents.open_for(model)
        if incident is not None:
            self.engine.incidents.note(
                incident.id,
                actor,
                f"deployed {annotation.version}",
                now,
                kind="deploy",
                data=annotation.to_dict(),
            )
        return annotation, self.engine.deploys().grace_of(annotation)

    def put_maintenance(self, name: str, given: dict[str, Any], actor: str) -> MaintenanceWindow:
        """Add or replace the maintenance window ``name`` (not one of the config's)."""
        if any(w.name == name for w in self.engine.config_maintenance):
            raise Conflict(f"maintenance window {name!r} comes from the config; change it there")
        fields = {k: v for k, v in given.items() if k != "by"}
        window = MaintenanceWindow.from_dict({**fields, "name": name, "created_by": actor})
        now = self.vigil.clock()
        store = self.vigil.store
        old = store.record(MAINTENANCE_KIND, name)
        store.put_record(MAINTENANCE_KIND, name, window.to_json(), now)
        action = "maintenance.update" if old else "maintenance.create"
        store.append_audit(
            now, actor, action, f"maintenance/{name}", old.body if old else None, window.to_json()
        )
        return window

    def delete_maintenance(self, name: str, actor: str) -> None:
        """Remove the maintenance window ``name`` added through the API."""
        store = self.vigil.store
        old = store.record(MAINTENANCE_KIND, name)
        if old is None:
            raise NotFound(f"no maintenance window {name!r} added through the API")
        now = self.vigil.clock()
        store.delete_record(MAINTENANCE_KIND, name)
        store.append_audit(now, actor, "maintenance.delete", f"maintenance/{name}", old.body, None)

    def review(self, start: float, end: float, now: float, suggest: bool) -> tuple[Review, list[Suggestion]]:
        """The alert-quality review of ``[start, end)`` and, with ``suggest``, levels suggested for each
        noisy rule on each model it fired on."""
        engine, query = self.engine, self.vigil.query
        episodes = engine.history.episodes(since=start - FLAP_WINDOW)
        result = review(episodes, start, end, now, rules=sorted({r.name for r in engine.rules}))
        suggestions = []
        models = set(self.vigil.registry.names())
        for item in result.rules if suggest else ():
            if item.verdict in ("ok", "quiet"):
                continue
            seen = sorted({m.model for m in item.models if m.model} & models)
            for rule in (r for r in engine.rules if r.name == item.rule):
                for model in filter(rule.applies_to, seen):
                    try:
                        suggestions.append(suggest_thresholds(rule, query, model, start, end))
                    except ValueError:
                        continue  # no_data and slo rules have no levels to suggest
        return result, suggestions
