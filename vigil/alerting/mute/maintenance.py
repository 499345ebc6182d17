"""Planned quiet: maintenance windows, a :class:`~vigil.alerting.mute.Muter` (deploy grace periods are in
:mod:`vigil.alerting.mute.deploys`).

**Maintenance windows.** A :class:`MaintenanceWindow` mutes the alerts matching all its ``matchers``
(``vigil.alerting.matchers`` syntax; at least one, and not all matching the empty label set, as for
silences) while it is active:

* one-off: ``starts_at <= now < ends_at`` (seconds since the epoch);
* weekly (:class:`WeeklySchedule`): on each listed day, from the wall-clock time ``start`` in the IANA
  ``timezone`` until the wall-clock time ``start + duration`` (so ``sun 02:00`` for ``2h`` ends at 04:00
  local time, also on the nights the clocks change). Each end point becomes an instant as follows: a
  wall-clock time that the clocks skip (spring forward) is the instant of the jump; a time that occurs
  twice (fall back) is its first occurrence for a start and its second for an end. So a window covers
  every instant at which the local clock shows a time in its range, and never less: ``sun 02:00–04:00
  Europe/Berlin`` lasts 1 h of real time on the last Sunday of March (03:00–04:00 CEST), 3 h on the last
  Sunday of October (02:00 CEST–04:00 CET) and 2 h on the other Sundays. A duration may exceed a day
  (up to 7 days); occurrences may then overlap and the window is active while any of them is.

:class:`MaintenanceWindows` holds them by ``name`` (their id as store records of kind
:data:`MAINTENANCE_KIND`) and mutes what any active one mutes. Config (``alerting.maintenance:``; the API
takes the same mapping as JSON, where ``starts_at``/``ends_at`` may also be epoch seconds)::

    alerting:
      maintenance:
        - name: db-vacuum
          matchers: ['model=~"credit-risk|fraud"']
          weekly: {days: [sun], start: "02:00", end: "04:00", timezone: Europe/Berlin}
          comment: weekly feature-store vacuum
          created_by: ops@example.com
        - name: warehouse-migration
          matchers: ['team="risk-ml"']
          starts_at: 2026-11-01T22:00:00Z        # an offset or Z is required
          ends_at: 2026-11-02T02:00:00Z

``days`` are ``mon``..``sun`` (or full names), ranges such as ``mon-fri`` (``fri-mon`` wraps); ``end``
(``"HH:MM"``, ``"24:00"`` for midnight; at or before ``start``: the next day) or ``duration`` (``90m``);
times in quotes, since YAML reads an unquoted ``12:30`` as the number 750; ``timezone``
defaults to UTC. ``to_json`` writes the same
mapping with epoch seconds, the duration in seconds and never ``end``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, ValidationError

from vigil.alerting.fingerprint import Labels
from vigil.alerting.matchers import Matcher, MatcherError, matches_all, parse_matcher
from vigil.config import parse_duration
from vigil.errors import ConfigError, ConfigProblem, InputError

__all__ = [
    "MAINTENANCE_KIND",
    "MaintenanceWindow",
    "MaintenanceWindows",
    "WeeklySchedule",
]

MAINTENANCE_KIND = "maintenance"

_DAY = 86400.0
_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


# -- weekly schedules -------------------------------------------------------------------------------------


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
        days = ",".join(_DAY_NAMES[d] for d in self.days)
        begin = _clock(self.start)
        if self.duration < _DAY:
            end = (datetime.combine(date(2000, 1, 1), self.start) + timedelta(seconds=self.duration)).time()
            return f"{days} {begin}–{_clock(end)} {self.timezone}"
        return f"{days} {begin} for {_span(self.duration)} {self.timezone}"


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r}: give an IANA name such as Europe/Berlin, America/New_York or UTC"
        ) from None


def _clock(t: time) -> str:
    return t.strftime("%H:%M") if t.second == 0 else t.strftime("%H:%M:%S")


def _span(seconds: float) -> str:
    for unit, size in (("d", _DAY), ("h", 3600.0), ("m", 60.0)):
        if seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


# -- maintenance windows ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MaintenanceWindow:
    """A named window muting the alerts its matchers match: one-off (``starts_at``/``ends_at``) or ``weekly``.

    Raises ValueError for a window that cannot be used.
    """

    name: str
    matchers: tuple[Matcher, ...]
    starts_at: float | None = None
    ends_at: float | None = None
    weekly: WeeklySchedule | None = None
    comment: str = ""
    created_by: str = ""

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError("a maintenance window needs a name (it is its id)")
        if not self.matchers:
            raise ValueError('a maintenance window needs at least one matcher; add e.g. model="..."')
        if all(m.matches({}) for m in self.matchers):
            raise ValueError(
                "matchers that all match the empty label set would mute every alert; add one that requires "
                'a label value (for everything: alertname=~".+")'
            )
        one_off = (self.starts_at, self.ends_at) != (None, None)
        if one_off == (self.weekly is not None):
            raise ValueError("a maintenance window is either one-off (starts_at and ends_at) or weekly")
        if one_off:
            if self.starts_at is None or self.ends_at is None:
                raise ValueError("a one-off maintenance window needs both starts_at and ends_at")
            if not (math.isfinite(self.starts_at) and math.isfinite(self.ends_at)):
                raise ValueError("starts_at and ends_at must be finite seconds since the epoch")
            if not self.ends_at > self.starts_at:
                raise ValueError(
                    f"a maintenance window must end after it starts "
                    f"(starts_at={self.starts_at}, ends_at={self.ends_at})"
                )

    @property
    def id(self) -> str:
        return self.name

    def occurrence(self, now: float) -> tuple[float, float] | None:
        """The ``(start, end)`` seconds of the occurrence active at ``now``, else None."""
        if self.weekly is not None:
            return self.weekly.occurrence(now)
        assert self.starts_at is not None and self.ends_at is not None
        return (self.starts_at, self.ends_at) if self.starts_at <= now < self.ends_at else None

    def upcoming(self, now: float) -> tuple[float, float] | None:
        """The occurrence in progress at ``now``, else the next one; None once a one-off window has ended."""
        if self.weekly is not None:
            return self.weekly.upcoming(now)
        assert self.starts_at is not None and self.ends_at is not None
        return (self.starts_at, self.ends_at) if now < self.ends_at else None

    def active(self, now: float) -> bool:
        return self.occurrence(now) is not None

    def mutes(self, labels: Labels, now: float) -> bool:
        return matches_all(self.matchers, labels) and self.active(now)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "matchers": [str(m) for m in self.matchers],
            "comment": self.comment,
            "created_by": self.created_by,
        }
        if self.weekly is not None:
            out["weekly"] = {
                "days": [_DAY_NAMES[d] for d in self.weekly.days],
                "start": _clock(self.weekly.start),
                "duration": self.weekly.duration,
                "timezone": self.weekly.timezone,
            }
        else:
            out["starts_at"], out["ends_at"] = self.starts_at, self.ends_at
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MaintenanceWindow:
        """A window from its config/JSON mapping; raises InputError naming every problem and its field."""
        window, problems = _parse_window(data, "")
        if window is None:
            raise InputError("invalid maintenance window: " + "; ".join(_sentence(p) for p in problems))
        return window

    @classmethod
    def from_json(cls, text: str) -> MaintenanceWindow:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise InputError("invalid maintenance window: expected a JSON object")
        return cls.from_dict(data)


class MaintenanceWindows:
    """Maintenance windows by name; mutes what any active one mutes."""

    def __init__(self, windows: Iterable[MaintenanceWindow] = ()) -> None:
        self._windows: dict[str, MaintenanceWindow] = {}
        for window in windows:
            if window.name in self._windows:
                raise ValueError(f"two maintenance windows are named {window.name!r}; names must be unique")
            self._windows[window.name] = window

    def add(self, window: MaintenanceWindow) -> None:
        """Add ``window``, replacing the one with the same name."""
        self._windows[window.name] = window

    def remove(self, name: str) -> MaintenanceWindow | None:
        return self._windows.pop(name, None)

    def get(self, name: str) -> MaintenanceWindow | None:
        return self._windows.get(name)

    def __iter__(self) -> Iterator[MaintenanceWindow]:
        return iter(self._windows.values())

    def __len__(self) -> int:
        return len(self._windows)

    def active(self, now: float) -> list[MaintenanceWindow]:
        """The windows active at ``now``, in the order they were added."""
        return [w for w in self._windows.values() if w.active(now)]

    def muted_by(self, labels: Labels, now: float) -> list[MaintenanceWindow]:
        """The active windows that match ``labels``, in the order they were added."""
        return [w for w in self._windows.values() if w.mutes(labels, now)]

    def mutes(self, labels: Labels, now: float) -> bool:
        return any(w.mutes(labels, now) for w in self._windows.values())

    @classmethod
    def from_config(
        cls, raw: object, *, filename: str = "vigil.yaml", path: str = "alerting.maintenance"
    ) -> MaintenanceWindows:
        """The windows of an ``alerting.maintenance`` list (None: none); ConfigError lists every problem."""
        if raw is None:
            return cls()
        if not isinstance(raw, list):
            raise ConfigError(
                [
                    ConfigProblem(
                        filename, None, None, path, "must be a list of windows", "start each with - name:"
                    )
                ]
            )
        windows: list[MaintenanceWindow] = []
        problems: list[_Problem] = []
        for index, item in enumerate(raw):
            where = f"{path}[{index}]"
            if not isinstance(item, Mapping):
                problems.append((where, "each window must be a mapping", "give name:, matchers: and a time"))
                continue
            window, found = _parse_window(item, where)
            problems.extend(found)
            if window is not None:
                if any(w.name == window.name for w in windows):
                    problems.append(
                        (f"{where}.name", f"a second window named {window.name!r}", "give each a unique name")
                    )
                else:
                    windows.append(window)
        if problems:
            raise ConfigError([ConfigProblem(filename, None, None, p, m, h) for p, m, h in problems])
        return cls(windows)


class _WeeklyModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    days: Any
    start: Any
    end: Any = None
    duration: Any = None
    timezone: str = "UTC"


class _WindowModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    matchers: list[str]
    starts_at: Any = None
    ends_at: Any = None
    weekly: _WeeklyModel | None = None
    comment: str = ""
    created_by: str = ""


_Problem = tuple[str, str, str]
"""(path, message, hint)."""


class _Bad(ValueError):
    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _pydantic_problems(exc: ValidationError, path: str) -> list[_Problem]:
    out: list[_Problem] = []
    for error in exc.errors():
        where = path
        for part in error["loc"]:
            where = _join(where, part if isinstance(part, int) else str(part))
        name = str(error["loc"][-1]) if error["loc"] else "value"
        if error["type"] == "extra_forbidden":
            out.append((where, f"unknown key {name!r}", "remove it, or check its spelling"))
        elif error["type"] == "missing":
            out.append((where, f"required key {name!r} is missing", f"add {name}:"))
        else:
            out.append((where, f"{error['msg']} (got {error['input']!r})", "fix the value"))
    return out


def _sentence(problem: _Problem) -> str:
    where, message, hint = problem
    return f"{where}: {message} ({hint})" if where else f"{message} ({hint})"


def _parse_window(data: Mapping[str, Any], path: str) -> tuple[MaintenanceWindow | None, list[_Problem]]:
    try:
        model = _WindowModel.model_validate(dict(data))
    except ValidationError as exc:
        return None, _pydantic_problems(exc, path)
    problems: list[_Problem] = []
    matchers: list[Matcher] = []
    for index, text in enumerate(model.matchers):
        try:
            matchers.append(parse_matcher(text))
        except MatcherError as exc:
            problems.append((_join(_join(path, "matchers"), index), str(exc), "fix the matcher"))
    starts_at = ends_at = None
    for key in ("starts_at", "ends_at"):
        value = getattr(model, key)
        if value is not None:
            try:
                seconds = _instant_of(value)
            except _Bad as exc:
                problems.append((_join(path, key), str(exc), exc.hint))
                continue
            if key == "starts_at":
                starts_at = seconds
            else:
                ends_at = seconds
    weekly = None
    if model.weekly is not None:
        try:
            weekly = _weekly(model.weekly)
        except _Bad as exc:
            problems.append((_join(path, "weekly"), str(exc), exc.hint))
    if problems:
        return None, problems
    try:
        window = MaintenanceWindow(
            model.name, tuple(matchers), starts_at, ends_at, weekly, model.comment, model.created_by
        )
    except ValueError as exc:
        return None, [(path, str(exc), "see vigil.alerting.mute.maintenance")]
    return window, []


def _instant_of(value: object) -> float:
    """Epoch seconds from a number, an aware datetime or an ISO 8601 text with an offset."""
    if isinstance(value, bool):
        raise _Bad(f"not a time: {value!r}", "write e.g. 2026-11-01T22:00:00Z")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise _Bad(f"not a time: {value!r}", "give seconds since the epoch or e.g. 2026-11-01T22:00:00Z")
        return float(value)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise _Bad(f"not a time: {value!r}", "write e.g. 2026-11-01T22:00:00Z") from None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise _Bad(
                f"{value.isoformat()} has no time zone",
                "add Z (UTC) or an offset, e.g. 2026-11-01T22:00:00+01:00",
            )
        return value.timestamp()
    raise _Bad(f"not a time: {value!r}", "write a date and time such as 2026-11-01T22:00:00Z")


def _weekly(model: _WeeklyModel) -> WeeklySchedule:
    days = _days(model.days)
    start = _time_of_day(model.start, "start")
    if (model.end is None) == (model.duration is None):
        raise _Bad(
            "a weekly window needs either end or duration (not both)", 'add end: "04:00" or duration: 2h'
        )
    if model.end is not None:
        end = _time_of_day(model.end, "end", allow_24=True)
        if end == start:
            raise _Bad("end equals start", "for a whole day write duration: 1d")
        duration = end - start if end > start else end - start + _DAY
    else:
        try:
            duration = parse_duration(model.duration).total_seconds()
        except (ValueError, OverflowError):
            raise _Bad(
                f"duration is not a duration: {model.duration!r}", "write it like 90m, 2h or 1d"
            ) from None
    whole = int(start)
    try:
        return WeeklySchedule(
            days, time(whole // 3600, whole // 60 % 60, whole % 60), duration, model.timezone
        )
    except ValueError as exc:
        raise _Bad(str(exc), "see vigil.alerting.mute.maintenance") from None


def _days(value: object) -> tuple[int, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise _Bad(
            f"days must be a list of week days, got {value!r}", "write e.g. days: [sat, sun] or [mon-fri]"
        )
    out: list[int] = []
    for item in items:
        text = str(item).strip().lower()
        ends = text.split("-")
        if len(ends) > 2 or not all(_day(e) is not None for e in ends):
            raise _Bad(
                f"not a week day: {item!r}", "use mon, tue, wed, thu, fri, sat, sun or a range like mon-fri"
            )
        first, last = (_day(e) for e in (ends[0], ends[-1]))
        assert first is not None and last is not None
        out.extend((first + k) % 7 for k in range((last - first) % 7 + 1))
    return tuple(out)


def _day(text: str) -> int | None:
    text = text.strip()
    for names in (_DAY_NAMES, _FULL_DAY_NAMES):
        if text in names:
            return names.index(text)
    return None


_TIME = re.compile(r"^\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s*$")


def _time_of_day(value: object, key: str, *, allow_24: bool = False) -> float:
    """Seconds after midnight of ``"HH:MM[:SS]"``."""
    if isinstance(value, int) and not isinstance(value, bool):
        guess = f"{value // 60}:{value % 60:02d}"
        raise _Bad(
            f"{key} must be a time of day in quotes, got the number {value}",
            f'write {key}: "{guess}" (unquoted, YAML reads {guess} as {value})',
        )
    found = _TIME.match(value) if isinstance(value, str) else None
    if found is not None:
        h, m, s = int(found[1]), int(found[2]), int(found[3] or 0)
        if (h < 24 and m < 60 and s < 60) or (allow_24 and (h, m, s) == (24, 0, 0)):
            return h * 3600.0 + m * 60 + s
    last = ', or "24:00" for midnight' if allow_24 else ""
    raise _Bad(f"{key} is not a time of day: {value!r}", f'write "HH:MM" from "00:00" to "23:59"{last}')
