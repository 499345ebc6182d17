"""Folds acknowledged batches into windows, and keeps the store's copy of them current.

The ingest path appends a batch to the store's log (durable), then hands it here. A background thread
folds batches into in-memory ``WindowState``s (model × version × window start), and every
``flush_every`` seconds saves the windows it changed together with the sequence number of the last batch
folded (the checkpoint) and the held batches, in one transaction. After a crash, ``start`` replays the
log after the checkpoint, so nothing acknowledged is lost and nothing is counted twice.

No batch is passed that was not folded:

* a save that fails keeps its windows changed (and the checkpoint where it was) for the next save;
* a store failure while folding is retried, with backoff, until the store answers; meanwhile batches
  wait, and back-pressure makes the ingest answer 503;
* a batch that cannot be folded now is **held**: saved with the checkpoint and kept in the log whatever
  its retention. Its model is not declared any more (folded when it is again: at a start, or within a
  minute of ``POST /v1/models``); it cannot be decoded or folded (quarantined, reported on ``/healthz``
  and in the log, tried again at each start); or it is below the checkpoint without having been folded
  (an append whose answer was lost, a batch still queued at a save or a stop: folded as soon as
  possible). ``start`` warns about the held batches, in words.

Old events go to the finest rows that will still be rolled up: the model's windows; an hour row when the
event is older than the minute windows' retention or its hour was rolled up already; a day row when it
is older than the hour rows' retention or its day was rolled up already. So history (or a very late
event) is counted in the hours and days it belongs to instead of being deleted with the minutes.

Back-pressure, and batches gathered into bigger folds: ``vigil.monitoring.handover``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from vigil.errors import StoreError
from vigil.events import from_ipc
from vigil.monitoring.batches import Batch, Part, WindowKey, add_totals, by_model, cut, mapped
from vigil.monitoring.handover import Handover
from vigil.monitoring.held import undeclared, warn_held, warn_undeclared
from vigil.monitoring.predictions import prediction_batch
from vigil.monitoring.retention import maintain
from vigil.monitoring.templates import Templates
from vigil.monitoring.window import ServiceTotals, WindowState
from vigil.registry import Registry
from vigil.spec import ModelSpec
from vigil.stats.profile import Profile
from vigil.store.base import HeldBatch, LogEntry, Store, WindowRow

__all__ = ["Aggregator", "WindowKey"]

log = logging.getLogger("vigil.aggregator")


@dataclass
class _Prepared:
    """A fold whose reading and writing of the store is done: what is left changes memory only."""

    model: str
    seqs: list[int]
    parts: list[Part]
    template: Profile
    known: dict[WindowKey, bool] = field(default_factory=dict)
    """Whether each window was in memory when prepared."""
    loaded: dict[WindowKey, WindowState] = field(default_factory=dict)
    """Saved states of windows not in memory (a late batch for a window saved and evicted)."""


_FOLD_ROWS = 32_768
"""Rows folded together at most, when batches come faster than they are folded."""
_MAX_BACKOFF = 5.0
"""Seconds between tries of a fold that the store keeps failing, at most."""


class Aggregator:
    """See the module docstring. ``clock`` returns seconds since the epoch."""

    def __init__(
        self,
        store: Store,
        registry: Registry,
        *,
        writer: str = "main",
        clock: Callable[[], float] = time.time,
        flush_every: float = 2.0,
        max_pending_rows: int = 2_000_000,
        keep_open: float = 300.0,
        maintain_every: float = 60.0,
        fold_delay: float = 0.2,
        baselines: Callable[[str], Profile | None] | None = None,
    ) -> None:
        self.store = store
        self.registry = registry
        self.writer = writer
        self.source = writer  # whose predictions: keyed (model, source, seq), stored once
        self.clock = clock
        self.flush_every = flush_every
        self.keep_open = keep_open
        self.maintain_every = maintain_every
        self.handover = Handover(max_pending_rows, fold_delay)
        self.templates = Templates(store, baselines or (lambda model: None))
        self.maintained: Callable[[str, float], None] | None = None
        """Called with a model and the time after each maintenance of it (rollups, retention), on the
        folding thread: the composition root keeps the drift of the hour just rolled up."""
        self._state_lock = threading.RLock()
        self._flush_lock = threading.Lock()
        self._windows: dict[WindowKey, WindowState] = {}
        self._dirty: set[WindowKey] = set()
        self._folded = 0
        """The highest sequence number folded or held: the checkpoint of the next save."""
        self._flushed = 0
        self._handled: set[int] = set()
        """Sequence numbers above the saved checkpoint folded or held since."""
        self._inflight: dict[int, tuple[str, int]] = {}
        """Handed over, not folded yet: seq -> (model, rows)."""
        self._held: dict[int, HeldBatch] = {}
        self._hold_unsaved: dict[int, HeldBatch] = {}
        self._release_unsaved: set[int] = set()
        self._refold: dict[int, int] = {}
        """Held batches to fold from the log by the folding thread, in order: seq -> rows."""
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._rng = np.random.default_rng()
        self._troubles: dict[str, tuple[str, float]] = {}
        """The store's latest failure while folding ("fold") or saving ("save"), and since when, until
        the next success."""
        self.totals: dict[tuple[str, str], dict[str, float]] = {}
        """Per (model, version) running totals since start (events, errors, tokens, cost): /metrics."""

    # -- lifecycle -----------------------------------------------------------------------------------------

    def start(self) -> None:
        """Fold the held batches that can be folded now and replay what was logged after the last
        checkpoint, then start folding in the background. Warns about batches still held. Does nothing
        when started already."""
        if self._thread is not None:
            return
        self._folded = self._flushed = self.store.checkpoint(self.writer)
        self._held = {h.seq: h for h in self.store.held(self.writer)}
        held_before = len(self._held)
        foldable = [h.seq for h in self._held.values() if self.registry.get(h.model) is not None]
        for i in range(0, len(foldable), 200):
            self._fold_entries(self.store.log_entries(self.writer, foldable[i : i + 200]))
        replayed = 0
        while True:
            entries = self.store.read_log(self.writer, self._folded, limit=200)
            if not entries:
                break
            self._fold_entries(entries)
            replayed += sum(e.rows for e in entries)
        if replayed:
            log.info("replayed %d events logged after checkpoint %d", replayed, self._flushed)
        if replayed or foldable or len(self._held) != held_before:
            self.flush()
        warn_held(self._held.values())
        warn_undeclared(self.store.window_models(), self.registry.names())
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="vigil-aggregator", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Fold what is queued, save it, and stop the thread. What could not be folded (the store is
        down) stays in the log, held, for the next start."""
        self._stop.set()
        self.handover.close()
        if self._thread is not None:
            self._thread.join(timeout)
        with self._state_lock:
            self._inflight.clear()  # never to be folded by this process: held at the save below
        try:
            self.flush()
        except StoreError as exc:
            log.error("could not save the windows at stop (%s); the next start replays the log", exc)

    # -- the ingest side -----------------------------------------------------------------------------------

    def admit(self, rows: int) -> bool:
        """Reserve room for ``rows``; False means too much is waiting (answer 503, log nothing)."""
        return self.handover.admit(rows)

    def release(self, rows: int) -> None:
        """Give back room reserved by ``admit`` for rows that will not be submitted."""
        self.handover.release(rows)

    def submit(self, model: str, seq: int, table: pa.Table) -> None:
        """Hand over a logged batch (room reserved by ``admit``)."""
        with self._state_lock:
            self._inflight[seq] = (model, table.num_rows)
        self.handover.put(Batch(model, seq, table))

    @property
    def pending_rows(self) -> int:
        return self.handover.pending_rows

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until every submitted batch is folded (for tests and orderly shutdown)."""
        return self.handover.wait_idle(timeout)

    # -- reading -------------------------------------------------------------------------------------------

    def settle(self, timeout: float = 1.0) -> None:
        """Wait (at most ``timeout`` seconds) until the batches handed over before now are folded: a read
        sees what was acknowledged before it. Not on the folding thread (its own reads, after maintenance)."""
        if self._thread is not None and threading.current_thread() is not self._thread:
            self.handover.settle(timeout)  # (not started: nothing would fold them, nothing to wait for)

    def live_windows(self, model: str, start: float, end: float) -> dict[WindowKey, WindowState]:
        """Copies of this writer's in-memory windows of ``model`` starting in ``[start, end)``, once the
        batches acknowledged before now are in them (``settle``)."""
        self.settle()
        with self._state_lock:
            return {
                k: w.copy() for k, w in self._windows.items() if k.model == model and start <= k.start < end
            }

    def recent_service(self, model: str, start: float, end: float) -> dict[str, ServiceTotals]:
        """Events, errors and latencies of this writer's in-memory windows of ``model`` starting in
        ``[start, end)``, merged per version (``/metrics``: only these copied, where ``live_windows`` copies
        whole windows, profile and event sample; not waiting for the folds in flight)."""
        out: dict[str, ServiceTotals] = {}
        with self._state_lock:
            for key, window in self._windows.items():
                if key.model == model and start <= key.start < end:
                    out.setdefault(key.version, ServiceTotals()).add(window)
        return out

    def totals_snapshot(self) -> dict[tuple[str, str], dict[str, float]]:
        """A consistent copy of ``totals`` once the batches acknowledged before now are in (``settle``):
        copied under the lock the folding thread updates a batch's totals under, so the events and errors
        of one batch stay together (success = events - errors never goes down between scrapes)."""
        self.settle()
        with self._state_lock:
            return {key: dict(values) for key, values in self.totals.items()}

    def template(self, model: str) -> Profile | None:
        return self.templates.get(model)

    def held(self) -> list[HeldBatch]:
        """The batches held out of the windows now, by sequence number."""
        with self._state_lock:
            return sorted(self._held.values(), key=lambda h: h.seq)

    @property
    def trouble(self) -> tuple[str, float] | None:
        """The store's failure that keeps folding or saving from going on (text, since when), if any."""
        troubles = list(self._troubles.values())
        return min(troubles, key=lambda t: t[1]) if troubles else None

    # -- the folding thread --------------------------------------------------------------------------------

    def _run(self) -> None:
        next_flush = time.monotonic() + self.flush_every
        next_maintenance = time.monotonic() + self.maintain_every
        while not self._stop.is_set():
            batches = self.handover.take(max(0.05, next_flush - time.monotonic()))
            folded = []
            for model, group in by_model(batches):
                if self._stop.is_set():
                    break  # left in flight: held at the last save, folded at the next start
                self._fold_safely(model, group)
                folded += group
            self.handover.done(folded)
            if self._refold and not self._stop.is_set():
                self._fold_held_due()
            if time.monotonic() >= next_flush:
                try:
                    self.flush()
                except StoreError:
                    pass  # noted as trouble; the windows stay changed for the next save
                except Exception:
                    log.exception("could not save windows; will retry")
                next_flush = time.monotonic() + self.flush_every
            if time.monotonic() >= next_maintenance:
                self.maintain()
                next_maintenance = time.monotonic() + self.maintain_every

    def _fold_safely(self, model: str, batches: Sequence[Batch]) -> bool:
        """Fold ``batches`` (of one model, in log order): retry while the store fails, hold what cannot be
        folded. False when stopping first (they stay unfolded)."""
        spec = self.registry.get(model)
        if spec is None:
            for b in batches:
                self._hold(b.seq, model, b.table.num_rows, "undeclared", undeclared(model))
            return True
        if len(batches) > 1 and not mapped(self.templates, model, spec, batches[0].table):
            # the first batch with a column fixes its buckets: alone, whatever queued up behind it
            return self._fold_safely(model, batches[:1]) and self._fold_safely(model, batches[1:])
        # one schema (``by_model``'s runs): concatenated as they are
        table = pa.concat_tables([b.table for b in batches]) if len(batches) > 1 else batches[0].table
        delay = 0.1
        while True:
            try:
                self.fold(model, [b.seq for b in batches], table)
                self._fine("fold")
                return True
            except StoreError as exc:
                self._troubled("fold", f"cannot fold events of {model}: {exc}")
                if self._stop.wait(delay):
                    return False
                delay = min(delay * 2, _MAX_BACKOFF)
            except Exception as exc:
                if len(batches) > 1:  # find the batch at fault; fold the others
                    return all(self._fold_safely(model, [b]) for b in batches)
                self._quarantine(batches[0].seq, model, batches[0].table.num_rows, exc)
                return True

    def _fold_entries(self, entries: Sequence[LogEntry]) -> None:
        """Fold entries read back from the log (a replay, or held batches), one by one."""
        for entry in entries:
            if self.registry.get(entry.model) is None:
                self._hold(entry.seq, entry.model, entry.rows, "undeclared", undeclared(entry.model))
                continue
            try:
                table = from_ipc(entry.payload)
            except Exception as exc:
                self._quarantine(entry.seq, entry.model, entry.rows, exc)
                continue
            self._fold_safely(entry.model, [Batch(entry.model, entry.seq, table)])

    def _fold_held_due(self) -> None:
        """Fold held batches waiting for it (a few at a time; the rest on the next rounds)."""
        with self._state_lock:
            seqs = list(self._refold)[:64]
        try:
            entries = self.store.log_entries(self.writer, seqs)
        except StoreError as exc:
            self._troubled("fold", f"cannot read held batches back: {exc}")
            self._stop.wait(1.0)
            return
        self._fold_entries(entries)
        for seq in set(seqs) - {e.seq for e in entries}:
            log.error("held batch %d is no longer in the store's log; it cannot be folded", seq)
            with self._state_lock:
                self._held.pop(seq, None)
                self._release_unsaved.add(seq)
        with self._state_lock:
            rows = sum(self._refold.pop(seq) for seq in seqs)
        self.handover.release(rows)

    def _hold(self, seq: int, model: str, rows: int, kind: str, reason: str) -> None:
        with self._state_lock:
            if self._held.get(seq, None) is not None and self._held[seq].kind == kind:
                return
            held = HeldBatch(seq, model, rows, kind, reason, self.clock())
            self._held[seq] = self._hold_unsaved[seq] = held
            self._handled.add(seq)
            self._inflight.pop(seq, None)
            self._folded = max(self._folded, seq)

    def _quarantine(self, seq: int, model: str, rows: int, exc: BaseException) -> None:
        text = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
        log.error(
            "batch %d of %s (%d events) cannot be folded and is quarantined: %s. It is kept in the "
            "store's log and tried again at each start",
            seq,
            model,
            rows,
            text,
            exc_info=exc,
        )
        self._hold(seq, model, rows, "damaged", f"cannot be folded: {text}")

    def _troubled(self, what: str, text: str) -> None:
        since = self._troubles.get(what, (text, self.clock()))[1]
        if what not in self._troubles:
            log.warning("%s; retrying until the store answers", text)
        self._troubles[what] = (text, since)

    def _fine(self, what: str) -> None:
        if self._troubles.pop(what, None) is not None:
            log.warning("the store answers again (%s)", what)

    # -- folding -------------------------------------------------------------------------------------------

    def fold(self, model: str, seqs: list[int], table: pa.Table) -> None:
        """Fold one table of ``model`` (the batches ``seqs``; the model declared) into the windows in memory:
        all store reads and writes first (templates, windows saved and evicted, predictions keyed by
        ``source`` and the last of ``seqs``), then the windows, so that a store failure (``StoreError``)
        leaves nothing half done. The folding thread's, and ``vigil worker``'s (which saves itself)."""
        spec = self.registry.get(model)
        assert spec is not None
        while not self._apply(self._prepare(model, seqs, table, spec)):
            pass  # a window was saved and evicted meanwhile: read it back

    def _prepare(self, model: str, seqs: list[int], table: pa.Table, spec: ModelSpec) -> _Prepared:
        template, parts = cut(self.store, self.templates, model, spec, table, self.clock(), self._rng)
        prepared = _Prepared(model, seqs, parts, template)
        for key, _, _ in parts:
            with self._state_lock:
                known = prepared.known[key] = key in self._windows
            if not known:
                # a late batch for a window already saved and evicted: continue from the saved state
                saved = self.store.windows(model, key.resolution, key.start, key.start + 1, key.version)
                for row in saved:
                    if row.writer == self.writer:
                        prepared.loaded[key] = WindowState.from_bytes(row.state)
        predictions = prediction_batch(model, self.source, max(seqs), table, spec)
        if predictions is not None:
            self.store.put_predictions(predictions)
        return prepared

    def _apply(self, p: _Prepared) -> bool:
        """Fold a prepared table into the windows in memory; False (nothing done) when a window it did
        not read back was evicted since."""
        spec = self.registry.get(p.model)
        sample_size = spec.sample_size if spec is not None else 100
        with self._state_lock:
            if any(k not in self._windows and k not in p.loaded and p.known[k] for k, _, _ in p.parts):
                return False
            for key, part, data in p.parts:
                window = self._windows.get(key)
                if window is None:
                    window = p.loaded.get(key) or WindowState(sample_size=sample_size)
                    self._windows[key] = window
                window.track_spend(spec.spend if spec is not None else None)
                window.update(part, data, p.template, self._rng)
                self._dirty.add(key)
                add_totals(self.totals.setdefault((key.model, key.version), {}), part)
            for seq in p.seqs:
                self._inflight.pop(seq, None)
                if seq in self._held:  # folded at last: forget it with the windows that now hold it
                    del self._held[seq]
                    self._hold_unsaved.pop(seq, None)
                    self._release_unsaved.add(seq)
                if seq > self._flushed:
                    self._handled.add(seq)
            self._folded = max(self._folded, *p.seqs)
        return True

    def maintain(self) -> None:
        """Roll up complete periods and delete what is past retention, for every model; queue the held
        batches of models declared since for folding."""
        for name, spec in self.registry.items():
            try:
                now = self.clock()
                maintain(self.store, name, spec, self.writer, self._flushed, now)
                if self.maintained is not None:
                    self.maintained(name, now)
            except Exception:  # a failed clean-up is retried next time; monitoring goes on
                log.exception("maintenance of %s failed", name)
        with self._state_lock:
            due = [
                h
                for h in self._held.values()
                if h.kind == "undeclared" and self.registry.get(h.model) is not None
            ]
        self._queue_refold(due)

    def _queue_refold(self, held: Sequence[HeldBatch]) -> None:
        with self._state_lock:
            fresh = [h for h in held if h.seq not in self._refold]
            for h in fresh:
                self._refold[h.seq] = h.rows
        if fresh:
            self.handover.reserve(sum(h.rows for h in fresh))  # and wake the folding thread

    # -- saving --------------------------------------------------------------------------------------------

    def flush(self) -> None:
        """Save changed windows with the checkpoint and the held batches; forget windows closed long
        enough ago. A save that fails (``StoreError``) leaves everything to the next one."""
        with self._flush_lock:
            with self._state_lock:
                checkpoint = self._folded
                try:
                    if checkpoint > self._flushed:
                        self._hold_unfolded(checkpoint)
                except StoreError as exc:
                    self._troubled("save", f"cannot save the windows: {exc}")
                    raise
                dirty, rows = self.take_changed()
                hold, self._hold_unsaved = self._hold_unsaved, {}
                release, self._release_unsaved = self._release_unsaved, set()
            if rows or hold or release or checkpoint != self._flushed:
                try:
                    held = sorted(hold.values(), key=lambda h: h.seq)
                    self.store.save_windows(self.writer, rows, checkpoint, held, sorted(release))
                except BaseException as exc:
                    with self._state_lock:  # merged with whatever changed since
                        self.put_back(dirty)
                        for seq, h in hold.items():
                            if seq in self._held:
                                self._hold_unsaved.setdefault(seq, h)
                        self._release_unsaved |= release
                    if isinstance(exc, StoreError):
                        self._troubled("save", f"cannot save the windows: {exc}")
                    raise
                self._fine("save")
                with self._state_lock:
                    self._flushed = checkpoint
                    self._handled = {s for s in self._handled if s > checkpoint}
            self.evict()

    # -- the windows to save: the folding thread's saves, and ``vigil worker``'s -----------------------------

    def take_changed(self) -> tuple[set[WindowKey], list[WindowRow]]:
        """The windows changed since the last call, as rows to save (of this writer); from now on they
        count as saved: ``put_back`` the keys when the save fails."""
        with self._state_lock:
            dirty, self._dirty = self._dirty, set()
            rows = [
                WindowRow(
                    k.model, k.version, k.resolution, k.start, self.writer, w.events, w.to_bytes(), w.errors
                )
                for k in sorted(dirty)
                for w in [self._windows[k]]
            ]
        return dirty, rows

    def put_back(self, keys: set[WindowKey]) -> None:
        """A save of ``take_changed``'s rows failed: those windows stay changed, for the next save."""
        with self._state_lock:
            self._dirty |= keys

    def evict(self) -> None:
        """Forget the windows closed more than ``keep_open`` seconds ago and saved (read back from the store
        if a late event is folded into one)."""
        horizon = self.clock() - self.keep_open
        with self._state_lock:
            for key in [
                k for k in self._windows if k.start + k.resolution < horizon and k not in self._dirty
            ]:
                del self._windows[key]

    def forget(self) -> None:
        """Forget every window in memory, saved or not (read back from the store when next folded into):
        for a writer whose save was refused, to fold again on what is saved."""
        with self._state_lock:
            self._windows.clear()
            self._dirty.clear()

    def _hold_unfolded(self, checkpoint: int) -> None:
        """Hold the batches logged up to ``checkpoint`` and not folded: still queued (folded soon), or
        never handed over (an append whose answer was lost: folded from the log)."""
        missing = [
            s
            for s in self.store.log_seqs(self.writer, self._flushed, checkpoint)
            if s not in self._handled and s not in self._held
        ]
        if not missing:
            return
        queued = [s for s in missing if s in self._inflight]
        for seq in queued:
            model, rows = self._inflight[seq]
            self._hold(seq, model, rows, "pending", "waiting to be folded")
            self._inflight[seq] = (model, rows)  # still in the queue: folded from there
        strays = self.store.log_entries(self.writer, [s for s in missing if s not in self._inflight])
        for entry in strays:
            log.warning("batch %d of %s was logged but never folded; folding it now", entry.seq, entry.model)
            self._hold(entry.seq, entry.model, entry.rows, "pending", "logged, not folded yet")
        self._queue_refold([self._held[e.seq] for e in strays])
