"""Folds acknowledged batches into windows, and keeps the store's copy of them current.

The ingest path appends a batch to the store's log (durable), then hands it here. A background thread
folds batches into in-memory ``WindowState``s (model × version × window start), and every
``flush_every`` seconds saves the windows it changed together with the sequence number of the last batch
folded (the checkpoint), in one transaction. After a crash, ``start`` replays the log after the
checkpoint, so nothing acknowledged is lost and nothing is counted twice.

Back-pressure: at most ``max_pending_rows`` rows may wait to be folded. Past that, ``admit`` says no and
the ingest answers 503 with Retry-After *before* logging anything, so clients retry instead of events
being dropped or memory growing without bound.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from vigil.config import ModelSpec
from vigil.ingest.batch import from_ipc, profiled_columns, to_ipc
from vigil.monitoring.retention import maintain
from vigil.monitoring.window import PREDICTION, SCORE, SEGMENT_PREFIX, WindowState
from vigil.registry import Registry
from vigil.stats.profile import Profile, profile
from vigil.store.base import PredictionBatch, Store, WindowRow
from vigil.tables import ColumnKind

__all__ = ["TEMPLATE_KEY", "Aggregator", "WindowKey"]

log = logging.getLogger("vigil.aggregator")

TEMPLATE_KEY = "template"
"""The store key of a model's profile template: the mapping every window's sketches share."""


@dataclass(frozen=True, order=True)
class WindowKey:
    model: str
    version: str
    start: int
    resolution: int


@dataclass(frozen=True)
class _Batch:
    model: str
    seq: int
    table: pa.Table


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
        baselines: Callable[[str], Profile | None] | None = None,
    ) -> None:
        self.store = store
        self.registry = registry
        self.writer = writer
        self.clock = clock
        self.flush_every = flush_every
        self.max_pending_rows = max_pending_rows
        self.keep_open = keep_open
        self.maintain_every = maintain_every
        self._baselines = baselines or (lambda model: None)
        self._queue: queue.SimpleQueue[_Batch | None] = queue.SimpleQueue()
        self._pending = 0
        self._pending_lock = threading.Lock()
        self._state_lock = threading.RLock()
        self._windows: dict[WindowKey, WindowState] = {}
        self._dirty: set[WindowKey] = set()
        self._templates: dict[str, Profile] = {}
        self._folded = 0
        self._flushed = 0
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._idle = threading.Condition()
        self._rng = np.random.default_rng()
        self.totals: dict[tuple[str, str], dict[str, float]] = {}
        """Per (model, version) running totals since start (events, errors, tokens, cost): /metrics."""

    # -- lifecycle -----------------------------------------------------------------------------------------

    def start(self) -> None:
        """Replay what was logged after the last checkpoint, then start folding in the background."""
        self._folded = self._flushed = self.store.checkpoint(self.writer)
        replayed = 0
        while True:
            entries = self.store.read_log(self.writer, self._folded, limit=200)
            if not entries:
                break
            for entry in entries:
                try:
                    self._fold(_Batch(entry.model, entry.seq, from_ipc(entry.payload)))
                except Exception:  # one bad entry must not keep the server from starting
                    log.exception("could not replay batch %d of %s; skipped", entry.seq, entry.model)
                    self._folded = max(self._folded, entry.seq)
                replayed += entry.rows
        if replayed:
            log.info("replayed %d events logged after checkpoint %d", replayed, self._flushed)
            self.flush()
        self._thread = threading.Thread(target=self._run, name="vigil-aggregator", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Fold what is queued, save it, and stop the thread."""
        self._stop.set()
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout)
        self.flush()

    # -- the ingest side -----------------------------------------------------------------------------------

    def admit(self, rows: int) -> bool:
        """Reserve room for ``rows``; False means too much is waiting (answer 503, log nothing)."""
        with self._pending_lock:
            if self._pending + rows > self.max_pending_rows and self._pending > 0:
                return False
            self._pending += rows
            return True

    def release(self, rows: int) -> None:
        """Give back room reserved by ``admit`` for rows that will not be submitted."""
        with self._pending_lock:
            self._pending -= rows

    def submit(self, model: str, seq: int, table: pa.Table) -> None:
        """Hand over a logged batch (room reserved by ``admit``)."""
        self._queue.put(_Batch(model, seq, table))

    @property
    def pending_rows(self) -> int:
        return self._pending

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until every submitted batch is folded (for tests and orderly shutdown)."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    # -- reading -------------------------------------------------------------------------------------------

    def live_windows(self, model: str, start: float, end: float) -> dict[WindowKey, WindowState]:
        """Copies of this writer's in-memory windows of ``model`` starting in ``[start, end)``."""
        with self._state_lock:
            return {
                k: w.copy() for k, w in self._windows.items() if k.model == model and start <= k.start < end
            }

    def template(self, model: str) -> Profile | None:
        return self._templates.get(model) or self._load_template(model)

    # -- the folding thread --------------------------------------------------------------------------------

    def _run(self) -> None:
        next_flush = time.monotonic() + self.flush_every
        next_maintenance = time.monotonic() + self.maintain_every
        while not self._stop.is_set():
            try:
                item = self._queue.get(timeout=max(0.05, next_flush - time.monotonic()))
            except queue.Empty:
                item = None
            batches = [] if item is None else [item]
            while len(batches) < 64:  # drain what is there: bigger batches vectorise better
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is not None:
                    batches.append(more)
            for model, group in _group(batches).items():
                try:
                    table = pa.concat_tables([b.table for b in group], promote_options="permissive")
                except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
                    parts = group  # a column of different types in different batches: one at a time
                else:
                    parts = [_Batch(model, max(b.seq for b in group), table)]
                for part in parts:
                    try:
                        self._fold(part)
                    except Exception:  # a bad batch must not stop monitoring; it stays in the log
                        log.exception("could not fold a batch of %s", model)
                        self._folded = max(self._folded, part.seq)
                rows = sum(b.table.num_rows for b in group)
                with self._pending_lock:
                    self._pending -= rows
            with self._idle:
                self._idle.notify_all()
            if time.monotonic() >= next_flush:
                try:
                    self.flush()
                except Exception:
                    log.exception("could not save windows; will retry")
                next_flush = time.monotonic() + self.flush_every
            if time.monotonic() >= next_maintenance:
                self.maintain()
                next_maintenance = time.monotonic() + self.maintain_every

    def _fold(self, batch: _Batch) -> None:
        spec = self.registry.get(batch.model)
        if spec is None:
            self._folded = max(self._folded, batch.seq)
            return
        table = batch.table
        res = int(spec.window.total_seconds())
        ts = table.column("ts").to_numpy(zero_copy_only=False)
        starts = (np.floor(ts / res) * res).astype(np.int64)
        versions = table.column("version").to_numpy(zero_copy_only=False)
        # a column that is null throughout this batch says nothing of its kind (numbers or categories):
        # it counts as missing here (all null), and is profiled from the first batch that has a value
        data_columns = [
            c for c in profiled_columns(table, spec) if table.column(c).null_count < table.num_rows
        ]
        template = self._template_for(batch.model, table.select(data_columns), spec)
        predictions = self._predictions(batch.model, batch.seq, table, spec)
        names, version_codes = np.unique(versions.astype(str), return_inverse=True)
        slot = (starts - starts.min()) // res
        keys, inverse = np.unique(
            version_codes.astype(np.int64) * (int(slot.max()) + 1) + slot, return_inverse=True
        )
        with self._state_lock:
            for i in range(len(keys)):
                rows = np.flatnonzero(inverse == i)
                part = table.take(pa.array(rows)) if len(keys) > 1 else table
                key = WindowKey(batch.model, str(names[version_codes[rows[0]]]), int(starts[rows[0]]), res)
                window = self._window(key, spec)
                data = part.select(data_columns)
                if spec.sampling_rate < 1.0:
                    keep = self._rng.random(part.num_rows) < spec.sampling_rate
                    data = data.filter(pa.array(keep))
                window.update(part, data, template, self._rng)
                self._dirty.add(key)
                totals = self.totals.setdefault((key.model, key.version), {})
                _add_totals(totals, part)
            self._folded = max(self._folded, batch.seq)
        if predictions is not None:
            self.store.put_predictions(predictions)

    def _window(self, key: WindowKey, spec: ModelSpec) -> WindowState:
        window = self._windows.get(key)
        if window is None:
            window = WindowState(sample_size=spec.sample_size)
            # a late batch for a window already saved and evicted: continue from the saved state
            for row in self.store.windows(key.model, key.resolution, key.start, key.start + 1, key.version):
                if row.writer == self.writer:
                    window = WindowState.from_bytes(row.state)
            self._windows[key] = window
        return window

    def _template_for(self, model: str, data: pa.Table, spec: ModelSpec) -> Profile:
        """The profile every window of ``model`` is built like, covering every column of ``data``.

        A column's kind and bucket mapping are fixed the first time it is seen (by the baseline, else the
        first batch that has it) and kept in the store, so that all windows, of every writer, merge."""
        template = self._templates.get(model) or self._load_template(model)
        if template is None:
            template = self._baselines(model)
            if template is None:  # no baseline: the first batch fixes the bucket mapping for good
                template = profile(data, kinds=_kinds(spec))
            template = template.empty_like()
            self.store.put_baseline(model, TEMPLATE_KEY, template.to_bytes())
            self._templates[model] = template
        if not set(data.column_names) <= template.columns.keys() | template.skipped.keys():
            saved = self._load_template(model)  # another writer may have fixed the new columns already
            if saved is not None:
                saved.columns = {**saved.columns, **template.columns}
                template = saved
            new = [c for c in data.column_names if c not in template.columns and c not in template.skipped]
            if new:
                fresh = profile(data.select(new), kinds=_kinds(spec))
                template.columns.update(fresh.empty_like().columns)
                template.skipped.update(fresh.skipped)
            self.store.put_baseline(model, TEMPLATE_KEY, template.to_bytes())
            self._templates[model] = template
        return template

    def _load_template(self, model: str) -> Profile | None:
        saved = self.store.baseline(model, TEMPLATE_KEY)
        if saved is None:
            return None
        self._templates[model] = Profile.from_bytes(saved)
        return self._templates[model]

    def _predictions(self, model: str, seq: int, table: pa.Table, spec: ModelSpec) -> PredictionBatch | None:
        """The batch's predictions with a request id (those a label can join), as one Arrow table."""
        ids = table.column("request_id")
        if ids.null_count == len(ids):
            return None
        sub = table.filter(pc.is_valid(ids))
        segment_names = [n for n in sub.column_names if n.startswith(SEGMENT_PREFIX)]
        segments: pa.Array = pa.nulls(sub.num_rows, pa.string())
        if segment_names:
            cols = {n[1:]: sub.column(n).to_pylist() for n in segment_names}
            segments = pa.array(
                [
                    orjson.dumps({k: v[i] for k, v in cols.items() if v[i] is not None}).decode()
                    for i in range(sub.num_rows)
                ],
                pa.string(),
            )
        prediction = sub.column(PREDICTION)
        if spec.task == "llm":
            prediction = pa.nulls(sub.num_rows, pa.string())
        predictions = pa.table(
            {
                "request_id": sub.column("request_id"),
                "version": sub.column("version"),
                "ts": sub.column("ts"),
                "prediction": pc.cast(prediction, pa.string()),
                "score": sub.column(SCORE),
                "segment": segments,
            }
        )
        ts = sub.column("ts")
        return PredictionBatch(
            model,
            self.writer,
            seq,
            float(pc.min(ts).as_py()),
            float(pc.max(ts).as_py()),
            sub.num_rows,
            to_ipc(predictions),
        )

    def maintain(self) -> None:
        """Roll up complete periods and delete what is past retention, for every model."""
        for name, spec in self.registry.items():
            try:
                maintain(self.store, name, spec, self.writer, self._flushed, self.clock())
            except Exception:  # a failed clean-up is retried next time; monitoring goes on
                log.exception("maintenance of %s failed", name)

    # -- saving --------------------------------------------------------------------------------------------

    def flush(self) -> None:
        """Save changed windows with the checkpoint; forget windows closed long enough ago."""
        with self._state_lock:
            dirty = sorted(self._dirty)
            rows = [
                WindowRow(
                    k.model,
                    k.version,
                    k.resolution,
                    k.start,
                    self.writer,
                    self._windows[k].events,
                    self._windows[k].to_bytes(),
                )
                for k in dirty
            ]
            checkpoint = self._folded
            self._dirty.clear()
        if rows or checkpoint != self._flushed:
            self.store.save_windows(self.writer, rows, checkpoint)
            self._flushed = checkpoint
        horizon = self.clock() - self.keep_open
        with self._state_lock:
            for key in [
                k for k in self._windows if k.start + k.resolution < horizon and k not in self._dirty
            ]:
                del self._windows[key]


def _group(batches: list[_Batch]) -> dict[str, list[_Batch]]:
    out: dict[str, list[_Batch]] = {}
    for b in batches:
        out.setdefault(b.model, []).append(b)
    return out


def _kinds(spec: ModelSpec) -> dict[str, ColumnKind]:
    kinds: dict[str, ColumnKind] = {}
    for name, s in spec.features.items():
        if s.type == "numeric" or s.type == "categorical":
            kinds[name] = s.type
    return kinds


def _add_totals(totals: dict[str, float], part: pa.Table) -> None:
    totals["events"] = totals.get("events", 0) + part.num_rows
    totals["errors"] = totals.get("errors", 0) + part.num_rows - part.column("error").null_count
    for name in ("tokens_in", "tokens_out", "cost"):
        value = pc.sum(part.column(name)).as_py()
        totals[name] = totals.get(name, 0) + float(value or 0)
    lat = part.column("latency_ms")
    if lat.null_count < len(lat):
        totals["latency_sum_ms"] = totals.get("latency_sum_ms", 0) + float(pc.sum(lat).as_py() or 0)
        totals["latency_count"] = totals.get("latency_count", 0) + len(lat) - lat.null_count
