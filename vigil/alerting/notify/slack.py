"""Slack: a Block Kit message POSTed to an incoming-webhook URL (``{name: chat, slack: "${SLACK_URL}"}``)."""

from __future__ import annotations

from typing import Any, ClassVar

import httpx

from vigil.alerting.alert import AlertStatus
from vigil.alerting.dispatch.dispatcher import Notification
from vigil.alerting.notify.channel import MAX_LISTED, ChannelConfig, Receiver, alert_line, alerts_of, clip
from vigil.alerting.notify.content import summarize
from vigil.alerting.notify.retry import Delivery, RetryPolicy, post_json
from vigil.spec import Secret

__all__ = ["SlackConfig", "SlackReceiver", "slack_message"]


def _mrkdwn(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_message(notification: Notification) -> dict[str, Any]:
    """``{"text": fallback, "blocks": [...]}`` for a Slack incoming webhook.

    Blocks: a header section (status, what, severity), the description, a fields section (severity,
    since, value, threshold, owner), the alerts list, and a context block with runbook and dashboard links.
    """
    s = summarize(notification)
    emoji = ":red_circle:" if s.status == AlertStatus.FIRING else ":large_green_circle:"
    fields = [
        {"type": "mrkdwn", "text": f"*{name}:*\n{_mrkdwn(text)}"}
        for name, text in s.facts()
        if name not in ("Runbook", "Dashboard")
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"{emoji} *{_mrkdwn(s.title)}*"}},
    ]
    if s.description:
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": clip(_mrkdwn(s.description), 3000)}}
        )
    if fields:
        blocks.append({"type": "section", "fields": fields[:10]})
    alerts = alerts_of(notification)
    listed = "\n".join(f"• {_mrkdwn(alert_line(a))}" for a in alerts[:MAX_LISTED])
    if len(alerts) > MAX_LISTED:
        listed += f"\n• and {len(alerts) - MAX_LISTED} more"
    blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": clip(listed, 3000)}})
    links = [
        f"<{url}|{label}>"
        for label, url in (("Runbook", s.runbook_url), ("Dashboard", s.dashboard_url))
        if url
    ]
    if links:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(links)}]})
    fallback = " | ".join(f"{name}: {text}" for name, text in s.facts())
    return {"text": clip(f"{s.title} | {fallback}" if fallback else s.title, 3000), "blocks": blocks}


class SlackReceiver:
    """POSTs :func:`slack_message` to a Slack incoming-webhook URL (a secret bound to one channel)."""

    def __init__(
        self,
        webhook_url: str,
        *,
        name: str = "slack",
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        self.webhook_url, self.name = webhook_url, name
        self.timeout, self.retry, self.client = timeout, retry or RetryPolicy(), client

    def __repr__(self) -> str:
        return f"SlackReceiver(name={self.name!r})"

    def send(self, notification: Notification, *, now: float) -> Delivery:
        body = slack_message(notification)
        return post_json(self.webhook_url, body, client=self.client, timeout=self.timeout, policy=self.retry)


class SlackConfig(ChannelConfig):
    CHANNEL: ClassVar[str] = "slack"
    slack: Secret
    """The incoming-webhook URL (a secret bound to one channel; ``${VAR}`` is read from the environment)."""

    def build(self, external_url: str) -> Receiver:
        return SlackReceiver(self.slack, name=self.name)
