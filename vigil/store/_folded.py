"""What both SQL stores share about idempotency keys and folded broker messages: the checks of
``save_windows(folded=...)``, inside its transaction (savers of one stream take turns: which messages
another save recorded already, by their stream ranges or their keys), and the reading of keys."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from vigil.store.base import KeyedBatch, StreamKey, StreamRanges

__all__ = ["duplicates", "keyed", "overlap", "within"]


def overlap(
    folded: StreamRanges, writer: str, saved: Callable[[int, int], Sequence[Sequence[object]]]
) -> set[int]:
    """The messages of ``folded`` that another save recorded already; ``saved(first, last)`` reads the
    saved ranges (first, last, writer) overlapping one range. The same range of the same writer is a
    retried commit, not a redelivery. For the backends."""
    taken: set[int] = set()
    for first, last in folded.ranges:
        for row in saved(first, last):
            lo, hi = int(row[0]), int(row[1])  # type: ignore[call-overload]
            if (lo, hi, row[2]) != (first, last, writer):
                taken.update(range(max(first, lo), min(last, hi) + 1))
    return taken


def duplicates(
    folded: StreamRanges, recorded: Callable[[str, str], Sequence[Sequence[object]]]
) -> tuple[set[int], list[StreamKey]]:
    """The messages of ``folded`` whose key is recorded already (by another message or ``append``) with the
    same digest, and the keys to record; ``recorded(key, model)`` reads the recorded (digest, seq, stream)
    rows. For the backends."""
    taken: set[int] = set()
    fresh: dict[tuple[str, str], StreamKey] = {}
    for k in folded.keys:
        rows = recorded(k.key, k.model)
        first = fresh.get((k.key, k.model))
        if rows:
            digest, seq, stream = rows[0][0], int(rows[0][1]), rows[0][2]  # type: ignore[call-overload]
            if (stream, seq) == (folded.stream, k.seq):
                continue  # this very message: a retried commit
            first_digest = None if digest is None else bytes(digest)  # type: ignore[call-overload]
        elif first is not None:
            first_digest = first.digest
        else:
            fresh[(k.key, k.model)] = k
            continue
        if first_digest is None or k.digest is None or first_digest == k.digest:
            taken.add(k.seq)
    return taken, list(fresh.values())


def within(seqs: Sequence[int], ranges: Sequence[Sequence[object]]) -> set[int]:
    """Which of ``seqs`` fall in one of ``ranges`` ((first, last, ...) rows). For the backends."""
    out: set[int] = set()
    for row in ranges:
        first, last = int(row[0]), int(row[1])  # type: ignore[call-overload]
        out.update(s for s in seqs if first <= s <= last)
    return out


def keyed(rows: Sequence[Sequence[Any]]) -> dict[str, list[KeyedBatch]]:
    """Rows of ``KEY_COLUMNS_OF_BATCHES`` (ordered by key, model) by key."""
    out: dict[str, list[KeyedBatch]] = {}
    for key, model, seq, n, digest, at, stream in rows:
        batch = KeyedBatch(
            model, int(seq), int(n), None if digest is None else bytes(digest), float(at), stream
        )
        out.setdefault(key, []).append(batch)
    return out
