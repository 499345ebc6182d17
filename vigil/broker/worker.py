"""``vigil worker``: fold the broker's batches into windows, exactly once in effect.

A worker fetches batches from the durable consumer, folds them into its own windows (a writer of its own:
windows merge across workers at query time, as across servers) and every ``flush_every`` seconds saves the
windows it changed **together with the stream sequence ranges it folded**, in one transaction; only then
does it acknowledge those messages. So:

* killed before the save: nothing of those messages is saved, and they are delivered again (no loss);
* killed after the save, before the acknowledgement: they are delivered again, to this worker or another,
  which finds them among the saved ranges and acknowledges them without folding (no double count);
* two workers folding the same message (a worker stalled past the broker's ack wait): savers of a stream
  take turns, and the second save finds the first one's ranges (``AlreadyFolded``): it forgets its unsaved
  windows, folds its other messages again on the saved state, and saves that.

A batch published with the client's idempotency key (``Keyed``) is folded once however late its retry
comes: the worker records the key, model and digest with the windows and ranges, in the same transaction
(``ingest_keys``, where the direct path keeps its keys, for as long as the model keeps predictions), and
acknowledges without folding a message whose key is recorded for its model with the same digest: by a save
before (checked when fetched), by its own unsaved folds (a retry in the same round: acknowledged with the
save), or by another worker's save meanwhile (``AlreadyFolded``, as above). A key recorded with another
body is new data under a reused key (both requests were acknowledged): folded, its key not recorded.

A batch whose model is not declared (or cannot be read) is not acknowledged: the broker delivers it again a
minute later, and it stays in the stream (counted in its lag) until it can be folded.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pyarrow as pa

from vigil.broker import Consumer, Message
from vigil.errors import StoreError
from vigil.events import from_ipc
from vigil.monitoring.aggregator import Aggregator
from vigil.monitoring.batches import Batch, by_model
from vigil.registry import Registry
from vigil.stats.profile import Profile
from vigil.store.base import AlreadyFolded, Store, StreamKey, StreamRanges

__all__ = ["Worker", "ranges"]

log = logging.getLogger("vigil.worker")

_RETRY_UNFOLDABLE = 60.0
"""Seconds before a batch that cannot be folded now is delivered again."""


def ranges(seqs: Sequence[int]) -> tuple[tuple[int, int], ...]:
    """Sorted sequence numbers as inclusive ranges.

    >>> ranges([1, 2, 3, 7, 9, 10])
    ((1, 3), (7, 7), (9, 10))
    """
    out: list[tuple[int, int]] = []
    for s in sorted(seqs):
        if out and s == out[-1][1] + 1:
            out[-1] = (out[-1][0], s)
        else:
            out.append((s, s))
    return tuple(out)


@dataclass(frozen=True)
class _Key:
    """A key folded and not saved yet: its digest, the message that brought it, and whether to record it."""

    digest: bytes | None
    seq: int
    record: bool


def _same(a: bytes | None, b: bytes | None) -> bool:
    """Whether two digests are of the same request (a key recorded without one: as the direct path)."""
    return a is None or b is None or a == b


class Worker:
    """One ``vigil worker`` process's loop (see the module docstring). ``writer`` names its windows: unique
    among the workers and servers running at once."""

    def __init__(
        self,
        consumer: Consumer,
        store: Store,
        registry: Registry,
        *,
        writer: str,
        flush_every: float = 1.0,
        batch: int = 256,
        clock: Callable[[], float] = time.time,
        baselines: Callable[[str], Profile | None] | None = None,
    ) -> None:
        self.consumer = consumer
        self.store = store
        self.registry = registry
        self.writer = writer
        self.flush_every = flush_every
        self.batch = batch
        self.folder = Aggregator(store, registry, writer=writer, clock=clock, baselines=baselines)
        """Folds (never started: no thread); this worker saves what it changed."""
        self.folder.source = f"broker:{consumer.stream}"  # a batch's predictions once, whoever folds it
        self._unsaved: dict[int, Message] = {}
        """Folded, not saved yet: seq -> message (kept to fold again, acknowledged after the save)."""
        self._rows: dict[int, int] = {}
        """The events of each unsaved message."""
        self._keys: dict[tuple[str, str], _Key] = {}
        """The (key, model) of the unsaved messages that came with one."""
        self._retries: dict[int, Message] = {}
        """Retries of an unsaved message's key: acknowledged with its save, never folded."""
        self.folded_events = 0
        self.skipped = 0
        """Redeliveries found folded already, and retries of a key folded already (acknowledged without
        folding)."""

    def run(self, stop: threading.Event) -> None:
        """Fetch, fold and save until ``stop`` is set; then save what is folded."""
        next_save = time.monotonic() + self.flush_every
        next_forget = time.monotonic() + 60
        while not stop.is_set():
            try:
                messages = self.consumer.fetch(self.batch, min(0.5, self.flush_every))
            except Exception as exc:  # the broker is away: its client reconnects
                log.warning("cannot fetch from the broker: %r", exc)
                stop.wait(1.0)
                continue
            if messages:
                self.fold(messages)
            if time.monotonic() >= next_save or len(self._unsaved) >= 8 * self.batch:
                self.save()
                next_save = time.monotonic() + self.flush_every
            if time.monotonic() >= next_forget:
                self._forget_old_ranges()
                self.registry.refresh()  # models registered and versions deployed through the API
                next_forget = time.monotonic() + 60
        self.save()

    def fold(self, messages: Sequence[Message]) -> None:
        again = [m.seq for m in messages if m.deliveries > 1]
        done = self._saved(again) if again else set()
        mine = self._unsaved.keys() | self._retries.keys()
        done |= self._recorded([m for m in messages if m.keyed and m.seq not in done and m.seq not in mine])
        if done:
            self.skipped += len(done)
            self.consumer.ack([m for m in messages if m.seq in done])
        fresh: list[Message] = []
        for m in messages:
            if m.seq in done:
                continue
            for unsaved in (self._unsaved, self._retries):
                if m.seq in unsaved:  # delivered again before this worker saved it: acked with the save
                    unsaved[m.seq] = m
                    break
            else:
                if m.keyed is not None:
                    ours = self._keys.get((m.keyed.key, m.model))
                    if ours is not None and ours.seq != m.seq and _same(ours.digest, m.keyed.digest):
                        self._retries[m.seq] = m
                        self.skipped += 1
                        continue
                    if ours is None:
                        self._keys[(m.keyed.key, m.model)] = _Key(m.keyed.digest, m.seq, True)
                fresh.append(m)
        self._fold(fresh)

    def _saved(self, seqs: list[int]) -> set[int]:
        while True:
            try:
                return self.store.folded_seqs(self.consumer.stream, seqs)
            except StoreError as exc:
                log.warning("cannot read the folded ranges (%s); retrying", exc)
                time.sleep(1.0)

    def _recorded(self, messages: Sequence[Message]) -> set[int]:
        """The messages whose key is recorded for their model with the same digest (retries of a batch
        saved); a key recorded with another digest is kept in memory, not to be recorded."""
        keys = sorted({m.keyed.key for m in messages if m.keyed is not None})
        if not keys:
            return set()
        while True:
            try:
                found = self.store.keyed_batches_of(keys)
                break
            except StoreError as exc:
                log.warning("cannot read idempotency keys (%s); retrying", exc)
                time.sleep(1.0)
        recorded = {(key, b.model): b for key, batches in found.items() for b in batches}
        out: set[int] = set()
        for m in messages:
            first = recorded.get((m.keyed.key, m.model)) if m.keyed is not None else None
            if first is None or m.keyed is None:
                continue
            if _same(first.digest, m.keyed.digest):
                out.add(m.seq)
            elif (m.keyed.key, m.model) not in self._keys:
                log.warning(
                    "batch %d of %s came with the idempotency key %r, used before with another body: "
                    "folded as new data (both were acknowledged)",
                    *(m.seq, m.model, m.keyed.key),
                )
                self._keys[(m.keyed.key, m.model)] = _Key(m.keyed.digest, m.seq, False)
        return out

    def _fold(self, messages: Sequence[Message]) -> None:
        batches: list[Batch] = []
        later: list[Message] = []
        for m in messages:
            if self.registry.get(m.model) is None:
                log.warning("batch %d is of model %r, not declared: delivered again later", m.seq, m.model)
                later.append(m)
                continue
            try:
                batches.append(Batch(m.model, m.seq, from_ipc(m.payload)))
            except Exception as exc:
                log.error("batch %d of %s cannot be read (%s): delivered again later", m.seq, m.model, exc)
                later.append(m)
        self.consumer.nak(later, _RETRY_UNFOLDABLE)
        for m in later:  # not folded: its key is not this worker's to record
            if m.keyed is not None and getattr(self._keys.get((m.keyed.key, m.model)), "seq", None) == m.seq:
                del self._keys[(m.keyed.key, m.model)]
        message = {m.seq: m for m in messages}
        for model, run in by_model(batches):  # runs of one schema, as the live aggregator folds them
            table = pa.concat_tables([b.table for b in run]) if len(run) > 1 else run[0].table
            delay = 0.1
            while True:
                try:
                    self.folder.fold(model, [b.seq for b in run], table)
                    break
                except StoreError as exc:
                    log.warning("cannot fold events of %s (%s); retrying", model, exc)
                    time.sleep(delay)
                    delay = min(delay * 2, 5.0)
            for b in run:
                self._unsaved[b.seq] = message[b.seq]
                self._rows[b.seq] = b.table.num_rows
                self.folded_events += b.table.num_rows

    def save(self) -> bool:
        """Save the changed windows with the ranges folded, then acknowledge those messages. False when the
        store failed (kept for the next save) or another worker had saved some of them (folded again)."""
        if not self._unsaved:
            self.consumer.ack(list(self._retries.values()))
            self._retries.clear()
            return True
        dirty, rows = self.folder.take_changed()
        folded = StreamRanges(self.consumer.stream, ranges(list(self._unsaved)), self._stream_keys())
        try:
            self.store.save_windows(self.writer, rows, 0, folded=folded)
        except AlreadyFolded as exc:
            log.warning("%s; folding the others again on the saved windows", exc)
            self.folded_events -= sum(self._rows.values())
            taken = [self._unsaved.pop(s) for s in sorted(exc.seqs) if s in self._unsaved]
            self.consumer.ack(taken)
            self.skipped += len(taken)
            again = list(self._unsaved.values())
            self._unsaved.clear()
            self._rows.clear()
            self._keys.clear()
            self.folder.forget()
            self.fold(again)  # checked again: another of them may be a retry of a key saved meanwhile
            return False
        except StoreError as exc:
            log.warning("cannot save the windows (%s); retrying at the next save", exc)
            self.folder.put_back(dirty)
            return False
        self.consumer.ack([*self._unsaved.values(), *self._retries.values()])
        self._unsaved.clear()
        self._rows.clear()
        self._keys.clear()
        self._retries.clear()
        self.folder.evict()
        return True

    def _stream_keys(self) -> tuple[StreamKey, ...]:
        """The keys to record with the save: of the unsaved messages, but for reused ones."""
        out = []
        for (key, model), k in self._keys.items():
            m = self._unsaved.get(k.seq)
            if k.record and m is not None and m.keyed is not None:
                out.append(StreamKey(key, model, k.digest, k.seq, self._rows[k.seq], m.keyed.received_at))
        return tuple(out)

    def _forget_old_ranges(self) -> None:
        try:
            self.store.forget_folded(self.consumer.stream, self.consumer.first_seq())
        except Exception as exc:  # kept for the next time
            log.warning("cannot forget old folded ranges: %s", exc)
