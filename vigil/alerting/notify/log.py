"""The notification log: what was sent where, so a restart neither loses nor repeats a notification.

:func:`deliver` sends one notification to each receiver unless the log already holds a ``sent`` outcome
for (receiver name, group key, :func:`~vigil.alerting.notify.content.content_hash`), and records every
attempt's outcome. Failed deliveries leave no ``sent`` outcome, so calling :func:`deliver` again with the
same notification retries exactly those receivers. Delivery is at least once: a crash between a receiver's
success and its log write re-sends that one message. The log is :class:`StoreNotificationLog`, in the store
every server shares; :func:`log_delivery` writes one log line per receiver a notification went to.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from typing import Protocol, runtime_checkable

from vigil.alerting.dispatch.dispatcher import Notification
from vigil.alerting.notify.channel import Receiver
from vigil.alerting.notify.content import content_hash
from vigil.alerting.notify.retry import Delivery, DeliveryStatus
from vigil.store.base import Store

__all__ = ["LogEntry", "NotificationLog", "StoreNotificationLog", "deliver", "log_delivery"]

_logger = logging.getLogger("vigil.alerting")

LogEntry = tuple[str, str, str, float, str, int, str | None]
"""(receiver, group_key, content_hash, sent_at, status, attempts, error)."""


@runtime_checkable
class NotificationLog(Protocol):
    def was_sent(self, receiver: str, group_key: str, content_hash: str) -> bool: ...

    def record(
        self, receiver: str, group_key: str, content_hash: str, sent_at: float, delivery: Delivery
    ) -> None: ...


class StoreNotificationLog:
    """A :class:`NotificationLog` in the store's records (kind ``notification``), shared by every server
    using the store. One record per (receiver, group key, content hash) holds the latest outcome; a
    ``sent`` outcome is never overwritten."""

    KIND = "notification"

    def __init__(self, store: Store) -> None:
        self.store = store

    @staticmethod
    def _id(receiver: str, group_key: str, content_hash: str) -> str:
        return hashlib.sha256(f"{receiver}\x1f{group_key}\x1f{content_hash}".encode()).hexdigest()[:32]

    def was_sent(self, receiver: str, group_key: str, content_hash: str) -> bool:
        record = self.store.record(self.KIND, self._id(receiver, group_key, content_hash))
        return record is not None and json.loads(record.body)["status"] == DeliveryStatus.SENT.value

    def record(
        self, receiver: str, group_key: str, content_hash: str, sent_at: float, delivery: Delivery
    ) -> None:
        if delivery.status is DeliveryStatus.SKIPPED or self.was_sent(receiver, group_key, content_hash):
            return
        body = {
            "receiver": receiver,
            "group_key": group_key,
            "content_hash": content_hash,
            "sent_at": sent_at,
            "status": delivery.status.value,
            "attempts": delivery.attempts,
            "error": delivery.error,
        }
        self.store.put_record(
            self.KIND, self._id(receiver, group_key, content_hash), json.dumps(body), sent_at
        )

    def entries(self) -> list[LogEntry]:
        """The latest outcome per (receiver, group key, content), oldest first."""
        out: list[LogEntry] = []
        for r in self.store.records(self.KIND):
            b = json.loads(r.body)
            out.append(
                (
                    b["receiver"],
                    b["group_key"],
                    b["content_hash"],
                    b["sent_at"],
                    b["status"],
                    b["attempts"],
                    b["error"],
                )
            )
        return out


def deliver(
    notification: Notification, receivers: Iterable[Receiver], log: NotificationLog, now: float
) -> dict[str, Delivery]:
    """Send ``notification`` to each receiver not yet logged as having it; by receiver name.

    Already-sent ones come back ``SKIPPED`` (0 attempts) and are not re-logged. ``now`` (seconds) is the
    time recorded and handed to the receivers. Receiver names must be distinct.
    """
    targets = list(receivers)
    names = [r.name for r in targets]
    if len(set(names)) != len(names):
        raise ValueError(f"receiver names must be distinct, got {names!r}")
    digest = content_hash(notification)
    out: dict[str, Delivery] = {}
    for receiver in targets:
        if log.was_sent(receiver.name, notification.group_key, digest):
            out[receiver.name] = Delivery(DeliveryStatus.SKIPPED, 0)
            continue
        try:
            result = receiver.send(notification, now=now)
        except Exception as exc:  # a receiver bug must not stop the others or go unlogged
            result = Delivery(DeliveryStatus.FAILED, 1, f"{type(exc).__name__}: {exc}")
        log.record(receiver.name, notification.group_key, digest, now, result)
        out[receiver.name] = result
    return out


def log_delivery(notification: Notification, results: Mapping[str, Delivery]) -> None:
    """One line per receiver a notification went to: sent, or failed and why."""
    alerts = [a.labels.get("alertname", "") for a in (*notification.firing, *notification.resolved)]
    for receiver, delivery in sorted(results.items()):
        fields = {
            "receiver": receiver,
            "group": notification.group_key,
            "status": str(notification.status.value),
            "attempts": delivery.attempts,
        }
        what = f"{notification.status.value} notification for {', '.join(sorted(set(alerts)))}"
        if delivery.status is DeliveryStatus.SENT:
            _logger.info("sent %s to %s", what, receiver, extra={"event": "notification.sent", **fields})
        elif delivery.status is DeliveryStatus.FAILED:
            _logger.warning(
                "could not send %s to %s after %d attempts: %s",
                what,
                receiver,
                delivery.attempts,
                delivery.error,
                extra={"event": "notification.failed", "reason": delivery.error, **fields},
            )
