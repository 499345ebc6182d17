"""Signal counting: distinct rules per model, severity floors, resolved alerts ignored."""

from __future__ import annotations

from tests.actions.conftest import alert
from vigil.actions import Trigger, check_trigger
from vigil.actions.triggers import signal_models
from vigil.alerting.alert import Alert, AlertStatus
from vigil.alerting.state import Severity

WHEN = Trigger(alerts=("AccuracyDrop", "DriftShareHigh"), min_signals=2)


def test_one_signal_is_not_enough() -> None:
    check = check_trigger(WHEN, "credit", [alert("AccuracyDrop")])
    assert not check.fires
    assert check.why == "needs 2 distinct signals, have 1 (AccuracyDrop)"


def test_two_distinct_rules_fire() -> None:
    check = check_trigger(WHEN, "credit", [alert("DriftShareHigh"), alert("AccuracyDrop")])
    assert check.fires
    assert [s.alertname for s in check.signals] == ["AccuracyDrop", "DriftShareHigh"]
    assert check.why == "2 distinct signals: AccuracyDrop, DriftShareHigh"


def test_the_same_rule_on_two_severities_counts_once() -> None:
    warning = alert("AccuracyDrop", severity="warning", starts_at=100)
    critical = alert("AccuracyDrop", severity="critical", starts_at=200)
    check = check_trigger(WHEN, "credit", [warning, critical])
    assert not check.fires and len(check.signals) == 1
    assert check.signals[0].severity == "critical"  # the most severe represents the rule
    assert check.signals[0].fingerprint == critical.fingerprint


def test_other_models_unlisted_rules_and_resolved_alerts_do_not_count() -> None:
    resolved = Alert(dict(alert("DriftShareHigh").labels), AlertStatus.RESOLVED, 0.0, 10.0)
    firing = [alert("AccuracyDrop"), alert("DriftShareHigh", model="loans"), alert("ErrorRateHigh"), resolved]
    check = check_trigger(WHEN, "credit", firing)
    assert not check.fires and [s.alertname for s in check.signals] == ["AccuracyDrop"]
    assert signal_models(WHEN, firing) == ["credit", "loans"]


def test_severity_floor() -> None:
    when = Trigger(alerts=("AccuracyDrop", "DriftShareHigh"), severity=Severity.CRITICAL)
    firing = [alert("AccuracyDrop", severity="critical"), alert("DriftShareHigh", severity="warning")]
    check = check_trigger(when, "credit", firing)
    assert not check.fires
    assert check.why == "needs 2 distinct signals at critical or above, have 1 (AccuracyDrop)"
    firing.append(alert("DriftShareHigh", severity="critical"))
    assert check_trigger(when, "credit", firing).fires
