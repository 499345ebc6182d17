"""Durations read one way everywhere, with one error; times and durations shown one way everywhere."""

from __future__ import annotations

import pickle
from datetime import timedelta

import pytest

from vigil.errors import DurationError, Invalid, Issue
from vigil.timefmt import format_age, format_duration, format_span, format_time, parse_duration


@pytest.mark.parametrize(
    ("written", "seconds"),
    [
        ("250ms", 0.25),
        ("30s", 30),
        ("1m", 60),
        (" 1.5h ", 5400),
        ("7d", 604800),
        ("1w", 604800),
        (90, 90),
        (0.5, 0.5),
    ],
)
def test_parse_duration(written: object, seconds: float) -> None:
    assert parse_duration(written) == timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("soon", "not a duration: 'soon'"),
        ("5 minutes", "not a duration: '5 minutes'"),
        ("0s", "not a duration: '0s'"),
        (0, "not a duration: 0"),
        (-5, "not a duration: -5"),
        (True, "not a duration: true"),
        (None, "not a duration: nothing"),
        (float("nan"), "not a duration: nan"),
        (float("inf"), "too long a duration: inf"),
        ("99999999999w", "too long a duration: '99999999999w'"),
    ],
)
def test_what_is_not_a_duration_raises_one_error(written: object, message: str) -> None:
    with pytest.raises(DurationError) as caught:
        parse_duration(written)
    assert str(caught.value) == message
    assert caught.value.hint
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, Invalid)
    assert [(i.message, i.hint) for i in caught.value.issues] == [(message, caught.value.hint)]


def test_zero_only_when_allowed() -> None:
    assert parse_duration("0s", allow_zero=True) == parse_duration(0, allow_zero=True) == timedelta(0)
    with pytest.raises(DurationError):
        parse_duration(-1, allow_zero=True)


def test_format_time() -> None:
    assert format_time(0) == "1970-01-01T00:00:00Z"
    assert format_time(1_800_000_000.123456) == "2027-01-15T08:00:00Z"
    assert format_time(1_800_000_000.123456, digits=3) == "2027-01-15T08:00:00.123Z"
    assert format_time(1_800_000_000.123456, digits=6) == "2027-01-15T08:00:00.123456Z"
    assert format_time(1_800_000_000, digits=6) == "2027-01-15T08:00:00Z"
    assert format_time(float("nan")) == "nan s since the epoch"
    assert format_time(-1e13) == "-1e+13 s since the epoch"


def test_format_span_and_duration_and_age() -> None:
    assert [format_span(s) for s in (0, 59, 60, 90, 3600, 5400, 86400, 7 * 86400)] == [
        "0s",
        "59s",
        "1m",
        "90s",
        "1h",
        "90m",
        "1d",
        "7d",
    ]
    assert [format_duration(s) for s in (59.6, 3600, 3660, 86400 + 59)] == ["1m", "1h", "1h01m", "1d"]
    assert format_age(100, 100) == "0s ago"
    assert format_age(0, 2 * 86400 + 5) == "2d ago"
    assert format_age(90, 30) == "in 1m"


def test_the_errors_survive_pickling() -> None:
    with pytest.raises(DurationError) as caught:
        parse_duration("soon")
    copy = pickle.loads(pickle.dumps(caught.value))
    assert (type(copy), str(copy), copy.hint, copy.issues) == (
        DurationError,
        str(caught.value),
        caught.value.hint,
        caught.value.issues,
    )
    issues = Invalid(Issue("a", "b", ("x", 1), at_key=True), Issue("c", "d"))
    assert pickle.loads(pickle.dumps(issues)).issues == issues.issues
