"""Service level objectives: an SLI, a target over a window, the error budget and burn-rate alerts.

The math is pure functions over ``Counts`` (bad and total events of one window), as in the SRE workbook
(chapter 5, "Alerting on SLOs"):

* error ratio = bad / total (0 for an empty window);
* burn rate = error ratio / (1 - target): 1 spends the budget exactly over the SLO window;
* budget consumed = bad / ((1 - target) × total) over the SLO window; remaining = 1 - consumed (negative
  once overspent).

Multi-window, multi-burn-rate alerts (``DEFAULT_BURN_WINDOWS``, for a 30-day SLO): **page** when the burn
rate is >= 14.4 over 1h AND over 5m (2% of the budget in an hour), or >= 6 over 6h AND over 30m (5% in six
hours); **ticket** when >= 1 over 3d AND over 6h (10% in three days). The short window makes an alert stop
soon after the burning stops.

SLIs (``Sli``): ``availability`` (bad = errors, total = events); ``latency`` (bad = requests slower than
``threshold_ms``, from the windows' latency sketches, so within the sketch's 1% relative error; requests
without a latency are not counted); ``quality`` (time slices: total = model windows where ``metric`` has a
value, bad = those where it breaks ``op threshold``, e.g. accuracy < 0.9). :func:`read_counts` reads these
from a ``Query`` (windows counted by their start, at the model's resolution).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from vigil.monitoring.query import Query

__all__ = [
    "DEFAULT_BURN_WINDOWS",
    "BurnAlert",
    "BurnWindow",
    "Counts",
    "Sli",
    "Slo",
    "SloStatus",
    "budget_consumed",
    "budget_remaining",
    "burn_alerts",
    "burn_rate",
    "error_ratio",
    "read_counts",
    "slo_status",
]

HOUR = 3600.0
DAY = 86400.0


@dataclass(frozen=True)
class Counts:
    """Bad and total events (or time slices) of one window."""

    bad: float
    total: float

    def __post_init__(self) -> None:
        if not (0 <= self.bad <= self.total and math.isfinite(self.total)):
            raise ValueError(f"need 0 <= bad <= total, got bad={self.bad}, total={self.total}")


def _check_target(target: float) -> None:
    if not 0 < target < 1:
        raise ValueError(f"an SLO target is a share strictly between 0 and 1 (e.g. 0.999), got {target}")


def error_ratio(counts: Counts) -> float:
    """bad / total; 0 when the window has no events."""
    return counts.bad / counts.total if counts.total else 0.0


def burn_rate(counts: Counts, target: float) -> float:
    """How fast the window spends the error budget: error ratio / (1 - target)."""
    _check_target(target)
    return error_ratio(counts) / (1 - target)


def budget_consumed(counts: Counts, target: float) -> float:
    """Share of the error budget spent by ``counts`` (the SLO window's): bad / ((1 - target) × total)."""
    _check_target(target)
    return counts.bad / ((1 - target) * counts.total) if counts.total else 0.0


def budget_remaining(counts: Counts, target: float) -> float:
    """1 - budget consumed; negative when the budget is overspent."""
    return 1.0 - budget_consumed(counts, target)


@dataclass(frozen=True)
class BurnWindow:
    """An alert condition: burn rate >= ``factor`` over both ``long`` and ``short`` (seconds)."""

    long: float
    short: float
    factor: float
    severity: Literal["page", "ticket"]

    def __post_init__(self) -> None:
        if not (0 < self.short < self.long and self.factor > 0):
            raise ValueError(f"need 0 < short < long and factor > 0, got {self}")


DEFAULT_BURN_WINDOWS: tuple[BurnWindow, ...] = (
    BurnWindow(1 * HOUR, 5 * 60.0, 14.4, "page"),
    BurnWindow(6 * HOUR, 30 * 60.0, 6.0, "page"),
    BurnWindow(3 * DAY, 6 * HOUR, 1.0, "ticket"),
)
"""The SRE workbook's recommended windows for a 30-day SLO."""


@dataclass(frozen=True)
class BurnAlert:
    """A burn-rate condition that holds: its window pair and the burn rates seen over each."""

    window: BurnWindow
    long_rate: float
    short_rate: float

    @property
    def severity(self) -> str:
        return self.window.severity


def burn_alerts(
    counts: Mapping[float, Counts], target: float, windows: Sequence[BurnWindow] = DEFAULT_BURN_WINDOWS
) -> list[BurnAlert]:
    """The conditions of ``windows`` that hold, given the counts of each window length (seconds) ending
    now. Raises KeyError naming a window length missing from ``counts``."""
    out = []
    for w in windows:
        for length in (w.long, w.short):
            if length not in counts:
                raise KeyError(
                    f"no counts for the {length:g} s window; read_counts gives every window needed"
                )
        long_rate, short_rate = burn_rate(counts[w.long], target), burn_rate(counts[w.short], target)
        if long_rate >= w.factor and short_rate >= w.factor:
            out.append(BurnAlert(w, long_rate, short_rate))
    return out


@dataclass(frozen=True)
class Sli:
    """What counts as a good event (see the module docstring)."""

    kind: Literal["availability", "latency", "quality"] = "availability"
    threshold_ms: float | None = None
    metric: str | None = None
    op: Literal[">", "<"] = "<"
    threshold: float | None = None

    def __post_init__(self) -> None:
        if self.kind == "latency" and not (self.threshold_ms is not None and self.threshold_ms > 0):
            raise ValueError("a latency SLI needs threshold_ms > 0 (requests at most this fast are good)")
        if self.kind == "quality" and (self.metric is None or self.threshold is None):
            raise ValueError(
                "a quality SLI needs metric and threshold (a window with metric op threshold is bad)"
            )


@dataclass(frozen=True)
class Slo:
    """An objective: ``target`` share of good events over ``window`` seconds (30 days by default)."""

    name: str
    model: str
    sli: Sli = field(default_factory=Sli)
    target: float = 0.999
    window: float = 30 * DAY
    version: str | None = None
    burn_windows: tuple[BurnWindow, ...] = DEFAULT_BURN_WINDOWS

    def __post_init__(self) -> None:
        _check_target(self.target)
        if not self.window > 0:
            raise ValueError(f"an SLO window must be positive, got {self.window}")


def read_counts(query: Query, slo: Slo, now: float, lengths: Sequence[float]) -> dict[float, Counts]:
    """(bad, total) of ``slo``'s SLI over ``[now - length, now)`` for each length (seconds)."""
    return {length: _counts(query, slo, now - length, now) for length in lengths}


def _counts(query: Query, slo: Slo, start: float, end: float) -> Counts:
    sli = slo.sli
    if sli.kind == "latency":
        assert sli.threshold_ms is not None
        total = bad = 0.0
        for state in query.windows(slo.model, start, end, slo.version).values():
            n = float(state.latency.count)
            total += n
            bad += n - min(n, state.latency.rank(sli.threshold_ms)) if n else 0.0
        return Counts(max(0.0, bad), total)
    spec = query.registry.get(slo.model)
    if spec is None:
        raise KeyError(slo.model)
    res = spec.window.total_seconds()
    if sli.kind == "availability":
        step = max(res, end - start)
        got = query.series(slo.model, ["events", "errors"], start, end, step, slo.version)
        events = sum(v or 0.0 for _, v in got["events"])
        errors = sum(v or 0.0 for _, v in got["errors"])
        return Counts(errors, events)
    assert sli.metric is not None and sli.threshold is not None
    values = [v for _, v in query.series(slo.model, [sli.metric], start, end, res, slo.version)[sli.metric]]
    seen = [v for v in values if v is not None]
    bad = sum(1 for v in seen if (v < sli.threshold if sli.op == "<" else v > sli.threshold))
    return Counts(float(bad), float(len(seen)))


@dataclass(frozen=True)
class SloStatus:
    """An SLO at one time: the SLO window's counts and budget, the burn rates by window, the alerts."""

    slo: Slo
    counts: Counts
    budget_remaining: float
    burn_rates: dict[float, float]
    alerts: list[BurnAlert]


def slo_status(query: Query, slo: Slo, now: float) -> SloStatus:
    """Read every window ``slo`` needs at ``now`` and judge it."""
    lengths = sorted({slo.window, *(x for w in slo.burn_windows for x in (w.long, w.short))})
    counts = read_counts(query, slo, now, lengths)
    return SloStatus(
        slo,
        counts[slo.window],
        budget_remaining(counts[slo.window], slo.target),
        {length: burn_rate(c, slo.target) for length, c in counts.items()},
        burn_alerts(counts, slo.target, slo.burn_windows),
    )
