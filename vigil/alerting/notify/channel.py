"""What every channel shares: the :class:`Receiver` protocol, the config entry of a receiver, and the
lines a message lists its alerts with.

Each channel (one module beside this one: webhook, slack, pagerduty, email, alertmanager) has a receiver with
a ``name`` (the notification log's key: give two receivers of one kind distinct names) and
``send(notification, *, now) -> Delivery``, retrying per its
:class:`~vigil.alerting.notify.retry.RetryPolicy`, and a :class:`ChannelConfig` for its entry under
``alerting.receivers`` (registered in :mod:`vigil.alerting.notify.registry`). URLs, routing keys and passwords
are secrets: they never appear in a receiver's ``name`` or ``repr``.
"""

from __future__ import annotations

from typing import ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from vigil.alerting.alert import Alert
from vigil.alerting.dispatch.dispatcher import Notification
from vigil.alerting.notify.content import Summary
from vigil.alerting.notify.retry import Delivery

__all__ = [
    "MAX_LISTED",
    "ChannelConfig",
    "Receiver",
    "alert_line",
    "alerts_of",
    "clip",
    "ends_at",
    "text_lines",
]

MAX_LISTED = 10  # alerts listed one by one in Slack/e-mail before "and N more"


@runtime_checkable
class Receiver(Protocol):
    """Sends notifications somewhere; ``name`` keys the notification log."""

    name: str

    def send(self, notification: Notification, *, now: float) -> Delivery: ...


class ChannelConfig(BaseModel):
    """One entry of ``alerting.receivers``: its ``name`` and the key of its channel (``CHANNEL``)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    CHANNEL: ClassVar[str]

    name: str

    def build(self, external_url: str) -> Receiver:
        """The receiver this entry describes (``external_url``: the ``alerting.external_url``)."""
        raise NotImplementedError


def alerts_of(notification: Notification) -> tuple[Alert, ...]:
    """The firing alerts, then the resolved ones."""
    return (*notification.firing, *notification.resolved)


def ends_at(alert: Alert, now: float) -> float:
    """When the alert ended, or ``now`` while it has not."""
    return alert.ends_at if alert.ends_at is not None else now


def alert_line(alert: Alert) -> str:
    """``firing: <summary> value v (threshold t) [labels]``: one alert in a message."""
    name = alert.annotations.get("summary") or alert.labels.get("alertname", alert.fingerprint[:12])
    extra = ", ".join(f"{k}={v}" for k, v in sorted(alert.labels.items()) if k not in ("alertname",))
    value = alert.annotations.get("value")
    threshold = alert.annotations.get("threshold")
    numbers = f" value {value}" if value else ""
    numbers += f" (threshold {threshold})" if threshold else ""
    return f"{alert.status.value}: {name}{numbers} [{extra}]"


def text_lines(notification: Notification, summary: Summary) -> list[str]:
    """A plain-text message: title, description, facts, and the alerts (at most ``MAX_LISTED``)."""
    lines = [summary.title]
    if summary.description:
        lines.append(summary.description)
    lines += [f"{name}: {text}" for name, text in summary.facts()]
    alerts = alerts_of(notification)
    lines.append(f"Alerts ({summary.n_firing} firing, {summary.n_resolved} resolved):")
    lines += [f"- {alert_line(a)}" for a in alerts[:MAX_LISTED]]
    if len(alerts) > MAX_LISTED:
        lines.append(f"- and {len(alerts) - MAX_LISTED} more")
    return lines


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
