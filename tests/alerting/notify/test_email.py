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


# -- login and TLS, configured in vigil.yaml ---------------------------------------------------------------


class _Accounts:
    """aiosmtpd's authenticator: one user, and every attempt recorded."""

    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user.encode(), password.encode()
        self.tried: list[tuple[str, bytes]] = []

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> Any:
        from aiosmtpd.smtp import AuthResult, LoginPassword

        assert isinstance(auth_data, LoginPassword)
        self.tried.append((mechanism, auth_data.login))
        ok = (auth_data.login, auth_data.password) == (self.user, self.password)
        return AuthResult(success=ok, handled=False)  # not handled: aiosmtpd answers 535 itself


@pytest.fixture
def certificates(tmp_path: Any) -> tuple[Any, str]:
    """(the server's TLS context for 127.0.0.1, the path of the CA that signed it): made in the test."""
    import ssl

    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return context, str(path)


def _receiver_from_yaml(port: int, tls: str, ca_file: str, password: str = "${SMTP_PASSWORD}") -> Any:
    from vigil.alerting.receivers import build_receivers
    from vigil.alerting.settings import load_alerting
    from vigil.config import parse_config

    config = parse_config(f"""
alerting:
  receivers:
    - name: mail
      email: {{host: 127.0.0.1, port: {port}, from: vigil@example.org, to: [oncall@example.org],
              tls: {tls}, username: "${{SMTP_USER}}", password: "{password}", ca_file: "{ca_file}"}}
""")
    [receiver] = build_receivers(load_alerting(config))
    return receiver


@pytest.mark.parametrize("tls", ["starttls", "implicit"])
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # implicit: TLS from the start
def test_email_logs_in_over_tls_as_configured(
    tls: str, certificates: tuple[Any, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from aiosmtpd.controller import Controller

    context, ca_file = certificates
    monkeypatch.setenv("SMTP_USER", "vigil-bot")
    monkeypatch.setenv("SMTP_PASSWORD", "s3cret pass")
    inbox, accounts = Inbox(), _Accounts("vigil-bot", "s3cret pass")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    secure: dict[str, Any] = (
        {"tls_context": context, "require_starttls": True} if tls == "starttls" else {"ssl_context": context}
    )
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=accounts,
        auth_require_tls=tls == "starttls",  # aiosmtpd does not see implicit TLS; the socket is TLS anyway
        auth_required=True,
        **secure,
    )
    controller.start()
    try:
        receiver = _receiver_from_yaml(port, tls, ca_file)
        assert "s3cret" not in repr(receiver)
        result = receiver.send(firing_notification(), now=0.0)
        assert result.status is DeliveryStatus.SENT, result.error
        assert accounts.tried and accounts.tried[-1][1] == b"vigil-bot"
        [(sender, rcpts, msg)] = inbox.messages
        assert (sender, rcpts) == ("vigil@example.org", ["oncall@example.org"])
        assert "FIRING" in str(msg["Subject"])

        wrong = _receiver_from_yaml(port, tls, ca_file, password="not it").send(
            firing_notification(), now=0.0
        )
        assert wrong.status is not DeliveryStatus.SENT and "535" in str(wrong.error)
        assert wrong.attempts == 1  # a refused login is not retried
        assert len(inbox.messages) == 1
    finally:
        controller.stop()


def test_email_refuses_an_untrusted_certificate_and_a_login_in_clear(
    certificates: tuple[Any, str], tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aiosmtpd.controller import Controller

    from vigil.errors import ConfigError

    context, _ = certificates
    monkeypatch.setenv("SMTP_USER", "u")
    monkeypatch.setenv("SMTP_PASSWORD", "p")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=context)
    controller.start()
    try:
        stranger = tmp_path / "other-ca.pem"
        pytest.importorskip("trustme").CA().cert_pem.write_to_path(str(stranger))
        result = _receiver_from_yaml(port, "starttls", str(stranger)).send(firing_notification(), now=0.0)
        assert result.status is not DeliveryStatus.SENT and "certificate is not trusted" in str(result.error)
        assert inbox.messages == []
    finally:
        controller.stop()
    with pytest.raises(ConfigError, match="password in clear; set tls: starttls"):
        _receiver_from_yaml(port, "none", "x")
