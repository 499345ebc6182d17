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

A batch whose model is not declared (or cannot be read) is not acknowledged: the broker delivers it again a
minute later, and it stays in the stream (counted in its lag) until it can be folded.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

import pyarrow as pa

from vigil.broker import Consumer, Message
from vigil.errors import StoreError
from vigil.events import from_ipc
from vigil.monitoring.aggregator import Aggregator
from vigil.registry import Registry
from vigil.stats.profile import Profile
from vigil.store.base import AlreadyFolded, Store, StreamRanges, WindowRow

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


class _Folder(Aggregator):
    """The aggregator's folding (placement in minutes, hours or days, templates, predictions), driven by the
    worker: no thread, no log; the changed windows handed to the worker's save."""

    def fold_now(self, model: str, seqs: list[int], table: pa.Table) -> None:
        self._fold(model, seqs, table)

    def changes(self) -> tuple[set[object], list[WindowRow]]:
        with self._state_lock:
            dirty, self._dirty = self._dirty, set()
            rows = [
                WindowRow(
                    k.model, k.version, k.resolution, k.start, self.writer, w.events, w.to_bytes(), w.errors
                )
                for k in sorted(dirty)
                for w in [self._windows[k]]
            ]
        return set(dirty), rows

    def unsave(self, dirty: set[object]) -> None:
        """A save failed: the windows stay changed for the next one."""
        with self._state_lock:
            self._dirty |= dirty  # type: ignore[arg-type]

    def forget(self) -> None:
        """Drop every window in memory (read back from the store when next folded into)."""
        with self._state_lock:
            self._windows.clear()
            self._dirty.clear()

    def evict(self) -> None:
        horizon = self.clock() - self.keep_open
        with self._state_lock:
            for key in [
                k for k in self._windows if k.start + k.resolution < horizon and k not in self._dirty
            ]:
                del self._windows[key]


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
        self.folder = _Folder(store, registry, writer=writer, clock=clock, baselines=baselines)
        self.folder.source = f"broker:{consumer.stream}"  # a batch's predictions once, whoever folds it
        self._unsaved: dict[int, Message] = {}
        """Folded, not saved yet: seq -> message (kept to fold again, acknowledged after the save)."""
        self.folded_events = 0
        self.skipped = 0
        """Redeliveries found folded already (acknowledged without folding)."""

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
        if done:
            self.skipped += len(done)
            self.consumer.ack([m for m in messages if m.seq in done])
        fresh: list[Message] = []
        for m in messages:
            if m.seq in done:
                continue
            if m.seq in self._unsaved:  # delivered again before this worker saved it: acked with the save
                self._unsaved[m.seq] = m
                continue
            fresh.append(m)
        self._fold(fresh)

    def _saved(self, seqs: list[int]) -> set[int]:
        while True:
            try:
                return self.store.folded_seqs(self.consumer.stream, seqs)
            except StoreError as exc:
                log.warning("cannot read the folded ranges (%s); retrying", exc)
                time.sleep(1.0)

    def _fold(self, messages: Sequence[Message]) -> None:
        by_model: dict[str, list[tuple[Message, pa.Table]]] = {}
        later: list[Message] = []
        for m in messages:
            if self.registry.get(m.model) is None:
                log.warning("batch %d is of model %r, not declared: delivered again later", m.seq, m.model)
                later.append(m)
                continue
            try:
                by_model.setdefault(m.model, []).append((m, from_ipc(m.payload)))
            except Exception as exc:
                log.error("batch %d of %s cannot be read (%s): delivered again later", m.seq, m.model, exc)
                later.append(m)
        self.consumer.nak(later, _RETRY_UNFOLDABLE)
        for model, parts in by_model.items():
            table = pa.concat_tables([t for _, t in parts], promote_options="permissive")
            delay = 0.1
            while True:
                try:
                    self.folder.fold_now(model, [m.seq for m, _ in parts], table)
                    break
                except StoreError as exc:
                    log.warning("cannot fold events of %s (%s); retrying", model, exc)
                    time.sleep(delay)
                    delay = min(delay * 2, 5.0)
            for m, t in parts:
                self._unsaved[m.seq] = m
                self.folded_events += t.num_rows

    def save(self) -> bool:
        """Save the changed windows with the ranges folded, then acknowledge those messages. False when the
        store failed (kept for the next save) or another worker had saved some of them (folded again)."""
        if not self._unsaved:
            return True
        dirty, rows = self.folder.changes()
        folded = StreamRanges(self.consumer.stream, ranges(list(self._unsaved)))
        try:
            self.store.save_windows(self.writer, rows, 0, folded=folded)
        except AlreadyFolded as exc:
            log.warning("%s; folding the others again on the saved windows", exc)
            self.folded_events -= sum(from_ipc(m.payload).num_rows for m in self._unsaved.values())
            taken = [self._unsaved.pop(s) for s in sorted(exc.seqs) if s in self._unsaved]
            self.consumer.ack(taken)
            self.skipped += len(taken)
            again = list(self._unsaved.values())
            self._unsaved.clear()
            self.folder.forget()
            self._fold(again)
            return False
        except StoreError as exc:
            log.warning("cannot save the windows (%s); retrying at the next save", exc)
            self.folder.unsave(dirty)
            return False
        self.consumer.ack(list(self._unsaved.values()))
        self._unsaved.clear()
        self.folder.evict()
        return True

    def _forget_old_ranges(self) -> None:
        try:
            self.store.forget_folded(self.consumer.stream, self.consumer.first_seq())
        except Exception as exc:  # kept for the next time
            log.warning("cannot forget old folded ranges: %s", exc)
