"""The alerting loop of a server: every ``evaluate_every`` seconds, evaluate the rules on the live metrics,
hand the alerts to the dispatcher (grouping, waits, repeats), mute what is inhibited, and deliver the due
notifications to every receiver through the notification log (so a restart neither loses nor repeats one).

Configured in ``vigil.yaml``::

    alerting:
      evaluate_every: 30s
      default_rules: true          # the rules of vigil.alerting.rules.default_rules for every model
      external_url: http://vigil.example.com
      route: {group_by: [alertname, model], group_wait: 30s, group_interval: 5m, repeat_interval: 4h}
      receivers:
        - {name: ops, webhook: http://alerts.example.com/hook}      # Alertmanager v4 JSON
        - {name: chat, slack: ${SLACK_WEBHOOK_URL}}
        - {name: pager, pagerduty: ${PAGERDUTY_ROUTING_KEY}}
        - {name: am, alertmanager: http://127.0.0.1:9093}
        - name: mail
          email: {host: smtp.example.com, port: 25, from: vigil@example.com, to: [oncall@example.com]}

Built-in inhibition: a critical alert mutes the warning of the same rule and model, and a model's
``NoData`` alert mutes its drift alerts.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from vigil.alerting.alert import Alert, AlertStatus
from vigil.alerting.dispatch import Dispatcher, Notification, Route
from vigil.alerting.evaluate import MetricSource, StateKey, evaluate
from vigil.alerting.inhibit import Inhibitor, InhibitRule
from vigil.alerting.matchers import parse_matcher
from vigil.alerting.notify.log import SQLiteNotificationLog, deliver
from vigil.alerting.notify.receivers import (
    AlertmanagerReceiver,
    EmailReceiver,
    PagerDutyReceiver,
    Receiver,
    SlackReceiver,
    WebhookReceiver,
)
from vigil.alerting.rules import Rule, default_rules, rules_from_config
from vigil.alerting.state import AlertState
from vigil.config import VigilConfig, parse_duration
from vigil.errors import ConfigError, ConfigProblem

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


class _Receiver(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    webhook: str | None = None
    slack: str | None = None
    pagerduty: str | None = None
    alertmanager: str | None = None
    email: _Email | None = None

    @field_validator("webhook", "slack", "pagerduty", "alertmanager", mode="before")
    @classmethod
    def _env(cls, value: object) -> object:
        from vigil.config import _expand_env

        return _expand_env(value)


class _Route(BaseModel):
    model_config = ConfigDict(extra="forbid")
    group_by: list[str] = ["alertname", "model"]
    group_wait: str | float = "30s"
    group_interval: str | float = "5m"
    repeat_interval: str | float = "4h"


class AlertingSettings(BaseModel):
    """The ``alerting:`` section of vigil.yaml (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")
    evaluate_every: str | float = "30s"
    default_rules: bool = True
    external_url: str = ""
    route: _Route = Field(default_factory=_Route)
    receivers: list[_Receiver] = Field(default_factory=list)
    notification_log: str = "vigil-notifications.db"

    def seconds(self, value: str | float) -> float:
        return parse_duration(value).total_seconds()

    def dispatch_route(self) -> Route:
        r = self.route
        return Route(
            "all",
            tuple(r.group_by),
            self.seconds(r.group_wait),
            self.seconds(r.group_interval),
            self.seconds(r.repeat_interval),
        )

    def build_receivers(self) -> list[Receiver]:
        out: list[Receiver] = []
        for r in self.receivers:
            if r.webhook:
                out.append(WebhookReceiver(r.webhook, name=r.name, external_url=self.external_url))
            elif r.slack:
                out.append(SlackReceiver(r.slack, name=r.name))
            elif r.pagerduty:
                out.append(PagerDutyReceiver(r.pagerduty, name=r.name))
            elif r.alertmanager:
                out.append(AlertmanagerReceiver(r.alertmanager, name=r.name))
            elif r.email:
                out.append(EmailReceiver(r.email.host, r.email.port, r.email.sender, r.email.to, name=r.name))
        return out


def load_alerting(config: VigilConfig, filename: str = "vigil.yaml") -> AlertingSettings:
    """The config's ``alerting:`` section (defaults when absent); problems raise ``ConfigError``."""
    raw = (config.model_extra or {}).get("alerting") or {}
    try:
        settings = AlertingSettings.model_validate(raw)
        for value in (
            settings.evaluate_every,
            settings.route.group_wait,
            settings.route.group_interval,
            settings.route.repeat_interval,
        ):
            settings.seconds(value)
    except (ValidationError, Exception) as exc:
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
    return settings


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


class AlertEngine:
    """Evaluates, groups, mutes and notifies; ``tick(now)`` does one round (the thread calls it)."""

    def __init__(
        self,
        rules: Sequence[Rule],
        query: MetricSource,
        settings: AlertingSettings,
        *,
        receivers: Sequence[Receiver] | None = None,
        log_path: Path | None = None,
        clock: Callable[[], float] = time.time,
        inhibitions: Iterable[InhibitRule] = BUILT_IN_INHIBITIONS,
    ) -> None:
        self.rules = tuple(rules)
        self.query = query
        self.settings = settings
        self.receivers = list(receivers if receivers is not None else settings.build_receivers())
        self.log = SQLiteNotificationLog(log_path or Path(settings.notification_log))
        self.clock = clock
        self.inhibitions = tuple(inhibitions)
        self.dispatcher = Dispatcher(settings.dispatch_route())
        self.states: dict[StateKey, AlertState] = {}
        self.sent: list[tuple[float, Notification, Mapping[str, Any]]] = []
        """What was delivered (time, notification, delivery by receiver), newest last, at most 1,000."""
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def from_config(
        cls, config: VigilConfig, query: MetricSource, *, root: Path, clock: Callable[[], float]
    ) -> AlertEngine:
        settings = load_alerting(config)
        rules = list(rules_from_config(config))
        if settings.default_rules:
            named = {(r.name, r.model) for r in rules}
            for name in query.registry.names():
                spec = query.registry.get(name)
                if spec is not None:
                    rules.extend(r for r in default_rules(name, spec) if (r.name, r.model) not in named)
        path = Path(settings.notification_log)
        return cls(rules, query, settings, log_path=path if path.is_absolute() else root / path, clock=clock)

    def tick(self, now: float | None = None) -> list[Notification]:
        """Evaluate every rule at ``now``, then send what is due. Returns the notifications sent."""
        now = self.clock() if now is None else now
        with self._lock:
            self.states, alerts = evaluate(self.rules, self.query, self.states, now)
            self.dispatcher.receive(alerts, now)
            firing = [a.labels for a in self.dispatcher.alerts() if a.status is AlertStatus.FIRING]
            due = self.dispatcher.flush(now, Inhibitor(self.inhibitions, firing))
            for notification in due:
                results = deliver(notification, self.receivers, self.log, now) if self.receivers else {}
                self.sent.append((now, notification, results))
            del self.sent[:-1000]
        return due

    def alerts(self) -> list[Alert]:
        with self._lock:
            return list(self.dispatcher.alerts())

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
            self.log.close()
