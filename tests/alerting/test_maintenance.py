"""Maintenance windows (one-off and weekly, across DST changes) and deploy grace, on explicit times."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, time
from typing import Any

import pytest
import yaml

import vigil.alerting.mute.maintenance as maintenance
from vigil.alerting.alert import Alert
from vigil.alerting.dispatch.dispatcher import Dispatcher, Route
from vigil.alerting.matchers import Matcher, parse_matcher
from vigil.alerting.mute import Muter
from vigil.alerting.mute.deploys import DEFAULT_GRACE, DeployAnnotation, DeployGrace
from vigil.alerting.mute.maintenance import MaintenanceWindow, MaintenanceWindows, WeeklySchedule
from vigil.errors import ConfigError, InputError


def t(iso: str) -> float:
    """Seconds since the epoch of an ISO time with an offset."""
    return datetime.fromisoformat(iso).timestamp()


def ms(*texts: str) -> tuple[Matcher, ...]:
    return tuple(parse_matcher(x) for x in texts)


CREDIT = {"alertname": "Drift", "model": "credit", "severity": "warning", "kind": "drift"}
FRAUD = {**CREDIT, "model": "fraud"}
SUNDAY_BERLIN = WeeklySchedule((6,), time(2, 0), 7200.0, "Europe/Berlin")


def weekly(schedule: WeeklySchedule = SUNDAY_BERLIN) -> MaintenanceWindow:
    return MaintenanceWindow("vacuum", ms('model="credit"'), weekly=schedule)


# -- one-off windows -------------------------------------------------------------------------------------


def test_one_off_window_mutes_matching_alerts_from_start_until_before_end() -> None:
    w = MaintenanceWindow("migration", ms('model="credit"'), 100.0, 200.0)
    assert [w.active(x) for x in (99.9, 100, 199.9, 200)] == [False, True, True, False]
    assert w.mutes(CREDIT, 150) and not w.mutes(FRAUD, 150) and not w.mutes(CREDIT, 250)
    assert (w.occurrence(150), w.occurrence(250)) == ((100.0, 200.0), None)
    assert (w.upcoming(50), w.upcoming(199), w.upcoming(200)) == ((100.0, 200.0), (100.0, 200.0), None)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"matchers": ()}, "at least one matcher"),
        ({"matchers": ms('team=""')}, "mute every alert"),
        ({"starts_at": 200.0, "ends_at": 100.0}, "end after it starts"),
        ({"ends_at": None}, "both starts_at and ends_at"),
        ({"weekly": SUNDAY_BERLIN}, "either one-off"),
        ({"starts_at": None, "ends_at": None}, "either one-off"),
        ({"name": " "}, "needs a name"),
    ],
)
def test_unusable_windows_are_refused(kwargs: dict[str, Any], message: str) -> None:
    base: dict[str, Any] = {
        "name": "w",
        "matchers": ms('model="credit"'),
        "starts_at": 100.0,
        "ends_at": 200.0,
    }
    with pytest.raises(ValueError, match=message):
        MaintenanceWindow(**{**base, **kwargs})


# -- weekly windows and daylight-saving time -------------------------------------------------------------


def test_weekly_window_on_an_ordinary_sunday_is_02_to_04_local() -> None:
    w = weekly()  # 2026-03-22: a Sunday on CET (UTC+1)
    assert not w.active(t("2026-03-22T00:59:59+00:00"))
    assert w.active(t("2026-03-22T01:00:00+00:00"))
    assert w.active(t("2026-03-22T02:59:59+00:00"))
    assert not w.active(t("2026-03-22T03:00:00+00:00"))
    assert not w.active(t("2026-03-23T01:30:00+00:00"))  # Monday
    assert w.occurrence(t("2026-03-22T02:00:00+00:00")) == (t("2026-03-22T01:00Z"), t("2026-03-22T03:00Z"))


def test_weekly_window_when_clocks_spring_forward_covers_03_to_04_cest() -> None:
    w = weekly()  # 2026-03-29 02:00 CET the clocks jump to 03:00 CEST: 02:00-02:59 never happens
    assert not w.active(t("2026-03-29T00:59:59+00:00"))  # 01:59:59 CET
    assert w.active(t("2026-03-29T01:00:00+00:00"))  # 03:00 CEST
    assert w.active(t("2026-03-29T03:59:59+02:00"))
    assert not w.active(t("2026-03-29T04:00:00+02:00"))
    assert w.occurrence(t("2026-03-29T03:30:00+02:00")) == (t("2026-03-29T01:00Z"), t("2026-03-29T02:00Z"))


def test_weekly_window_when_clocks_fall_back_covers_both_passes_of_the_repeated_hour() -> None:
    w = weekly()  # 2026-10-25 03:00 CEST the clocks go back to 02:00 CET: 02:00-02:59 happens twice
    assert not w.active(t("2026-10-25T01:59:59+02:00"))
    assert w.active(t("2026-10-25T02:00:00+02:00"))  # first 02:00
    assert w.active(t("2026-10-25T02:30:00+01:00"))  # second 02:30
    assert w.active(t("2026-10-25T03:59:59+01:00"))
    assert not w.active(t("2026-10-25T04:00:00+01:00"))
    start, end = w.upcoming(t("2026-10-24T12:00:00+00:00")) or (0.0, 0.0)
    assert (start, end, end - start) == (t("2026-10-25T00:00Z"), t("2026-10-25T03:00Z"), 3 * 3600)


def test_end_points_inside_the_repeated_hour_take_the_first_start_and_the_last_end() -> None:
    ends_inside = weekly(WeeklySchedule((6,), time(1, 0), 5400.0, "Europe/Berlin"))  # 01:00-02:30 local
    assert ends_inside.occurrence(t("2026-10-25T02:15:00+01:00")) == (
        t("2026-10-24T23:00Z"),  # 01:00 CEST
        t("2026-10-25T01:30Z"),  # the second 02:30, CET
    )
    starts_inside = weekly(WeeklySchedule((6,), time(2, 30), 9000.0, "Europe/Berlin"))  # 02:30-05:00 local
    assert starts_inside.occurrence(t("2026-10-25T02:45:00+02:00")) == (
        t("2026-10-25T00:30Z"),  # the first 02:30, CEST
        t("2026-10-25T04:00Z"),  # 05:00 CET
    )


def test_a_window_starting_inside_the_skipped_hour_starts_at_the_jump() -> None:
    w = weekly(WeeklySchedule((6,), time(2, 30), 3600.0, "Europe/Berlin"))  # 02:30-03:30 local
    assert w.occurrence(t("2026-03-29T03:00:00+02:00")) == (t("2026-03-29T01:00Z"), t("2026-03-29T01:30Z"))
    assert not w.active(t("2026-03-29T01:59:59+01:00"))


def test_a_window_ending_inside_the_skipped_hour_ends_at_the_jump() -> None:
    w = weekly(WeeklySchedule((6,), time(1, 0), 5400.0, "Europe/Berlin"))  # 01:00-02:30 local
    assert w.occurrence(t("2026-03-29T01:30:00+01:00")) == (t("2026-03-29T00:00Z"), t("2026-03-29T01:00Z"))
    assert not w.active(t("2026-03-29T03:00:00+02:00"))


def test_a_window_over_midnight_belongs_to_the_day_it_starts() -> None:
    w = weekly(WeeklySchedule((5,), time(23, 0), 3 * 3600.0, "America/New_York"))  # Sat 23:00 - Sun 02:00
    assert w.active(t("2026-03-01T01:30:00-05:00"))  # Sunday 01:30, from Saturday's occurrence
    assert not w.active(t("2026-03-01T23:30:00-05:00"))  # Sunday 23:30: no Sunday occurrence
    assert not w.active(t("2026-02-28T22:59:59-05:00"))
    # On 2026-03-08 New York springs forward at 02:00, exactly when the window ends: still 3 h.
    start, end = w.upcoming(t("2026-03-07T12:00:00-05:00")) or (0.0, 0.0)
    assert (start, end) == (t("2026-03-07T23:00:00-05:00"), t("2026-03-08T03:00:00-04:00"))


def test_a_window_longer_than_a_day() -> None:
    w = weekly(WeeklySchedule((4,), time(18, 0), 2 * 86400 + 16 * 3600.0, "UTC"))  # Fri 18:00 - Mon 10:00
    assert w.active(t("2026-03-08T12:00:00+00:00"))  # Sunday
    assert w.active(t("2026-03-09T09:59:59+00:00"))
    assert not w.active(t("2026-03-09T10:00:00+00:00"))


def test_upcoming_gives_the_next_occurrence_of_a_weekly_window() -> None:
    w = weekly()
    assert w.upcoming(t("2026-03-23T12:00:00+00:00")) == (t("2026-03-29T01:00Z"), t("2026-03-29T02:00Z"))
    assert w.upcoming(t("2026-03-22T02:00:00+00:00")) == (t("2026-03-22T01:00Z"), t("2026-03-22T03:00Z"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"days": ()}, "needs days"),
        ({"days": (7,)}, "needs days"),
        ({"duration": 0.0}, "more than 0"),
        ({"duration": 8 * 86400.0}, "at most 7 days"),
        ({"timezone": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus'"),
    ],
)
def test_unusable_schedules_are_refused(kwargs: dict[str, Any], message: str) -> None:
    base: dict[str, Any] = {"days": (6,), "start": time(2), "duration": 3600.0, "timezone": "UTC"}
    with pytest.raises(ValueError, match=message):
        WeeklySchedule(**{**base, **kwargs})


def test_schedules_read_as_people_write_them() -> None:
    assert str(SUNDAY_BERLIN) == "sun 02:00–04:00 Europe/Berlin"
    assert str(WeeklySchedule((5, 4), time(18), 3 * 86400.0, "UTC")) == "fri,sat 18:00 for 3d UTC"


# -- configuration ---------------------------------------------------------------------------------------


def docstring_config() -> list[Any]:
    doc = maintenance.__doc__ or ""
    block = doc.split("epoch seconds)::\n", 1)[1].split("\n\n``days``", 1)[0]
    parsed: list[Any] = yaml.safe_load(block)["alerting"]["maintenance"]
    return parsed


def test_docstring_example_parses_and_behaves() -> None:
    windows = MaintenanceWindows.from_config(docstring_config())
    vacuum, migration = windows
    assert vacuum.weekly == SUNDAY_BERLIN and vacuum.created_by == "ops@example.com"
    assert (migration.starts_at, migration.ends_at) == (t("2026-11-01T22:00Z"), t("2026-11-02T02:00Z"))
    sunday_night = t("2026-11-08T02:30:00+01:00")
    credit_risk = {**CREDIT, "model": "credit-risk"}
    assert windows.mutes(credit_risk, sunday_night) and windows.mutes(FRAUD, sunday_night)
    assert not windows.mutes(CREDIT, sunday_night)  # matchers are anchored: credit is not credit-risk
    assert not windows.mutes(credit_risk, t("2026-11-08T04:00:00+01:00"))
    risk = {**FRAUD, "team": "risk-ml"}
    assert [w.name for w in windows.muted_by(risk, t("2026-11-01T23:00Z"))] == ["warehouse-migration"]
    assert [w.name for w in windows.active(sunday_night)] == ["db-vacuum"]


def config_problems(raw: object) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        MaintenanceWindows.from_config(raw, filename="vigil.yaml")
    return [str(p) for p in caught.value.problems]


def test_config_reports_every_problem_with_its_path() -> None:
    raw = yaml.safe_load(
        """
        - name: a
          matchers: ['model="credit"', 'team=~"(unclosed"']
          weekly: {days: [sun], start: 12:30, end: "14:00", timezone: Europe/Berlin}
        - name: b
          matchers: ['model="x"']
          starts_at: 2026-11-01T22:00:00
          ends_at: tomorrow
        - name: c
          matchers: ['model="x"']
          weekly: {days: [sun], start: "02:00", end: "04:00", duration: 2h}
        - {name: d, matchers: ['model="x"'], weekly: {days: [caturday], start: "02:00", end: "03:00"}}
        - name: e
          matchers: ['model="x"']
          weekly: {days: [sun], start: "02:00", end: "03:00", timezone: Nowhere/X}
        - {name: f, matchers: ['model="x"'], weekly: {days: [sun], start: "25:00", duration: 1h}}
        - {matchers: ['model="x"'], starts_at: 1, ends_at: 2, colour: red}
        - {name: g, matchers: ['model="x"'], starts_at: 5, ends_at: 2}
        - {name: g2, matchers: ['model="x"']}
        """
    )
    found = config_problems(raw)
    assert [p.split(": ")[1] for p in found] == [
        "alerting.maintenance[0].matchers[1]",
        "alerting.maintenance[0].weekly",
        "alerting.maintenance[1].starts_at",
        "alerting.maintenance[1].ends_at",
        "alerting.maintenance[2].weekly",
        "alerting.maintenance[3].weekly",
        "alerting.maintenance[4].weekly",
        "alerting.maintenance[5].weekly",
        "alerting.maintenance[6].name",
        "alerting.maintenance[6].colour",
        "alerting.maintenance[7]",
        "alerting.maintenance[8]",
    ]
    assert 'start: "12:30"' in found[1] and "the number 750" in found[1]
    assert "has no time zone" in found[2] and "add Z" in found[2]
    assert "either end or duration" in found[4]
    assert "not a week day: 'caturday'" in found[5]
    assert "unknown time zone 'Nowhere/X'" in found[6]
    assert "start is not a time of day: '25:00'" in found[7]
    assert "required key 'name'" in found[8] and "unknown key 'colour'" in found[9]
    assert "end after it starts" in found[10] and "either one-off" in found[11]


def test_config_refuses_duplicate_names_and_a_non_list() -> None:
    one = {"name": "w", "matchers": ['model="x"'], "starts_at": 1, "ends_at": 2}
    (dup,) = config_problems([one, one])
    assert dup.startswith("vigil.yaml: alerting.maintenance[1].name: a second window named 'w'")
    assert "must be a list" in config_problems({"name": "w"})[0]
    assert len(MaintenanceWindows.from_config(None)) == 0


@pytest.mark.parametrize(
    ("weekly_config", "days", "start", "duration"),
    [
        ({"days": ["mon-fri"], "start": "22:00", "end": "06:00"}, (0, 1, 2, 3, 4), time(22), 8 * 3600.0),
        ({"days": "fri-mon", "start": "00:00", "end": "24:00"}, (0, 4, 5, 6), time(0), 86400.0),
        (
            {"days": ["Saturday", "sun"], "start": "02:15:30", "duration": "90m"},
            (5, 6),
            time(2, 15, 30),
            5400.0,
        ),
    ],
)
def test_weekly_config_forms(
    weekly_config: dict[str, Any], days: tuple[int, ...], start: time, duration: float
) -> None:
    w = MaintenanceWindow.from_dict({"name": "w", "matchers": ['model="x"'], "weekly": weekly_config})
    assert w.weekly == WeeklySchedule(days, start, duration, "UTC")


# -- JSON ------------------------------------------------------------------------------------------------


def test_json_round_trips_both_kinds() -> None:
    one_off = MaintenanceWindow(
        "m", ms('model="credit"', 'env=~"prod|staging"'), 100.5, 200.0, comment="c", created_by="ana"
    )
    for w in (one_off, weekly(WeeklySchedule((0, 6), time(2, 15, 30), 5400.0, "Europe/Berlin"))):
        assert MaintenanceWindow.from_json(w.to_json()) == w
    assert json.loads(weekly().to_json())["weekly"] == {
        "days": ["sun"],
        "start": "02:00",
        "duration": 7200.0,
        "timezone": "Europe/Berlin",
    }
    assert json.loads(one_off.to_json())["matchers"] == ['model="credit"', 'env=~"prod|staging"']


def test_api_input_errors_name_the_field() -> None:
    with pytest.raises(InputError, match=r"starts_at: 2026-11-01T22:00:00 has no time zone"):
        MaintenanceWindow.from_json(
            '{"name": "m", "matchers": ["model=\\"x\\""], "starts_at": "2026-11-01T22:00:00", "ends_at": 5}'
        )
    with pytest.raises(InputError, match="expected a JSON object"):
        MaintenanceWindow.from_json("[]")


# -- the Muter -------------------------------------------------------------------------------------------


def test_windows_are_a_muter_and_are_kept_by_name() -> None:
    a = MaintenanceWindow("a", ms('model="credit"'), 100.0, 200.0)
    windows = MaintenanceWindows([a])
    assert isinstance(windows, Muter)
    windows.add(MaintenanceWindow("a", ms('model="fraud"'), 100.0, 200.0))  # replaces a
    assert (windows.mutes(CREDIT, 150), windows.mutes(FRAUD, 150), len(windows)) == (False, True, 1)
    assert windows.remove("a") is not None and windows.get("a") is None and not windows.mutes(FRAUD, 150)
    with pytest.raises(ValueError, match="named 'a'"):
        MaintenanceWindows([a, a])


# -- deploy grace ----------------------------------------------------------------------------------------

DEPLOY = DeployAnnotation("credit", "v3", 1000.0, by="ana", note="new features")
NODATA = {"alertname": "NoData", "model": "credit", "severity": "warning", "kind": "no_data"}


def test_grace_mutes_the_models_alerts_for_15_minutes_after_the_deploy() -> None:
    grace = DeployGrace([DEPLOY])
    assert DEFAULT_GRACE == 900
    assert [grace.mutes(CREDIT, x) for x in (999.9, 1000, 1899.9, 1900)] == [False, True, True, False]
    assert not grace.mutes(FRAUD, 1500)
    assert not grace.mutes({"alertname": "HostDown"}, 1500)  # no model label: not a model's alert
    assert grace.mutes({**CREDIT, "model_version": "v2"}, 1500)  # every version of the model


def test_grace_never_mutes_no_data_unless_told_to() -> None:
    assert not DeployGrace([DEPLOY]).mutes(NODATA, 1500)
    assert not DeployGrace([DEPLOY]).mutes({**CREDIT, "kind": "no_data", "alertname": "Silent"}, 1500)
    assert not DeployGrace([DEPLOY]).mutes({**CREDIT, "alertname": "NoData", "kind": "custom"}, 1500)
    assert DeployGrace([DEPLOY], exempt=()).mutes(NODATA, 1500)


def test_grace_length_per_annotation_or_default() -> None:
    short = DeployAnnotation("credit", "v4", 5000.0, grace=60.0)
    grace = DeployGrace([DEPLOY, short], default_grace=120.0)
    assert [grace.mutes(CREDIT, x) for x in (1119.9, 1120, 5059.9, 5060)] == [True, False, True, False]
    assert not DeployGrace([DeployAnnotation("credit", "v5", 0.0, grace=0.0)]).mutes(CREDIT, 0.0)
    assert grace.in_grace("credit", 5010) == [short] and grace.grace_of(DEPLOY) == 120.0


def test_annotations_for_dashboards() -> None:
    later = DeployAnnotation("credit", "v4", 3000.0)
    other = DeployAnnotation("fraud", "v9", 2000.0)
    grace = DeployGrace([later, other, DEPLOY])
    assert grace.annotations("credit", 1000, 3000) == [DEPLOY, later]  # both ends included
    assert grace.annotations("credit", 1000.1, 2999) == []
    assert grace.annotations(None, 0, 5000) == [DEPLOY, other, later]


def test_deploy_grace_through_the_dispatcher() -> None:
    d = Dispatcher(Route("ops", ("alertname", "model"), 30.0, 300.0, 3600.0))
    d.receive([Alert(CREDIT, starts_at=1010), Alert(NODATA, starts_at=1010)], 1010)
    sent = d.flush(1040, DeployGrace([DEPLOY]))
    assert [n.group_labels["alertname"] for n in sent] == ["NoData"]
    assert [n.group_labels["alertname"] for n in d.flush(1940, DeployGrace([DEPLOY]))] == ["Drift"]


def test_deploy_json_round_trip_and_api_input() -> None:
    assert DEPLOY.id == "credit/v3/1000000"
    assert DeployAnnotation.from_json(DEPLOY.to_json()) == DEPLOY
    assert DeployAnnotation.from_json(DeployAnnotation("m", "v", 1.5, grace=0.0).to_json()).grace == 0.0
    parsed = DeployAnnotation.from_dict(
        {"model": "credit", "version": "v3", "at": "1970-01-01T00:16:40Z", "grace": "30m", "by": "ana"}
    )
    assert (parsed.at, parsed.grace, parsed.by) == (1000.0, 1800.0, "ana")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"version": "v", "at": 1}, "model: required key 'model' is missing"),
        ({"model": "m", "version": "v", "at": "yesterday"}, "at: not a time: 'yesterday'"),
        ({"model": "m", "version": "v", "at": 1, "grace": "a while"}, "grace: not a duration: 'a while'"),
        ({"model": "m", "version": "v", "at": 1, "team": "x"}, "team: unknown key 'team'"),
        ({"model": " ", "version": "v", "at": 1}, "needs the model and the version"),
    ],
)
def test_deploy_api_errors_name_the_field(body: Mapping[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=message):
        DeployAnnotation.from_dict(body)


def test_deploy_grace_is_a_muter() -> None:
    assert isinstance(DeployGrace(), Muter)
    with pytest.raises(ValueError, match="default_grace"):
        DeployGrace(default_grace=-1.0)
