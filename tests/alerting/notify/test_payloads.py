"""Exact payload shapes and the facts every message carries, without I/O."""

from __future__ import annotations

import hashlib

from tests.alerting.notify.samples import (
    ANNOTATIONS,
    GROUP_KEY,
    LABELS,
    T0,
    firing_alert,
    firing_notification,
    resolved_notification,
)
from vigil.alerting.alert import Alert, AlertStatus
from vigil.alerting.dispatch.dispatcher import Notification, Reason
from vigil.alerting.notify import (
    alertmanager_alerts,
    content_hash,
    email_message,
    pagerduty_event,
    slack_message,
    summarize,
    webhook_payload,
)

DEDUP = hashlib.sha256(GROUP_KEY.encode()).hexdigest()


def test_summary_takes_the_conventional_annotations() -> None:
    s = summarize(firing_notification())
    assert (s.status, s.what, s.severity, s.since) == (
        "firing",
        "Feature drift on churn-model",
        "critical",
        T0,
    )
    assert (s.value, s.threshold, s.owner) == ("0.31", "0.2", "ml-platform")
    assert (s.runbook_url, s.dashboard_url) == (
        "https://runbooks.example/drift",
        "https://grafana.example/d/drift",
    )
    assert s.title == "[FIRING:1] Feature drift on churn-model (critical)"


def test_summary_falls_back_to_labels_and_the_runbook_key() -> None:
    alert = Alert(
        {"alertname": "Latency", "severity": "warning", "team": "serving"}, annotations={"runbook": "rb"}
    )
    n = Notification("r", "k", {}, (alert,), (), Reason.FIRST, 0.0)
    s = summarize(n)
    assert (s.what, s.severity, s.owner, s.runbook_url, s.value) == (
        "Latency",
        "warning",
        "serving",
        "rb",
        None,
    )


def test_group_severity_is_the_worst_firing_one() -> None:
    warn = Alert({"alertname": "A", "severity": "warning"})
    crit = Alert({"alertname": "A", "severity": "critical", "x": "1"})
    n = Notification("r", "k", {}, (warn, crit), (), Reason.FIRST, 0.0)
    assert summarize(n).severity == "critical"


def test_webhook_payload_is_alertmanager_v4() -> None:
    n = firing_notification()
    alert = n.firing[0]
    assert webhook_payload(n, now=T0 + 30, external_url="https://vigil.example") == {
        "version": "4",
        "groupKey": GROUP_KEY,
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "default",
        "groupLabels": {"alertname": "FeatureDrift"},
        "commonLabels": LABELS,
        "commonAnnotations": ANNOTATIONS,
        "externalURL": "https://vigil.example",
        "notification_reason": "first notification",
        "alerts": [
            {
                "status": "firing",
                "labels": LABELS,
                "annotations": ANNOTATIONS,
                "startsAt": "2026-01-01T00:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "https://grafana.example/d/drift",
                "fingerprint": alert.fingerprint,
            }
        ],
    }


def test_webhook_common_labels_and_truncation() -> None:
    a, b = firing_alert(model="m1"), firing_alert(model="m2")
    n = Notification("default", GROUP_KEY, {"alertname": "FeatureDrift"}, (a, b), (), Reason.FIRST, T0)
    body = webhook_payload(n, now=T0, max_alerts=1)
    assert body["commonLabels"] == {"alertname": "FeatureDrift", "severity": "critical"}
    assert (body["truncatedAlerts"], len(body["alerts"])) == (1, 1)


def test_webhook_resolved_alert_has_ends_at() -> None:
    body = webhook_payload(resolved_notification(), now=T0 + 630)
    assert body["status"] == "resolved"
    assert body["notification_reason"] == "all alerts resolved"
    assert (body["alerts"][0]["status"], body["alerts"][0]["endsAt"]) == ("resolved", "2026-01-01T00:10:00Z")


def test_slack_message_says_what_how_bad_since_value_owner_and_links() -> None:
    msg = slack_message(firing_notification())
    assert msg["text"] == (
        "[FIRING:1] Feature drift on churn-model (critical) | Severity: critical"
        " | Since: 2026-01-01T00:00:00Z | Value: 0.31 | Threshold: 0.2 | Owner: ml-platform | Runbook: https://runbooks.example/drift"
        " | Dashboard: https://grafana.example/d/drift"
    )
    blocks = msg["blocks"]
    assert [b["type"] for b in blocks] == ["section", "section", "section", "section", "context"]
    assert blocks[0]["text"] == {
        "type": "mrkdwn",
        "text": ":red_circle: *[FIRING:1] Feature drift on churn-model (critical)*",
    }
    assert blocks[1]["text"]["text"] == ANNOTATIONS["description"]
    assert [f["text"] for f in blocks[2]["fields"]] == [
        "*Severity:*\ncritical",
        "*Since:*\n2026-01-01T00:00:00Z",
        "*Value:*\n0.31",
        "*Threshold:*\n0.2",
        "*Owner:*\nml-platform",
    ]
    assert blocks[4]["elements"] == [
        {
            "type": "mrkdwn",
            "text": "<https://runbooks.example/drift|Runbook> · <https://grafana.example/d/drift|Dashboard>",
        }
    ]


def test_slack_escapes_mrkdwn() -> None:
    alert = Alert({"alertname": "A"}, annotations={"summary": "p<0.05 & x>1"})
    msg = slack_message(Notification("r", "k", {}, (alert,), (), Reason.FIRST, 0.0))
    assert "p&lt;0.05 &amp; x&gt;1" in msg["blocks"][0]["text"]["text"]


def test_pagerduty_trigger_event() -> None:
    event = pagerduty_event(firing_notification(), "R" * 32, client_url="https://vigil.example")
    assert event == {
        "routing_key": "R" * 32,
        "event_action": "trigger",
        "dedup_key": DEDUP,
        "client": "Vigil",
        "client_url": "https://vigil.example",
        "links": [
            {"href": "https://runbooks.example/drift", "text": "Runbook"},
            {"href": "https://grafana.example/d/drift", "text": "Dashboard"},
        ],
        "payload": {
            "summary": "[FIRING:1] Feature drift on churn-model (critical)",
            "source": "churn-model",
            "severity": "critical",
            "timestamp": "2026-01-01T00:00:00Z",
            "class": "FeatureDrift",
            "component": "churn-model",
            "custom_details": {
                "firing": event["payload"]["custom_details"]["firing"],
                "num_firing": 1,
                "num_resolved": 0,
                "group_labels": {"alertname": "FeatureDrift"},
                "notification_reason": "first notification",
                "description": ANNOTATIONS["description"],
                "value": "0.31",
                "threshold": "0.2",
                "owner": "ml-platform",
                "runbook_url": "https://runbooks.example/drift",
                "dashboard_url": "https://grafana.example/d/drift",
            },
        },
    }
    assert "value 0.31 (threshold 0.2)" in event["payload"]["custom_details"]["firing"]


def test_pagerduty_severity_mapping_and_resolve() -> None:
    assert pagerduty_event(firing_notification(severity="warning"), "k")["payload"]["severity"] == "warning"
    assert pagerduty_event(firing_notification(severity="page"), "k")["payload"]["severity"] == "critical"
    assert pagerduty_event(resolved_notification(), "k") == {
        "routing_key": "k",
        "event_action": "resolve",
        "dedup_key": DEDUP,
    }


def test_alertmanager_alerts_set_ends_at_only_on_resolve() -> None:
    firing = alertmanager_alerts(firing_notification(), now=T0 + 30)
    assert firing == [
        {
            "labels": LABELS,
            "annotations": ANNOTATIONS,
            "startsAt": "2026-01-01T00:00:00Z",
            "generatorURL": "https://grafana.example/d/drift",
        }
    ]
    resolved = alertmanager_alerts(resolved_notification(), now=T0 + 630)
    assert resolved[0]["endsAt"] == "2026-01-01T00:10:00Z"
    no_name = Notification("r", "k", {}, (Alert({"severity": "warning"}),), (), Reason.FIRST, 0.0)
    assert alertmanager_alerts(no_name, now=0.0)[0]["labels"] == {
        "alertname": "VigilAlert",
        "severity": "warning",
    }


def test_email_message_has_plain_and_html() -> None:
    msg = email_message(firing_notification(), "vigil@example.org", ["oncall@example.org"])
    assert msg["Subject"] == "[FIRING:1] Feature drift on churn-model (critical)"
    plain = msg.get_body(("plain",))
    rich = msg.get_body(("html",))
    assert plain is not None and rich is not None
    text, markup = plain.get_content(), rich.get_content()
    for needle in (
        "Severity: critical",
        "Value: 0.31",
        "Threshold: 0.2",
        "Owner: ml-platform",
        "Runbook: https://runbooks.example/drift",
    ):
        assert needle in text
    assert "<a href='https://grafana.example/d/drift'>" in markup


def test_content_hash_ignores_annotations_and_time_but_not_alerts() -> None:
    n = firing_notification()
    later = Notification(n.receiver, n.group_key, n.group_labels, n.firing, (), Reason.NEW_ALERTS, n.at + 300)
    drifted = Notification(
        n.receiver,
        n.group_key,
        n.group_labels,
        (Alert(LABELS, AlertStatus.FIRING, T0, None, {"value": "0.4"}),),
        (),
        Reason.FIRST,
        n.at,
    )
    assert content_hash(n) == content_hash(later) == content_hash(drifted)
    assert content_hash(n) != content_hash(resolved_notification())
    assert content_hash(n) != content_hash(firing_notification(model="other"))
    repeat1 = Notification(n.receiver, n.group_key, n.group_labels, n.firing, (), Reason.REPEAT, n.at + 14400)
    repeat2 = Notification(n.receiver, n.group_key, n.group_labels, n.firing, (), Reason.REPEAT, n.at + 28800)
    assert len({content_hash(n), content_hash(repeat1), content_hash(repeat2)}) == 3
