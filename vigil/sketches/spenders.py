"""Spend by value in bounded memory: the ``capacity`` values with the most cost kept exactly, the rest in
``other``. Weighted by cost (a float), not by count; tokens ride along with each value.

Guarantee (``c`` the cost of a value, ``other`` the cost folded away; totals exact up to float rounding):

* while at most ``capacity`` distinct values have been seen, every value's cost and tokens are exact and
  ``other`` is 0;
* past that, the cheapest values are folded into ``other``. A kept value's cost is low by at most
  ``other_cost`` (it may have been folded away earlier and come back); a value whose true cost exceeds
  ``other_cost`` is always kept (a value not kept has all its cost in ``other``). The same holds after
  merges, in any order.

Batches arrive already summed per value (Arrow's ``group_by``), so an update costs one step per distinct
value in the batch, never one per row.

>>> s = Spenders(capacity=2).update(["a", "b", "c"], [5.0, 3.0, 1.0], [50, 30, 10])
>>> s.most_expensive(), s.other_cost, s.other_tokens
([('a', 5.0, 50), ('b', 3.0, 30)], 1.0, 10)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

__all__ = ["Spenders"]


@dataclass
class Spenders:
    """The ``capacity`` values with the most cost (see the module docstring)."""

    capacity: int = 100
    cost: dict[str, float] = field(default_factory=dict)
    tokens: dict[str, int] = field(default_factory=dict)
    other_cost: float = 0.0
    other_tokens: int = 0

    def update(
        self,
        keys: Sequence[str],
        costs: Iterable[float] | npt.NDArray[np.float64],
        tokens: Iterable[int] | npt.NDArray[np.int64],
    ) -> Spenders:
        """Add already-summed spend: ``keys[i]`` cost ``costs[i]`` USD and used ``tokens[i]`` tokens.
        Returns ``self``."""
        return self.add(lambda at: [keys[i] for i in at], costs, tokens)

    def add(
        self,
        keys_at: Callable[[npt.NDArray[np.intp]], list[str]],
        costs: Iterable[float] | npt.NDArray[np.float64],
        tokens: Iterable[int] | npt.NDArray[np.int64],
    ) -> Spenders:
        """``update`` for values whose names are costly to make (an Arrow dictionary): ``keys_at(at)``
        names the values at positions ``at``, asked only for those a batch keeps. Returns ``self``."""
        c = np.asarray(costs, dtype=np.float64)
        t = np.asarray(tokens, dtype=np.int64)
        at = np.arange(len(c))
        if len(c) > self.capacity:
            # keep a batch's costliest values only; the rest can never outrank what is kept
            at = np.argpartition(-c, self.capacity - 1)[: self.capacity]
            rest = np.ones(len(c), dtype=bool)
            rest[at] = False
            self.other_cost += float(c[rest].sum())
            self.other_tokens += int(t[rest].sum())
        cost, tok = self.cost, self.tokens
        for key, dc, dt in zip(keys_at(at), c[at].tolist(), t[at].tolist(), strict=True):
            cost[key] = cost.get(key, 0.0) + dc
            tok[key] = tok.get(key, 0) + dt
        self._trim()
        return self

    def merge(self, other: Spenders) -> Spenders:
        self.other_cost += other.other_cost
        self.other_tokens += other.other_tokens
        keys = list(other.cost)
        return self.update(keys, [other.cost[k] for k in keys], [other.tokens[k] for k in keys])

    def copy(self) -> Spenders:
        return Spenders(self.capacity, dict(self.cost), dict(self.tokens), self.other_cost, self.other_tokens)

    @property
    def total_cost(self) -> float:
        return sum(self.cost.values()) + self.other_cost

    @property
    def total_tokens(self) -> int:
        return sum(self.tokens.values()) + self.other_tokens

    @property
    def exact(self) -> bool:
        """True while every value seen is kept exactly (nothing folded into ``other``)."""
        return self.other_cost == 0 and self.other_tokens == 0

    def most_expensive(self, n: int | None = None) -> list[tuple[str, float, int]]:
        """``(value, cost, tokens)``, costliest first (ties by value)."""
        ordered = sorted(self.cost.items(), key=lambda kv: (-kv[1], kv[0]))
        return [(k, c, self.tokens[k]) for k, c in (ordered if n is None else ordered[:n])]

    def _trim(self) -> None:
        if len(self.cost) <= self.capacity:
            return
        kept = self.most_expensive(self.capacity)
        self.other_cost += sum(self.cost.values()) - sum(c for _, c, _ in kept)
        self.other_tokens += sum(self.tokens.values()) - sum(t for _, _, t in kept)
        self.cost = {k: c for k, c, _ in kept}
        self.tokens = {k: t for k, _, t in kept}

    # -- codec (JSON-ready; the window state's header holds it) ----------------------------------------

    def to_json(self) -> list[object]:
        return [
            self.capacity,
            self.other_cost,
            self.other_tokens,
            [[k, c, self.tokens[k]] for k, c in self.cost.items()],
        ]

    @staticmethod
    def from_json(data: Sequence[object]) -> Spenders:
        capacity, other_cost, other_tokens, items = data
        assert isinstance(items, list) and isinstance(capacity, int) and isinstance(other_tokens, int)
        return Spenders(
            capacity,
            {str(k): float(c) for k, c, _ in items},
            {str(k): int(t) for k, _, t in items},
            float(other_cost),  # type: ignore[arg-type]
            other_tokens,
        )
