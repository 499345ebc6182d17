"""Held batches in words: why events acknowledged and logged are not counted yet, and what to do.

A batch is held (kept in the store's log, whatever its retention) while its model is not declared or it
cannot be folded; see ``vigil.monitoring.aggregator``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from vigil.store.base import HeldBatch

__all__ = ["undeclared", "warn_held"]

log = logging.getLogger("vigil.aggregator")


def undeclared(model: str) -> str:
    """Why a batch of an undeclared model is held."""
    return f"model {model!r} is not declared: declare it again to count these events"


def warn_held(held: Iterable[HeldBatch]) -> None:
    """Log, in words, what the store holds and why (at a start)."""
    unknown: dict[str, list[int]] = {}
    damaged: list[HeldBatch] = []
    for h in held:
        if h.kind == "undeclared":
            unknown.setdefault(h.model, []).append(h.rows)
        elif h.kind == "damaged":
            damaged.append(h)
    for model, rows in sorted(unknown.items()):
        log.warning(
            "the store holds %d events of %s (%d batches), a model the config no longer declares: they "
            "are kept, not counted. Declare %s again (in vigil.yaml, or with POST /v1/models) to count "
            "them",
            sum(rows),
            model,
            len(rows),
            model,
        )
    if damaged:
        first = min(damaged, key=lambda h: h.seq)
        log.error(
            "%d events in %d batches cannot be folded (batch %d of %s: %s); they are kept in the "
            "store's log and tried again at each start",
            sum(h.rows for h in damaged),
            len(damaged),
            first.seq,
            first.model,
            first.reason,
        )
