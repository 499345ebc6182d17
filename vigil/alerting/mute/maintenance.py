"""Planned quiet: maintenance windows, a :class:`~vigil.alerting.mute.Muter` (deploy grace periods are in
:mod:`vigil.alerting.mute.deploys`).

**Maintenance windows.** A :class:`MaintenanceWindow` mutes the alerts matching all its ``matchers``
(``vigil.alerting.matchers`` syntax; at least one, and not all matching the empty label set, as for
silences) while it is active:

* one-off: ``starts_at <= now < ends_at`` (seconds since the epoch);
* weekly (:class:`~vigil.alerting.mute.intervals.WeeklySchedule`): on each listed day, from a wall-clock
  time in an IANA time zone for a duration; :mod:`vigil.alerting.mute.intervals` says exactly which
  instants that covers when the clocks change.

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

``days``, ``start``, ``end`` or ``duration``, and ``timezone`` of ``weekly:`` are written as
:mod:`vigil.alerting.mute.intervals` describes. ``to_json`` writes the same mapping with epoch seconds, the
duration in seconds and never ``end``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from vigil.alerting.fingerprint import Labels
from vigil.alerting.matchers import Matcher, MatcherError, matches_all, parse_matcher
from vigil.alerting.mute.intervals import (
    DAY_NAMES,
    IntervalError,
    WeeklySchedule,
    WeeklySpec,
    instant_of,
    weekly_of,
)
from vigil.errors import ConfigError, ConfigProblem, InputError
from vigil.timefmt import format_clock

__all__ = [
    "MAINTENANCE_KIND",
    "MaintenanceWindow",
    "MaintenanceWindows",
    "Problem",
    "WeeklySchedule",
    "pydantic_problems",
    "sentence",
]

MAINTENANCE_KIND = "maintenance"


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
                "days": [DAY_NAMES[d] for d in self.weekly.days],
                "start": format_clock(self.weekly.start),
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
            raise InputError("invalid maintenance window: " + "; ".join(sentence(p) for p in problems))
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
        problems: list[Problem] = []
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


class _WindowModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    matchers: list[str]
    starts_at: Any = None
    ends_at: Any = None
    weekly: WeeklySpec | None = None
    comment: str = ""
    created_by: str = ""


Problem = tuple[str, str, str]
"""A problem in a posted window or annotation: (path, message, hint)."""


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def pydantic_problems(exc: ValidationError, path: str) -> list[Problem]:
    """``exc``'s errors as problems, their paths under ``path`` (``""`` for the top): unknown and missing keys
    named, other errors with the value given."""
    out: list[Problem] = []
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


def sentence(problem: Problem) -> str:
    """One problem as the sentence an ``InputError`` carries: ``path: message (hint)``."""
    where, message, hint = problem
    return f"{where}: {message} ({hint})" if where else f"{message} ({hint})"


def _parse_window(data: Mapping[str, Any], path: str) -> tuple[MaintenanceWindow | None, list[Problem]]:
    try:
        model = _WindowModel.model_validate(dict(data))
    except ValidationError as exc:
        return None, pydantic_problems(exc, path)
    problems: list[Problem] = []
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
                seconds = instant_of(value)
            except IntervalError as exc:
                problems.append((_join(path, key), str(exc), exc.hint))
                continue
            if key == "starts_at":
                starts_at = seconds
            else:
                ends_at = seconds
    weekly = None
    if model.weekly is not None:
        try:
            weekly = weekly_of(model.weekly)
        except IntervalError as exc:
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
