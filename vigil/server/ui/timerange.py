"""The dashboard's one time-range control, as every view reads it from its URL.

A range is either relative to now, ``?range=24h`` (a preset, or any duration from 1 minute to 400 days),
or absolute, ``?from=...&to=...`` (RFC 3339 or epoch seconds; ``to`` defaults to now, ``from`` to an hour
before it). A link to a view with its range is a shareable link to what the viewer saw: an absolute range
shows the same data tomorrow, a relative one the latest. A range that cannot be read is replaced by the
view's default and the reason is shown (``problem``), never a blank page.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from vigil.errors import InputError
from vigil.server.wire import duration_seconds, iso, parse_time

__all__ = ["DEFAULT", "PRESETS", "STEPS", "TimeRange", "nice_step"]

PRESETS = ("15m", "1h", "6h", "24h", "7d", "30d")
DEFAULT = "1h"
STEPS = (10, 30, 60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86_400, 7 * 86_400)
"""Chart steps, seconds: the finest that gives at most the points asked for is used."""
_MIN, _MAX = 60.0, 400 * 86_400.0


@dataclass(frozen=True)
class TimeRange:
    """``[start, end)`` in epoch seconds; ``relative`` is the preset (``24h``) when the range ends now."""

    start: float
    end: float
    relative: str | None = None
    problem: str | None = None
    """Why the range given in the URL was not used (the default was), in words."""

    @classmethod
    def parse(cls, params: Mapping[str, str], now: float, default: str = DEFAULT) -> TimeRange:
        """The range of a request's query parameters (``range``, ``from``, ``to``)."""
        try:
            return cls._parse(params, now, default)
        except InputError as exc:
            fallback = cls._relative(default, now)
            return TimeRange(fallback.start, fallback.end, default, f"{exc}; showing the last {default}")

    @classmethod
    def _parse(cls, params: Mapping[str, str], now: float, default: str) -> TimeRange:
        given = (params.get("range") or "").strip()
        start, end = (params.get("from") or "").strip(), (params.get("to") or "").strip()
        if start or end:
            b = parse_time(end) if end else now
            a = parse_time(start) if start else b - 3600.0
            if not a < b:
                raise InputError("'from' must be before 'to'")
            if b - a < _MIN:
                raise InputError("the range must be at least a minute long")
            if b - a > _MAX:
                raise InputError("the range must be at most 400 days long")
            return TimeRange(a, b)
        return cls._relative(given or default, now)

    @classmethod
    def _relative(cls, text: str, now: float) -> TimeRange:
        seconds = duration_seconds(text)
        if seconds is None or not _MIN <= seconds <= _MAX:
            raise InputError(
                f"not a range: {text!r}; use one of {', '.join(PRESETS)}, or from= and to= (RFC 3339)"
            )
        return TimeRange(now - seconds, now, text)

    @property
    def span(self) -> float:
        return self.end - self.start

    def step(self, window: float, points: int = 120) -> float:
        """The chart step for a model of ``window`` seconds: the finest of :data:`STEPS` (and a multiple of
        the window) that gives at most ``points`` steps."""
        return nice_step(self.span, window, points)

    def params(self) -> dict[str, str]:
        """The range as query parameters: ``{"range": "24h"}`` or ``{"from": ..., "to": ...}``."""
        if self.relative is not None and self.problem is None:
            return {"range": self.relative}
        if self.relative is not None:
            return {}
        return {"from": iso(self.start), "to": iso(self.end)}

    def link(self, path: str, **extra: str | None) -> str:
        """``path`` with this range and ``extra`` parameters (None values left out) in its query."""
        query = {**self.params(), **{k: v for k, v in extra.items() if v is not None}}
        return f"{path}?{urlencode(query)}" if query else path

    def label(self) -> str:
        """What the range is, in words: ``last 24h`` or ``2026-11-21 10:00 to 2026-11-21 12:00 UTC``."""
        if self.relative is not None:
            return f"last {self.relative}"
        a, b = iso(self.start), iso(self.end)
        return f"{a[:16].replace('T', ' ')} to {b[:16].replace('T', ' ')} UTC"


def nice_step(span: float, window: float, points: int = 120) -> float:
    """The finest step of :data:`STEPS` (rounded up to a multiple of ``window``) giving at most ``points``
    steps over ``span`` seconds.

    >>> nice_step(3600, 60), nice_step(86_400, 60), nice_step(30 * 86_400, 60), nice_step(900, 10)
    (60.0, 900.0, 21600.0, 10.0)
    """
    window = max(window, 1.0)
    for step in STEPS:
        s = math.ceil(step / window) * window
        if span / s <= points:
            return float(s)
    return float(math.ceil(span / points / window) * window)
