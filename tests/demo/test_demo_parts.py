"""The demo's pieces without a live run: its rules load, e-mails are read back, delays are attributed."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

import httpx
import pytest

from vigil.alerting.receivers import build_receivers
from vigil.alerting.rules import parse_rules
from vigil.alerting.settings import load_alerting
from vigil.config import VigilConfig
from vigil.demo.live import schedule
from vigil.demo.receivers import Received, SmtpRecorder, WebhookRecorder, parse_email_alerts
from vigil.demo.rules import DemoTimings, alerting_section, alertname_for, rules_section
from vigil.demo.timeline import Timeline


def test_every_trouble_names_alerts_that_the_rules_define() -> None:
    rules = {r.name: r for r in parse_rules(rules_section(DemoTimings(10)))}
    for trouble in schedule(60, 10):
        assert set(trouble.alerts) <= set(rules), trouble
        for name in trouble.alerts:
            assert rules[name].model in ("*", trouble.model)
    assert all(r.runbook for r in rules.values())


def test_rule_timings_scale_with_the_window() -> None:
    for window in (4.0, 10.0, 60.0):
        rules = {r.name: r for r in parse_rules(rules_section(DemoTimings(window)))}
        assert {r.window.total_seconds() for r in rules.values()} == {window}
        assert rules["NoData"].timing.for_warning == 3 * window
        assert rules["DriftMeanRadius"].timing.for_warning == window
        assert rules["ErrorRateHigh"].timing.for_warning == 0


def test_the_alerting_section_loads_with_every_receiver() -> None:
    section = alerting_section(
        DemoTimings(10),
        external_url="http://127.0.0.1:8000",
        webhook="http://127.0.0.1:1/hook",
        smtp=("127.0.0.1", 2),
        alertmanager="http://127.0.0.1:3",
    )
    settings = load_alerting(VigilConfig.model_validate({"version": 1, "alerting": section}))
    assert [r.name for r in build_receivers(settings)] == ["webhook", "email", "alertmanager"]
    assert settings.seconds(settings.evaluate_every) == 2.0
    assert settings.seconds(settings.route.group_wait) == 2.0


def test_an_email_is_read_back_as_its_alerts() -> None:
    rules = rules_section(DemoTimings(10))
    got: list[Received] = []
    smtp = SmtpRecorder(got.append, alertname_for(rules)).start()
    try:
        msg = EmailMessage()
        msg["Subject"] = "[FIRING:1] error_rate of diabetes-progression is 0.3 (> 0.1) (critical)"
        msg.set_content(
            "Alerts (1 firing, 1 resolved):\n"
            "- firing: error_rate of diabetes-progression is 0.3 (> 0.1) value 0.3 (threshold 0.1) "
            "[kind=threshold, metric=error_rate, model=diabetes-progression, severity=critical, team=care]\n"
            "- resolved: x [metric=drift:mean radius, model=tumor-classifier, severity=warning]\n"
        )
        with smtplib.SMTP(smtp.host, smtp.port, timeout=5) as client:
            client.send_message(msg, "vigil@example.com", ["oncall@example.com"])
    finally:
        smtp.stop()
    assert [(r.receiver, r.alertname, r.model, r.severity, r.status) for r in got] == [
        ("email", "ErrorRateHigh", "diabetes-progression", "critical", "firing"),
        ("email", "DriftMeanRadius", "tumor-classifier", "warning", "resolved"),
    ]
    assert smtp.messages[0][1].startswith("[FIRING:1] error_rate")
    assert parse_email_alerts("no alerts here\n- note: nothing [a=b]") == []


def test_a_webhook_post_is_recorded_with_its_arrival_time() -> None:
    got: list[Received] = []
    hook = WebhookRecorder(got.append).start()
    try:
        alert = {"status": "firing", "labels": {"alertname": "NoData", "model": "m", "severity": "warning"}}
        httpx.post(hook.url, json={"version": "4", "alerts": [alert]}, timeout=5).raise_for_status()
    finally:
        hook.stop()
    [r] = got
    assert (r.alertname, r.model, r.severity, r.status) == ("NoData", "m", "warning", "firing")
    assert hook.posts[0][0] == r.at


def test_the_timeline_attributes_delays_and_resolution() -> None:
    lines: list[str] = []
    timeline = Timeline(["webhook", "email"], lines.append)
    timeline.inject("latency spike", "m", ["Latency"], at=100.0, offset=30.0)

    def rx(at: float, receiver: str, severity: str, status: str, name: str = "Latency") -> None:
        timeline.receive(Received(at, receiver, name, "m", severity, status))

    rx(90.0, "webhook", "warning", "firing")  # before the injection: unexpected
    rx(107.5, "webhook", "warning", "firing")
    rx(107.6, "email", "warning", "firing")
    rx(112.0, "webhook", "critical", "firing")  # escalation: warning resolved, critical fires
    rx(112.0, "webhook", "warning", "resolved")
    rx(120.0, "webhook", "critical", "resolved")
    rx(121.0, "webhook", "warning", "firing", name="Other")
    [row] = timeline.measurements()
    assert row["first"] == {"webhook": 7.5, "email": pytest.approx(7.6)}
    assert (row["resolved"], row["severity"]) == (20.0, "critical")
    assert [n["alertname"] for n in timeline.unexpected()] == ["Latency", "Other"]
    assert lines[1].endswith('warning firing  (+7.5 s after injection of "latency spike")')
    assert "no injected trouble explains it" in lines[0]
    table = timeline.table()
    assert table[0].split() == ["trouble", "injected", "at", "alert", "webhook", "email", "resolved"]
    assert "+7.5 s" in table[2] and "+20.0 s" in table[2]
