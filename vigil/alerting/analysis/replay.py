"""Rule replay: when would this rule have fired over stored history?

``replay(rule, query, model, start, end, every)`` runs the live engine's own two steps over past times:
at ``now = start, start + every, start + 2·every, …`` up to and including ``end`` (seconds) it judges the
rule's last complete window before ``now`` (``rule.evaluate``, as the round does) and
``vigil.alerting.state.step``, starting from an inactive state with the rule's timing. So ``for``,
``keep_firing_for``, escalation and every rule kind (present and future) behave exactly as in
``evaluate``, for an engine that evaluated at those times. It reports:

* **transitions**: each evaluation whose phase or severity differs from the previous state's (the initial
  state is inactive), with the value and threshold that evaluation saw;
* **firings**: each firing period, from the state's ``fired_at`` to its ``resolved_at`` (None: still firing
  at ``end``), with the highest severity reached and the **peak**, the furthest value seen by the
  evaluations while firing: the lowest where lower is worse (``op: "<"``, ``no_data``, anomaly rules with
  ``direction: down``: ``rule.lower_is_worse``), else the highest;
* **held_off**: pending spells that ended without firing (a ``for`` that kept a short breach quiet);
* with ``trace=True``, **trace**: every evaluation's time, value and threshold (what a chart of the replay
  draws).

``every`` defaults to ``min(W, 60 s)`` with ``W`` the rule's window rounded up to the model's window
resolution, as ``Window.at`` rounds it: every window is seen, and ``for``/``keep_firing_for`` are
timed to the minute, like an engine evaluating every 30–60 s (``evaluate_every``: 30s by default). Pass the
server's ``evaluate_every`` to match it to the second; a firing may start up to ``every`` later than the
live one would have.

The first evaluation (at ``start``) reads the window that ends at or before ``start``. The data is the
store's as it is now: labels or events that arrived late are counted as if they had been there in time,
which the live engine could not do. The rule's ``model`` selector is not checked, so a rule can be tried on
any registered model.

Reads go through a :class:`~vigil.alerting.evaluate.cache.SeriesCache` with the replay's end as horizon:
each metric is fetched ahead in chunks at the step the rule asks for and evaluations are served slices of
it, so a replay costs a few reads, not one (or a whole baseline) per evaluation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from vigil.alerting.evaluate.cache import SeriesCache
from vigil.alerting.evaluate.source import MetricSource
from vigil.alerting.evaluate.window import width_of
from vigil.alerting.rules.base import RuleBase
from vigil.alerting.state import AlertState, Phase, Severity, step
from vigil.timefmt import format_duration, format_time

__all__ = [
    "MAX_EVALUATIONS",
    "Firing",
    "Replay",
    "Transition",
    "default_every",
    "format_replay",
    "replay",
    "window_width",
]

MAX_EVALUATIONS = 500_000
"""Most evaluations one replay may run (a month at 10 s is 267,840)."""

_CHUNK = 2_000  # steps fetched ahead per read
_MOST = 16_000  # steps a fetch may total with its steps ahead; a longer read is fetched as asked
_SEGMENTS = 32  # fetched ranges kept per series


@dataclass(frozen=True)
class Transition:
    """The state after an evaluation that changed the phase or severity."""

    at: float
    phase: Phase
    severity: Severity | None
    value: float | None
    threshold: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "phase": self.phase.value,
            "severity": None if self.severity is None else self.severity.value,
            "value": self.value,
            "threshold": self.threshold,
        }


@dataclass(frozen=True)
class Firing:
    """One firing period: ``fired_at`` to ``resolved_at`` (None: still firing when the replay ended)."""

    fired_at: float
    resolved_at: float | None
    severity: Severity
    """The highest severity reached."""
    peak: float | None
    """The furthest value seen while firing (None: no evaluation while firing had a value)."""

    def duration(self, end: float) -> float:
        """Seconds it fired, until ``end`` when still firing."""
        return (self.resolved_at if self.resolved_at is not None else end) - self.fired_at

    def to_dict(self, end: float) -> dict[str, Any]:
        return {
            "fired_at": self.fired_at,
            "resolved_at": self.resolved_at,
            "duration": self.duration(end),
            "severity": self.severity.value,
            "peak": self.peak,
        }


@dataclass(frozen=True)
class Replay:
    """What the engine would have done with ``rule`` on ``model`` at ``start, start + every, …, end``."""

    rule: RuleBase
    model: str
    start: float
    end: float
    every: float
    evaluations: int
    breaching: int
    """Evaluations whose condition held (at any severity)."""
    transitions: tuple[Transition, ...]
    firings: tuple[Firing, ...]
    held_off: int
    """Pending spells that ended without firing."""
    final: AlertState = field(repr=False)
    """The state after the last evaluation."""
    trace: tuple[tuple[float, float | None, float | None], ...] = field(default=(), repr=False)
    """``(at, value, threshold)`` of every evaluation, when asked for (``replay(..., trace=True)``)."""

    @property
    def last(self) -> float:
        """The time of the last evaluation (``end`` rounded down onto the grid), or ``start``."""
        return self.start + max(self.evaluations - 1, 0) * self.every

    @property
    def firing_seconds(self) -> float:
        """Total seconds firing, still-firing periods counted to the last evaluation."""
        return sum(f.duration(self.last) for f in self.firings)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (times in seconds since the epoch)."""
        return {
            "rule": self.rule.name,
            "model": self.model,
            "metric": self.rule.metric,
            "kind": self.rule.kind,
            "start": self.start,
            "end": self.end,
            "every": self.every,
            "evaluations": self.evaluations,
            "breaching": self.breaching,
            "held_off": self.held_off,
            "firing_seconds": self.firing_seconds,
            "firings": [f.to_dict(self.last) for f in self.firings],
            "transitions": [t.to_dict() for t in self.transitions],
        }


def default_every(rule: RuleBase, resolution: float) -> float:
    """``min(W, 60)``: ``W`` the rule's window rounded up to a multiple of ``resolution`` (the model's
    window, seconds), as ``Window.at`` rounds it.

    >>> from datetime import timedelta
    >>> from vigil.alerting.rules import ThresholdRule
    >>> default_every(ThresholdRule(name="r", metric="errors", warning=1, window=timedelta(minutes=5)), 60.0)
    60.0
    >>> default_every(ThresholdRule(name="r", metric="errors", warning=1, window=timedelta(seconds=20)), 10.0)
    20.0
    """
    return min(window_width(rule, resolution), 60.0)


def window_width(rule: RuleBase, resolution: float) -> float:
    """The rule's window in seconds rounded up to a multiple of ``resolution``, as ``Window.at`` reads."""
    return width_of(rule.window, resolution)


def replay(
    rule: RuleBase,
    query: MetricSource,
    model: str,
    start: float,
    end: float,
    every: float | None = None,
    *,
    trace: bool = False,
) -> Replay:
    """Evaluate ``rule`` on ``model`` at ``start, start + every, …`` (up to ``end``) and step its state, as
    the live engine would have; see the module docstring. ``trace`` keeps every evaluation's value.

    Raises ValueError for an unregistered model, ``end < start``, a non-positive ``every``, or more than
    ``MAX_EVALUATIONS`` evaluations.
    """
    source = query if isinstance(query, SeriesCache) else SeriesCache(query, horizon=end)
    spec = source.registry.get(model)
    if spec is None:
        known = ", ".join(sorted(source.registry.names())) or "none"
        raise ValueError(f"model {model!r} is not registered (known: {known}); replay a registered model")
    if not (math.isfinite(start) and math.isfinite(end) and end >= start):
        raise ValueError(f"replay range [{start}, {end}] is empty or not finite; give start <= end")
    if every is None:
        every = default_every(rule, spec.window.total_seconds())
    if not (math.isfinite(every) and every > 0):
        raise ValueError(f"every must be a positive number of seconds, got {every!r}")
    count = math.floor((end - start) / every) + 1
    if count > MAX_EVALUATIONS:
        raise ValueError(
            f"{count} evaluations (every {every:g} s over {end - start:g} s) is over the limit of "
            f"{MAX_EVALUATIONS}; give a larger every or a shorter range"
        )
    lowest = rule.lower_is_worse
    state = AlertState(timing=rule.timing)
    transitions: list[Transition] = []
    firings: list[Firing] = []
    open_: Firing | None = None
    breaching = held_off = 0
    seen: list[tuple[float, float | None, float | None]] = []
    for k in range(count):
        now = start + k * every
        ev = rule.evaluate(model, spec, source, now)
        if trace:
            seen.append((now, ev.value, ev.threshold))
        new = step(state, ev.breached, ev.value, now)
        breaching += ev.breached is not None
        if (new.phase, new.severity) != (state.phase, state.severity):
            transitions.append(Transition(now, new.phase, new.severity, ev.value, ev.threshold))
        if state.phase is Phase.PENDING and new.phase is Phase.INACTIVE:
            held_off += 1
        if new.phase is Phase.FIRING:
            assert new.severity is not None and new.fired_at is not None  # firing carries both
            if open_ is None:
                open_ = Firing(new.fired_at, None, new.severity, None)
            top = new.severity if new.severity.rank > open_.severity.rank else open_.severity
            open_ = Firing(open_.fired_at, None, top, _further(lowest, open_.peak, ev.value))
        elif open_ is not None:  # firing -> resolved
            firings.append(Firing(open_.fired_at, new.resolved_at, open_.severity, open_.peak))
            open_ = None
        state = new
    if open_ is not None:
        firings.append(open_)
    return Replay(
        rule,
        model,
        start,
        end,
        every,
        count,
        breaching,
        tuple(transitions),
        tuple(firings),
        held_off,
        state,
        tuple(seen),
    )


def _further(lowest: bool, a: float | None, b: float | None) -> float | None:
    if b is None or (isinstance(b, float) and math.isnan(b)):
        return a
    if a is None:
        return b
    return min(a, b) if lowest else max(a, b)


# -- formatting --------------------------------------------------------------------------------------------


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def format_replay(result: Replay) -> str:
    """A compact table for a terminal: when the rule would have fired and resolved, for how long, how bad
    and the peak value; with a one-line summary above it."""
    r = result
    span = r.last - r.start
    share = r.firing_seconds / span if span > 0 else 0.0
    head = (
        f"{r.rule.name} on {r.model} ({r.rule.metric}), {format_time(r.start)} to {format_time(r.end)}, "
        f"every {format_duration(r.every)}: "
    )
    if not r.firings:
        quiet = "would not have fired"
        if r.held_off:
            quiet += f" ({r.held_off} breach{'es' if r.held_off != 1 else ''} held off by `for`)"
        return head + quiet + "\n"
    n = len(r.firings)
    lines = [
        head + f"would have fired {n} time{'s' if n != 1 else ''}, for {format_duration(r.firing_seconds)} "
        f"({share:.1%} of the time); {r.held_off} held off by `for`",
    ]
    rows = [("fired", "resolved", "lasted", "severity", "peak")]
    for f in r.firings:
        resolved = format_time(f.resolved_at) if f.resolved_at is not None else "still firing"
        lasted = format_duration(f.duration(r.last)) + ("" if f.resolved_at is not None else "+")
        rows.append((format_time(f.fired_at), resolved, lasted, f.severity.value, _num(f.peak)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        lines.append("  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines) + "\n"
