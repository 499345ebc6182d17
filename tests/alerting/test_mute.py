"""Silences and inhibition: both are Muters."""

from __future__ import annotations

import pytest

from vigil.alerting.matchers import Matcher, parse_matcher
from vigil.alerting.mute import AnyMuter, Muter
from vigil.alerting.mute.inhibit import Inhibitor, InhibitRule
from vigil.alerting.mute.silences import Silence, Silences, SilenceState


def ms(*texts: str) -> tuple[Matcher, ...]:
    return tuple(parse_matcher(t) for t in texts)


def silence(*matchers: str, start: float = 100, end: float = 200) -> Silence:
    return Silence(ms(*matchers), start, end, created_by="ana", comment="deploy")


FRAUD_DRIFT = {"alertname": "FeatureDrift", "kind": "drift", "model": "fraud", "env": "prod"}


def test_silence_mutes_only_inside_its_window() -> None:
    s = silence('model="fraud"')
    timeline = {
        99: SilenceState.PENDING,
        100: SilenceState.ACTIVE,
        199.9: SilenceState.ACTIVE,
        200: SilenceState.EXPIRED,
    }
    for t, state in timeline.items():
        assert s.state(t) is state
        assert s.mutes(FRAUD_DRIFT, t) is (state is SilenceState.ACTIVE)


def test_silence_needs_every_matcher_to_match_including_regex() -> None:
    s = silence('model="fraud"', 'env=~"prod|staging"')
    assert s.mutes(FRAUD_DRIFT, 150)
    assert s.mutes({**FRAUD_DRIFT, "env": "staging"}, 150)
    assert not s.mutes({**FRAUD_DRIFT, "env": "production"}, 150)
    assert not s.mutes({**FRAUD_DRIFT, "model": "churn"}, 150)
    assert silence('model="fraud"', 'env!~"dev|test"').mutes(FRAUD_DRIFT, 150)
    assert not silence('model="fraud"', 'env!~"prod|test"').mutes(FRAUD_DRIFT, 150)


def test_silences_collection() -> None:
    a, b = silence('model="fraud"'), silence('model="churn"', start=0, end=1000)
    both = Silences([a, b])
    assert both.silenced_by(FRAUD_DRIFT, 150) == [a]
    assert both.mutes({"model": "churn"}, 500)
    assert not both.mutes(FRAUD_DRIFT, 500)


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"matchers": ()}, "at least one matcher"),
        ({"matchers": ms('team=""')}, "mute every alert"),
        ({"ends_at": 100.0}, "end after it starts"),
        ({"created_by": " "}, "created_by"),
    ],
)
def test_unusable_silences_are_refused(kwargs: dict[str, object], says: str) -> None:
    args: dict[str, object] = {
        "matchers": ms('model="fraud"'),
        "starts_at": 100.0,
        "ends_at": 200.0,
        "created_by": "ana",
        "comment": "",
    }
    with pytest.raises(ValueError, match=says):
        Silence(**{**args, **kwargs})  # type: ignore[arg-type]


CRITICAL_MUTES_WARNING = InhibitRule(
    ms('severity="critical"'), ms('severity="warning"'), equal=("alertname", "model"), name="critical>warning"
)
NO_DATA_MUTES_DRIFT = InhibitRule(ms('alertname="NoData"'), ms('kind="drift"'), equal=("model",))


def test_critical_mutes_the_warning_of_the_same_rule_only() -> None:
    critical = {"alertname": "AccuracyLow", "model": "fraud", "severity": "critical"}
    inhibitor = Inhibitor([CRITICAL_MUTES_WARNING], firing=[critical])
    assert inhibitor.mutes({**critical, "severity": "warning"}, 0)
    assert not inhibitor.mutes({**critical, "severity": "warning", "alertname": "LatencyHigh"}, 0)
    assert not inhibitor.mutes({**critical, "severity": "warning", "model": "churn"}, 0)
    assert not inhibitor.mutes(critical, 0)
    assert inhibitor.inhibited_by({**critical, "severity": "warning"}) == [CRITICAL_MUTES_WARNING]


def test_no_data_mutes_drift_of_that_model_not_of_another() -> None:
    no_data = {"alertname": "NoData", "model": "fraud", "severity": "critical"}
    inhibitor = Inhibitor([NO_DATA_MUTES_DRIFT], firing=[no_data])
    assert inhibitor.mutes(FRAUD_DRIFT, 0)
    assert not inhibitor.mutes({**FRAUD_DRIFT, "model": "churn"}, 0)
    assert not inhibitor.mutes({"alertname": "LatencyHigh", "model": "fraud"}, 0)
    assert not Inhibitor([NO_DATA_MUTES_DRIFT], firing=[]).mutes(FRAUD_DRIFT, 0)


def test_an_alert_matching_both_sides_does_not_inhibit_itself() -> None:
    rule = InhibitRule(ms('kind="drift"'), ms('kind="drift"'), equal=("model",))
    assert not Inhibitor([rule], firing=[FRAUD_DRIFT]).mutes(FRAUD_DRIFT, 0)


def test_silences_and_inhibitors_are_muters_and_combine() -> None:
    silences = Silences([silence('model="churn"')])
    inhibitor = Inhibitor([NO_DATA_MUTES_DRIFT], firing=[{"alertname": "NoData", "model": "fraud"}])
    for muter in (silences, inhibitor, silences.silenced_by({"model": "churn"}, 150)[0]):
        assert isinstance(muter, Muter)
    both = AnyMuter((silences, inhibitor))
    assert both.mutes(FRAUD_DRIFT, 150)
    assert both.mutes({"model": "churn"}, 150)
    assert not both.mutes({"model": "churn"}, 250)
    assert not both.mutes({"model": "other", "kind": "drift"}, 150)
