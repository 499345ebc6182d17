"""Sample alerts and notifications shared by the notify tests."""

from __future__ import annotations

from vigil.alerting.alert import Alert, AlertStatus
from vigil.alerting.dispatch.dispatcher import Notification, Reason

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z

ANNOTATIONS = {
    "summary": "Feature drift on churn-model",
    "description": "PSI of feature tenure exceeded its threshold",
    "value": "0.31",
    "threshold": "0.2",
    "owner": "ml-platform",
    "runbook_url": "https://runbooks.example/drift",
    "dashboard_url": "https://grafana.example/d/drift",
}
LABELS = {"alertname": "FeatureDrift", "model": "churn-model", "severity": "critical"}
GROUP_KEY = 'default:{alertname="FeatureDrift"}'


def firing_alert(**labels: str) -> Alert:
    return Alert({**LABELS, **labels}, AlertStatus.FIRING, T0, None, ANNOTATIONS)


def firing_notification(**labels: str) -> Notification:
    return Notification(
        "default",
        GROUP_KEY,
        {"alertname": "FeatureDrift"},
        (firing_alert(**labels),),
        (),
        Reason.FIRST,
        T0 + 30,
    )


def resolved_notification(**labels: str) -> Notification:
    alert = Alert({**LABELS, **labels}, AlertStatus.RESOLVED, T0, T0 + 600, ANNOTATIONS)
    return Notification(
        "default", GROUP_KEY, {"alertname": "FeatureDrift"}, (), (alert,), Reason.ALL_RESOLVED, T0 + 630
    )
