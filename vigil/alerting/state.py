"""The per-alert state machine: a pure function ``step(previous state, breach, value, now) -> next state``.

Time is float seconds (any epoch, usually Unix time) everywhere in ``vigil.alerting``; nothing here reads a
clock. One :class:`AlertState` follows one alert (one rule on one label set) through its episodes::

    inactive ──(true)──> pending ──(held for `for`)──> firing ──(false, `keep_firing_for` over)──> resolved
     ^   ^                  │                                                                     │
     │   └─────(false)──────┘                                                                     │
     └──────────(false at the next evaluation; true starts a new episode instead)─────────────────┘

Exact semantics, evaluated at each call with ``breached`` the highest severity whose condition holds now
(``None``: no condition holds; a critical breach implies the warning condition holds too):

* A level is *held* when its condition has been true at every evaluation since ``since`` and
  ``now - since >= for`` of that level (``Timing.for_warning`` / ``Timing.for_critical``). With ``for`` 0 a
  level is held on the first evaluation that sees it, as in Prometheus.
* Not firing, condition true: ``firing`` at the highest held level (``fired_at = now``), else ``pending``
  with ``severity = breached``. ``active_since`` is when the condition first held in this episode.
* Firing, condition true: stays firing. Severity escalates to a higher level only once that level is held
  (its own ``for``), and de-escalates at once to the breached level when the higher condition stops:
  ``severity = max(held, min(breached, previous severity))``.
* Firing, condition false: stays firing (same severity) while ``now - cleared_at < keep_firing_for``, where
  ``cleared_at`` is the first evaluation of this run of false conditions; at the first evaluation at or after
  ``cleared_at + keep_firing_for`` it turns ``resolved`` (``resolved_at = now``, severity and ``fired_at``
  kept so the resolved notification can be labelled). A true condition during that time resets ``cleared_at``.
* Pending, condition false: back to ``inactive`` (a pending alert is never sent); ``for`` starts over.
* Resolved, condition false: ``inactive``. Resolved, condition true: a new episode (pending, or firing
  if held).
* ``inactive`` keeps ``resolved_at`` (of the last episode) and ``last_value``; the other episode fields
  are None.
* ``last_value`` is the most recent non-None ``value``; ``None`` means "no value this evaluation".

>>> t = Timing(for_warning=300)
>>> s = step(AlertState(timing=t), Severity.WARNING, 0.31, now=0)
>>> s.phase, s.active_since
(<Phase.PENDING: 'pending'>, 0)
>>> step(s, Severity.WARNING, 0.35, now=300).phase
<Phase.FIRING: 'firing'>
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from enum import StrEnum

__all__ = ["AlertState", "Phase", "Severity", "Timing", "step"]


class Severity(StrEnum):
    """How bad a breach is; ``CRITICAL`` ranks above ``WARNING`` and implies it."""

    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Severity.WARNING: 1, Severity.CRITICAL: 2}


class Phase(StrEnum):
    """Where an alert is in its episode."""

    INACTIVE = "inactive"
    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class Timing:
    """Hold times of one alert, in seconds: ``for`` per severity and ``keep_firing_for`` (all default 0)."""

    for_warning: float = 0.0
    for_critical: float = 0.0
    keep_firing_for: float = 0.0

    def __post_init__(self) -> None:
        for name in ("for_warning", "for_critical", "keep_firing_for"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"Timing.{name} must be a finite number of seconds >= 0, got {value!r}")

    def hold(self, severity: Severity) -> float:
        """The ``for`` of ``severity``, in seconds."""
        return self.for_critical if severity is Severity.CRITICAL else self.for_warning


@dataclass(frozen=True)
class AlertState:
    """One alert's state after an evaluation; start from ``AlertState(timing=...)`` (inactive).

    ``warning_since`` / ``critical_since``: since when that level's condition has held without a gap
    (None when it does not hold now). ``cleared_at``: first evaluation of the current run of false
    conditions while firing (None otherwise). ``evaluated_at``: time of the last ``step``.
    """

    timing: Timing = field(default_factory=Timing)
    phase: Phase = Phase.INACTIVE
    severity: Severity | None = None
    active_since: float | None = None
    fired_at: float | None = None
    resolved_at: float | None = None
    last_value: float | None = None
    evaluated_at: float | None = None
    warning_since: float | None = None
    critical_since: float | None = None
    cleared_at: float | None = None


def _held(timing: Timing, since: dict[Severity, float | None], now: float) -> Severity | None:
    for level in (Severity.CRITICAL, Severity.WARNING):
        start = since[level]
        if start is not None and now - start >= timing.hold(level):
            return level
    return None


def _max(a: Severity | None, b: Severity) -> Severity:
    return b if a is None or b.rank >= a.rank else a


def step(prev: AlertState, breached: Severity | None, value: float | None, now: float) -> AlertState:
    """The state after evaluating the condition at ``now`` (seconds); see the module docstring for the rules.

    Raises ValueError when ``now`` is earlier than the previous evaluation.
    """
    if prev.evaluated_at is not None and now < prev.evaluated_at:
        raise ValueError(
            f"evaluation time went backwards: now={now} is before the previous evaluation at "
            f"{prev.evaluated_at}; pass a non-decreasing time to step()"
        )
    timing = prev.timing
    rank = 0 if breached is None else breached.rank

    def since(level: Severity, previous: float | None) -> float | None:
        if rank < level.rank:
            return None
        return now if previous is None else previous

    warning_since = since(Severity.WARNING, prev.warning_since)
    critical_since = since(Severity.CRITICAL, prev.critical_since)
    held = _held(timing, {Severity.WARNING: warning_since, Severity.CRITICAL: critical_since}, now)
    base = replace(
        prev,
        evaluated_at=now,
        last_value=prev.last_value if value is None else value,
        warning_since=warning_since,
        critical_since=critical_since,
    )

    if breached is None:
        if prev.phase is Phase.FIRING:
            cleared_at = now if prev.cleared_at is None else prev.cleared_at
            if now - cleared_at < timing.keep_firing_for:
                return replace(base, cleared_at=cleared_at)
            return replace(base, phase=Phase.RESOLVED, resolved_at=now, cleared_at=None)
        return replace(
            base, phase=Phase.INACTIVE, severity=None, active_since=None, fired_at=None, cleared_at=None
        )

    if prev.phase is Phase.FIRING:
        assert prev.severity is not None  # firing always carries a severity
        current = breached if breached.rank < prev.severity.rank else prev.severity
        severity = current if held is None else _max(current, held)
        return replace(base, severity=severity, cleared_at=None)

    active_since = prev.active_since if prev.phase is Phase.PENDING else now
    if held is not None:
        return replace(
            base,
            phase=Phase.FIRING,
            severity=held,
            active_since=active_since,
            fired_at=now,
            resolved_at=None,
            cleared_at=None,
        )
    return replace(
        base,
        phase=Phase.PENDING,
        severity=breached,
        active_since=active_since,
        fired_at=None,
        resolved_at=None,
        cleared_at=None,
    )
