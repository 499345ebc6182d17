"""Durations and times as people write and read them: ``parse_duration`` and the formatters.

Every duration Vigil reads (config, HTTP bodies, CLI flags) goes through :func:`parse_duration`, which
raises :class:`~vigil.errors.DurationError` (a ``ValueError``) saying how to write one. Every time Vigil
shows goes through a formatter here: in UTC, ISO 8601 with a ``Z`` (:func:`format_time`; ``TIME_FORMAT``
for the log lines), or to the minute in tables (:func:`format_minute`); times of day as ``09:00``
(:func:`format_clock`), and the demo's local clock (:func:`format_wall_clock`); durations in their largest
whole unit (:func:`format_span`: ``5m``) or two largest units (:func:`format_duration`: ``1h05m``), and
how long ago (:func:`format_age`).
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, time, timedelta

from vigil.errors import DurationError, as_written

__all__ = [
    "TIME_FORMAT",
    "format_age",
    "format_clock",
    "format_duration",
    "format_minute",
    "format_span",
    "format_time",
    "format_wall_clock",
    "parse_duration",
]

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
"""``format_time``'s form as a ``strftime`` pattern, for the log formatters (whose clock is set to UTC)."""

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_HOW = "write it like 30s, 1m, 2h, 7d or 1w"


def parse_duration(value: object, *, allow_zero: bool = False) -> timedelta:
    """``"30s"``, ``"1m"``, ``"2h"``, ``"7d"``, ``"1w"`` (or a number of seconds) as a timedelta.

    Zero is refused unless ``allow_zero``; anything else that is not a positive duration raises
    ``DurationError``. A timedelta is returned as it is.

    >>> parse_duration("90s"), parse_duration("1.5h")
    (datetime.timedelta(seconds=90), datetime.timedelta(seconds=5400))
    >>> parse_duration("0s", allow_zero=True)
    datetime.timedelta(0)
    >>> parse_duration("soon")
    Traceback (most recent call last):
    ...
    vigil.errors.DurationError: not a duration: 'soon'
    """
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        match = _DURATION.match(value) if isinstance(value, str) else None
        if match is None:
            raise DurationError(f"not a duration: {as_written(value)}", _HOW)
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if not (seconds > 0 or (allow_zero and seconds == 0)):  # NaN included
        raise DurationError(f"not a duration: {as_written(value)}", _HOW)
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise DurationError(
            f"too long a duration: {as_written(value)}", "give one under 999999999 days"
        ) from None


def format_time(t: float, *, digits: int = 0) -> str:
    """``t`` (seconds since the epoch) in UTC, ISO 8601 with a ``Z``: ``2026-03-01T12:00:00Z``.

    ``digits`` (3 or 6) adds milli- or microseconds when the second has a fraction at that precision (as
    RFC 3339 allows; Alertmanager writes times so). A time no calendar holds (NaN, beyond year 9999) is
    shown as seconds since the epoch.

    >>> format_time(1_800_000_000), format_time(1700000000.25, digits=3), format_time(0.5, digits=6)
    ('2027-01-15T08:00:00Z', '2023-11-14T22:13:20.250Z', '1970-01-01T00:00:00.500000Z')
    >>> format_time(0.0004, digits=3), format_time(1e20)
    ('1970-01-01T00:00:00Z', '1e+20 s since the epoch')
    """
    moment = _utc(t)
    if moment is None:
        return f"{t:g} s since the epoch"
    text = moment.strftime(TIME_FORMAT)
    fraction = f"{moment.microsecond:06d}"[:digits]
    if fraction.strip("0"):
        text = f"{text[:-1]}.{fraction}Z"
    return text


def format_minute(t: float) -> str:
    """``t`` in UTC to the minute, as tables show times: ``2026-11-21 10:00``.

    >>> format_minute(1_800_000_042.9), format_minute(1e20)
    ('2027-01-15 08:00', '1e+20 s since the epoch')
    """
    moment = _utc(t)
    return f"{t:g} s since the epoch" if moment is None else moment.strftime("%Y-%m-%d %H:%M")


def format_clock(t: time) -> str:
    """A time of day as written in schedules: ``09:00``, with seconds only when there are any.

    >>> format_clock(time(9)), format_clock(time(17, 30, 15))
    ('09:00', '17:30:15')
    """
    return t.strftime("%H:%M") if t.second == 0 else t.strftime("%H:%M:%S")


def format_wall_clock(t: float) -> str:
    """``t`` as the local clock shows it, to the second (``14:03:07``): the demo's narration, read against
    the clock of the person watching it."""
    return datetime.fromtimestamp(t).strftime("%H:%M:%S")


def _utc(t: float) -> datetime | None:
    try:
        return datetime.fromtimestamp(t, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def format_span(length: float | timedelta, *, weeks: bool = False) -> str:
    """A length (seconds or a timedelta) in its largest whole unit: ``300`` → ``5m``, ``259200`` → ``3d``,
    ``90`` → ``90s``; with ``weeks`` (as rules are written), ``1209600`` → ``2w``.

    >>> format_span(300), format_span(7200), format_span(259200), format_span(90), format_span(0.5)
    ('5m', '2h', '3d', '90s', '0.5s')
    >>> format_span(1_209_600), format_span(1_209_600, weeks=True)
    ('14d', '2w')
    """
    seconds = length.total_seconds() if isinstance(length, timedelta) else length
    units = (("w", 604800.0),) if weeks else ()
    for unit, size in (*units, ("d", 86400.0), ("h", 3600.0), ("m", 60.0)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


def format_duration(seconds: float) -> str:
    """A duration in its two largest units, to the second.

    >>> [format_duration(s) for s in (0, 42, 60, 270, 3_900, 90_061, 1.5)]
    ['0s', '42s', '1m', '4m30s', '1h05m', '1d01h', '2s']
    """
    s = round(abs(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        m, rest = divmod(s, 60)
        return f"{m}m{rest:02d}s" if rest else f"{m}m"
    if s < 86_400:
        h, rest = divmod(s, 3600)
        return f"{h}h{rest // 60:02d}m" if rest // 60 else f"{h}h"
    d, rest = divmod(s, 86_400)
    return f"{d}d{rest // 3600:02d}h" if rest // 3600 else f"{d}d"


def format_age(t: float, now: float) -> str:
    """How long before ``now`` the time ``t`` was, in its largest unit (``in ...`` when after ``now``).

    >>> format_age(1000, 1045), format_age(1000, 1000 + 12 * 60 + 30), format_age(1000, 1000 - 7200)
    ('45s ago', '12m ago', 'in 2h')
    """
    d = now - t
    s = abs(d)
    if not math.isfinite(s):
        return "-"
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60)):
        if s >= size:
            text = f"{int(s // size)}{unit}"
            break
    else:
        text = f"{int(s)}s"
    return f"{text} ago" if d >= 0 else f"in {text}"
