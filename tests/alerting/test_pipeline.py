"""End to end on a fake clock: evaluate -> alerts -> dispatch, with inhibition and silences as muters."""

from __future__ import annotations

from vigil.alerting.alert import Alert, AlertStatus, alerts_for
from vigil.alerting.dispatch.dispatcher import Dispatcher, Notification, Reason, Route
from vigil.alerting.matchers import parse_matcher
from vigil.alerting.mute import AnyMuter
from vigil.alerting.mute.inhibit import Inhibitor, InhibitRule
from vigil.alerting.mute.silences import Silence, Silences
from vigil.alerting.state import AlertState, Phase, Severity, Timing, step

W, C = Severity.WARNING, Severity.CRITICAL


def test_condition_true_at_0_for_5m_fires_at_5m_and_notifies_at_5m_plus_group_wait() -> None:
    labels = {"alertname": "AccuracyLow", "model": "fraud"}
    state = AlertState(timing=Timing(for_warning=300))
    dispatcher = Dispatcher(Route(group_by=("alertname", "model")))
    sent: list[tuple[float, Notification]] = []
    for t in range(0, 1200, 15):  # evaluate every 15s; condition true until t=600
        prev, state = state, step(state, W if t < 600 else None, 0.8, now=t)
        if t < 300:
            assert state.phase is Phase.PENDING
        dispatcher.receive(alerts_for(labels, prev, state), t)
        sent.extend((t, n) for n in dispatcher.flush(t))
    assert [(t, n.reason, n.status) for t, n in sent] == [
        (330, Reason.FIRST, AlertStatus.FIRING),
        (630, Reason.ALL_RESOLVED, AlertStatus.RESOLVED),  # resolved at 600, next tick 630
    ]
    (resolved,) = sent[1][1].resolved
    assert (resolved.starts_at, resolved.ends_at, resolved.labels["severity"]) == (300, 600, "warning")


def test_escalation_resolves_the_warning_alert_and_fires_the_critical_one() -> None:
    labels = {"alertname": "AccuracyLow", "model": "fraud"}
    prev = step(AlertState(), W, 0.9, now=0)
    new = step(prev, C, 0.7, now=60)
    out = alerts_for(labels, prev, new)
    assert [(a.labels["severity"], a.status, a.starts_at, a.ends_at) for a in out] == [
        ("warning", AlertStatus.RESOLVED, 0, 60),
        ("critical", AlertStatus.FIRING, 0, None),
    ]
    assert alerts_for(labels, AlertState(), step(AlertState(timing=Timing(for_warning=60)), W, 1, 0)) == []


def test_inhibited_and_silenced_alerts_stay_out_of_notifications() -> None:
    fraud_nodata = Alert({"alertname": "NoData", "model": "fraud", "severity": "critical"})
    fraud_drift = Alert({"alertname": "Drift", "kind": "drift", "model": "fraud", "severity": "warning"})
    churn_drift = Alert({"alertname": "Drift", "kind": "drift", "model": "churn", "severity": "warning"})
    latency = Alert({"alertname": "Latency", "model": "churn", "severity": "warning"})
    rule = InhibitRule((parse_matcher('alertname="NoData"'),), (parse_matcher('kind="drift"'),), ("model",))
    silences = Silences([Silence((parse_matcher('alertname="Latency"'),), 0, 3600, "ana", "load test")])

    dispatcher = Dispatcher(Route(group_by=("...",)))
    dispatcher.receive([fraud_nodata, fraud_drift, churn_drift, latency], now=0)
    firing = [a.labels for a in dispatcher.alerts() if a.status is AlertStatus.FIRING]
    muter = AnyMuter((Inhibitor([rule], firing), silences))
    sent = dispatcher.flush(30, muter)
    assert sorted(n.firing[0].labels["alertname"] + "/" + n.firing[0].labels["model"] for n in sent) == [
        "Drift/churn",
        "NoData/fraud",
    ]
