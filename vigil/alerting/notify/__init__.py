"""Notifications out: one module per channel (webhook, Slack, PagerDuty, e-mail, Alertmanager), each with
its receiver and its config entry, registered in :mod:`.registry`; retries (:mod:`.retry`); and the
notification log (:mod:`.log`), so that a restart neither loses nor repeats a message.

Unlike the rest of :mod:`vigil.alerting` this package does I/O (HTTP via ``httpx``, SMTP); the pure stages
never import it. Message content comes from conventional annotation keys, see :mod:`.content`.
"""

from __future__ import annotations

from vigil.alerting.notify.alertmanager import AlertmanagerReceiver, alertmanager_alerts
from vigil.alerting.notify.channel import Receiver
from vigil.alerting.notify.content import ANNOTATION_KEYS, Summary, content_hash, summarize
from vigil.alerting.notify.email import EmailReceiver, email_message
from vigil.alerting.notify.log import NotificationLog, StoreNotificationLog, deliver
from vigil.alerting.notify.pagerduty import PAGERDUTY_EVENTS_URL, PagerDutyReceiver, pagerduty_event
from vigil.alerting.notify.registry import CHANNELS, ReceiverConfig
from vigil.alerting.notify.retry import Delivery, DeliveryStatus, RetryPolicy
from vigil.alerting.notify.slack import SlackReceiver, slack_message
from vigil.alerting.notify.webhook import WebhookReceiver, webhook_payload

__all__ = [
    "ANNOTATION_KEYS",
    "CHANNELS",
    "PAGERDUTY_EVENTS_URL",
    "AlertmanagerReceiver",
    "Delivery",
    "DeliveryStatus",
    "EmailReceiver",
    "NotificationLog",
    "PagerDutyReceiver",
    "Receiver",
    "ReceiverConfig",
    "RetryPolicy",
    "SlackReceiver",
    "StoreNotificationLog",
    "Summary",
    "WebhookReceiver",
    "alertmanager_alerts",
    "content_hash",
    "deliver",
    "email_message",
    "pagerduty_event",
    "slack_message",
    "summarize",
    "webhook_payload",
]
