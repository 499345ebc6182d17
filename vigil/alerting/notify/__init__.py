"""Notifications out: receivers (webhook, Slack, PagerDuty, e-mail, Alertmanager), retries, and a
persistent notification log so that a restart neither loses nor repeats a message.

Unlike the rest of :mod:`vigil.alerting` this package does I/O (HTTP via ``httpx``, SMTP, SQLite); the
pure stages never import it. Message content comes from conventional annotation keys, see
:mod:`vigil.alerting.notify.content`.
"""

from __future__ import annotations

from vigil.alerting.notify.content import ANNOTATION_KEYS, Summary, content_hash, rfc3339, summarize
from vigil.alerting.notify.log import NotificationLog, SQLiteNotificationLog, deliver
from vigil.alerting.notify.receivers import (
    PAGERDUTY_EVENTS_URL,
    AlertmanagerReceiver,
    EmailReceiver,
    PagerDutyReceiver,
    Receiver,
    SlackReceiver,
    WebhookReceiver,
    alertmanager_alerts,
    email_message,
    pagerduty_event,
    slack_message,
    webhook_payload,
)
from vigil.alerting.notify.retry import Delivery, DeliveryStatus, RetryPolicy

__all__ = [
    "ANNOTATION_KEYS",
    "PAGERDUTY_EVENTS_URL",
    "AlertmanagerReceiver",
    "Delivery",
    "DeliveryStatus",
    "EmailReceiver",
    "NotificationLog",
    "PagerDutyReceiver",
    "Receiver",
    "RetryPolicy",
    "SQLiteNotificationLog",
    "SlackReceiver",
    "Summary",
    "WebhookReceiver",
    "alertmanager_alerts",
    "content_hash",
    "deliver",
    "email_message",
    "pagerduty_event",
    "rfc3339",
    "slack_message",
    "summarize",
    "webhook_payload",
]
