"""The hand-over between the ingest and the aggregator's folding thread.

* **Room**: at most ``max_pending_rows`` rows may wait to be folded; past that ``admit`` says no and the
  ingest answers 503 before logging anything (back-pressure instead of memory without bound).
* **Bigger folds**: ``take`` returns the first batch with what comes within ``fold_delay`` seconds of it,
  up to ``FOLD_ROWS`` rows. One fold of 30,000 events costs a fifth, per event, of thirty folds of 1,000
  (the columns' updates vectorise), and the acknowledgement never waits for a fold.
* **Waiting for the folds**: ``wait_idle`` (everything handed over is folded) and ``settle`` (what was
  handed over before the call is folded: a read sees what was acknowledged before it) cut the fold's wait
  for more batches short.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable

from vigil.monitoring.batches import Batch

__all__ = ["FOLD_ROWS", "Handover"]

FOLD_ROWS = 32_768
"""Rows folded together at most, when batches come faster than they are folded."""


class Handover:
    """See the module docstring: one per aggregator, shared by the request threads and the folding thread."""

    def __init__(self, max_pending_rows: int, fold_delay: float) -> None:
        self.max_pending_rows = max_pending_rows
        self.fold_delay = fold_delay
        self._queue: queue.SimpleQueue[Batch | None] = queue.SimpleQueue()
        self._changed = threading.Condition()
        self._pending = 0
        """Rows admitted and not folded (or given back) yet."""
        self._put = self._done = 0
        """Batches handed over, and batches folded or held, in the order handed over."""
        self._waiters = 0
        self._closed = False

    @property
    def pending_rows(self) -> int:
        return self._pending

    def admit(self, rows: int) -> bool:
        """Reserve room for ``rows``; False means too much is waiting (answer 503, log nothing)."""
        with self._changed:
            if self._pending + rows > self.max_pending_rows and self._pending > 0:
                return False
            self._pending += rows
            return True

    def reserve(self, rows: int) -> None:
        """Count ``rows`` the folding thread will fold from elsewhere (held batches), and wake it."""
        with self._changed:
            self._pending += rows
        self._queue.put(None)

    def release(self, rows: int) -> None:
        """Give back room for rows that will not be handed over, or were folded from elsewhere."""
        with self._changed:
            self._pending -= rows
            self._changed.notify_all()

    def put(self, batch: Batch) -> None:
        """Hand over a logged batch (room reserved by ``admit``)."""
        with self._changed:
            self._put += 1
        self._queue.put(batch)

    def close(self) -> None:
        """The folding thread stops: wake it, and nobody waits for it any more."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()
        self._queue.put(None)

    def take(self, timeout: float) -> list[Batch]:
        """The next batches to fold (see the module docstring); none after ``timeout`` s or a wake-up."""
        try:
            first = self._queue.get(timeout=timeout)
        except queue.Empty:
            return []
        if first is None:
            return []
        batches, rows = [first], first.table.num_rows
        deadline = time.monotonic() + self.fold_delay
        while rows < FOLD_ROWS:
            left = deadline - time.monotonic()
            hurry = left <= 0 or self._waiters > 0 or self._closed
            try:
                more = self._queue.get_nowait() if hurry else self._queue.get(timeout=left)
            except queue.Empty:
                break
            if more is None:  # a wake-up: a stop, a waiter, held batches to fold
                break
            batches.append(more)
            rows += more.table.num_rows
        return batches

    def done(self, batches: list[Batch]) -> None:
        """``batches`` (taken together) are folded or held."""
        with self._changed:
            self._pending -= sum(b.table.num_rows for b in batches)
            self._done += len(batches)
            self._changed.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Block until every batch handed over is folded; False after ``timeout`` seconds."""
        return self._wait(lambda: self._pending <= 0, timeout)

    def settle(self, timeout: float) -> None:
        """Block (at most ``timeout`` seconds) until the batches handed over before now are folded."""
        target = self._put
        if self._done < target:
            self._wait(lambda: self._done >= target or self._closed, timeout)

    def _wait(self, ready: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._changed:
            self._waiters += 1
            try:
                if not ready():
                    self._queue.put(None)  # wake a fold waiting for more batches
                while not ready():
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return False
                    self._changed.wait(left)
            finally:
                self._waiters -= 1
        return True
