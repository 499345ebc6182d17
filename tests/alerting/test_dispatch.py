"""Grouping, waiting, repeating and dedup, as timelines (t in seconds) on explicit times.

Route defaults: group_wait 30s, group_interval 5m, repeat_interval 4h.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest

from vigil.alerting.alert import Alert, AlertStatus
from vigil.alerting.dispatch.dispatcher import Dispatcher, Notification, Reason, Route
from vigil.alerting.matchers import parse_matcher
from vigil.alerting.mute import Muter
from vigil.alerting.mute.silences import Silence, Silences

FIRING, RESOLVED = AlertStatus.FIRING, AlertStatus.RESOLVED


def alert(model: str, status: AlertStatus = FIRING, name: str = "Drift", at: float = 0) -> Alert:
    labels = {"alertname": name, "model": model, "severity": "warning"}
    return Alert(labels, status, starts_at=at, ends_at=at if status is RESOLVED else None)


def drive(
    dispatcher: Dispatcher,
    events: Mapping[int, Sequence[Alert]],
    until: float,
    muter: Muter | None = None,
) -> list[Notification]:
    """Receive each event at its time and flush whenever something is due (a perfect scheduler)."""
    pending = sorted(events)
    sent: list[Notification] = []
    while True:
        due = dispatcher.next_flush_at()
        candidates = [t for t in (pending[0] if pending else None, due) if t is not None]
        if not candidates or min(candidates) > until:
            return sent
        now = min(candidates)
        if pending and pending[0] == now:
            dispatcher.receive(events[pending.pop(0)], now)
        sent.extend(dispatcher.flush(now, muter))


def summary(sent: Sequence[Notification]) -> list[tuple[float, Reason, list[str], list[str]]]:
    return [
        (n.at, n.reason, [a.labels["model"] for a in n.firing], [a.labels["model"] for a in n.resolved])
        for n in sent
    ]


def test_new_group_waits_group_wait_and_groups_two_alerts_into_one_notification() -> None:
    sent = drive(Dispatcher(), {0: [alert("fraud")], 10: [alert("churn")]}, until=100)
    (n,) = sent
    assert (n.at, n.reason, n.resolved) == (30, Reason.FIRST, ())
    assert sorted(a.labels["model"] for a in n.firing) == ["churn", "fraud"]
    assert [a.fingerprint for a in n.firing] == sorted(a.fingerprint for a in n.firing)
    assert n.group_key == 'default:{alertname="Drift"}'
    assert dict(n.group_labels) == {"alertname": "Drift"}
    assert n.status is FIRING


def test_group_by_separates_groups() -> None:
    d = Dispatcher(Route(group_by=("alertname", "model")))
    sent = drive(d, {0: [alert("fraud"), alert("churn")]}, until=100)
    assert sorted(n.group_key for n in sent) == [
        'default:{alertname="Drift",model="churn"}',
        'default:{alertname="Drift",model="fraud"}',
    ]
    assert {n.at for n in sent} == {30}


def test_group_by_everything() -> None:
    d = Dispatcher(Route(group_by=("...",)))
    sent = drive(d, {0: [alert("fraud"), alert("churn")]}, until=100)
    assert len(sent) == 2
    assert all(len(n.firing) == 1 and dict(n.group_labels) == dict(n.firing[0].labels) for n in sent)


def test_late_joiner_waits_for_the_next_group_interval() -> None:
    # fraud at t=0 -> notified t=30; churn joins at t=100 -> batched into t=30+5m=330.
    d = Dispatcher()
    sent = drive(d, {0: [alert("fraud")], 100: [alert("churn")]}, until=1000)
    assert [(at, reason) for at, reason, _, _ in summary(sent)] == [
        (30, Reason.FIRST),
        (330, Reason.NEW_ALERTS),
    ]
    assert sorted(a.labels["model"] for a in sent[1].firing) == ["churn", "fraud"]


def test_unchanged_group_is_re_sent_after_repeat_interval() -> None:
    d = Dispatcher()
    sent = drive(d, {0: [alert("fraud")]}, until=30 + 4 * 3600 + 10)
    assert [(n.at, n.reason) for n in sent] == [(30, Reason.FIRST), (30 + 4 * 3600, Reason.REPEAT)]


def test_repeat_interval_rounds_up_to_group_interval() -> None:
    d = Dispatcher(Route(repeat_interval=400))  # next flush ticks after 30: 330, 630
    sent = drive(d, {0: [alert("fraud")]}, until=700)
    assert [(n.at, n.reason) for n in sent] == [(30, Reason.FIRST), (630, Reason.REPEAT)]


def test_some_resolved_then_all_resolved_then_group_forgotten() -> None:
    d = Dispatcher()
    events = {
        0: [alert("fraud"), alert("churn")],
        100: [alert("churn", RESOLVED, at=100)],
        400: [alert("fraud", RESOLVED, at=400)],
    }
    sent = drive(d, events, until=5000)
    assert summary(sent) == [
        (30, Reason.FIRST, sorted(["fraud", "churn"], key=lambda m: alert(m).fingerprint), []),
        (330, Reason.SOME_RESOLVED, ["fraud"], ["churn"]),
        (630, Reason.ALL_RESOLVED, [], ["fraud"]),
    ]
    assert sent[-1].status is RESOLVED
    assert d.next_flush_at() is None and d.alerts() == []


def test_alert_resolved_within_group_wait_is_never_sent() -> None:
    d = Dispatcher()
    sent = drive(d, {0: [alert("fraud")], 20: [alert("fraud", RESOLVED, at=20)]}, until=5000)
    assert sent == []
    assert d.next_flush_at() is None


def test_resolution_of_an_alert_announced_before_this_dispatcher_is_sent() -> None:
    # a new dispatcher (a restart, or a server taking over) sees only the resolution of an alert that an
    # earlier one announced as firing: told so, it sends "all alerts resolved"; not told, it stays quiet
    announced = {alert("fraud").fingerprint}
    for notified, expected in ((lambda a: a.fingerprint in announced, [Reason.ALL_RESOLVED]), (None, [])):
        d = Dispatcher()
        d.receive([alert("fraud", RESOLVED, at=20)], 0)
        assert [n.reason for n in d.flush(30, None, notified)] == expected
        assert d.next_flush_at() is None


def test_fired_and_resolved_between_flushes_after_all_resolved_is_not_sent() -> None:
    d = Dispatcher()
    events = {
        0: [alert("fraud")],
        100: [alert("fraud", RESOLVED, at=100), alert("churn")],
        200: [alert("churn", RESOLVED, at=200)],
    }
    sent = drive(d, events, until=5000)
    # at 330 firing is empty and the receiver knew of fraud: one all-resolved with both resolved alerts.
    assert summary(sent)[0][:2] == (30, Reason.FIRST)
    assert [(n.at, n.reason) for n in sent[1:]] == [(330, Reason.ALL_RESOLVED)]


def test_regrouped_after_forgetting_starts_with_first_notification() -> None:
    d = Dispatcher()
    events = {0: [alert("fraud")], 100: [alert("fraud", RESOLVED, at=100)], 1000: [alert("fraud", at=1000)]}
    sent = drive(d, events, until=2000)
    assert [(n.at, n.reason) for n in sent] == [
        (30, Reason.FIRST),
        (330, Reason.ALL_RESOLVED),
        (1030, Reason.FIRST),
    ]


def test_no_double_send_when_flushed_often_or_fed_the_same_alerts_again() -> None:
    d = Dispatcher()
    sent: list[Notification] = []
    for t in range(0, 4000):  # poll every second; the evaluator re-sends the firing alert every minute
        if t % 60 == 0:
            d.receive([alert("fraud")], t)
        sent.extend(d.flush(t))
        sent.extend(d.flush(t))
    assert [(n.at, n.reason) for n in sent] == [(30, Reason.FIRST)]


def test_re_firing_the_same_alert_after_resolution_within_a_group_is_new() -> None:
    d = Dispatcher()
    events = {
        0: [alert("fraud"), alert("churn")],
        100: [alert("churn", RESOLVED, at=100)],
        400: [alert("churn")],
    }
    sent = drive(d, events, until=1000)
    assert [(n.at, n.reason) for n in sent] == [
        (30, Reason.FIRST),
        (330, Reason.SOME_RESOLVED),
        (630, Reason.NEW_ALERTS),
    ]


def test_silenced_alerts_are_left_out_and_fully_muted_groups_send_nothing() -> None:
    silences = Silences(
        [Silence((parse_matcher('model="churn"'),), 0, 10_000, created_by="ana", comment="retraining")]
    )
    d = Dispatcher()
    sent = drive(d, {0: [alert("fraud"), alert("churn")]}, until=100, muter=silences)
    assert summary(sent) == [(30, Reason.FIRST, ["fraud"], [])]

    only_churn = Dispatcher()
    assert drive(only_churn, {0: [alert("churn")]}, until=1000, muter=silences) == []
    # the silence ends at 10000: the first flush after it sends the first notification
    later = drive(only_churn, {}, until=11_000, muter=silences)
    assert [(n.at, n.reason) for n in later] == [(10_230, Reason.FIRST)]


@pytest.mark.parametrize("field", ["group_interval", "repeat_interval"])
def test_route_refuses_non_positive_intervals(field: str) -> None:
    with pytest.raises(ValueError, match=field):
        Route(**{field: 0})  # type: ignore[arg-type]
