"""The storage protocol: everything Vigil keeps, behind one narrow interface with two backends (an
embedded SQLite file and PostgreSQL) and one conformance suite (``tests/store/``).

What is kept:

* the **registry** of models (declared in the config or registered through the API);
* the **ingest log**: every accepted batch of events, appended durably *before* it is acknowledged, so an
  acknowledged event survives a crash; each writer (a server process) replays its own log after its
  last **checkpoint** when it restarts; and the client's **idempotency keys**, each with a digest of the
  request it came with, appended with their batch (or, on the broker path, recorded by the worker with the
  windows the message was folded into) and kept after the log lets it go (a retry or a re-sent file days
  later is still recognised);
* **held batches**: logged batches at or below a writer's checkpoint that are not in its windows (their
  model is not declared any more, they cannot be folded, or they are still to be folded); saved with the
  checkpoint, kept in the log whatever its retention, and folded when they can be;
* **windows**: the mergeable state of one model × version × time bucket, one row per writer, merged at
  query time (so several server processes can share one PostgreSQL); saved together with the writer's
  checkpoint in one transaction; their event and error counts beside the state, read without it
  (``window_counts``, ``window_sums``: which rows a range needs, and SLO availability);
* **predictions**, one row per ingested batch (an Arrow table of request id, version, time, prediction,
  score and segments): a batch costs one insert however many events it holds; and **labels**, one row per
  request id. The join by request id happens at query time, in Arrow;
* **host metrics** (CPU, memory, GPU of the machines serving a model);
* **baselines**: profiles a model's present is compared with;
* **API keys** created through the API: each key's SHA-256 (never the key), its holder and role, when it
  was created, by whom, and when it was last used; and the server's own **secrets** (what signs session
  cookies when the config names none), made once and shared by every server of the store;
* **records**: the documents of the response side (silences, incidents with their timelines, alert
  episodes, remediation actions, deploy annotations, maintenance windows, rules added through the API,
  the notification log), each a JSON text under ``(kind, id)``; and the **audit log**, append-only: who
  did what, when, with the state before and after.

Times are seconds since the epoch (UTC) as floats; window starts are whole seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol, runtime_checkable

__all__ = [
    "AlreadyFolded",
    "ApiKeyRecord",
    "AuditEntry",
    "HeldBatch",
    "HostRow",
    "KeyedBatch",
    "LabelColumns",
    "LabelRow",
    "LogEntry",
    "ModelRecord",
    "PredictionBatch",
    "Record",
    "Store",
    "StreamKey",
    "StreamRanges",
    "WindowCount",
    "WindowRow",
    "WindowSum",
]


@dataclass(frozen=True)
class ModelRecord:
    """A monitored model as the registry knows it. ``spec`` is its declaration as JSON text."""

    name: str
    spec: str
    source: str
    """``config`` or ``api``: where it was declared (the config wins when both exist)."""
    updated_at: float


@dataclass(frozen=True)
class LogEntry:
    """One acknowledged batch in the ingest log."""

    seq: int
    writer: str
    model: str
    rows: int
    payload: bytes
    received_at: float


@dataclass(frozen=True)
class KeyedBatch:
    """A batch appended with the client's idempotency key."""

    model: str
    seq: int
    rows: int
    digest: bytes | None
    """What identifies the request the key came with (a hash of its body); None when not known."""
    received_at: float
    stream: str | None = None
    """The broker's stream whose message ``seq`` is, when a worker recorded the key (``save_windows``);
    None: ``seq`` is the ingest log's."""


@dataclass(frozen=True)
class HeldBatch:
    """A logged batch kept out of the windows since ``since``: ``kind`` says why (``undeclared``: its model
    is not declared; ``damaged``: it cannot be decoded or folded; ``pending``: to be folded as soon as
    possible) and ``reason`` says it to people."""

    seq: int
    model: str
    rows: int
    kind: str
    reason: str
    since: float


@dataclass(frozen=True)
class StreamKey:
    """The idempotency key a broker message came with (``seq``: its stream sequence number), recorded with
    the windows it was folded into, as ``append`` records a key with its batch."""

    key: str
    model: str
    digest: bytes | None
    seq: int
    rows: int
    received_at: float


@dataclass(frozen=True)
class StreamRanges:
    """Messages of a broker's stream folded into a writer's windows: inclusive ranges of stream sequence
    numbers, and the idempotency keys of those that came with one, saved with the windows that hold them
    (see ``Store.save_windows``)."""

    stream: str
    ranges: tuple[tuple[int, int], ...]
    keys: tuple[StreamKey, ...] = ()


class AlreadyFolded(Exception):
    """``save_windows`` refused: messages it would record as folded are recorded already (another writer
    folded and saved them first: a redelivery). ``seqs``: the stream sequence numbers concerned."""

    def __init__(self, stream: str, seqs: set[int]) -> None:
        super().__init__(f"{len(seqs)} messages of stream {stream!r} are folded already")
        self.stream = stream
        self.seqs = seqs


@dataclass(frozen=True)
class WindowRow:
    """The serialised state of one window, as one writer saw it."""

    model: str
    version: str
    resolution: int
    """Window length in seconds (60, 3600, 86400, or the model's own window)."""
    start: int
    writer: str
    events: int
    state: bytes
    errors: int | None = None
    """The failed requests among the events (None in rows saved before Vigil kept it beside the state)."""


class WindowCount(NamedTuple):
    """A window row without its state: which row it is and how many events it holds (its state only ever
    grows, so the count tells whether two reads of a row saw the same state). A tuple: thousands are read
    at a time."""

    version: str
    resolution: int
    start: int
    writer: str
    events: int
    errors: int | None = None
    """As ``WindowRow.errors``."""


class WindowSum(NamedTuple):
    """The rows of one version whose start falls in one period: how many, their events and their errors
    (None when a row does not say its errors)."""

    version: str
    start: int
    rows: int
    events: int
    errors: int | None


@dataclass(frozen=True)
class PredictionBatch:
    """The predictions of one logged batch, for joining labels later; keyed by (model, writer, seq), so
    storing it again after a replay changes nothing."""

    model: str
    writer: str
    seq: int
    start: float
    """Earliest prediction time in the batch."""
    end: float
    """Latest prediction time in the batch."""
    rows: int
    payload: bytes
    """Arrow IPC: request_id, version, ts, prediction (text), score, segment (JSON text)."""


@dataclass(frozen=True)
class LabelRow:
    model: str
    request_id: str
    label: str
    ts: float


@dataclass(frozen=True)
class FeedbackRow:
    """One piece of feedback on a prediction: ``name`` is ``thumb`` (1 up, 0 down), ``rating`` (on the
    application's own scale) or ``eval:<evaluator>`` (its score); ``comment`` scrubbed like free text."""

    model: str
    request_id: str
    name: str
    value: float
    comment: str | None
    ts: float


@dataclass(frozen=True)
class ContentRow:
    """Part of an LLM call's prompt or completion from one OTLP log record, scrubbed: kept for the call's
    event (trace and span id) whenever it arrives, for the drill-down to show."""

    model: str
    trace_id: str
    span_id: str
    record: bytes
    """Digest of the record: a retried export stores it once."""
    ts: float
    """The record's time (seconds): retention prunes by it; parts of a span read in its order."""
    seq: int
    """Its place in its export request (orders records of the same time)."""
    prompt: str | None
    completion: str | None


@dataclass(frozen=True)
class LabelColumns:
    """Labels as three columns of the same length, in the order ``Store.labels`` gives them."""

    request_ids: list[str]
    labels: list[str]
    ts: list[float]


@dataclass(frozen=True)
class HostRow:
    model: str
    host: str
    ts: float
    cpu_percent: float | None = None
    memory_percent: float | None = None
    memory_bytes: int | None = None
    gpu_percent: float | None = None
    gpu_memory_percent: float | None = None
    gpu_memory_bytes: int | None = None


@dataclass(frozen=True)
class Record:
    """One document of the response side: ``body`` is JSON text; ``updated_at`` is when it was last put."""

    kind: str
    id: str
    body: str
    updated_at: float


@dataclass(frozen=True)
class ApiKeyRecord:
    """A key created through the API: what is kept of it (its SHA-256, never the key itself)."""

    id: str
    name: str
    """Its holder: who Vigil records as doing what is done with it."""
    role: str
    digest: str
    """The key's SHA-256, 64 lowercase hex digits."""
    created_at: float
    created_by: str
    last_used: float | None = None


@dataclass(frozen=True)
class AuditEntry:
    """One line of the audit log. ``before`` and ``after`` are JSON texts (None: did not exist)."""

    seq: int
    at: float
    actor: str
    action: str
    """What was done, e.g. ``silence.create``, ``rule.update``, ``action.execute``."""
    target: str
    """What it was done to, e.g. ``silence/3f2a…``, ``rule/ErrorRateHigh``, ``model/credit``."""
    before: str | None
    after: str | None


@runtime_checkable
class Store(Protocol):
    """What a backend provides. Every write is durable when the call returns. A call that fails because
    the database cannot be reached or written (down, locked, full, read-only, damaged) raises
    ``StoreError`` saying so; trying again later may succeed."""

    url: str
    """Where the store is, for people: a path, or a URL with any password masked."""

    def close(self) -> None:
        """Finish pending work (the embedded file: checkpoint its write-ahead log into the file, so the file
        alone holds everything) and release the connection."""
        ...

    def check(self, thorough: bool = False) -> None:
        """Raise ``StoreError`` saying what is wrong and what to do when the store cannot be written now;
        ``thorough`` also looks for damage (reads the whole embedded file: for start-up, not for probes)."""
        ...

    # registry
    def put_model(self, record: ModelRecord) -> None: ...
    def models(self) -> list[ModelRecord]: ...
    def delete_model(self, name: str) -> None: ...

    # ingest log
    def append(
        self,
        writer: str,
        model: str,
        rows: int,
        payload: bytes,
        received_at: float,
        key: str | None = None,
        digest: bytes | None = None,
    ) -> int:
        """Append one batch; returns its sequence number, increasing per store. ``key`` (the client's
        idempotency key, with the ``digest`` of its request) is kept with the batch in the same
        transaction, once per model: a second append with it for the model fails and appends nothing."""
        ...

    def keyed_batches(self, key: str) -> list[KeyedBatch]:
        """The batches appended with this idempotency key (one per model of the request) not forgotten yet
        (``forget_keys``), whether the log still holds them or not; ordered by model."""
        ...

    def keyed_batches_of(self, keys: Sequence[str]) -> dict[str, list[KeyedBatch]]:
        """``keyed_batches`` of each of ``keys`` at once (one round trip); keys with none are left out."""
        ...

    def forget_keys(self, model: str, before: float) -> int:
        """Forget the idempotency keys of ``model``'s batches received before ``before``; returns how many."""
        ...

    def read_log(self, writer: str, after: int, limit: int = 1_000) -> list[LogEntry]:
        """This writer's entries with ``seq > after``, oldest first."""
        ...

    def log_entries(self, writer: str, seqs: Sequence[int]) -> list[LogEntry]:
        """This writer's entries of the given sequence numbers that the log holds, oldest first."""
        ...

    def log_seqs(self, writer: str, after: int, upto: int) -> list[int]:
        """The sequence numbers of this writer's entries with ``after < seq <= upto``, ascending."""
        ...

    def checkpoint(self, writer: str) -> int:
        """The last log sequence folded into this writer's saved windows (0 when none)."""
        ...

    def prune_log(self, writer: str, upto: int, before: float) -> int:
        """Delete this writer's entries with ``seq <= upto`` received before ``before``, except held ones;
        returns the count."""
        ...

    def held(self, writer: str) -> list[HeldBatch]:
        """This writer's held batches, by sequence number."""
        ...

    # windows
    def save_windows(
        self,
        writer: str,
        rows: Sequence[WindowRow],
        checkpoint: int,
        hold: Sequence[HeldBatch] = (),
        release: Sequence[int] = (),
        folded: StreamRanges | None = None,
    ) -> None:
        """Upsert ``rows`` (key: model, version, resolution, start, writer), set the writer's checkpoint,
        record ``hold`` as held and forget the held batches ``release`` (folded now), and record the
        broker messages ``folded`` into them with their idempotency keys, all in one transaction. Savers of
        one stream take turns; when another writer's saved ranges overlap ``folded``, or a key of
        ``folded.keys`` is recorded already for the model with the same digest (or none) by another message
        or by ``append`` (a retry published again), nothing is saved and ``AlreadyFolded`` names the
        messages (the same ranges of the same writer again: a retried commit, saved again). A key recorded
        with another digest stays as it is (the message is new data under a reused key: folded, its key
        not recorded)."""
        ...

    def folded_seqs(self, stream: str, seqs: Sequence[int]) -> set[int]:
        """Which of ``seqs`` (stream sequence numbers) some writer saved as folded."""
        ...

    def forget_folded(self, stream: str, below: int) -> int:
        """Forget the folded ranges of ``stream`` that end below ``below`` (messages the stream no longer
        holds, never redelivered); returns how many."""
        ...

    def window_models(self) -> list[str]:
        """The models that have windows in the store, sorted (a model dropped from the config keeps them)."""
        ...

    def last_window_start(self, model: str, resolution: int, writer: str) -> int | None:
        """The latest start of a row of ``writer`` at ``resolution`` (None when it has none)."""
        ...

    def windows(
        self, model: str, resolution: int, start: float, end: float, version: str | None = None
    ) -> list[WindowRow]:
        """Rows of every writer with ``start <= row.start < end``, ordered by start."""
        ...

    def window_counts(
        self, model: str, resolution: int, start: float, end: float, version: str | None = None
    ) -> list[WindowCount]:
        """The rows ``windows`` would return, without their states (no blob is read), in the same order."""
        ...

    def window_sums(
        self, model: str, resolution: int, start: float, end: float, period: int, version: str | None = None
    ) -> list[WindowSum]:
        """The rows ``window_counts`` would return, summed per version and period of ``period`` seconds
        (periods at whole multiples of it), by period then version."""
        ...

    def delete_windows(self, model: str, resolution: int, before: float) -> int: ...

    # predictions and labels
    def put_predictions(self, batch: PredictionBatch) -> None:
        """Insert; a batch already stored (same model, writer and seq) is left as it is."""
        ...

    def predictions(self, model: str, start: float, end: float) -> list[PredictionBatch]:
        """Batches with a prediction possibly in ``[start, end)`` (``batch.start < end <= ...``), by seq."""
        ...

    def put_labels(self, rows: Sequence[LabelRow]) -> None:
        """Insert or replace (the latest label for a request id wins)."""
        ...

    def labels(self, model: str, since: float) -> list[LabelRow]:
        """Labels that became known at or after ``since``."""
        ...

    def label_columns(self, model: str, since: float) -> LabelColumns:
        """The same labels as ``labels``, as columns (no object per label: what the label join reads)."""
        ...

    def put_feedback(self, rows: Sequence[FeedbackRow]) -> None:
        """Insert or replace (the latest of a request id and name wins)."""
        ...

    def feedback(self, model: str, start: float, end: float) -> list[FeedbackRow]:
        """Feedback given in ``[start, end)``, by time."""
        ...

    def put_content(self, rows: Sequence[ContentRow]) -> None:
        """Insert; a record stored already (same model, trace, span and digest) is left as it is."""
        ...

    def content(self, model: str, trace_ids: Sequence[str]) -> list[ContentRow]:
        """The content stored for these traces, by trace, span, time and place."""
        ...

    def delete_predictions(self, model: str, before: float) -> int:
        """Delete batches whose every prediction is older than ``before``, and labels, feedback and LLM
        content older than it."""
        ...

    # host metrics
    def put_host_metrics(self, rows: Sequence[HostRow]) -> None: ...
    def host_metrics(self, model: str, start: float, end: float) -> list[HostRow]: ...

    # baselines
    def put_baseline(self, model: str, key: str, profile: bytes) -> None: ...
    def baseline(self, model: str, key: str) -> bytes | None: ...

    # records and the audit log
    def put_record(self, kind: str, id: str, body: str, at: float) -> None:
        """Insert or replace the record ``(kind, id)``."""
        ...

    def record(self, kind: str, id: str) -> Record | None: ...

    def records(self, kind: str, since: float | None = None) -> list[Record]:
        """Records of ``kind`` (updated at or after ``since``), oldest update first, then by id."""
        ...

    def delete_record(self, kind: str, id: str) -> bool:
        """Delete one record; False when there was none."""
        ...

    def delete_records(self, kind: str, before: float) -> int:
        """Delete the records of ``kind`` last updated before ``before``; returns how many."""
        ...

    def append_audit(
        self, at: float, actor: str, action: str, target: str, before: str | None, after: str | None
    ) -> int:
        """Append one audit entry; returns its sequence number (increasing)."""
        ...

    def audit_log(
        self, since: float = 0.0, target: str | None = None, limit: int = 1_000
    ) -> list[AuditEntry]:
        """Entries at or after ``since`` (only ``target``'s, or those under ``target/`` when it ends in
        ``/``), oldest first, at most ``limit`` (the newest ``limit`` when there are more)."""
        ...

    # API keys and secrets
    def put_api_key(self, key: ApiKeyRecord) -> None:
        """Insert a new key (its id and digest are new: a key already there is a bug, and raises)."""
        ...

    def api_keys(self) -> list[ApiKeyRecord]:
        """Every key, oldest first."""
        ...

    def api_key(self, id: str) -> ApiKeyRecord | None: ...

    def api_key_by_digest(self, digest: str) -> ApiKeyRecord | None: ...

    def touch_api_key(self, id: str, at: float) -> None:
        """Record that the key was used at ``at`` (an earlier time than the one kept changes nothing)."""
        ...

    def delete_api_key(self, id: str) -> bool:
        """Delete one key; False when there was none."""
        ...

    def secret(self, name: str, candidate: bytes, at: float) -> bytes:
        """The secret ``name``: the one kept, else ``candidate``, kept from now on. Atomic: of servers
        starting together, all get the same secret."""
        ...

    def lease(self, name: str, holder: str, now: float, ttl: float) -> bool:
        """Take or renew the lease ``name`` for ``holder`` until ``now + ttl``; False while another holder's
        lease has not expired. Atomic: of servers racing for a free lease, exactly one gets it."""
        ...
