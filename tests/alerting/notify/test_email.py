"""E-mail over SMTP to an in-process aiosmtpd server."""

from __future__ import annotations

import email
import socket
from collections.abc import Iterator
from email.message import Message
from typing import Any

import pytest

from tests.alerting.notify.samples import firing_notification, resolved_notification
from vigil.alerting.notify import DeliveryStatus, EmailReceiver, RetryPolicy

aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller", reason="aiosmtpd (dev extra) not installed")


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], Message]] = []
        self.reply: str | None = None  # e.g. "550 no such user" to refuse

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.reply is not None:
            return self.reply
        self.messages.append(
            (envelope.mail_from, list(envelope.rcpt_tos), email.message_from_bytes(envelope.content))
        )
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = aiosmtpd_controller.Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def _parts(msg: Message) -> dict[str, str]:
    out = {}
    for part in msg.walk():
        if part.get_content_maintype() == "text":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            out[part.get_content_subtype()] = payload.decode(part.get_content_charset() or "utf-8")
    return out


def test_email_says_what_severity_and_runbook(smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    receiver = EmailReceiver("127.0.0.1", port, "vigil@example.org", ["oncall@example.org", "ml@example.org"])
    result = receiver.send(firing_notification(), now=0.0)
    assert (result.status, result.attempts) == (DeliveryStatus.SENT, 1)
    [(sender, rcpts, msg)] = inbox.messages
    assert (sender, rcpts) == ("vigil@example.org", ["oncall@example.org", "ml@example.org"])
    assert msg["Subject"] == "[FIRING:1] Feature drift on churn-model (critical)"
    parts = _parts(msg)
    assert set(parts) == {"plain", "html"}
    for needle in (
        "Feature drift on churn-model",
        "Severity: critical",
        "Since: 2026-01-01T00:00:00Z",
        "Value: 0.31",
        "Threshold: 0.2",
        "Owner: ml-platform",
        "Runbook: https://runbooks.example/drift",
        "Dashboard: https://grafana.example/d/drift",
    ):
        assert needle in parts["plain"]
    assert "https://runbooks.example/drift" in parts["html"] and "critical" in parts["html"]


def test_resolved_email(smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    EmailReceiver("127.0.0.1", port, "vigil@example.org", "oncall@example.org").send(
        resolved_notification(), now=0.0
    )
    assert inbox.messages[0][2]["Subject"] == "[RESOLVED:1] Feature drift on churn-model (critical)"


def test_smtp_5xx_is_not_retried(smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    inbox.reply = "554 rejected"
    sleeps: list[float] = []
    receiver = EmailReceiver(
        "127.0.0.1", port, "a@example.org", "b@example.org", retry=RetryPolicy(sleep=sleeps.append)
    )
    result = receiver.send(firing_notification(), now=0.0)
    assert (result.status, result.attempts, sleeps) == (DeliveryStatus.FAILED, 1, [])


def test_smtp_4xx_is_retried(smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    inbox.reply = "451 try later"
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:  # the server recovers while we back off
        sleeps.append(seconds)
        inbox.reply = None

    policy = RetryPolicy(max_attempts=2, sleep=sleep)
    result = EmailReceiver("127.0.0.1", port, "a@example.org", "b@example.org", retry=policy).send(
        firing_notification(), now=0.0
    )
    assert (result.status, result.attempts, len(sleeps), len(inbox.messages)) == (
        DeliveryStatus.SENT,
        2,
        1,
        1,
    )
