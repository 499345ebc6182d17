"""The alerting loop of a server: every ``evaluate_every`` seconds, evaluate the rules on the live metrics,
hand the alerts to the dispatcher (grouping, waits, repeats), mute what is inhibited, and deliver the due
notifications to every receiver through the notification log (so a restart neither loses nor repeats one).

Configured in ``vigil.yaml``::

    alerting:
      evaluate_every: 30s
      default_rules: true          # the rules of vigil.alerting.rules.default_rules for every model
      external_url: http://vigil.example.com
      route:                       # a tree as in Alertmanager (vigil.alerting.dispatch.routes); severity decides
        receiver: ops              # page or ticket, e.g.:
        group_by: [alertname, model]
        group_wait: 30s
        group_interval: 5m
        repeat_interval: 4h
        routes:
          - {matchers: ['severity="critical"'], receiver: pager, continue: true}
          - {matchers: ['severity="warning"'], receiver: chat}
      receivers:
        - {name: ops, webhook: http://alerts.example.com/hook}      # Alertmanager v4 JSON
        - {name: chat, slack: "${SLACK_WEBHOOK_URL}"}
        - {name: pager, pagerduty: "${PAGERDUTY_ROUTING_KEY}"}
        - {name: am, alertmanager: http://127.0.0.1:9093}
        - name: mail               # tls: starttls (the default on port 587), implicit (465) or none
          email: {host: smtp.example.com, port: 587, from: vigil@example.com, to: [oncall@example.com],
                  username: "${SMTP_USER}", password: "${SMTP_PASSWORD}"}   # ca_file: a private CA
      maintenance:                 # mute matching alerts at these times (vigil.alerting.mute.maintenance)
        - {name: db-vacuum, matchers: ['model="credit"'], weekly: {days: [sun], start: "02:00", end: "04:00",
           timezone: Europe/Berlin}}
      deploy_grace: 15m            # a deploy annotation mutes its model's alerts (bar NoData) this long
      retention: {history: 400d, notifications: 7d, silences: 30d}   # pruned hourly; the audit log is kept

Built-in inhibition: a critical alert mutes the warning of the same rule and model, and a model's
``NoData`` alert mutes its drift alerts.

What the engine keeps is in the store, so a restart (or another server on the same PostgreSQL) carries on
where it stopped: each rule's alert state (a restarted engine does not start ``for`` over or announce a
firing alert as new), the episodes (:mod:`vigil.alerting.response.episodes`), incidents
(:mod:`vigil.alerting.response.incidents`), silences (:mod:`vigil.alerting.mute.silences`) and the notification log.
Servers sharing a store elect one evaluator through the store's ``alerting`` lease (renewed every round,
taken over when it has not been renewed for three rounds); the others' rounds do nothing. The evaluator
saves the current alerts (the dispatcher's: firing, and resolved not yet sent) to the store whenever they
change, and :meth:`AlertEngine.alerts` on any other server reads them from there, so ``GET /v1/alerts``
and ``vigil alerts list`` answer the same on every server.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from vigil.actions import ActionSpec, Remediator, actions_from_config
from vigil.alerting.alert import Alert, AlertStatus
from vigil.alerting.dispatch.dispatcher import Notification
from vigil.alerting.dispatch.routes import MultiDispatcher, RouteConfig, RouteTree, receivers_for
from vigil.alerting.evaluate.cache import HistoryCache
from vigil.alerting.evaluate.round import MetricSource, StateKey, evaluate
from vigil.alerting.matchers import parse_matcher
from vigil.alerting.mute import AnyMuter, Muter
from vigil.alerting.mute.deploys import DEPLOY_KIND, DeployAnnotation, DeployGrace
from vigil.alerting.mute.inhibit import Inhibitor, InhibitRule
from vigil.alerting.mute.maintenance import MAINTENANCE_KIND, MaintenanceWindow, MaintenanceWindows
from vigil.alerting.mute.silences import SilenceStore
from vigil.alerting.notify.log import NotificationLog, SQLiteNotificationLog, StoreNotificationLog, deliver
from vigil.alerting.notify.receivers import (
    PAGERDUTY_EVENTS_URL,
    AlertmanagerReceiver,
    EmailReceiver,
    PagerDutyReceiver,
    Receiver,
    SlackReceiver,
    WebhookReceiver,
)
from vigil.alerting.notify.retry import DeliveryStatus
from vigil.alerting.response.episodes import History, episode_of
from vigil.alerting.response.incidents import Incident, Incidents
from vigil.alerting.rules import Rule, default_rules, parse_rules, rules_from_config
from vigil.alerting.rules.slo import slos_from_config
from vigil.alerting.state import AlertState, Phase, Severity, Timing
from vigil.config import VigilConfig, parse_duration
from vigil.errors import ConfigError, ConfigProblem
from vigil.registry import Registry
from vigil.store.base import Store

__all__ = ["BUILT_IN_INHIBITIONS", "AlertEngine", "AlertingSettings", "load_alerting"]

log = logging.getLogger("vigil.alerting")

BUILT_IN_INHIBITIONS = (
    InhibitRule(
        (parse_matcher("severity=critical"),),
        (parse_matcher("severity=warning"),),
        ("alertname", "model"),
        "critical mutes warning",
    ),
    InhibitRule(
        (parse_matcher("alertname=NoData"),),
        (parse_matcher("metric=~drift.*"),),
        ("model",),
        "no data mutes drift",
    ),
)


class _Email(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    host: str
    port: int = 25
    sender: str = Field(alias="from")
    to: list[str]
    tls: Literal["none", "starttls", "implicit"] | None = None
    """None: implicit on port 465, starttls on 587, else none."""
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None

    @field_validator("username", "password", mode="before")
    @classmethod
    def _env(cls, value: object) -> object:
        from vigil.config import _expand_env

        return _expand_env(value)

    @model_validator(mode="after")
    def _secure_login(self) -> _Email:
        if self.tls is None:
            self.tls = "implicit" if self.port == 465 else "starttls" if self.port == 587 else "none"
        if self.password is not None and self.username is None:
            raise ValueError("email: a password without a username; give username too")
        if self.username is not None and self.tls == "none":
            raise ValueError(
                "email: logging in without TLS would send the password in clear; "
                "set tls: starttls (port 587) or tls: implicit (port 465)"
            )
        return self


class _Receiver(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    webhook: str | None = None
    slack: str | None = None
    pagerduty: str | None = None
    alertmanager: str | None = None
    email: _Email | None = None
    events_url: str = PAGERDUTY_EVENTS_URL
    """PagerDuty's Events API v2 endpoint (``https://events.eu.pagerduty.com/v2/enqueue`` for the EU)."""

    @field_validator("webhook", "slack", "pagerduty", "alertmanager", mode="before")
    @classmethod
    def _env(cls, value: object) -> object:
        from vigil.config import _expand_env

        return _expand_env(value)


class _Retention(BaseModel):
    model_config = ConfigDict(extra="forbid")
    history: str = "400d"
    """Alert episodes, incidents, action runs and deploy annotations."""
    notifications: str = "7d"
    """The notification log (longer than any repeat_interval)."""
    silences: str = "30d"
    """Expired silences (after they ended)."""


class AlertingSettings(BaseModel):
    """The ``alerting:`` section of vigil.yaml (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")
    evaluate_every: str | float = "30s"
    default_rules: bool = True
    external_url: str = ""
    route: RouteConfig = Field(default_factory=RouteConfig)
    receivers: list[_Receiver] = Field(default_factory=list)
    maintenance: list[dict[str, Any]] = Field(default_factory=list)
    deploy_grace: str | float = "15m"
    retention: _Retention = Field(default_factory=_Retention)

    def seconds(self, value: str | float) -> float:
        if value in (0, "0", "0s"):
            return 0.0
        return parse_duration(value).total_seconds()

    def route_tree(self, filename: str = "vigil.yaml") -> RouteTree:
        return RouteTree.from_config(self.route, [r.name for r in self.receivers], filename=filename)

    def maintenance_windows(self, filename: str = "vigil.yaml") -> MaintenanceWindows:
        return MaintenanceWindows.from_config(self.maintenance or None, filename=filename)

    def build_receivers(self) -> list[Receiver]:
        out: list[Receiver] = []
        for r in self.receivers:
            if r.webhook:
                out.append(WebhookReceiver(r.webhook, name=r.name, external_url=self.external_url))
            elif r.slack:
                out.append(SlackReceiver(r.slack, name=r.name))
            elif r.pagerduty:
                out.append(
                    PagerDutyReceiver(r.pagerduty, r.events_url, name=r.name, client_url=self.external_url)
                )
            elif r.alertmanager:
                out.append(AlertmanagerReceiver(r.alertmanager, name=r.name))
            elif r.email:
                e = r.email
                out.append(
                    EmailReceiver(
                        e.host,
                        e.port,
                        e.sender,
                        e.to,
                        name=r.name,
                        tls=e.tls or "none",
                        username=e.username,
                        password=e.password,
                        ca_file=e.ca_file,
                    )
                )
        return out


def load_alerting(config: VigilConfig, filename: str = "vigil.yaml") -> AlertingSettings:
    """The config's ``alerting:`` section (defaults when absent); problems raise ``ConfigError``."""
    raw = (config.model_extra or {}).get("alerting") or {}
    try:
        settings = AlertingSettings.model_validate(raw)
        r = settings.retention
        for value in (settings.evaluate_every, settings.deploy_grace, r.history, r.notifications, r.silences):
            settings.seconds(value)
    except ValidationError as exc:
        problems = [
            ConfigProblem(
                filename,
                None,
                None,
                "alerting" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e["loc"]),
                str(e["msg"]).removeprefix("Value error, "),
                "see the alerting section in vigil/alerting/engine.py",
            )
            for e in exc.errors()
        ]
        raise ConfigError(problems) from None
    except Exception as exc:
        problems = [
            ConfigProblem(
                filename,
                None,
                None,
                "alerting",
                _first_line(exc),
                "see the alerting section in vigil/alerting/engine.py",
            )
        ]
        raise ConfigError(problems) from None
    unusable = [
        r.name
        for r in settings.receivers
        if sum(x is not None for x in (r.webhook, r.slack, r.pagerduty, r.alertmanager, r.email)) != 1
    ]
    if unusable:
        raise ConfigError(
            [
                ConfigProblem(
                    filename,
                    None,
                    None,
                    "alerting.receivers",
                    f"receiver {unusable[0]!r} must name exactly one kind",
                    "give one of webhook, slack, pagerduty, alertmanager, email",
                )
            ]
        )
    settings.route_tree(filename)  # raise now: unknown receivers, bad matchers or durations
    settings.maintenance_windows(filename)
    return settings


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


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


def _log_delivery(notification: Notification, results: Mapping[str, Any]) -> None:
    """One line per receiver a notification went to: sent, or failed and why."""
    alerts = [a.labels.get("alertname", "") for a in (*notification.firing, *notification.resolved)]
    for receiver, delivery in sorted(results.items()):
        fields = {
            "receiver": receiver,
            "group": notification.group_key,
            "status": str(notification.status.value),
            "attempts": delivery.attempts,
        }
        what = f"{notification.status.value} notification for {', '.join(sorted(set(alerts)))}"
        if delivery.status is DeliveryStatus.SENT:
            log.info("sent %s to %s", what, receiver, extra={"event": "notification.sent", **fields})
        elif delivery.status is DeliveryStatus.FAILED:
            log.warning(
                "could not send %s to %s after %d attempts: %s",
                what,
                receiver,
                delivery.attempts,
                delivery.error,
                extra={"event": "notification.failed", "reason": delivery.error, **fields},
            )


STATE_KIND = "alert_state"
RULE_KIND = "rule"
CURRENT_KIND = "alerts"
"""One record (id ``current``): the evaluator's current alerts, for the servers that do not evaluate."""


def _alerts_to_json(alerts: Iterable[Alert]) -> str:
    return json.dumps(
        [
            {
                "labels": dict(a.labels),
                "status": a.status.value,
                "starts_at": a.starts_at,
                "ends_at": a.ends_at,
                "annotations": dict(a.annotations),
            }
            for a in alerts
        ],
        sort_keys=True,
    )


def _alerts_from_json(text: str) -> list[Alert]:
    return [
        Alert(d["labels"], AlertStatus(d["status"]), d["starts_at"], d["ends_at"], d["annotations"])
        for d in json.loads(text)
    ]


def _state_to_json(state: AlertState) -> str:
    return json.dumps(
        {
            "phase": state.phase.value,
            "severity": state.severity.value if state.severity else None,
            "active_since": state.active_since,
            "fired_at": state.fired_at,
            "resolved_at": state.resolved_at,
            "last_value": state.last_value,
            "evaluated_at": state.evaluated_at,
            "warning_since": state.warning_since,
            "critical_since": state.critical_since,
            "cleared_at": state.cleared_at,
        }
    )


def _state_from_json(text: str, timing: Timing) -> AlertState:
    data = json.loads(text)
    severity = data.pop("severity")
    return AlertState(
        timing=timing,
        phase=Phase(data.pop("phase")),
        severity=Severity(severity) if severity else None,
        **data,
    )


class AlertEngine:
    """Evaluates, groups, mutes and notifies; ``tick(now)`` does one round (the thread calls it)."""

    def __init__(
        self,
        rules: Sequence[Rule],
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
        actions: Sequence[ActionSpec] = (),
    ) -> None:
        self.static_rules = tuple(rules)
        self.defaults: frozenset[int] = frozenset()
        """``id()`` of the static rules that are default rules rather than the config's."""
        """The config's rules and the default rules; rules added through the API are in the store."""
        self.rules = self.static_rules
        self.query = query
        self.settings = settings
        self.store = store
        self.receivers = list(receivers if receivers is not None else settings.build_receivers())
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
        self.history_cache = HistoryCache(query, clock)
        """The query, remembering the history relative and anomaly rules read (see its module)."""
        registry = query.registry
        lookup, refresh = registry.get, None
        if isinstance(registry, Registry):  # a rollback changes what the registry says is live
            lookup, refresh = registry.declared, registry.refresh
        self.remediator = Remediator(
            actions,
            lookup,
            store,
            on_event=self.incidents.on_action,
            on_live_change=(lambda _: refresh()) if refresh is not None else None,
        )
        self._refresh_rules()
        self.states: dict[StateKey, AlertState] = self._load_states()
        self.holder = holder
        """This engine's name in the ``alerting`` lease (the server's writer name, so a restarted server
        takes its lease back at once): one engine per store evaluates at a time."""
        self.leading = False
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
    ) -> AlertEngine:
        settings = load_alerting(config)
        rules = list(rules_from_config(config))
        rules.extend(slos_from_config(config))  # each SLO: a burn-rate rule through the same pipeline
        configured = len(rules)
        if settings.default_rules:
            named = {(r.name, r.model) for r in rules}
            for name in query.registry.names():
                spec = query.registry.get(name)
                if spec is not None:
                    rules.extend(r for r in default_rules(name, spec) if (r.name, r.model) not in named)
        actions = actions_from_config(config, rules=[r.name for r in rules])
        engine = cls(rules, query, settings, store, clock=clock, holder=holder, actions=actions)
        engine.defaults = frozenset(id(r) for r in rules[configured:])
        return engine

    # rules added through the API ----------------------------------------------------------------------------

    def api_rules(self) -> list[tuple[Rule, dict[str, Any]]]:
        """Rules added through the API (records of kind ``rule``): each with the mapping it was given as."""
        out = []
        for record in self.store.records(RULE_KIND):
            given = json.loads(record.body)
            try:
                out.append((Rule.model_validate(given), given))
            except ValidationError:
                log.warning("rule %r in the store is no longer valid; skipped", record.id)
        return out

    def rule_views(self) -> list[dict[str, Any]]:
        """Every rule in force, with its ``source`` (``config``, ``default`` or ``api``)."""
        self._refresh_rules()
        api = {r.name for r, _ in self.api_rules()}
        out = []
        for rule in self.rules:
            source = "api" if rule.name in api else "default" if id(rule) in self.defaults else "config"
            view = rule.model_dump(mode="json", by_alias=True, exclude_none=True)
            out.append({**view, "source": source})
        return out

    def _refresh_rules(self) -> None:
        static = {r.name for r in self.static_rules}
        self.rules = self.static_rules + tuple(r for r, _ in self.api_rules() if r.name not in static)

    def put_rule(self, given: Mapping[str, Any], actor: str, now: float) -> Rule:
        """Add or replace a rule through the API (validated as a ``rules:`` entry; audited with the rule
        before and after). A rule of the config or a default rule cannot be replaced: edit the config."""
        rule = parse_rules([dict(given)], "the request")[0]
        if any(r.name == rule.name for r in self.static_rules):
            raise ValueError(f"rule {rule.name!r} comes from the config (or the defaults); change it there")
        old = self.store.record(RULE_KIND, rule.name)
        body = json.dumps(dict(given), sort_keys=True)
        with self._lock:
            self.store.put_record(RULE_KIND, rule.name, body, now)
            action = "rule.update" if old else "rule.create"
            self.store.append_audit(now, actor, action, f"rule/{rule.name}", old.body if old else None, body)
            self._refresh_rules()
        return rule

    def delete_rule(self, name: str, actor: str, now: float) -> bool:
        old = self.store.record(RULE_KIND, name)
        if old is None:
            return False
        with self._lock:
            self.store.delete_record(RULE_KIND, name)
            self.store.append_audit(now, actor, "rule.delete", f"rule/{name}", old.body, None)
            self._refresh_rules()
        return True

    def _load_states(self) -> dict[StateKey, AlertState]:
        timings = {r.name: r.timing for r in self.rules}
        states: dict[StateKey, AlertState] = {}
        for record in self.store.records(STATE_KIND):
            rule, _, model = record.id.partition("\x1f")
            if rule in timings:
                states[(rule, model)] = _state_from_json(record.body, timings[rule])
        return states

    def _save_states(self, old: Mapping[StateKey, AlertState], now: float) -> None:
        for key, state in self.states.items():
            if old.get(key) != state and not (state.phase is Phase.INACTIVE and key not in old):
                self.store.put_record(STATE_KIND, "\x1f".join(key), _state_to_json(state), now)

    def inhibitor(self) -> Inhibitor:
        """The inhibitions as they stand: sources are the alerts firing now."""
        current = self.dispatcher.alerts() if self.leading else self._shared_alerts()
        firing = [a.labels for a in current if a.status is AlertStatus.FIRING]
        return Inhibitor(self.inhibitions, firing)

    def _publish(self, now: float) -> None:
        """Save the current alerts for the servers that do not evaluate (when they changed)."""
        body = _alerts_to_json(self.dispatcher.alerts())
        if body != self._published:
            self.store.put_record(CURRENT_KIND, "current", body, now)
            self._published = body

    def _shared_alerts(self) -> list[Alert]:
        record = self.store.record(CURRENT_KIND, "current")
        if record is None:
            return []
        try:
            return _alerts_from_json(record.body)
        except (ValueError, KeyError, TypeError):
            log.warning("the current alerts saved in the store are unreadable; the next round rewrites them")
            return []

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
            self.states, alerts = evaluate(self.rules, self.history_cache, self.states, now)
            alerts = [self._absolute(a) for a in alerts]
            _log_changes(old, self.states)
            self._save_states(old, now)
            self.dispatcher.receive(alerts, now)
            self._publish(now)
            ops = {r.name: r.op for r in self.rules}
            self.incidents.observe(self.history.observe(alerts, now, ops), now)
            quiet = self.quiet(now)
            due = self.dispatcher.flush(now, self.muter(now, quiet), self._was_notified)
            for notification in due:
                targets = receivers_for(notification.receiver, self.receivers)
                results = deliver(notification, targets, self.log, now) if targets else {}
                _log_delivery(notification, results)
                delivered = sorted(n for n, d in results.items() if d.status is DeliveryStatus.SENT)
                if delivered:
                    self.history.mark_notified(notification.firing, now)
                    self.incidents.notified(notification, delivered, now)
                self.sent.append((now, notification, results))
            del self.sent[:-1000]
            self._publish(now)  # resolved alerts sent are forgotten by the dispatcher
            self._remediate(now, quiet)
            if now - self._pruned_at >= 3600:
                self._pruned_at = now
                self.prune(now)
        return due

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
        for receiver in self.receivers:
            if not isinstance(receiver, PagerDutyReceiver):
                continue
            for route, key in sorted(groups):
                if receiver in receivers_for(route, self.receivers):
                    result = receiver.acknowledge(key)
                    if result.status is not DeliveryStatus.SENT:
                        log.warning("PagerDuty acknowledge for %s failed: %s", key, result.error)
        return incident

    def _absolute(self, alert: Alert) -> Alert:
        """The alert with its dashboard link made absolute with ``external_url`` (when set)."""
        url = alert.annotations.get("dashboard_url", "")
        base = self.settings.external_url.rstrip("/")
        if not base or not url.startswith("/"):
            return alert
        notes = {**alert.annotations, "dashboard_url": base + url}
        return Alert(alert.labels, alert.status, alert.starts_at, alert.ends_at, notes)

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

    def _remediate(self, now: float, quiet: Muter) -> None:
        """Offer the firing alerts to the remediation actions (not those a person silenced, nor during
        maintenance or a deploy's grace period: people are at work there), and close stale runs."""
        if not self.remediator.specs:
            return
        firing = [
            a
            for a in self.dispatcher.alerts()
            if a.status is AlertStatus.FIRING and not quiet.mutes(a.labels, now)
        ]
        try:
            self.remediator.expire(now)
            self.remediator.on_alerts(firing, now)
        except Exception:  # a broken action must not stop alerting
            log.exception("remediation failed")

    def _was_notified(self, alert: Alert) -> bool:
        ep = self.history.get(episode_of(alert))
        return ep is not None and ep.notified_at is not None

    def alerts(self) -> list[Alert]:
        """The current alerts: this engine's while it evaluates, else those the evaluator saved."""
        with self._lock:
            if self.leading:
                return list(self.dispatcher.alerts())
        return self._shared_alerts()

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
        with self._lock:
            if isinstance(self.log, SQLiteNotificationLog):
                self.log.close()
