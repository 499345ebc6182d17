"""What the demo measures: each injected trouble, each alert a receiver got, and the delay in between.

A received alert is explained by the latest trouble injected on its model that lists its alertname among
the alerts it should fire (``Injection.alerts``), injected before it arrived; one that no trouble explains
is *unexpected* (a false alarm, or an alert the demo's schedule did not plan for). All times are Unix
seconds from ``time.time()``, in the one process that injects and receives.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from vigil.demo.receivers import Received
from vigil.timefmt import format_wall_clock

__all__ = ["Injection", "Timeline"]

_RANK = {"critical": 2, "warning": 1}


@dataclass(frozen=True)
class Injection:
    """A trouble as injected: its short ``name``, its model, the alerts it should fire, and when."""

    name: str
    model: str
    alerts: tuple[str, ...]
    at: float
    offset: float
    """Seconds after the demo's start."""


def _delay(seconds: float | None) -> str:
    return "—" if seconds is None else f"+{seconds:.1f} s"


class Timeline:
    """Collects injections and received alerts (from any thread); prints one line per received alert."""

    def __init__(self, receivers: Sequence[str], say: Callable[[str], None] = print) -> None:
        self.receivers = list(receivers)
        self.say = say
        self.injections: list[Injection] = []
        self.received: list[tuple[Received, Injection | None]] = []
        self._lock = threading.Lock()

    def inject(self, name: str, model: str, alerts: Iterable[str], at: float, offset: float) -> Injection:
        injection = Injection(name, model, tuple(alerts), at, offset)
        with self._lock:
            self.injections.append(injection)
        return injection

    def cause(self, r: Received) -> Injection | None:
        """The injection that explains ``r``, or None."""
        with self._lock:
            causes = [i for i in self.injections if i.model == r.model and r.alertname in i.alerts]
        return max((i for i in causes if i.at <= r.at), key=lambda i: i.at, default=None)

    def receive(self, r: Received) -> None:
        """Record ``r`` and print ``HH:MM:SS  NOTIFIED  receiver  alertname model severity status  (...)``."""
        cause = self.cause(r)
        with self._lock:
            self.received.append((r, cause))
        why = (
            f'+{r.at - cause.at:.1f} s after injection of "{cause.name}"'
            if cause is not None
            else "no injected trouble explains it"
        )
        who = f"  [top user {r.annotations['top_user']}]" if "top_user" in r.annotations else ""
        self.say(
            f"{format_wall_clock(r.at)}  NOTIFIED  {r.receiver:<12}  "
            f"{r.alertname} {r.model} {r.severity} {r.status}  ({why}){who}"
        )

    def notifications(self) -> list[dict[str, Any]]:
        """Every received alert, oldest first: receiver, at, alertname, model, severity, status, trouble
        (None when unexpected), delay (seconds after that trouble's injection), and the alert's summary
        and annotations (where the receiver gets them)."""
        with self._lock:
            items = sorted(self.received, key=lambda x: x[0].at)
        return [
            {
                "receiver": r.receiver,
                "at": r.at,
                "alertname": r.alertname,
                "model": r.model,
                "severity": r.severity,
                "status": r.status,
                "trouble": cause.name if cause else None,
                "delay": r.at - cause.at if cause else None,
                "summary": r.annotations.get("summary"),
                "annotations": dict(r.annotations),
            }
            for r, cause in items
        ]

    def measurements(self) -> list[dict[str, Any]]:
        """One row per injected trouble and alert it should fire: ``first`` (receiver → seconds from the
        injection to its first firing notification, None if none came), ``resolved`` (seconds until the
        first receiver heard every severity of it resolved, None while firing) and ``severity`` (the
        highest that fired)."""
        with self._lock:
            injections = list(self.injections)
            items = sorted(self.received, key=lambda x: x[0].at)
        rows = []
        for inj in injections:
            for alert in inj.alerts:
                got = [r for r, cause in items if cause is inj and r.alertname == alert]
                firing = [r for r in got if r.status == "firing"]
                first = {
                    name: min((r.at - inj.at for r in firing if r.receiver == name), default=None)
                    for name in self.receivers
                }
                ends = [e for e in (_resolved_at(got, name) for name in self.receivers) if e is not None]
                rows.append(
                    {
                        "trouble": inj.name,
                        "model": inj.model,
                        "injected_at": inj.at,
                        "offset": inj.offset,
                        "alert": alert,
                        "severity": max((r.severity for r in firing), key=lambda s: _RANK.get(s, 0))
                        if firing
                        else None,
                        "first": first,
                        "resolved": min(ends) - inj.at if ends else None,
                    }
                )
        return rows

    def unexpected(self) -> list[dict[str, Any]]:
        """The received alerts no injected trouble explains."""
        return [n for n in self.notifications() if n["trouble"] is None]

    def table(self) -> list[str]:
        """The measurements as text lines: trouble, injected at, alert, first notification per receiver
        (seconds after the injection), resolved; then any unexpected alert."""
        head = ["trouble", "injected at", "alert", *self.receivers, "resolved"]
        body = [
            [
                m["trouble"],
                f"{format_wall_clock(m['injected_at'])} (+{m['offset']:.0f} s)",
                f"{m['alert']} {m['model']} {m['severity'] or '(none)'}",
                *(_delay(m["first"][name]) for name in self.receivers),
                _delay(m["resolved"]),
            ]
            for m in self.measurements()
        ]
        widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head))]
        lines = [
            "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            for row in [head, *body]
        ]
        lines.insert(1, "  ".join("-" * w for w in widths))
        odd = self.unexpected()
        if odd:
            lines.append(f"unexpected: {len(odd)} received alert(s) no injected trouble explains:")
            for n in odd:
                what = f"{n['alertname']} {n['model']} {n['severity']} {n['status']}"
                lines.append(f"  {format_wall_clock(n['at'])}  {n['receiver']}  {what}")
        else:
            lines.append("unexpected: none (no alert that an injected trouble does not explain)")
        return lines


def _resolved_at(got: Sequence[Received], receiver: str) -> float | None:
    """When ``receiver`` last heard every severity of an alert resolved (None while one still fires)."""
    firing: set[str] = set()
    resolved: float | None = None
    for r in got:
        if r.receiver != receiver:
            continue
        if r.status == "firing":
            firing.add(r.severity)
            resolved = None
        elif r.status == "resolved":
            firing.discard(r.severity)
            if not firing and resolved is None:
                resolved = r.at
    return resolved
