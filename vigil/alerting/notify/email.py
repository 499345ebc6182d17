"""E-mail over SMTP: plain text and HTML, STARTTLS or implicit TLS, with a login
(``{name: mail, email: {host: smtp.example.com, port: 587, from: ..., to: [...]}}``)."""

from __future__ import annotations

import html
import smtplib
import ssl
from collections.abc import Callable, Sequence
from email.message import EmailMessage
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from vigil.alerting.dispatch.dispatcher import Notification
from vigil.alerting.notify.channel import (
    MAX_LISTED,
    ChannelConfig,
    Receiver,
    alert_line,
    alerts_of,
    text_lines,
)
from vigil.alerting.notify.content import summarize
from vigil.alerting.notify.retry import Attempt, Delivery, RetryPolicy, run
from vigil.errors import Invalid, Issue
from vigil.spec import expand_env

__all__ = ["TLS_MODES", "EmailConfig", "EmailReceiver", "EmailSettings", "email_message"]


def email_message(notification: Notification, sender: str, to: Sequence[str]) -> EmailMessage:
    """A multipart/alternative e-mail: plain text and a simple HTML table, subject = the title."""
    s = summarize(notification)
    msg = EmailMessage()
    msg["Subject"] = s.title
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg.set_content("\n".join(text_lines(notification, s)) + "\n")
    rows = "".join(
        f"<tr><th align='left'>{html.escape(name)}</th><td>{_html_value(name, text)}</td></tr>"
        for name, text in s.facts()
    )
    items = "".join(f"<li>{html.escape(alert_line(a))}</li>" for a in alerts_of(notification)[:MAX_LISTED])
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


_FromEnv = Annotated[str | None, BeforeValidator(expand_env)]


class EmailSettings(BaseModel):
    """The ``email:`` mapping of a receiver."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    host: str
    port: int = 25
    sender: str = Field(alias="from")
    to: list[str]
    tls: Literal["none", "starttls", "implicit"] | None = None
    """None: implicit on port 465, starttls on 587, else none."""
    username: _FromEnv = None
    password: _FromEnv = None
    ca_file: str | None = None

    @model_validator(mode="after")
    def _secure_login(self) -> EmailSettings:
        if self.tls is None:
            self.tls = "implicit" if self.port == 465 else "starttls" if self.port == 587 else "none"
        if self.password is not None and self.username is None:
            raise Invalid(Issue("a password without a username", "give username too", ("password",)))
        if self.username is not None and self.tls == "none":
            raise Invalid(
                Issue(
                    "logging in without TLS would send the password in clear; set tls: starttls "
                    "(port 587) or tls: implicit (port 465)",
                    "or leave username and password out",
                    ("tls",),
                )
            )
        return self


class EmailConfig(ChannelConfig):
    CHANNEL: ClassVar[str] = "email"
    email: EmailSettings

    def build(self, external_url: str) -> Receiver:
        e = self.email
        return EmailReceiver(
            e.host,
            e.port,
            e.sender,
            e.to,
            name=self.name,
            tls=e.tls or "none",
            username=e.username,
            password=e.password,
            ca_file=e.ca_file,
        )
