"""The alerting loop of a server: ``tick(now)`` is one round, and a thread runs it every ``evaluate_every``.

A round, as Alertmanager's pipeline: evaluate every rule in force (:mod:`.rulebook`) on the live metrics
through one cache (:mod:`.evaluate`), step the alert states, hand the alerts to the dispatcher of each route
(:mod:`.dispatch`: grouping, waits, repeats), fold them into episodes and incidents (:mod:`.response`), mute
what is inhibited, silenced, in maintenance or in a deploy's grace period (:mod:`.mute`), and deliver the
due notifications to their receivers through the notification log (:mod:`.notify`), so a restart neither
loses nor repeats one. Then every subscriber (:meth:`AlertEngine.subscribe`; remediation, wired by the
composition root) is handed the firing alerts that people did not mute. Configured by the ``alerting:``
section (:mod:`.settings`).

What the engine keeps is in the store, so a restart (or another server on the same PostgreSQL) carries on
where it stopped: each rule's alert state (:mod:`.codec`: a restarted engine does not start ``for`` over or
announce a firing alert as new), the episodes and incidents, silences and the notification log. Servers
sharing a store elect one evaluator through the store's ``alerting`` lease (renewed every round, taken over
when it has not been renewed for three rounds); the others' rounds do nothing. The evaluator saves the
current alerts (the dispatcher's: firing, and resolved not yet sent) to the store whenever they change, and
:meth:`AlertEngine.alerts` on any other server reads them from there, so ``GET /v1/alerts`` and
``vigil alerts list`` answer the same on every server.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from vigil.alerting.alert import Alert, AlertStatus
from vigil.alerting.codec import (
    CURRENT_KIND,
    STATE_KIND,
    alerts_from_json,
    alerts_to_json,
    state_from_json,
    state_id,
    state_key,
    state_to_json,
)
from vigil.alerting.dispatch.dispatcher import Notification
from vigil.alerting.dispatch.routes import MultiDispatcher, receivers_for
from vigil.alerting.evaluate.cache import SeriesCache
from vigil.alerting.evaluate.round import StateKey, evaluate
from vigil.alerting.evaluate.source import Explain, MetricSource
from vigil.alerting.mute import AnyMuter, Muter
from vigil.alerting.mute.deploys import DEPLOY_KIND, DeployAnnotation, DeployGrace
from vigil.alerting.mute.inhibit import BUILT_IN_INHIBITIONS, Inhibitor, InhibitRule
from vigil.alerting.mute.maintenance import MAINTENANCE_KIND, MaintenanceWindow, MaintenanceWindows
from vigil.alerting.mute.silences import SilenceStore
from vigil.alerting.notify.channel import Receiver
from vigil.alerting.notify.log import NotificationLog, StoreNotificationLog, deliver, log_delivery
from vigil.alerting.notify.retry import DeliveryStatus
from vigil.alerting.receivers import acknowledge_pages, build_receivers
from vigil.alerting.response.episodes import History, episode_of
from vigil.alerting.response.incidents import Incident, Incidents
from vigil.alerting.rulebook import RuleBook
from vigil.alerting.rules import DeclaredRule, Rule
from vigil.alerting.settings import AlertingSettings, load_alerting
from vigil.alerting.state import AlertState, Phase
from vigil.config import VigilConfig
from vigil.store.base import Store

__all__ = ["BUILT_IN_INHIBITIONS", "AlertEngine", "RoundHook"]

log = logging.getLogger("vigil.alerting")

RoundHook = Callable[[Sequence[Alert], float], None]
"""A subscriber to the rounds: ``hook(firing, now)`` with the firing alerts no person muted (by a silence,
a maintenance window or a deploy's grace period; inhibited ones are included) at the round's ``now``."""


def _log_changes(old: Mapping[StateKey, AlertState], new: Mapping[StateKey, AlertState]) -> None:
    """One line per alert state that changed phase or severity (pending, firing, resolved, inactive)."""
    for (rule, model), state in new.items():
        before = old.get((rule, model))
        was = (before.phase, before.severity) if before is not None else (Phase.INACTIVE, None)
        if (state.phase, state.severity) == was or (state.phase is Phase.INACTIVE and before is None):
            continue
        severity = f" ({state.severity.value})" if state.severity is not None else ""
        log.info(
            "alert %s on %s: %s -> %s%s, value %s",
            rule,
            model,
            was[0].value,
            state.phase.value,
            severity,
            "none" if state.last_value is None else f"{state.last_value:.6g}",
            extra={
                "event": f"alert.{state.phase.value}",
                "alertname": rule,
                "model": model,
                "severity": state.severity.value if state.severity is not None else None,
                "value": state.last_value,
            },
        )


class AlertEngine:
    """Evaluates, groups, mutes and notifies; ``tick(now)`` does one round (the thread calls it)."""

    def __init__(
        self,
        rules: RuleBook | Sequence[Rule],
        query: MetricSource,
        settings: AlertingSettings,
        store: Store,
        *,
        receivers: Sequence[Receiver] | None = None,
        notification_log: NotificationLog | None = None,
        clock: Callable[[], float] = time.time,
        inhibitions: Iterable[InhibitRule] = BUILT_IN_INHIBITIONS,
        muters: Sequence[Muter] = (),
        holder: str = "main",
        explain: Explain | None = None,
    ) -> None:
        self.rulebook = rules if isinstance(rules, RuleBook) else RuleBook(rules, store)
        self.query = query
        self.settings = settings
        self.store = store
        self.receivers = list(receivers if receivers is not None else build_receivers(settings))
        self.log: NotificationLog = notification_log or StoreNotificationLog(store)
        self.clock = clock
        self.inhibitions = tuple(inhibitions)
        self.muters = tuple(muters)
        self.dispatcher = MultiDispatcher(settings.route_tree())
        self.config_maintenance = settings.maintenance_windows()
        self.deploy_grace = settings.seconds(settings.deploy_grace)
        self.history = History(store)
        self.incidents = Incidents(store, self.history)
        self.silences = SilenceStore(store)
        self.cache = SeriesCache(query, clock=clock, fresh=2, refresh=3600.0)
        """The metric source of the rounds (see :mod:`vigil.alerting.evaluate.cache`)."""
        self.explain = explain
        """Which drifted features matter most, for drift alerts' text (``evaluate.source.Explain``)."""
        self.rules: tuple[Rule, ...] = self.rulebook.rules()
        """The rules in force, as of the last round (or rule change)."""
        self.states: dict[StateKey, AlertState] = self._load_states()
        self.holder = holder
        """This engine's name in the ``alerting`` lease (the server's writer name, so a restarted server
        takes its lease back at once): one engine per store evaluates at a time."""
        self.leading = False
        self._hooks: list[RoundHook] = []
        self._published: str | None = None
        self._pruned_at = float("-inf")
        self.sent: list[tuple[float, Notification, Mapping[str, Any]]] = []
        """What was delivered (time, notification, delivery by receiver), newest last, at most 1,000."""
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def from_config(
        cls,
        config: VigilConfig,
        query: MetricSource,
        store: Store,
        *,
        clock: Callable[[], float],
        holder: str = "main",
        explain: Explain | None = None,
    ) -> AlertEngine:
        """The engine of ``config``'s ``alerting:``, ``rules:`` and ``slos:`` sections (``ConfigError`` for a
        bad one), the default rules of ``query``'s registered models included unless turned off."""
        settings = load_alerting(config)
        rulebook = RuleBook.from_config(config, query.registry, store, defaults=settings.default_rules)
        return cls(rulebook, query, settings, store, clock=clock, holder=holder, explain=explain)

    def subscribe(self, hook: RoundHook) -> None:
        """Call ``hook(firing, now)`` at the end of every round this engine evaluates (see :data:`RoundHook`);
        a hook that raises is logged and does not stop alerting."""
        self._hooks.append(hook)

    # rules ----------------------------------------------------------------------------------------------

    def api_rules(self) -> list[tuple[DeclaredRule, dict[str, Any]]]:
        """Rules added through the API, each with the mapping it was given as."""
        return self.rulebook.api_rules()

    def rule_views(self) -> list[dict[str, Any]]:
        """Every rule in force, with its ``source`` (``config``, ``default`` or ``api``)."""
        self._refresh_rules()
        return self.rulebook.views()

    def put_rule(self, given: Mapping[str, Any], actor: str, now: float) -> Rule:
        """Add or replace a rule through the API (validated as a ``rules:`` entry; audited with the rule
        before and after). A rule of the config or a default rule cannot be replaced: edit the config."""
        with self._lock:
            rule = self.rulebook.put(given, actor, now)
            self._refresh_rules()
        return rule

    def delete_rule(self, name: str, actor: str, now: float) -> bool:
        with self._lock:
            gone = self.rulebook.delete(name, actor, now)
            self._refresh_rules()
        return gone

    def _refresh_rules(self) -> None:
        self.rules = self.rulebook.rules()

    # state ----------------------------------------------------------------------------------------------

    def _load_states(self) -> dict[StateKey, AlertState]:
        timings = {r.name: r.timing for r in self.rules}
        states: dict[StateKey, AlertState] = {}
        for record in self.store.records(STATE_KIND):
            key = state_key(record.id)
            if key[0] in timings:
                states[key] = state_from_json(record.body, timings[key[0]])
        return states

    def _save_states(self, old: Mapping[StateKey, AlertState], now: float) -> None:
        for key, state in self.states.items():
            if old.get(key) != state and not (state.phase is Phase.INACTIVE and key not in old):
                self.store.put_record(STATE_KIND, state_id(*key), state_to_json(state), now)

    def _publish(self, now: float) -> None:
        """Save the current alerts for the servers that do not evaluate (when they changed)."""
        body = alerts_to_json(self.dispatcher.alerts())
        if body != self._published:
            self.store.put_record(CURRENT_KIND, "current", body, now)
            self._published = body

    def _shared_alerts(self) -> list[Alert]:
        record = self.store.record(CURRENT_KIND, "current")
        if record is None:
            return []
        try:
            return alerts_from_json(record.body)
        except (ValueError, KeyError, TypeError):
            log.warning("the current alerts saved in the store are unreadable; the next round rewrites them")
            return []

    # muting ---------------------------------------------------------------------------------------------

    def inhibitor(self) -> Inhibitor:
        """The inhibitions as they stand: sources are the alerts firing now."""
        current = self.dispatcher.alerts() if self.leading else self._shared_alerts()
        firing = [a.labels for a in current if a.status is AlertStatus.FIRING]
        return Inhibitor(self.inhibitions, firing)

    def maintenance(self) -> MaintenanceWindows:
        """The config's maintenance windows and those added through the API (the config's win by name)."""
        windows = MaintenanceWindows()
        for record in self.store.records(MAINTENANCE_KIND):
            windows.add(MaintenanceWindow.from_json(record.body))
        for window in self.config_maintenance:
            windows.add(window)
        return windows

    def deploys(self, since: float | None = None) -> DeployGrace:
        """Deploy annotations (records of kind ``deploy``) updated at or after ``since``."""
        found = (DeployAnnotation.from_json(r.body) for r in self.store.records(DEPLOY_KIND, since))
        return DeployGrace(found, default_grace=self.deploy_grace)

    def quiet(self, now: float) -> Muter:
        """What people asked for quiet with: the store's silences, maintenance windows and deploy grace
        periods (read once a round)."""
        recent = self.deploys(since=now - 7 * 86_400)  # a grace period never lasts a week
        return AnyMuter((self.silences.muter(), self.maintenance(), recent))

    def muter(self, now: float, quiet: Muter | None = None) -> Muter:
        """What mutes notifications this round: inhibitions, ``quiet`` (see :meth:`quiet`), extra muters."""
        return AnyMuter((self.inhibitor(), quiet or self.quiet(now), *self.muters))

    # the round ------------------------------------------------------------------------------------------

    def tick(self, now: float | None = None) -> list[Notification]:
        """Evaluate every rule at ``now``, then send what is due. Returns the notifications sent."""
        now = self.clock() if now is None else now
        ttl = 3 * self.settings.seconds(self.settings.evaluate_every)
        with self._lock:
            if not self.store.lease("alerting", self.holder, now, ttl):
                if self.leading:
                    log.warning(
                        "alerting: %s lost the evaluator lease; another server evaluates the rules now",
                        self.holder,
                        extra={"event": "lease.lost", "holder": self.holder},
                    )
                self.leading = False
                self._published = None
                return []  # another server evaluates; its states, alerts and notifications are in the store
            self._refresh_rules()
            if not self.leading:  # taking over: carry on from the states the last leader saved
                self.leading = True
                self.states = self._load_states()
                log.info(
                    "alerting: %s took the evaluator lease; it evaluates %d rules every %s",
                    self.holder,
                    len(self.rules),
                    self.settings.evaluate_every,
                    extra={"event": "lease.taken", "holder": self.holder},
                )
            old = self.states
            self.states, alerts = evaluate(self.rules, self.cache, self.states, now, self.explain)
            alerts = [self._absolute(a) for a in alerts]
            _log_changes(old, self.states)
            self._save_states(old, now)
            self.dispatcher.receive(alerts, now)
            self._publish(now)
            lower = {r.name: r.lower_is_worse for r in self.rules}
            self.incidents.observe(self.history.observe(alerts, now, lower), now)
            quiet = self.quiet(now)
            due = self.dispatcher.flush(now, self.muter(now, quiet), self._was_notified)
            for notification in due:
                self._send(notification, now)
            del self.sent[:-1000]
            self._publish(now)  # resolved alerts sent are forgotten by the dispatcher
            self._hand_on(now, quiet)
            if now - self._pruned_at >= 3600:
                self._pruned_at = now
                self.prune(now)
        return due

    def _send(self, notification: Notification, now: float) -> None:
        targets = receivers_for(notification.receiver, self.receivers)
        results = deliver(notification, targets, self.log, now) if targets else {}
        log_delivery(notification, results)
        delivered = sorted(n for n, d in results.items() if d.status is DeliveryStatus.SENT)
        if delivered:
            self.history.mark_notified(notification.firing, now)
            self.incidents.notified(notification, delivered, now)
        self.sent.append((now, notification, results))

    def _hand_on(self, now: float, quiet: Muter) -> None:
        """Hand the firing alerts no person muted to the subscribers (people at work in a silence, a
        maintenance window or a deploy's grace period are left alone)."""
        if not self._hooks:
            return
        firing = [
            a
            for a in self.dispatcher.alerts()
            if a.status is AlertStatus.FIRING and not quiet.mutes(a.labels, now)
        ]
        for hook in self._hooks:
            try:
                hook(firing, now)
            except Exception:  # a broken subscriber (a remediation action) must not stop alerting
                log.exception("a subscriber to the alert rounds failed")

    def _absolute(self, alert: Alert) -> Alert:
        """The alert with its dashboard link made absolute with ``external_url`` (when set)."""
        url = alert.annotations.get("dashboard_url", "")
        base = self.settings.external_url.rstrip("/")
        if not base or not url.startswith("/"):
            return alert
        notes = {**alert.annotations, "dashboard_url": base + url}
        return Alert(alert.labels, alert.status, alert.starts_at, alert.ends_at, notes)

    def _was_notified(self, alert: Alert) -> bool:
        ep = self.history.get(episode_of(alert))
        return ep is not None and ep.notified_at is not None

    # people's side --------------------------------------------------------------------------------------

    def acknowledge(self, incident_id: str, actor: str, now: float, note: str = "") -> Incident:
        """A person acknowledges an incident: its episodes are acknowledged, and every PagerDuty receiver
        that was paged for its alerts is told (``acknowledge`` on the group's ``dedup_key``)."""
        incident = self.incidents.ack(incident_id, actor, now, note)
        episodes = set(incident.episodes)
        with self._lock:
            groups = {
                (n.receiver, n.group_key)
                for _, n, results in self.sent
                if any(episode_of(a) in episodes for a in n.firing)
                and any(r.status is DeliveryStatus.SENT for r in results.values())
            }
        acknowledge_pages(self.receivers, groups)
        return incident

    def current_states(self) -> dict[StateKey, AlertState]:
        """Each rule's alert state on each model (pending ones included): this engine's while it evaluates,
        else those the evaluator saved."""
        with self._lock:
            if self.leading:
                return dict(self.states)
        return self._load_states()

    def alerts(self) -> list[Alert]:
        """The current alerts: this engine's while it evaluates, else those the evaluator saved."""
        with self._lock:
            if self.leading:
                return list(self.dispatcher.alerts())
        return self._shared_alerts()

    def prune(self, now: float) -> dict[str, int]:
        """Forget what retention allows (``alerting.retention``); the audit log is kept whole."""
        r = self.settings.retention
        history = now - self.settings.seconds(r.history)
        kinds = ("episode", "action_run", DEPLOY_KIND, "incident")
        gone = {kind: self.store.delete_records(kind, history) for kind in kinds}
        gone["notification"] = self.store.delete_records(
            StoreNotificationLog.KIND, now - self.settings.seconds(r.notifications)
        )
        gone["silence"] = self.silences.prune(now - self.settings.seconds(r.silences))
        if any(gone.values()):
            counts = ", ".join(f"{n} {kind}" for kind, n in gone.items() if n)
            log.info("alerting retention: deleted %s", counts, extra={"event": "retention.alerting", **gone})
        return gone

    # the thread -----------------------------------------------------------------------------------------

    def start(self) -> None:
        every = self.settings.seconds(self.settings.evaluate_every)

        def run() -> None:
            while not self._stop.wait(every):
                try:
                    self.tick()
                except Exception:  # one bad round must not stop alerting
                    log.exception("alert evaluation failed")

        self._thread = threading.Thread(target=run, name="vigil-alerting", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
