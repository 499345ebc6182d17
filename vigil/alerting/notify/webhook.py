"""Webhook: Alertmanager's v4 JSON POSTed to a URL (``{name: ops, webhook: https://...}``)."""

from __future__ import annotations

from typing import Any, ClassVar

import httpx

from vigil.alerting.alert import AlertStatus
from vigil.alerting.dispatch.dispatcher import Notification
from vigil.alerting.notify.channel import ChannelConfig, Receiver, alerts_of, ends_at
from vigil.alerting.notify.content import ZERO_TIME, common
from vigil.alerting.notify.retry import Delivery, RetryPolicy, post_json
from vigil.spec import Secret
from vigil.timefmt import format_time

__all__ = ["WebhookConfig", "WebhookReceiver", "webhook_payload"]


def webhook_payload(
    notification: Notification, *, now: float, external_url: str = "", max_alerts: int = 0
) -> dict[str, Any]:
    """Alertmanager's webhook payload, version 4 (``max_alerts`` 0 = all)."""
    alerts = alerts_of(notification)
    kept = alerts[:max_alerts] if max_alerts > 0 else alerts
    return {
        "version": "4",
        "groupKey": notification.group_key,
        "truncatedAlerts": len(alerts) - len(kept),
        "status": notification.status.value,
        "receiver": notification.receiver,
        "groupLabels": dict(notification.group_labels),
        "commonLabels": common(a.labels for a in alerts),
        "commonAnnotations": common(a.annotations for a in alerts),
        "externalURL": external_url,
        "notification_reason": notification.reason.value,
        "alerts": [
            {
                "status": a.status.value,
                "labels": dict(a.labels),
                "annotations": dict(a.annotations),
                "startsAt": format_time(a.starts_at, digits=3),
                "endsAt": format_time(ends_at(a, now), digits=3)
                if a.status is AlertStatus.RESOLVED
                else ZERO_TIME,
                "generatorURL": a.annotations.get("generator_url") or a.annotations.get("dashboard_url", ""),
                "fingerprint": a.fingerprint,
            }
            for a in kept
        ],
    }


class WebhookReceiver:
    """POSTs the Alertmanager-compatible v4 webhook JSON to ``url``."""

    def __init__(
        self,
        url: str,
        *,
        name: str = "webhook",
        external_url: str = "",
        max_alerts: int = 0,
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        self.url, self.name, self.external_url, self.max_alerts = url, name, external_url, max_alerts
        self.timeout, self.retry, self.client = timeout, retry or RetryPolicy(), client

    def __repr__(self) -> str:
        return f"WebhookReceiver(name={self.name!r})"

    def send(self, notification: Notification, *, now: float) -> Delivery:
        body = webhook_payload(
            notification, now=now, external_url=self.external_url, max_alerts=self.max_alerts
        )
        return post_json(self.url, body, client=self.client, timeout=self.timeout, policy=self.retry)


class WebhookConfig(ChannelConfig):
    CHANNEL: ClassVar[str] = "webhook"
    webhook: Secret
    """The URL (``${VAR}`` is read from the environment)."""

    def build(self, external_url: str) -> Receiver:
        return WebhookReceiver(self.webhook, name=self.name, external_url=external_url)
