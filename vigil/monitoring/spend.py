"""Who spends: the costliest values of a spend tag (``user``, ``feature``) over merged windows, and the
sentence an alert says about them.

Shares are of the windows' whole cost (``cost`` metric), so cost without the tag counts as
``unattributed`` and the listed shares, ``other`` and ``unattributed`` add up to 1. A listed cost is exact
while ``exact`` is true; otherwise it is low by at most ``other.cost`` (``vigil.sketches.spenders``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from vigil.monitoring.window import WindowState
from vigil.sketches.spenders import Spenders

__all__ = ["TopSpender", "spenders", "top_spender"]


@dataclass(frozen=True)
class TopSpender:
    """The costliest value of a tag over a range: its value, cost (USD) and share of the range's cost."""

    tag: str
    value: str
    cost: float
    share: float


def _merged(states: Iterable[WindowState], tag: str) -> tuple[Spenders | None, float]:
    found: Spenders | None = None
    total = 0.0
    for state in states:
        total += state.cost.mean * state.cost.count if state.cost.count else 0.0
        mine = state.spend.get(tag)
        if mine is not None:
            found = mine.copy() if found is None else found.merge(mine)
    return found, total


def spenders(states: Iterable[WindowState], tag: str, limit: int = 20) -> dict[str, Any]:
    """The ``limit`` costliest values of ``tag`` over ``states`` merged: ``{tag, tracked, cost, tokens,
    exact, top: [{value, cost, tokens, share}], other: {cost, tokens, share}, unattributed: {cost,
    share}}`` (USD; shares of the whole cost, None without cost). ``tracked`` is False when no window
    kept spend by that tag."""
    found, total = _merged(states, tag)
    s = found or Spenders()

    def share(cost: float) -> float | None:
        return cost / total if total > 0 else None

    unattributed = max(total - s.total_cost, 0.0)
    return {
        "tag": tag,
        "tracked": found is not None,
        "cost": total,
        "tokens": s.total_tokens,
        "exact": s.exact,
        "top": [
            {"value": v, "cost": c, "tokens": t, "share": share(c)} for v, c, t in s.most_expensive(limit)
        ],
        "other": {"cost": s.other_cost, "tokens": s.other_tokens, "share": share(s.other_cost)},
        "unattributed": {"cost": unattributed, "share": share(unattributed)},
    }


def top_spender(states: Iterable[WindowState], tag: str) -> TopSpender | None:
    """The costliest value of ``tag`` over ``states`` (None without cost or without the tag)."""
    found, total = _merged(states, tag)
    if found is None or not found.cost or not total > 0:
        return None
    value, cost, _ = found.most_expensive(1)[0]
    return TopSpender(tag, value, cost, min(cost / total, 1.0))
