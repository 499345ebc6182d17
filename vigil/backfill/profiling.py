"""The map and the reduce of a backfill, pure functions of their arguments (no store, no cluster): any engine
that runs Python over partitions runs them (Dask here; Spark's ``mapInPandas`` could call the same).

``profile_partition`` reads one partition, turns its rows into the wire table the server makes of the records
``vigil ingest`` sends (column by column, ``vigil.ingest.files.wire``; when some row is not valid, the
records themselves, ``vigil.ingest.files.records``, chunks of ``Job.chunk``), checks them as the server
checks a request
(the same validation, the same per-row problems: unknown version, a time past the day windows' retention
or an hour ahead, text in a numeric feature...), makes the event table the server makes (defaults, redaction,
types) and folds the partition's checked events into windows with the live aggregator's rule
(``vigil.monitoring.folding``) and ``WindowState.update``, each window once per partition (as the aggregator
folds the batches waiting in its queue in one go). So the windows are the ones the live path builds from
the same events: every count, sketch and profile merges exactly; means and variances merge in another
order, so they agree to float rounding (1e-9 relative). The event sample of each window is random in
both (bottom-k with random priorities): here its priorities are seeded by the file's hash and the
partition, so a rerun rebuilds the same bytes.

Beside the windows, the map keeps the partition's predictions (those with a request id) for the label join,
and the labels of the files' label column when there is one (``vigil.backfill.predictions``).

``merge`` combines two partitions' results (window by window, ``WindowState.merge``): associative and
commutative, so partitions reduce in any tree.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pyarrow as pa
from pydantic import TypeAdapter

from vigil.backfill.partitions import Partition, read
from vigil.backfill.predictions import Kept, keep_labels, keep_predictions
from vigil.ingest.batch import events_table
from vigil.ingest.columnar import fast_table, from_events
from vigil.ingest.files import records, wire
from vigil.ingest.pipeline import row_problems
from vigil.ingest.redact import Redactor
from vigil.ingest.validate import check_records
from vigil.monitoring.folding import profiled, window_parts
from vigil.monitoring.retention import placement
from vigil.monitoring.window import WindowState
from vigil.schema import Event
from vigil.spec import ModelSpec
from vigil.stats.profile import Profile
from vigil.store.base import PredictionBatch

__all__ = [
    "Job",
    "Profiled",
    "Rollups",
    "check_chunk",
    "checked_wire",
    "kept_of",
    "merge",
    "profile_partition",
    "windows_of",
    "writer_of",
]

_EVENTS: TypeAdapter[list[Event]] = TypeAdapter(list[Event])
_EXAMPLES = 3
"""Rejected rows kept for each field (the others are counted)."""

Key = tuple[str, int, int]
"""(version, window start, resolution)."""


def writer_of(model: str, version: str | None, digest: str) -> str:
    """The writer of one file's windows and predictions (``vigil.backfill.run``)."""
    return "backfill:" + hashlib.sha256(f"{model}|{version or ''}|{digest}".encode()).hexdigest()[:20]


@dataclass(frozen=True)
class Rollups:
    """How far the store's rollups went when the backfill started (``retention.Rollups``, kept as answers
    so that the map reads no store): resolution -> the last rolled-up period's start."""

    last: dict[int, int | None]

    def last_window_start(self, model: str, resolution: int, writer: str) -> int | None:
        return self.last.get(resolution)


@dataclass(frozen=True)
class Job:
    """What every partition of a backfill is profiled with (sent to the workers once)."""

    model: str
    version: str | None
    spec: ModelSpec
    template: bytes
    """The model's profile template (``Profile.to_bytes``): every window's buckets line up with it."""
    pii_key: str | None
    now: float
    """The backfill's clock: the same for every partition (placement, events without a time, the checks)."""
    rollups: Rollups
    chunk: int = 5_000
    label_column: str | None = None
    """The files' column of labels (not a feature), if they carry them."""


@dataclass
class Profiled:
    """What one or more partitions of a file gave: windows (encoded states) and the rows refused."""

    rows: int = 0
    accepted: int = 0
    windows: dict[Key, bytes] = field(default_factory=dict)
    refused: dict[str, int] = field(default_factory=dict)
    """Rows refused, by field."""
    examples: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    """Up to ``_EXAMPLES`` (row of the file, 1-based; reason) per field, the first rows."""
    predictions: list[PredictionBatch] = field(default_factory=list)
    """The predictions kept for the label join (left out by ``windows_of``)."""
    kept: int = 0
    """How many predictions were kept."""
    past: int = 0
    """Predictions with a request id older than ``retention.predictions``: not kept."""
    labels: list[bytes] = field(default_factory=list)
    """The labels kept (Arrow IPC: request_id, label, ts), the file's order (left out by ``windows_of``)."""
    labelled: int = 0

    def refuse(self, row: int, field_name: str, reason: str) -> None:
        self.refused[field_name] = self.refused.get(field_name, 0) + 1
        seen = self.examples.setdefault(field_name, [])
        seen.append((row, reason))
        seen.sort()
        del seen[_EXAMPLES:]


def check_chunk(
    chunk: list[dict[str, Any]], spec: ModelSpec, now: float, redactor: Redactor
) -> tuple[pa.Table | None, list[tuple[int, str, str]]]:
    """One chunk of records of one model checked as ``Ingestor.records`` checks a request: the event table of
    the good ones (None when none is) and (index in the chunk, field, reason) of the others."""
    table = fast_table(chunk)
    if table is not None:
        return checked_wire(table, spec, now, redactor)
    checked = check_records(chunk, _EVENTS)
    if not checked.records:
        return None, [(r.index, r.field, r.reason) for r in checked.rejected]
    events, refused = checked_wire(from_events(checked.records), spec, now, redactor)
    positions = checked.positions
    refused = [(positions[i], name, reason) for i, name, reason in refused]
    return events, sorted(refused + [(r.index, r.field, r.reason) for r in checked.rejected])


def checked_wire(
    table: pa.Table, spec: ModelSpec, now: float, redactor: Redactor
) -> tuple[pa.Table | None, list[tuple[int, str, str]]]:
    """A wire table whose every record is valid, checked against the model's declaration as
    ``Ingestor.records`` checks it (``row_problems``): the event table of the good rows and (row, field,
    reason) of the others."""
    bad = row_problems(table, spec, now)
    refused = [(i, name, reason) for i, (name, reason) in sorted(bad.items())]
    if bad:
        keep = np.setdiff1d(np.arange(table.num_rows), np.fromiter(bad, dtype=np.int64))
        table = table.take(pa.array(keep))
    if not table.num_rows:
        return None, refused
    return events_table(table, spec, now, redactor), refused


def profile_partition(part: Partition, job: Job) -> Profiled:
    """The map: one partition's events folded into windows (see the module docstring)."""
    table = read(part)
    labels = None
    if job.label_column is not None:
        labels = table.column(job.label_column)
        table = table.drop_columns([job.label_column])
    template = Profile.from_bytes(job.template)
    redactor = Redactor.for_model(job.spec, job.pii_key)
    seed = int(part.digest[:15], 16) * 1_000_003 + part.index
    rng = np.random.default_rng(seed)
    out = Profiled(rows=table.num_rows)
    checked: list[pa.Table] = []
    fast = wire(table, job.model, version=job.version)
    chunks = (
        [(0, checked_wire(fast, job.spec, job.now, redactor))]
        if fast is not None
        else (
            (i * job.chunk, check_chunk(chunk, job.spec, job.now, redactor))
            for i, chunk in enumerate(records(table, job.model, version=job.version, chunk=job.chunk))
        )
    )
    for first, (events, refused) in chunks:
        for index, name, reason in refused:
            out.refuse(part.first_row + first + index + 1, name, reason)
        if events is not None:
            out.accepted += events.num_rows
            checked.append(events)
    states: dict[Key, WindowState] = {}
    kept = Kept()
    writer = writer_of(job.model, job.version, part.digest)
    try:  # folded in one go: each window once per partition (a window's cost is mostly per update)
        tables = [pa.concat_tables(checked, promote_options="permissive")] if checked else []
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        tables = checked  # a column of different types in different chunks: one at a time, as live
    for events in tables:
        keep_predictions(kept, events, job.model, writer, part.index, job.spec, job.now)
        ts = events.column("ts").to_numpy(zero_copy_only=False)
        resolution = placement(job.rollups, job.model, job.spec, ts, job.now)
        data = profiled(events, job.spec, template.vocabularies)
        for p in window_parts(events, data, job.spec, resolution, rng):
            key = (p.version, p.start, p.resolution)
            state = states.get(key)
            if state is None:
                state = states[key] = WindowState(sample_size=job.spec.sample_size)
            state.update(p.events, p.data, template, rng)
    out.windows = {key: state.to_bytes() for key, state in states.items()}
    out.predictions, out.kept, out.past = kept.batches, kept.rows, kept.past
    if labels is not None:
        ids = table.column("request_id") if "request_id" in table.column_names else None

        def refuse(row: int, name: str, reason: str) -> None:
            out.refuse(part.first_row + row + 1, name, reason)

        payload, out.labelled = keep_labels(kept, ids, labels, refuse)
        out.labels = [payload] if payload is not None else []
    return out


def windows_of(profiled: Profiled) -> Profiled:
    """``profiled`` without its predictions and labels (its counts kept): what the reduce needs of it."""
    return replace(profiled, predictions=[], labels=[])


def kept_of(profiled: Profiled) -> tuple[list[PredictionBatch], list[bytes]]:
    """The predictions and labels ``profiled`` kept."""
    return profiled.predictions, profiled.labels


def merge(a: Profiled, b: Profiled) -> Profiled:
    """The reduce: two results of the same file as one (window by window)."""
    out = Profiled(
        rows=a.rows + b.rows,
        accepted=a.accepted + b.accepted,
        windows=dict(a.windows),
        predictions=a.predictions + b.predictions,
        kept=a.kept + b.kept,
        past=a.past + b.past,
        labels=a.labels + b.labels,
        labelled=a.labelled + b.labelled,
    )
    for key, state in b.windows.items():
        mine = out.windows.get(key)
        out.windows[key] = (
            state
            if mine is None
            else WindowState.from_bytes(mine).merge(WindowState.from_bytes(state)).to_bytes()
        )
    for source in (a, b):
        for name, rows in source.examples.items():
            for row, reason in rows:
                out.refuse(row, name, reason)
    for name in out.refused:
        out.refused[name] = a.refused.get(name, 0) + b.refused.get(name, 0)
    return out
