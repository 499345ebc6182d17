"""PagerDuty: Events API v2 (``{name: pager, pagerduty: "${PAGERDUTY_ROUTING_KEY}"}``; ``events_url`` for
the EU service, ``https://events.eu.pagerduty.com/v2/enqueue``, or a proxy)."""

from __future__ import annotations

import hashlib
from typing import Any, ClassVar

import httpx

from vigil.alerting.alert import AlertStatus
from vigil.alerting.dispatch.dispatcher import Notification
from vigil.alerting.notify.channel import ChannelConfig, Receiver, alert_line, clip
from vigil.alerting.notify.content import common, summarize
from vigil.alerting.notify.retry import Delivery, RetryPolicy, post_json
from vigil.spec import Secret
from vigil.timefmt import format_time

__all__ = ["PAGERDUTY_EVENTS_URL", "PagerDutyConfig", "PagerDutyReceiver", "pagerduty_event"]

PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"

_PD_SEVERITY = {
    "critical": "critical",
    "page": "critical",
    "error": "error",
    "warning": "warning",
    "ticket": "warning",
    "info": "info",
}


def pagerduty_event(
    notification: Notification, routing_key: str, *, source: str | None = None, client_url: str = ""
) -> dict[str, Any]:
    """A PagerDuty Events API v2 event: ``trigger`` while anything fires, else ``resolve``.

    ``dedup_key`` is hex(sha256(group key)) (as Alertmanager), so one PagerDuty alert per group.
    """
    dedup_key = hashlib.sha256(notification.group_key.encode()).hexdigest()
    if notification.status is AlertStatus.RESOLVED:
        return {"routing_key": routing_key, "event_action": "resolve", "dedup_key": dedup_key}
    s = summarize(notification)
    labels = common(a.labels for a in notification.firing)
    details: dict[str, Any] = {
        "firing": "\n".join(alert_line(a) for a in notification.firing),
        "num_firing": s.n_firing,
        "num_resolved": s.n_resolved,
        "group_labels": dict(notification.group_labels),
        "notification_reason": notification.reason.value,
    }
    for key, value in (
        ("description", s.description),
        ("value", s.value),
        ("threshold", s.threshold),
        ("owner", s.owner),
        ("runbook_url", s.runbook_url),
        ("dashboard_url", s.dashboard_url),
    ):
        if value:
            details[key] = value
    payload: dict[str, Any] = {
        "summary": clip(s.title, 1024),
        "source": source or labels.get("model") or labels.get("instance") or "vigil",
        "severity": _PD_SEVERITY.get(s.severity, "error"),
        "custom_details": details,
    }
    if s.since is not None:
        payload["timestamp"] = format_time(s.since, digits=3)
    if "alertname" in labels:
        payload["class"] = labels["alertname"]
    if "model" in labels:
        payload["component"] = labels["model"]
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": dedup_key,
        "payload": payload,
        "client": "Vigil",
        "links": [
            {"href": url, "text": text}
            for text, url in (("Runbook", s.runbook_url), ("Dashboard", s.dashboard_url))
            if url
        ],
    }
    if client_url:
        event["client_url"] = client_url
    return event


class PagerDutyReceiver:
    """Sends :func:`pagerduty_event` to the Events API v2 (``url`` configurable for tests/proxies)."""

    def __init__(
        self,
        routing_key: str,
        url: str = PAGERDUTY_EVENTS_URL,
        *,
        name: str = "pagerduty",
        source: str | None = None,
        client_url: str = "",
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        self.routing_key, self.url, self.name, self.source, self.client_url = (
            routing_key,
            url,
            name,
            source,
            client_url,
        )
        self.timeout, self.retry, self.client = timeout, retry or RetryPolicy(), client

    def __repr__(self) -> str:
        return f"PagerDutyReceiver(name={self.name!r})"

    def send(self, notification: Notification, *, now: float) -> Delivery:
        body = pagerduty_event(notification, self.routing_key, source=self.source, client_url=self.client_url)
        return post_json(self.url, body, client=self.client, timeout=self.timeout, policy=self.retry)

    def acknowledge(self, group_key: str) -> Delivery:
        """Tell PagerDuty a person has acknowledged the group's alert (``event_action: acknowledge``,
        the same ``dedup_key`` as the trigger), so the escalation stops paging."""
        body = {
            "routing_key": self.routing_key,
            "event_action": "acknowledge",
            "dedup_key": hashlib.sha256(group_key.encode()).hexdigest(),
        }
        return post_json(self.url, body, client=self.client, timeout=self.timeout, policy=self.retry)


class PagerDutyConfig(ChannelConfig):
    CHANNEL: ClassVar[str] = "pagerduty"
    pagerduty: Secret
    """The integration's routing key (``${VAR}`` is read from the environment)."""
    events_url: str = PAGERDUTY_EVENTS_URL
    """PagerDuty's Events API v2 endpoint (``https://events.eu.pagerduty.com/v2/enqueue`` for the EU)."""

    def build(self, external_url: str) -> Receiver:
        return PagerDutyReceiver(self.pagerduty, self.events_url, name=self.name, client_url=external_url)
