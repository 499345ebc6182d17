"""Time intervals for muting: weekly schedules in a time zone, and the times and days written in config.

A :class:`WeeklySchedule` is active on each listed day, from the wall-clock time ``start`` in the IANA
``timezone`` until the wall-clock time ``start + duration`` (so ``sun 02:00`` for ``2h`` ends at 04:00 local
time, also on the nights the clocks change). Each end point becomes an instant as follows: a wall-clock time
that the clocks skip (spring forward) is the instant of the jump; a time that occurs twice (fall back) is its
first occurrence for a start and its second for an end. So a schedule covers every instant at which the local
clock shows a time in its range, and never less: ``sun 02:00–04:00 Europe/Berlin`` lasts 1 h of real time on
the last Sunday of March (03:00–04:00 CEST), 3 h on the last Sunday of October (02:00 CEST–04:00 CET) and 2 h
on the other Sundays. A duration may exceed a day (up to 7 days); occurrences may then overlap and the
schedule is active while any of them is.

Written in config as ``{days: [sun], start: "02:00", end: "04:00", timezone: Europe/Berlin}``: ``days`` are
``mon``..``sun`` (or full names), ranges such as ``mon-fri`` (``fri-mon`` wraps); ``end`` (``"HH:MM"``,
``"24:00"`` for midnight; at or before ``start``: the next day) or ``duration`` (``90m``); times in quotes,
since YAML reads an unquoted ``12:30`` as the number 750; ``timezone`` defaults to UTC. Instants
(:func:`instant_of`) are epoch seconds or ISO 8601 with an offset.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict

from vigil.timefmt import format_clock, format_span, parse_duration

__all__ = ["DAY_NAMES", "IntervalError", "WeeklySchedule", "WeeklySpec", "instant_of", "weekly_of"]

_DAY = 86400.0
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _wall(ts: float, zone: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(ts, zone).replace(tzinfo=None)


def _instant(local: datetime, zone: ZoneInfo, fold: int) -> float:
    """When the clocks in ``zone`` show ``local`` (``fold`` picks one of two); a skipped time: the jump."""
    ts = local.replace(tzinfo=zone, fold=fold).timestamp()
    if _wall(ts, zone) == local:
        return ts
    # Skipped: the two folds use the offsets before and after the jump and so bracket it; find the first
    # whole second whose wall time is at or after ``local`` (transitions fall on whole seconds).
    a, b = (local.replace(tzinfo=zone, fold=f).timestamp() for f in (0, 1))
    lo, hi = math.floor(min(a, b)), math.ceil(max(a, b))
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _wall(mid, zone) >= local:
            hi = mid
        else:
            lo = mid
    return float(hi)


@dataclass(frozen=True)
class WeeklySchedule:
    """On ``days`` (0 = Monday .. 6 = Sunday), from wall-clock ``start`` for ``duration`` wall-clock seconds.

    See the module docstring for daylight-saving changes. Raises ValueError for a schedule that cannot be
    used.

    >>> s = WeeklySchedule((6,), time(2, 0), 7200.0, "Europe/Berlin")
    >>> str(s)
    'sun 02:00–04:00 Europe/Berlin'
    >>> s.occurrence(datetime(2026, 10, 25, 1, 30, tzinfo=ZoneInfo("UTC")).timestamp()) is not None
    True
    """

    days: tuple[int, ...]
    start: time
    duration: float
    timezone: str
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.days or any(not 0 <= d <= 6 for d in self.days):
            raise ValueError(f"a weekly schedule needs days from 0 (Monday) to 6 (Sunday), got {self.days!r}")
        object.__setattr__(self, "days", tuple(sorted(set(self.days))))
        if self.start.tzinfo is not None:
            raise ValueError("a weekly schedule's start is a wall-clock time; give the zone as timezone")
        if not 0 < self.duration <= 7 * _DAY:
            raise ValueError(
                f"a weekly schedule lasts more than 0 and at most 7 days, got {self.duration!r} seconds"
            )
        object.__setattr__(self, "_zone", _zone(self.timezone))

    def _occurrence_on(self, day: date) -> tuple[float, float]:
        begin = datetime.combine(day, self.start)
        end = begin + timedelta(seconds=self.duration)
        return _instant(begin, self._zone, 0), _instant(end, self._zone, 1)

    def _occurrences(self, now: float, ahead_days: int) -> Iterator[tuple[float, float]]:
        today = datetime.fromtimestamp(now, self._zone).date()
        back = math.ceil(self.duration / _DAY) + 1
        for offset in range(-back, ahead_days + 1):
            day = today + timedelta(days=offset)
            if day.weekday() in self.days:
                yield self._occurrence_on(day)

    def occurrence(self, now: float) -> tuple[float, float] | None:
        """The ``(start, end)`` seconds of an occurrence with ``start <= now < end``, else None."""
        return next(((s, e) for s, e in self._occurrences(now, 1) if s <= now < e), None)

    def upcoming(self, now: float) -> tuple[float, float]:
        """The occurrence in progress at ``now``, else the next one."""
        return next((s, e) for s, e in self._occurrences(now, 8) if e > now)

    def __str__(self) -> str:
        days = ",".join(DAY_NAMES[d] for d in self.days)
        begin = format_clock(self.start)
        if self.duration < _DAY:
            end = (datetime.combine(date(2000, 1, 1), self.start) + timedelta(seconds=self.duration)).time()
            return f"{days} {begin}–{format_clock(end)} {self.timezone}"
        return f"{days} {begin} for {format_span(self.duration)} {self.timezone}"


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r}: give an IANA name such as Europe/Berlin, America/New_York or UTC"
        ) from None


class WeeklySpec(BaseModel):
    """A ``weekly:`` mapping as written; :func:`weekly_of` checks it."""

    model_config = ConfigDict(extra="forbid")
    days: Any
    start: Any
    end: Any = None
    duration: Any = None
    timezone: str = "UTC"


class IntervalError(ValueError):
    """A time or schedule that cannot be used; ``hint`` says what to write instead."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


def instant_of(value: object) -> float:
    """Epoch seconds from a number, an aware datetime or an ISO 8601 text with an offset."""
    if isinstance(value, bool):
        raise IntervalError(f"not a time: {value!r}", "write e.g. 2026-11-01T22:00:00Z")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise IntervalError(
                f"not a time: {value!r}", "give seconds since the epoch or e.g. 2026-11-01T22:00:00Z"
            )
        return float(value)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise IntervalError(f"not a time: {value!r}", "write e.g. 2026-11-01T22:00:00Z") from None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise IntervalError(
                f"{value.isoformat()} has no time zone",
                "add Z (UTC) or an offset, e.g. 2026-11-01T22:00:00+01:00",
            )
        return value.timestamp()
    raise IntervalError(f"not a time: {value!r}", "write a date and time such as 2026-11-01T22:00:00Z")


def weekly_of(model: WeeklySpec) -> WeeklySchedule:
    days = _days(model.days)
    start = _time_of_day(model.start, "start")
    if (model.end is None) == (model.duration is None):
        raise IntervalError(
            "a weekly window needs either end or duration (not both)", 'add end: "04:00" or duration: 2h'
        )
    if model.end is not None:
        end = _time_of_day(model.end, "end", allow_24=True)
        if end == start:
            raise IntervalError("end equals start", "for a whole day write duration: 1d")
        duration = end - start if end > start else end - start + _DAY
    else:
        try:
            duration = parse_duration(model.duration).total_seconds()
        except (ValueError, OverflowError):
            raise IntervalError(
                f"duration is not a duration: {model.duration!r}", "write it like 90m, 2h or 1d"
            ) from None
    whole = int(start)
    try:
        return WeeklySchedule(
            days, time(whole // 3600, whole // 60 % 60, whole % 60), duration, model.timezone
        )
    except ValueError as exc:
        raise IntervalError(str(exc), "see vigil.alerting.mute.maintenance") from None


def _days(value: object) -> tuple[int, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise IntervalError(
            f"days must be a list of week days, got {value!r}", "write e.g. days: [sat, sun] or [mon-fri]"
        )
    out: list[int] = []
    for item in items:
        text = str(item).strip().lower()
        ends = text.split("-")
        if len(ends) > 2 or not all(_day(e) is not None for e in ends):
            raise IntervalError(
                f"not a week day: {item!r}", "use mon, tue, wed, thu, fri, sat, sun or a range like mon-fri"
            )
        first, last = (_day(e) for e in (ends[0], ends[-1]))
        assert first is not None and last is not None
        out.extend((first + k) % 7 for k in range((last - first) % 7 + 1))
    return tuple(out)


def _day(text: str) -> int | None:
    text = text.strip()
    for names in (DAY_NAMES, _FULL_DAY_NAMES):
        if text in names:
            return names.index(text)
    return None


_TIME = re.compile(r"^\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s*$")


def _time_of_day(value: object, key: str, *, allow_24: bool = False) -> float:
    """Seconds after midnight of ``"HH:MM[:SS]"``."""
    if isinstance(value, int) and not isinstance(value, bool):
        guess = f"{value // 60}:{value % 60:02d}"
        raise IntervalError(
            f"{key} must be a time of day in quotes, got the number {value}",
            f'write {key}: "{guess}" (unquoted, YAML reads {guess} as {value})',
        )
    found = _TIME.match(value) if isinstance(value, str) else None
    if found is not None:
        h, m, s = int(found[1]), int(found[2]), int(found[3] or 0)
        if (h < 24 and m < 60 and s < 60) or (allow_24 and (h, m, s) == (24, 0, 0)):
            return h * 3600.0 + m * 60 + s
    last = ', or "24:00" for midnight' if allow_24 else ""
    raise IntervalError(
        f"{key} is not a time of day: {value!r}", f'write "HH:MM" from "00:00" to "23:59"{last}'
    )
