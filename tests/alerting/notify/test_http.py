"""Receivers against a local recording HTTP server: exact bodies, retries, no retry on 4xx, and the
notification log across a restart."""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.alerting.notify.conftest import FakeTime, RecordingServer
from tests.alerting.notify.samples import GROUP_KEY, T0, firing_notification, resolved_notification
from vigil.alerting.dispatch.dispatcher import Notification
from vigil.alerting.notify import (
    Delivery,
    DeliveryStatus,
    PagerDutyReceiver,
    Receiver,
    RetryPolicy,
    SlackReceiver,
    StoreNotificationLog,
    WebhookReceiver,
    content_hash,
    deliver,
    slack_message,
    webhook_payload,
)
from vigil.store.sqlite import SQLiteStore

SENT, FAILED, SKIPPED = DeliveryStatus.SENT, DeliveryStatus.FAILED, DeliveryStatus.SKIPPED


@contextmanager
def notification_log(path: Path) -> Iterator[StoreNotificationLog]:
    """The notification log in an embedded store at ``path``; opening it again is a restart."""
    store = SQLiteStore(path)
    try:
        yield StoreNotificationLog(store)
    finally:
        store.close()


def test_webhook_posts_the_v4_json(server: RecordingServer, policy: RetryPolicy) -> None:
    n = firing_notification()
    result = WebhookReceiver(f"{server.url}/hook", retry=policy).send(n, now=T0 + 30)
    assert result == Delivery(SENT, 1)
    [req] = server.requests
    assert (req.method, req.path, req.headers["Content-Type"]) == ("POST", "/hook", "application/json")
    assert req.json() == webhook_payload(n, now=T0 + 30)
    assert req.json()["alerts"][0]["fingerprint"] == n.firing[0].fingerprint


def test_slack_posts_text_and_blocks(server: RecordingServer, policy: RetryPolicy) -> None:
    n = firing_notification()
    assert SlackReceiver(f"{server.url}/services/T/B/X", retry=policy).send(n, now=T0).status is SENT
    body = server.requests[0].json()
    assert body == slack_message(n)
    assert body["text"].startswith("[FIRING:1] Feature drift on churn-model (critical)")
    assert "<https://runbooks.example/drift|Runbook>" in body["blocks"][-1]["elements"][0]["text"]


def test_pagerduty_triggers_then_resolves_with_one_dedup_key(
    server: RecordingServer, policy: RetryPolicy
) -> None:
    server.reply(202, b'{"status":"success"}')
    server.reply(202, b'{"status":"success"}')
    pd = PagerDutyReceiver("k" * 32, url=f"{server.url}/v2/enqueue", retry=policy)
    assert pd.send(firing_notification(), now=T0).status is SENT
    assert pd.send(resolved_notification(), now=T0 + 630).status is SENT
    trigger, resolve = (r.json() for r in server.requests)
    key = hashlib.sha256(GROUP_KEY.encode()).hexdigest()
    assert (trigger["event_action"], trigger["dedup_key"], trigger["routing_key"]) == (
        "trigger",
        key,
        "k" * 32,
    )
    assert trigger["payload"]["severity"] == "critical"
    assert trigger["payload"]["summary"] == "[FIRING:1] Feature drift on churn-model (critical)"
    assert [link["text"] for link in trigger["links"]] == ["Runbook", "Dashboard"]
    assert resolve == {"routing_key": "k" * 32, "event_action": "resolve", "dedup_key": key}
    assert "k" * 32 not in repr(pd)


def test_retries_after_503_then_succeeds_once(
    server: RecordingServer, policy: RetryPolicy, fake_time: FakeTime
) -> None:
    server.reply(503, b"busy")
    server.reply(503, b"busy")
    result = WebhookReceiver(server.url, retry=policy).send(firing_notification(), now=T0)
    assert result == Delivery(SENT, 3)
    assert len(server.requests) == 3  # two refused, one accepted: nothing delivered twice
    assert fake_time.sleeps == [1.0, 2.0]  # exponential


def test_jitter_shortens_the_delay_within_bounds(fake_time: FakeTime) -> None:
    policy = RetryPolicy(
        initial_delay=4.0, jitter=0.5, rng=lambda: 1.0, sleep=fake_time.sleep, clock=fake_time.clock
    )
    assert policy.delay(1) == 2.0
    assert policy.delay(3) == 8.0
    assert policy.delay(1, retry_after=10.0) == 10.0


def test_429_honours_retry_after(server: RecordingServer, policy: RetryPolicy, fake_time: FakeTime) -> None:
    server.reply(429, b"slow down", {"Retry-After": "7"})
    assert SlackReceiver(server.url, retry=policy).send(firing_notification(), now=T0) == Delivery(SENT, 2)
    assert fake_time.sleeps == [7.0]


def test_no_retry_on_400(server: RecordingServer, policy: RetryPolicy, fake_time: FakeTime) -> None:
    server.reply(400, b"invalid_payload")
    result = SlackReceiver(server.url, retry=policy).send(firing_notification(), now=T0)
    assert (result.status, result.attempts) == (FAILED, 1)
    assert result.error == "HTTP 400: invalid_payload"
    assert len(server.requests) == 1 and fake_time.sleeps == []


def test_gives_up_after_max_attempts(
    server: RecordingServer, policy: RetryPolicy, fake_time: FakeTime
) -> None:
    for _ in range(5):
        server.reply(500, b"oops")
    result = WebhookReceiver(server.url, retry=policy).send(firing_notification(), now=T0)
    assert (result.status, result.attempts, result.error) == (FAILED, 4, "HTTP 500: oops")
    assert fake_time.sleeps == [1.0, 2.0, 4.0]


def test_connect_errors_are_retried(policy: RetryPolicy, fake_time: FakeTime) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = WebhookReceiver(f"http://127.0.0.1:{port}/", retry=policy).send(firing_notification(), now=T0)
    assert (result.status, result.attempts) == (FAILED, 4)
    assert result.error is not None and result.error.startswith("ConnectError")


def test_max_elapsed_stops_retrying(server: RecordingServer, fake_time: FakeTime) -> None:
    for _ in range(5):
        server.reply(503)
    policy = RetryPolicy(
        max_attempts=10,
        initial_delay=10.0,
        max_elapsed=25.0,
        rng=lambda: 0.0,
        sleep=fake_time.sleep,
        clock=fake_time.clock,
    )
    result = WebhookReceiver(server.url, retry=policy).send(firing_notification(), now=T0)
    assert (result.status, result.attempts, fake_time.sleeps) == (FAILED, 2, [10.0])


def test_deliver_is_idempotent_across_a_restart(
    server: RecordingServer, policy: RetryPolicy, tmp_path: Path
) -> None:
    db = tmp_path / "nflog.sqlite"
    n = firing_notification()
    receivers: list[Receiver] = [
        WebhookReceiver(f"{server.url}/hook", retry=policy),
        SlackReceiver(f"{server.url}/slack", retry=policy),
    ]
    with notification_log(db) as log:
        first = deliver(n, receivers, log, now=T0 + 30)
    assert first == {"webhook": Delivery(SENT, 1), "slack": Delivery(SENT, 1)}
    with notification_log(db) as log:  # "restart": a new log object on the same file
        again = deliver(n, receivers, log, now=T0 + 60)
        assert again == {"webhook": Delivery(SKIPPED, 0), "slack": Delivery(SKIPPED, 0)}
        assert sorted((r, g, h, t, s) for r, g, h, t, s, _, _ in log.entries()) == sorted(
            [
                ("webhook", GROUP_KEY, content_hash(n), T0 + 30, "sent"),
                ("slack", GROUP_KEY, content_hash(n), T0 + 30, "sent"),
            ]
        )
        resolved = deliver(resolved_notification(), receivers, log, now=T0 + 630)
    assert resolved == {"webhook": Delivery(SENT, 1), "slack": Delivery(SENT, 1)}
    assert [r.path for r in server.requests] == ["/hook", "/slack", "/hook", "/slack"]


def test_failed_delivery_is_retried_on_the_next_call_only_where_it_failed(
    server: RecordingServer, tmp_path: Path, fake_time: FakeTime
) -> None:
    once = RetryPolicy(max_attempts=1, sleep=fake_time.sleep, clock=fake_time.clock)
    n = firing_notification()
    receivers: list[Receiver] = [
        WebhookReceiver(f"{server.url}/hook", retry=once),
        SlackReceiver(f"{server.url}/slack", retry=once),
    ]
    server.reply(200)
    server.reply(503, b"down")
    with notification_log(tmp_path / "log.db") as log:
        first = deliver(n, receivers, log, now=T0)
        # the log keeps each receiver's latest outcome: the failure, with why
        assert {e[0]: (e[4], e[6]) for e in log.entries()} == {
            "webhook": ("sent", None),
            "slack": ("failed", "HTTP 503: down"),
        }
    assert (first["webhook"].status, first["slack"].status) == (SENT, FAILED)
    with notification_log(tmp_path / "log.db") as log:
        second = deliver(n, receivers, log, now=T0 + 60)
        assert second == {"webhook": Delivery(SKIPPED, 0), "slack": Delivery(SENT, 1)}
        assert {e[0]: e[4] for e in log.entries()} == {"webhook": "sent", "slack": "sent"}
    assert [r.path for r in server.requests] == ["/hook", "/slack", "/slack"]


def test_a_crashing_receiver_is_logged_and_does_not_stop_the_others(
    server: RecordingServer, policy: RetryPolicy, tmp_path: Path
) -> None:
    class Broken:
        name = "broken"

        def send(self, notification: Notification, *, now: float) -> Delivery:
            raise RuntimeError("bug")

    with notification_log(tmp_path / "log.db") as log:
        out = deliver(
            firing_notification(), [Broken(), WebhookReceiver(server.url, retry=policy)], log, now=T0
        )
    assert out["broken"] == Delivery(FAILED, 1, "RuntimeError: bug")
    assert out["webhook"].status is SENT


def test_receiver_names_must_be_distinct(server: RecordingServer, tmp_path: Path) -> None:
    with notification_log(tmp_path / "log.db") as log, pytest.raises(ValueError, match="distinct"):
        deliver(
            firing_notification(), [WebhookReceiver(server.url), WebhookReceiver(server.url)], log, now=T0
        )
