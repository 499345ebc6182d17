"""The ``alerting:`` section of vigil.yaml: how often to evaluate, where notifications go, and what to keep::

    alerting:
      evaluate_every: 30s
      default_rules: true          # the rules of vigil.alerting.rules.default_rules for every model
      external_url: http://vigil.example.com
      route:                       # a tree as in Alertmanager (vigil.alerting.dispatch.routes); severity
        receiver: ops              # decides page or ticket, e.g.:
        group_by: [alertname, model]
        group_wait: 30s
        group_interval: 5m
        repeat_interval: 4h
        routes:
          - {matchers: ['severity="critical"'], receiver: pager, continue: true}
          - {matchers: ['severity="warning"'], receiver: chat}
      receivers:                   # one channel each (vigil.alerting.notify.registry)
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

:class:`AlertingSettings` is the section's schema: every problem (durations, receivers that name no channel
or the same name twice, routes to receivers that are not configured, maintenance windows) is an issue at its
key, so it reads the same wherever the section is checked; :func:`load_alerting` reads it from a config.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from vigil.alerting.dispatch.routes import RouteConfig, RouteTree
from vigil.alerting.mute.maintenance import MaintenanceWindows
from vigil.alerting.notify.channel import ChannelConfig
from vigil.alerting.notify.email import EmailSettings
from vigil.alerting.notify.registry import CHANNELS, ReceiverConfig
from vigil.config import VigilConfig
from vigil.config.problems import keys_of, locator, problems_of
from vigil.errors import ConfigError, Invalid, Issue
from vigil.timefmt import parse_duration

__all__ = ["AlertingSettings", "Retention", "load_alerting", "parse_alerting"]

_DOCS = "vigil.alerting.settings"


def _seconds(value: str | float) -> float:
    if value in (0, "0", "0s"):
        return 0.0
    return parse_duration(value).total_seconds()


def _duration(value: str | float) -> str | float:
    _seconds(value)  # raises the issue of a value that is not a duration
    return value


Duration = Annotated[str | float, AfterValidator(_duration)]
"""A duration as written (``30s``, ``5m``; ``0`` allowed), checked."""


class Retention(BaseModel):
    """How long the alerting records are kept (pruned hourly)."""

    model_config = ConfigDict(extra="forbid")
    history: Duration = "400d"
    """Alert episodes, incidents, action runs and deploy annotations."""
    notifications: Duration = "7d"
    """The notification log (longer than any repeat_interval)."""
    silences: Duration = "30d"
    """Expired silences (after they ended)."""


_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _reissue(check: Callable[[], object], field: str) -> None:
    """Run ``check``; its ``ConfigError`` becomes issues under ``field`` (paths written from there)."""
    try:
        check()
    except ConfigError as exc:
        issues = []
        for p in exc.problems:
            path = tuple(int(i) if i else key for key, i in _PART.findall(p.path))
            issues.append(Issue(p.message, p.hint, path[1:] if path[:1] == (field,) else path))
        raise Invalid(*issues) from None


class AlertingSettings(BaseModel):
    """The ``alerting:`` section (see the module docstring). Each part is checked on its own, so one run
    reports every problem (routes are checked against the receivers when those are valid)."""

    model_config = ConfigDict(extra="forbid")
    evaluate_every: Duration = "30s"
    default_rules: bool = True
    external_url: str = ""
    receivers: list[ReceiverConfig] = Field(default_factory=list)
    route: RouteConfig = Field(default_factory=RouteConfig)
    maintenance: list[dict[str, Any]] = Field(default_factory=list)
    deploy_grace: Duration = "15m"
    retention: Retention = Field(default_factory=Retention)

    @field_validator("receivers")
    @classmethod
    def _unique(cls, receivers: list[ChannelConfig]) -> list[ChannelConfig]:
        seen: set[str] = set()
        for i, receiver in enumerate(receivers):
            if receiver.name in seen:
                raise Invalid(
                    Issue(f"a second receiver named {receiver.name!r}", "give each its own name", (i, "name"))
                )
            seen.add(receiver.name)
        return receivers

    @field_validator("route")
    @classmethod
    def _routes(cls, route: RouteConfig, info: ValidationInfo) -> RouteConfig:
        receivers = info.data.get("receivers")
        names = None if receivers is None else [r.name for r in receivers]
        _reissue(lambda: RouteTree.from_config(route, names, path="route"), "route")
        return route

    @field_validator("maintenance")
    @classmethod
    def _windows(cls, windows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        _reissue(lambda: MaintenanceWindows.from_config(windows or None, path="maintenance"), "maintenance")
        return windows

    def seconds(self, value: str | float) -> float:
        """A duration of this section in seconds (``0`` allowed)."""
        return _seconds(value)

    def route_tree(self, filename: str = "vigil.yaml") -> RouteTree:
        return RouteTree.from_config(self.route, [r.name for r in self.receivers], filename=filename)

    def maintenance_windows(self, filename: str = "vigil.yaml") -> MaintenanceWindows:
        return MaintenanceWindows.from_config(self.maintenance or None, filename=filename)


def _allowed(loc: tuple[Any, ...]) -> list[str]:
    """The keys of the mapping at ``loc`` (an unknown key's location without the key)."""
    if not loc:
        return keys_of(AlertingSettings)
    if loc[0] == "retention":
        return keys_of(Retention)
    if loc[0] == "route":
        return keys_of(RouteConfig)
    if loc[0] == "receivers" and len(loc) >= 3:
        channel = CHANNELS.get(str(loc[2]))
        if channel is not None:
            return keys_of(EmailSettings) if len(loc) >= 4 else keys_of(channel)
    return []


def load_alerting(
    config: VigilConfig, filename: str = "vigil.yaml", text: str | None = None
) -> AlertingSettings:
    """The config's ``alerting:`` section (defaults when absent); see :func:`parse_alerting`."""
    return parse_alerting(config.alerting, filename, text)


def parse_alerting(data: object, filename: str = "vigil.yaml", text: str | None = None) -> AlertingSettings:
    """An ``alerting:`` section as written (None: the defaults); every problem in one ``ConfigError``,
    positioned when the file's ``text`` is given."""
    raw = data or {}
    try:
        return AlertingSettings.model_validate(raw)
    except ValidationError as exc:
        found = problems_of(
            exc, ("alerting",), locator(text, filename), allowed=_allowed, tags=CHANNELS, docs=_DOCS
        )
        raise ConfigError(sorted(found, key=lambda p: (p.line or 0, p.column or 0))) from None
