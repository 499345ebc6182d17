"""Service level objectives: an SLI, a target over a window, the error budget and burn-rate alerts.

The math is pure functions over ``Counts`` (bad and total events of one window), as in the SRE workbook
(chapter 5, "Alerting on SLOs"):

* error ratio = bad / total (0 for an empty window);
* burn rate = error ratio / (1 - target): 1 spends the budget exactly over the SLO window;
* budget consumed = bad / ((1 - target) × total) over the SLO window; remaining = 1 - consumed (negative
  once overspent).

Multi-window, multi-burn-rate alerts (:func:`burn_windows_for`; the workbook's table 5-8 for a 30-day SLO,
``DEFAULT_BURN_WINDOWS``): **page** when the burn rate is > 14.4 over 1h AND over 5m (2% of the budget in
an hour), or > 6 over 6h AND over 30m (5% in six hours); **ticket** when > 3 over 24h AND over 2h, or > 1
over 3d AND over 6h (10% in a day, or in three days). AND within a tier, OR across tiers; comparisons are
strict, as in the workbook's PromQL. For another SLO window the factors keep the same budget shares:
factor = budget share × SLO window / long window (tiers whose long window is longer than the SLO window
are left out). The short window (1/12 of the long one) makes an alert stop soon after the burning stops.
A tier is judged only when its long window holds at least ``Slo.min_events`` events (low traffic makes
burn rates jumpy; 0, the default, judges every tier).

SLIs (``Sli``): ``availability`` (bad = errors, total = events); ``latency`` (bad = requests slower than
``threshold_ms``, from the windows' latency sketches, so within the sketch's 1% relative error; requests
without a latency are not counted); ``quality`` (time slices: total = model windows where ``metric`` has a
value, bad = those where it breaks ``op threshold``, e.g. accuracy < 0.9). :func:`read_counts` reads these
from a metric source (windows counted by their start, at the model's resolution).

:func:`slo_status` judges one SLO at a time; :func:`slo_statuses` judges several at their last complete
window, as rule evaluation does (:class:`~vigil.alerting.rules.slo.SloRule` runs an SLO through the alert
state machine; :mod:`vigil.alerting.rules.slo` reads the ``slos:`` section).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from vigil.alerting.evaluate.source import MetricSource
from vigil.timefmt import format_span

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
    "burn_windows_for",
    "error_ratio",
    "read_counts",
    "slo_status",
    "slo_statuses",
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


BURN_TIERS: tuple[tuple[float, float, int, Literal["page", "ticket"]], ...] = (
    (1 * HOUR, 5 * 60.0, 2, "page"),
    (6 * HOUR, 30 * 60.0, 5, "page"),
    (24 * HOUR, 2 * HOUR, 10, "ticket"),
    (3 * DAY, 6 * HOUR, 10, "ticket"),
)
"""(long window, short window, percent of the budget spent over the long window, severity)."""


def burn_windows_for(window: float) -> tuple[BurnWindow, ...]:
    """The workbook's tiers for an SLO window of ``window`` seconds: factor = share × window / long window,
    for the tiers whose long window fits in the SLO window.

    >>> [(w.long / 3600, w.factor, w.severity) for w in burn_windows_for(30 * 86400)]
    [(1.0, 14.4, 'page'), (6.0, 6.0, 'page'), (24.0, 3.0, 'ticket'), (72.0, 1.0, 'ticket')]
    """
    return tuple(
        BurnWindow(long, short, percent * window / (100 * long), severity)
        for long, short, percent, severity in BURN_TIERS
        if long <= window
    )


DEFAULT_BURN_WINDOWS: tuple[BurnWindow, ...] = burn_windows_for(30 * DAY)
"""The SRE workbook's recommended windows for a 30-day SLO (factors 14.4, 6, 3 and 1)."""


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
    counts: Mapping[float, Counts],
    target: float,
    windows: Sequence[BurnWindow] = DEFAULT_BURN_WINDOWS,
    min_events: float = 0.0,
) -> list[BurnAlert]:
    """The conditions of ``windows`` that hold (burn rate > factor over both windows, the long window
    holding at least ``min_events`` events), given the counts of each window length (seconds) ending now.
    Raises KeyError naming a window length missing from ``counts``."""
    out = []
    for w in windows:
        for length in (w.long, w.short):
            if length not in counts:
                raise KeyError(
                    f"no counts for the {length:g} s window; read_counts gives every window needed"
                )
        if counts[w.long].total < min_events:
            continue
        long_rate, short_rate = burn_rate(counts[w.long], target), burn_rate(counts[w.short], target)
        if long_rate > w.factor and short_rate > w.factor:
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

    @property
    def label(self) -> str:
        """What the SLI measures, as an alert's ``sli``/``metric`` label: ``availability``, ``latency`` or
        the quality metric's name."""
        return self.metric if self.kind == "quality" and self.metric else self.kind


@dataclass(frozen=True)
class Slo:
    """An objective: ``target`` share of good events over ``window`` seconds (30 days by default).
    ``burn_windows`` left empty means :func:`burn_windows_for` the window; ``min_events``: see the module
    docstring."""

    name: str
    model: str
    sli: Sli = field(default_factory=Sli)
    target: float = 0.999
    window: float = 30 * DAY
    version: str | None = None
    burn_windows: tuple[BurnWindow, ...] = ()
    min_events: float = 0.0

    def __post_init__(self) -> None:
        _check_target(self.target)
        if not self.window > 0:
            raise ValueError(f"an SLO window must be positive, got {self.window}")
        if not self.min_events >= 0:
            raise ValueError(f"min_events must be >= 0, got {self.min_events}")
        if not self.burn_windows:
            object.__setattr__(self, "burn_windows", burn_windows_for(self.window))

    def lengths(self) -> list[float]:
        """Every window length (seconds) a status needs: the SLO window and each burn window pair."""
        return sorted({self.window, *(x for w in self.burn_windows for x in (w.long, w.short))})


class _Latency(Protocol):
    @property
    def count(self) -> int: ...

    def rank(self, value: float) -> float: ...


class _Window(Protocol):
    @property
    def latency(self) -> _Latency: ...


def read_counts(query: MetricSource, slo: Slo, now: float, lengths: Sequence[float]) -> dict[float, Counts]:
    """(bad, total) of ``slo``'s SLI over ``[now - length, now)`` for each length (seconds)."""
    return {length: _counts(query, slo, now - length, now) for length in lengths}


def _counts(query: MetricSource, slo: Slo, start: float, end: float) -> Counts:
    sli = slo.sli
    if sli.kind == "latency":
        assert sli.threshold_ms is not None
        total = bad = 0.0
        states: Iterable[_Window] = query.windows(slo.model, start, end, slo.version).values()
        for state in states:
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
    """An SLO at one time ``at`` (seconds): the SLO window's counts and budget, the burn rates by window
    length (seconds), the burn-rate conditions that hold."""

    slo: Slo
    counts: Counts
    budget_remaining: float
    burn_rates: dict[float, float]
    alerts: list[BurnAlert]
    at: float | None = None

    @property
    def severity(self) -> Literal["page", "ticket"] | None:
        """``page`` when a page tier holds, else ``ticket`` when a ticket tier holds, else None."""
        levels = {a.severity for a in self.alerts}
        return "page" if "page" in levels else "ticket" if "ticket" in levels else None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready view (for ``GET`` routes): window lengths written like ``5m``, ``3d``."""
        slo = self.slo
        return {
            "name": slo.name,
            "model": slo.model,
            "version": slo.version,
            "sli": slo.sli.label,
            "target": slo.target,
            "window": format_span(slo.window),
            "at": self.at,
            "good": self.counts.total - self.counts.bad,
            "bad": self.counts.bad,
            "total": self.counts.total,
            "error_budget_remaining": self.budget_remaining,
            "burn_rates": {format_span(length): rate for length, rate in sorted(self.burn_rates.items())},
            "severity": self.severity,
            "alerts": [
                {
                    "severity": a.severity,
                    "long": format_span(a.window.long),
                    "short": format_span(a.window.short),
                    "factor": a.window.factor,
                    "long_rate": a.long_rate,
                    "short_rate": a.short_rate,
                }
                for a in self.alerts
            ],
        }


def slo_status(query: MetricSource, slo: Slo, now: float) -> SloStatus:
    """Read every window ``slo`` needs, ending at ``now``, and judge it."""
    counts = read_counts(query, slo, now, slo.lengths())
    return SloStatus(
        slo,
        counts[slo.window],
        budget_remaining(counts[slo.window], slo.target),
        {length: burn_rate(c, slo.target) for length, c in counts.items()},
        burn_alerts(counts, slo.target, slo.burn_windows, slo.min_events),
        now,
    )


def slo_statuses(query: MetricSource, slos: Iterable[Slo], now: float) -> list[SloStatus]:
    """The status of each SLO whose model is registered, at the end of its model's last complete window
    before ``now`` (``floor(now / resolution) × resolution``, as rule evaluation reads)."""
    out = []
    for slo in slos:
        spec = query.registry.get(slo.model)
        if spec is None:
            continue
        res = spec.window.total_seconds()
        out.append(slo_status(query, slo, math.floor(now / res) * res))
    return out
