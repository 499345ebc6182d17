"""Alertmanager: each alert forwarded to ``POST /api/v2/alerts`` (``{name: am, alertmanager: http://...}``)."""

from __future__ import annotations

from typing import Any, ClassVar

import httpx

from vigil.alerting.alert import AlertStatus
from vigil.alerting.dispatch.dispatcher import Notification
from vigil.alerting.notify.channel import ChannelConfig, Receiver, alerts_of, ends_at
from vigil.alerting.notify.retry import Delivery, RetryPolicy, post_json
from vigil.spec import Secret
from vigil.timefmt import format_time

__all__ = ["AlertmanagerConfig", "AlertmanagerReceiver", "alertmanager_alerts"]


def alertmanager_alerts(
    notification: Notification, *, now: float, default_alertname: str = "VigilAlert"
) -> list[dict[str, Any]]:
    """The body of ``POST /api/v2/alerts``: one entry per alert; ``endsAt`` only on resolved ones (a
    firing alert without it stays active for Alertmanager's ``resolve_timeout``: re-send it sooner)."""
    out: list[dict[str, Any]] = []
    for a in alerts_of(notification):
        labels = dict(a.labels)
        labels.setdefault("alertname", default_alertname)
        entry: dict[str, Any] = {
            "labels": labels,
            "annotations": dict(a.annotations),
            "startsAt": format_time(a.starts_at, digits=3),
        }
        generator = a.annotations.get("generator_url") or a.annotations.get("dashboard_url")
        if generator:
            entry["generatorURL"] = generator
        if a.status is AlertStatus.RESOLVED:
            entry["endsAt"] = format_time(ends_at(a, now), digits=3)
        out.append(entry)
    return out


class AlertmanagerReceiver:
    """Forwards each alert to an Alertmanager's ``POST /api/v2/alerts`` (``url`` is its base URL)."""

    def __init__(
        self,
        url: str,
        *,
        name: str = "alertmanager",
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        base = url.rstrip("/")
        self.url = base if base.endswith("/api/v2/alerts") else f"{base}/api/v2/alerts"
        self.name, self.timeout, self.retry, self.client = name, timeout, retry or RetryPolicy(), client

    def __repr__(self) -> str:
        return f"AlertmanagerReceiver(name={self.name!r}, url={self.url!r})"

    def send(self, notification: Notification, *, now: float) -> Delivery:
        body = alertmanager_alerts(notification, now=now)
        return post_json(self.url, body, client=self.client, timeout=self.timeout, policy=self.retry)


class AlertmanagerConfig(ChannelConfig):
    CHANNEL: ClassVar[str] = "alertmanager"
    alertmanager: Secret
    """The Alertmanager's base URL (``${VAR}`` is read from the environment)."""

    def build(self, external_url: str) -> Receiver:
        return AlertmanagerReceiver(self.alertmanager, name=self.name)
