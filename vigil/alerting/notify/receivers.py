"""Receivers: where a :class:`~vigil.alerting.dispatch.dispatcher.Notification` goes.

Each has a ``name`` (the notification log's key: give two receivers of one kind distinct names) and
``send(notification, *, now) -> Delivery``, retrying per its :class:`RetryPolicy`. URLs, routing keys
and passwords are secrets: they never appear in a receiver's ``name`` or ``repr``.
"""

from __future__ import annotations

import hashlib
import html
import smtplib
import ssl
from collections.abc import Callable, Sequence
from email.message import EmailMessage
from typing import Any, Protocol, runtime_checkable

import httpx

from vigil.alerting.alert import Alert, AlertStatus
from vigil.alerting.dispatch.dispatcher import Notification
from vigil.alerting.notify.content import ZERO_TIME, Summary, common, rfc3339, summarize
from vigil.alerting.notify.retry import Attempt, Delivery, RetryPolicy, post_json, run

__all__ = [
    "PAGERDUTY_EVENTS_URL",
    "AlertmanagerReceiver",
    "EmailReceiver",
    "PagerDutyReceiver",
    "Receiver",
    "SlackReceiver",
    "WebhookReceiver",
    "alertmanager_alerts",
    "email_message",
    "pagerduty_event",
    "slack_message",
    "webhook_payload",
]

PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"

# Alert severity label → PagerDuty payload.severity (critical|error|warning|info); anything else: error.
_PD_SEVERITY = {
    "critical": "critical",
    "page": "critical",
    "error": "error",
    "warning": "warning",
    "ticket": "warning",
    "info": "info",
}

_MAX_LISTED = 10  # alerts listed one by one in Slack/e-mail before "and N more"


@runtime_checkable
class Receiver(Protocol):
    """Sends notifications somewhere; ``name`` keys the notification log."""

    name: str

    def send(self, notification: Notification, *, now: float) -> Delivery: ...


def _alerts(notification: Notification) -> tuple[Alert, ...]:
    return (*notification.firing, *notification.resolved)


def _ends_at(alert: Alert, now: float) -> float:
    return alert.ends_at if alert.ends_at is not None else now


def _alert_line(alert: Alert) -> str:
    name = alert.annotations.get("summary") or alert.labels.get("alertname", alert.fingerprint[:12])
    extra = ", ".join(f"{k}={v}" for k, v in sorted(alert.labels.items()) if k not in ("alertname",))
    value = alert.annotations.get("value")
    threshold = alert.annotations.get("threshold")
    numbers = f" value {value}" if value else ""
    numbers += f" (threshold {threshold})" if threshold else ""
    return f"{alert.status.value}: {name}{numbers} [{extra}]"


def _text_lines(notification: Notification, summary: Summary) -> list[str]:
    lines = [summary.title]
    if summary.description:
        lines.append(summary.description)
    lines += [f"{name}: {text}" for name, text in summary.facts()]
    alerts = _alerts(notification)
    lines.append(f"Alerts ({summary.n_firing} firing, {summary.n_resolved} resolved):")
    lines += [f"- {_alert_line(a)}" for a in alerts[:_MAX_LISTED]]
    if len(alerts) > _MAX_LISTED:
        lines.append(f"- and {len(alerts) - _MAX_LISTED} more")
    return lines


# ------------------------------------------------------------------------------------------ webhook


def webhook_payload(
    notification: Notification, *, now: float, external_url: str = "", max_alerts: int = 0
) -> dict[str, Any]:
    """Alertmanager's webhook payload, version 4 (``max_alerts`` 0 = all)."""
    alerts = _alerts(notification)
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
                "startsAt": rfc3339(a.starts_at),
                "endsAt": rfc3339(_ends_at(a, now)) if a.status is AlertStatus.RESOLVED else ZERO_TIME,
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


# -------------------------------------------------------------------------------------------- slack


def _mrkdwn(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
            {"type": "section", "text": {"type": "mrkdwn", "text": _clip(_mrkdwn(s.description), 3000)}}
        )
    if fields:
        blocks.append({"type": "section", "fields": fields[:10]})
    alerts = _alerts(notification)
    listed = "\n".join(f"• {_mrkdwn(_alert_line(a))}" for a in alerts[:_MAX_LISTED])
    if len(alerts) > _MAX_LISTED:
        listed += f"\n• and {len(alerts) - _MAX_LISTED} more"
    blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _clip(listed, 3000)}})
    links = [
        f"<{url}|{label}>"
        for label, url in (("Runbook", s.runbook_url), ("Dashboard", s.dashboard_url))
        if url
    ]
    if links:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(links)}]})
    fallback = " | ".join(f"{name}: {text}" for name, text in s.facts())
    return {"text": _clip(f"{s.title} | {fallback}" if fallback else s.title, 3000), "blocks": blocks}


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


# ---------------------------------------------------------------------------------------- pagerduty


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
        "firing": "\n".join(_alert_line(a) for a in notification.firing),
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
        "summary": _clip(s.title, 1024),
        "source": source or labels.get("model") or labels.get("instance") or "vigil",
        "severity": _PD_SEVERITY.get(s.severity, "error"),
        "custom_details": details,
    }
    if s.since is not None:
        payload["timestamp"] = rfc3339(s.since)
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


# -------------------------------------------------------------------------------------------- email


def email_message(notification: Notification, sender: str, to: Sequence[str]) -> EmailMessage:
    """A multipart/alternative e-mail: plain text and a simple HTML table, subject = the title."""
    s = summarize(notification)
    msg = EmailMessage()
    msg["Subject"] = s.title
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg.set_content("\n".join(_text_lines(notification, s)) + "\n")
    rows = "".join(
        f"<tr><th align='left'>{html.escape(name)}</th><td>{_html_value(name, text)}</td></tr>"
        for name, text in s.facts()
    )
    items = "".join(f"<li>{html.escape(_alert_line(a))}</li>" for a in _alerts(notification)[:_MAX_LISTED])
    desc = f"<p>{html.escape(s.description)}</p>" if s.description else ""
    msg.add_alternative(
        f"<html><body><h2>{html.escape(s.title)}</h2>{desc}<table>{rows}</table><ul>{items}</ul></body></html>",
        subtype="html",
    )
    return msg


def _html_value(name: str, text: str) -> str:
    if name in ("Runbook", "Dashboard"):
        return f"<a href='{html.escape(text, quote=True)}'>{html.escape(text)}</a>"
    return html.escape(text)


def _smtp_attempt(send: Callable[[], None]) -> Attempt:
    try:
        send()
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        return Attempt(False, all(400 <= c < 500 for c in codes), f"recipients refused: {exc.recipients}")
    except (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError) as exc:
        return Attempt(False, True, f"{type(exc).__name__}: {exc}")
    except smtplib.SMTPResponseException as exc:
        return Attempt(False, 400 <= exc.smtp_code < 500, f"SMTP {exc.smtp_code}: {exc.smtp_error!r}")
    except smtplib.SMTPException as exc:
        return Attempt(False, False, f"{type(exc).__name__}: {exc}")
    except ssl.SSLCertVerificationError as exc:
        why = f"the SMTP server's certificate is not trusted ({exc.verify_message}); give the CA in ca_file"
        return Attempt(False, False, why)
    except OSError as exc:  # connection refused, timeouts, DNS
        return Attempt(False, True, f"{type(exc).__name__}: {exc}")
    return Attempt(True)


TLS_MODES = ("none", "starttls", "implicit")
"""How an :class:`EmailReceiver` secures its connection: not at all, ``STARTTLS`` after connecting (port
587), or TLS from the first byte (port 465)."""


class EmailReceiver:
    """Sends :func:`email_message` over SMTP (stdlib ``smtplib``); 4xx SMTP replies and network errors
    are retried, 5xx are not (a refused login is a 535: not retried). ``tls`` is one of
    :data:`TLS_MODES`; the server's certificate is verified against the system's CAs, or ``ca_file``'s.
    With ``username``, it logs in (AUTH) before sending; ``starttls=True`` is ``tls="starttls"``."""

    def __init__(
        self,
        host: str,
        port: int,
        from_addr: str,
        to: str | Sequence[str],
        *,
        name: str = "email",
        tls: str = "none",
        starttls: bool = False,
        username: str | None = None,
        password: str | None = None,
        ca_file: str | None = None,
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        if tls not in TLS_MODES:
            raise ValueError(f"tls must be one of {', '.join(TLS_MODES)}, not {tls!r}")
        self.host, self.port, self.from_addr, self.name = host, port, from_addr, name
        self.to = [to] if isinstance(to, str) else list(to)
        self.tls = "starttls" if starttls and tls == "none" else tls
        self.username, self._password, self.ca_file = username, password, ca_file
        self.timeout, self.retry = timeout, retry or RetryPolicy()

    def __repr__(self) -> str:
        return f"EmailReceiver(name={self.name!r}, host={self.host!r}, port={self.port!r}, tls={self.tls!r})"

    def send(self, notification: Notification, *, now: float) -> Delivery:
        msg = email_message(notification, self.from_addr, self.to)

        def once() -> None:
            context = ssl.create_default_context(cafile=self.ca_file) if self.tls != "none" else None
            smtp = (
                smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
                if self.tls == "implicit"
                else smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            )
            with smtp:
                if self.tls == "starttls":
                    smtp.starttls(context=context)  # smtplib's own default would not check the certificate
                if self.username is not None:
                    smtp.login(self.username, self._password or "")
                smtp.send_message(msg, from_addr=self.from_addr, to_addrs=self.to)

        return run(lambda: _smtp_attempt(once), self.retry)


# ------------------------------------------------------------------------------------- alertmanager


def alertmanager_alerts(
    notification: Notification, *, now: float, default_alertname: str = "VigilAlert"
) -> list[dict[str, Any]]:
    """The body of ``POST /api/v2/alerts``: one entry per alert; ``endsAt`` only on resolved ones (a
    firing alert without it stays active for Alertmanager's ``resolve_timeout``: re-send it sooner)."""
    out: list[dict[str, Any]] = []
    for a in _alerts(notification):
        labels = dict(a.labels)
        labels.setdefault("alertname", default_alertname)
        entry: dict[str, Any] = {
            "labels": labels,
            "annotations": dict(a.annotations),
            "startsAt": rfc3339(a.starts_at),
        }
        generator = a.annotations.get("generator_url") or a.annotations.get("dashboard_url")
        if generator:
            entry["generatorURL"] = generator
        if a.status is AlertStatus.RESOLVED:
            entry["endsAt"] = rfc3339(_ends_at(a, now))
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
