"""Category counts in bounded memory: the ``capacity`` most frequent values exactly, the rest in ``other``.

Guarantee: while at most ``capacity`` distinct values have been seen, every count is exact and ``other`` is
0. Past that, the least frequent values are folded into ``other``; a kept value's count can then be low by at
most ``other`` (it may have been folded away earlier and come back), and the total is always exact.
Batches arrive already counted (Arrow's ``value_counts``), so an update costs one step per distinct value in
the batch, never one per row.

>>> f = FrequentItems(capacity=2).update(["a", "b", "c"], [5, 3, 1])
>>> f.counts, f.other
({'a': 5, 'b': 3}, 1)
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import numpy as np
import numpy.typing as npt

__all__ = ["FrequentItems"]

K = TypeVar("K", bound=Hashable)


@dataclass
class FrequentItems(Generic[K]):
    """The ``capacity`` most frequent values with exact counts while nothing was folded into ``other``."""

    capacity: int = 1000
    counts: dict[K, int] = field(default_factory=dict)
    other: int = 0

    def update(self, keys: Sequence[K], counts: Iterable[int] | npt.NDArray[np.int64]) -> FrequentItems[K]:
        """Add already-counted values: ``keys[i]`` was seen ``counts[i]`` times. Returns ``self``."""
        c = np.asarray(counts, dtype=np.int64)
        if len(keys) > self.capacity:
            # keep a batch's heaviest values only; the rest can never outrank what is kept
            top = np.argpartition(-c, self.capacity - 1)[: self.capacity]
            self.other += int(c.sum() - c[top].sum())
            keys = [keys[i] for i in top]
            c = c[top]
        mine = self.counts
        for key, n in zip(keys, c.tolist(), strict=True):
            mine[key] = mine.get(key, 0) + n
        self._trim()
        return self

    def merge(self, other: FrequentItems[K]) -> FrequentItems[K]:
        self.other += other.other
        return self.update(list(other.counts), list(other.counts.values()))

    def copy(self) -> FrequentItems[K]:
        return FrequentItems(self.capacity, dict(self.counts), self.other)

    @property
    def total(self) -> int:
        return sum(self.counts.values()) + self.other

    @property
    def exact(self) -> bool:
        """True while every value seen is counted exactly (nothing folded into ``other``)."""
        return self.other == 0

    def most_common(self, n: int | None = None) -> list[tuple[K, int]]:
        ordered = sorted(self.counts.items(), key=lambda kv: (-kv[1], str(kv[0])))
        return ordered if n is None else ordered[:n]

    def _trim(self) -> None:
        if len(self.counts) <= self.capacity:
            return
        kept = self.most_common(self.capacity)
        self.other += sum(self.counts.values()) - sum(n for _, n in kept)
        self.counts = dict(kept)
