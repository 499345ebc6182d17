"""Held batches: logged batches kept out of the windows (see :mod:`vigil.monitoring.aggregator`), and what
is said about them at start."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from vigil.store.base import HeldBatch

__all__ = ["undeclared", "warn_held", "warn_undeclared"]

log = logging.getLogger("vigil.aggregator")


def undeclared(model: str) -> str:
    """Why a batch of ``model`` is held while the config does not declare it."""
    return f"model {model!r} is not declared: declare it again to count these events"


def warn_undeclared(stored: Iterable[str], declared: Iterable[str]) -> None:
    """Warn about the models whose windows the store holds but that are declared nowhere (neither in the
    config nor through the API): their history is kept, but no page, query or rule reads it."""
    known = set(declared)
    for model in sorted(set(stored) - known):
        log.warning(
            "the store holds windows of %s, a model the config no longer declares: its history is kept "
            "but not shown or judged. Declare %s again (in vigil.yaml, or with POST /v1/models) to see it",
            model,
            model,
            extra={"event": "store.undeclared_model", "model": model},
        )


def warn_held(held: Iterable[HeldBatch]) -> None:
    """Warn, in words, about the batches held out of the windows: by model for undeclared models, and
    the damaged ones together."""
    by_model: dict[str, list[int]] = {}
    damaged: list[HeldBatch] = []
    for h in held:
        if h.kind == "undeclared":
            by_model.setdefault(h.model, []).append(h.rows)
        elif h.kind == "damaged":
            damaged.append(h)
    for model, rows in sorted(by_model.items()):
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
