"""The ingest pipeline: check → redact → append durably → acknowledge → fold (in the background).

``Ingestor.events`` answers only once the accepted events of every model in the request are in the
store's log, so an acknowledged event survives a crash (the aggregator replays the log on restart).
Each rejected record is reported with its index, field and reason, and the good records of the batch are
accepted anyway.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import TypeAdapter

from vigil.broker import Keyed, Publisher, Refused
from vigil.errors import StoreError
from vigil.ingest.batch import events_table, reserved, to_ipc
from vigil.ingest.columnar import fast_table, from_events, ndjson_table
from vigil.ingest.redact import Redactor, scrub
from vigil.ingest.validate import (
    BadRequest,
    Checked,
    Limits,
    Rejection,
    check_records,
    decode_body,
    inflate,
    is_ndjson,
    parse_body,
)
from vigil.ingest.vectors import vector_problems
from vigil.monitoring.aggregator import Aggregator
from vigil.registry import Registry
from vigil.schema import MAX_NUMBER, Event, Feedback, HostMetrics, Label
from vigil.spec import ModelSpec, SecuritySettings
from vigil.store.base import FeedbackRow, HostRow, LabelRow, Store
from vigil.timefmt import format_time

__all__ = ["IngestResult", "Ingestor", "label_text", "row_problems"]

_EVENTS: TypeAdapter[list[Event]] = TypeAdapter(list[Event])
_LABELS: TypeAdapter[list[Label]] = TypeAdapter(list[Label])
_HOSTS: TypeAdapter[list[HostMetrics]] = TypeAdapter(list[HostMetrics])
_FEEDBACK: TypeAdapter[list[Feedback]] = TypeAdapter(list[Feedback])
_REFUSAL_FRESH = 5.0
"""Seconds a refused append stays the server's trouble without another (a client retries sooner)."""
_FUTURE = timedelta(hours=1)
"""How far ahead of the server's clock an event's timestamp may be (clock skew)."""


@dataclass
class IngestResult:
    accepted: int = 0
    rejected: list[Rejection] = field(default_factory=list)

    @property
    def status(self) -> int:
        return 422 if self.rejected and not self.accepted else 200

    def to_dict(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "rejected": [r.to_dict() for r in self.rejected]}


class Ingestor:
    def __init__(
        self,
        registry: Registry,
        store: Store,
        aggregator: Aggregator,
        security: SecuritySettings,
        *,
        limits: Limits | None = None,
        writer: str = "main",
        clock: Callable[[], float] = time.time,
        publisher: Publisher | None = None,
        max_lag: int = 10_000,
    ) -> None:
        self.registry = registry
        self.store = store
        self.aggregator = aggregator
        self.security = security
        self.limits = limits or Limits()
        self.writer = writer
        self.clock = clock
        self.publisher = publisher
        """With a broker: accepted batches go to its stream (for ``vigil worker``), not to the store's log."""
        self.max_lag = max_lag
        """With a broker: past this many batches published and not folded by the workers, answer 503."""
        self._redactors: dict[str, tuple[ModelSpec, Redactor]] = {}
        self._refused: tuple[str, float, float] | None = None
        """The last refused append: (why, since when, when last, monotonic)."""
        self._in_log_order = threading.Lock()
        """Held from a batch's log append to its hand-over, so the aggregator folds this writer's batches
        in log order and its checkpoint (the last sequence folded) never passes a batch not yet folded."""

    # -- events --------------------------------------------------------------------------------------------

    def events(
        self, body: bytes, content_type: str | None, content_encoding: str | None, key: str | None = None
    ) -> IngestResult:
        """Check, redact and log one request's events. ``key``: the client's Idempotency-Key; a request
        repeated with the same key and body (a retry after a lost answer, a file sent again) is answered
        as the first one was and stored once, for as long as the model keeps predictions; the same key
        with another body is refused (409)."""
        data = inflate(body, content_encoding, self.limits)
        digest = hashlib.sha256(data).digest() if key else None
        if is_ndjson(content_type) and data.strip():
            wire = ndjson_table(data)  # every record valid, parsed without the GIL
            if wire is not None:
                if wire.num_rows > self.limits.max_records:
                    n, limit = wire.num_rows, self.limits.max_records
                    raise BadRequest(413, f"{n} records in one request is over the limit", limit=limit)
                return self._accept(wire, np.arange(wire.num_rows), [], wire.num_rows, key, digest)
        return self.records(parse_body(data, content_type, self.limits), key, digest)

    def records(
        self, records: list[Any], key: str | None = None, digest: bytes | None = None
    ) -> IngestResult:
        """``events`` for records already decoded (wire dicts, as ``vigil.schema.Event`` reads them): from
        another protocol's decoder (OTLP). ``digest`` identifies the request's body for ``key``."""
        rejected: list[Rejection] = []
        wire = fast_table(records)  # the vectorised path: every record valid
        if wire is not None:
            positions = np.arange(len(records))
        else:  # some record is not: check them one by one, keep the good ones
            checked = check_records(records, _EVENTS)
            rejected.extend(checked.rejected)
            positions = np.asarray(checked.positions, dtype=np.int64)
            wire = from_events(checked.records) if checked.records else None
        if wire is None:
            return IngestResult(rejected=sorted(rejected, key=lambda r: r.index))
        return self._accept(wire, positions, rejected, len(records), key, digest)

    def _accept(
        self,
        wire: pa.Table,
        positions: np.ndarray[Any, np.dtype[np.int64]],
        rejected: list[Rejection],
        n_records: int,
        key: str | None,
        digest: bytes | None,
    ) -> IngestResult:
        """Split checked ``wire`` rows by model, check them against each model's spec, log and hand
        over the good ones. ``positions``: each row's index in the request; ``rejected``: records
        refused so far."""
        now = self.clock()
        by_model: dict[str, pa.Table] = {}
        unknown: set[str] = set()
        models = wire.column("model")
        names = pc.unique(models).to_pylist()
        for name in names:
            mask = pc.equal(models, name)
            rows = np.flatnonzero(np.asarray(mask))
            spec = self._spec(name, wire.filter(mask))
            if spec is None:
                unknown.add(name)
                reason = f"unknown model {name!r}; known: {self._known()}"
                rejected.extend(Rejection(int(positions[r]), "model", reason) for r in rows)
                continue
            part = wire.filter(mask) if len(names) > 1 else wire
            bad = row_problems(part, spec, now)
            if bad:
                for i, (field_name, reason) in bad.items():
                    rejected.append(Rejection(int(positions[rows[i]]), field_name, reason))
                keep = np.setdiff1d(np.arange(part.num_rows), np.fromiter(bad, dtype=np.int64))
                part = part.take(pa.array(keep))
            if part.num_rows:
                by_model[name] = part
        if unknown and not by_model and len(rejected) == n_records:
            first = sorted(unknown)[0]
            raise BadRequest(404, self.registry.unknown(first), known_models=self.registry.names())
        result = IngestResult(rejected=sorted(rejected, key=lambda r: r.index))
        total = sum(t.num_rows for t in by_model.values())
        if total and self.publisher is not None:
            return self._publish(by_model, now, result, key, digest)
        if total and not self.aggregator.admit(total):
            raise BadRequest(503, "the server is catching up; retry shortly", retry_after=1)
        try:
            tables = {}
            for model, part in by_model.items():
                spec, redactor = self._redactor(model)
                table = events_table(part, spec, now, redactor)
                tables[model] = (table, to_ipc(table))
            with self._in_log_order:
                seen = self._seen(key, digest) if key else set()
                for model, (table, payload) in tables.items():
                    if model in seen:
                        self.aggregator.release(table.num_rows)  # a retry: stored already, not again
                    else:
                        seq = self._append(model, table.num_rows, payload, key, digest)
                        self.aggregator.submit(model, seq, table)
                    result.accepted += table.num_rows
                    total -= table.num_rows
        finally:
            if total:
                self.aggregator.release(total)  # what was admitted but never logged
        return result

    def _publish(
        self,
        by_model: dict[str, pa.Table],
        now: float,
        result: IngestResult,
        key: str | None,
        digest: bytes | None,
    ) -> IngestResult:
        """Publish each model's part to the broker; answered once the broker holds every part. With a key,
        as on the direct path: a part whose key a worker recorded already is not published again (a retry),
        and the key recorded with another body is refused (409). The part goes with its key (``Keyed``): the
        broker drops a retry within its duplicate window (the message id is the key, the model and the
        body's digest), and the worker that folds one published later finds the key recorded and skips it."""
        assert self.publisher is not None
        lag = self.publisher.lag()
        if lag is not None and lag.behind > self.max_lag:
            raise BadRequest(
                503,
                f"the workers are behind: {lag.behind} batches not folded yet (limit {self.max_lag}); "
                "retry shortly",
                retry_after=2,
            )
        seen = self._seen(key, digest) if key else set()
        keyed = Keyed(key, digest, now) if key else None
        for model, part in by_model.items():
            if model in seen:  # a retry of a part folded and saved already: not again
                result.accepted += part.num_rows
                continue
            spec, redactor = self._redactor(model)
            table = events_table(part, spec, now, redactor)
            try:
                self.publisher.publish(model, to_ipc(table), keyed)
            except Refused as exc:
                accepted = (
                    f" ({result.accepted} events of other models were accepted)" if result.accepted else ""
                )
                raise BadRequest(
                    503, f"{exc.reason}; retry shortly{accepted}", retry_after=max(1, round(exc.retry_after))
                ) from None
            result.accepted += table.num_rows
        return result

    def _append(self, model: str, rows: int, payload: bytes, key: str | None, digest: bytes | None) -> int:
        """Append to the store's log, remembering a refusal for ``refusing``."""
        try:
            seq = self.store.append(self.writer, model, rows, payload, self.clock(), key, digest)
        except StoreError as exc:
            since = self._refused[1] if self._refused else self.clock()
            text = f"cannot append accepted events to the store's log: {exc}"
            self._refused = (text, since, time.monotonic())
            raise
        self._refused = None
        return seq

    def refusing(self) -> tuple[str, float] | None:
        """Why the store refuses appends and since when, while it keeps refusing them (the last refusal
        within ``_REFUSAL_FRESH`` seconds): a store that takes a probe may still refuse writes (a full
        disk, a file size limit), and the aggregator may have nothing to save to find out."""
        refused = self._refused
        if refused is None or time.monotonic() - refused[2] > _REFUSAL_FRESH:
            return None
        return refused[0], refused[1]

    def _seen(self, key: str, digest: bytes | None) -> set[str]:
        """The models whose part of this request is stored under ``key`` already; raises ``BadRequest``
        (409) when the key came with another body."""
        batches = self.store.keyed_batches(key)
        other = next((b for b in batches if b.digest is not None and b.digest != digest), None)
        if other is not None:
            raise BadRequest(
                409,
                f"the Idempotency-Key {key!r} was used on {format_time(other.received_at, digits=6)} "
                "for a request with a different body; a retry must send the same body again, and new data "
                "needs a new key",
                idempotency_key=key,
            )
        return {b.model for b in batches}

    def _spec(self, model: str, rows: pa.Table) -> ModelSpec | None:
        spec = self.registry.get(model)
        if spec is None and self.registry.auto_register:
            spec = self.registry.register_on_first_sight(model, _guess_task(rows))
        return spec

    def _known(self) -> str:
        names = self.registry.names()
        return ", ".join(names[:20]) + (" ..." if len(names) > 20 else "") if names else "(none registered)"

    def _redactor(self, model: str) -> tuple[ModelSpec, Redactor]:
        spec = self.registry.get(model)
        assert spec is not None
        cached = self._redactors.get(model)
        if cached is None or cached[0] is not spec:
            cached = (spec, Redactor.for_model(spec, self.security.pii_key))
            self._redactors[model] = cached
        return cached

    # -- labels and host metrics ---------------------------------------------------------------------------

    def labels(self, body: bytes, content_type: str | None, content_encoding: str | None) -> IngestResult:
        """Check and store labels. A label's time must be within an hour ahead of the server's clock and
        within the model's retention of predictions (an older one would join nothing and be deleted at
        the next retention pass)."""
        checked = self._simple(body, content_type, content_encoding, _LABELS)
        now = self.clock()
        rows = []
        for record, position in zip(checked.records, checked.positions, strict=True):
            ts = record.timestamp.timestamp() if record.timestamp else now
            problem = _label_time_problem(ts, self.registry.get(record.model), now)
            if problem:
                checked.reject(position, "timestamp", problem)
            else:
                rows.append(LabelRow(record.model, record.request_id, label_text(record.label), ts))
        checked.rejected.sort(key=lambda r: r.index)
        if rows:
            self.store.put_labels(rows)
        return IngestResult(len(rows), checked.rejected)

    def feedback(self, body: bytes, content_type: str | None, content_encoding: str | None) -> IngestResult:
        """Check and store feedback: one row per thumb, rating and evaluator score (``eval:<name>``), the
        latest of each per request id; the comment scrubbed with the model's redactor, as event text is.
        Its time is checked as a label's."""
        checked = self._simple(body, content_type, content_encoding, _FEEDBACK)
        now = self.clock()
        rows: list[FeedbackRow] = []
        accepted = 0
        for record, position in zip(checked.records, checked.positions, strict=True):
            ts = record.timestamp.timestamp() if record.timestamp else now
            problem = _label_time_problem(ts, self.registry.get(record.model), now)
            if problem:
                checked.reject(position, "timestamp", problem)
                continue
            comment = record.comment
            spec = self.registry.get(record.model)
            if comment and (spec is None or spec.scrub):  # free text, scrubbed as the model's errors are
                comment = scrub(comment)
            accepted += 1
            values = [("thumb", 1.0 if record.thumb == "up" else 0.0)] if record.thumb else []
            values += [("rating", record.rating)] if record.rating is not None else []
            values += [(f"eval:{name}", score) for name, score in record.scores.items()]
            rows += [
                FeedbackRow(record.model, record.request_id, name, value, comment if i == 0 else None, ts)
                for i, (name, value) in enumerate(values)
            ]
        checked.rejected.sort(key=lambda r: r.index)
        if rows:
            self.store.put_feedback(rows)
        return IngestResult(accepted, checked.rejected)

    def evaluations(self, rows: list[tuple[str, str, str, float, float]]) -> list[str]:
        """Store evaluators' scores read from another protocol (OTLP's ``gen_ai.evaluation.result``):
        (model, request id, evaluator, score, time). Returns why each refused one was refused."""
        now = self.clock()
        keep, problems = [], []
        for model, request_id, evaluator, score, ts in rows:
            spec = self.registry.get(model)
            problem = (
                f"unknown model {model!r}" if spec is None else _label_time_problem(ts or now, spec, now)
            )
            if problem or not request_id or not -MAX_NUMBER <= score <= MAX_NUMBER:
                problems.append(f"evaluation {evaluator!r}: {problem or 'no trace id or no finite score'}")
            else:
                keep.append(FeedbackRow(model, request_id, f"eval:{evaluator}", score, None, ts or now))
        if keep:
            self.store.put_feedback(keep)
        return problems

    def host_metrics(
        self, body: bytes, content_type: str | None, content_encoding: str | None
    ) -> IngestResult:
        checked = self._simple(body, content_type, content_encoding, _HOSTS)
        now = self.clock()
        rows = [
            HostRow(
                r.model,
                r.host,
                r.timestamp.timestamp() if r.timestamp else now,
                r.cpu_percent,
                r.memory_percent,
                r.memory_bytes,
                r.gpu_percent,
                r.gpu_memory_percent,
                r.gpu_memory_bytes,
            )
            for r in checked.records
        ]
        if rows:
            self.store.put_host_metrics(rows)
        return IngestResult(len(rows), checked.rejected)

    def _simple(
        self, body: bytes, ctype: str | None, cenc: str | None, adapter: TypeAdapter[list[Any]]
    ) -> Checked[Any]:
        records = decode_body(body, ctype, cenc, self.limits)
        checked = check_records(records, adapter)
        keep, positions, unknown = [], [], []
        for record, position in zip(checked.records, checked.positions, strict=True):
            if self._spec_by_name(record.model) is None:
                unknown.append(record.model)
                checked.reject(position, "model", f"unknown model {record.model!r}; known: {self._known()}")
            else:
                keep.append(record)
                positions.append(position)
        checked.records, checked.positions = keep, positions
        checked.rejected.sort(key=lambda r: r.index)
        if unknown and not keep and all(r.field == "model" for r in checked.rejected):
            raise BadRequest(404, self.registry.unknown(unknown[0]), known_models=self.registry.names())
        return checked

    def _spec_by_name(self, model: str) -> ModelSpec | None:
        return self.registry.get(model)


def row_problems(part: pa.Table, spec: ModelSpec, now: float) -> dict[int, tuple[str, str]]:
    """Rows of one model's batch that break its declaration: {row: (field, reason)}, first problem only."""
    out: dict[int, tuple[str, str]] = {}

    def flag(mask: Any, field_name: str, reason: Callable[[int], str]) -> None:
        for i in np.flatnonzero(np.asarray(pc.fill_null(mask, False))):
            out.setdefault(int(i), (field_name, reason(int(i))))

    if spec.versions and "version" in part.column_names and not pa.types.is_null(part.column("version").type):
        versions = part.column("version")
        declared = ", ".join(spec.versions)
        flag(
            pc.and_(pc.is_valid(versions), pc.invert(pc.is_in(versions, pa.array(list(spec.versions))))),
            "version",
            lambda i: f"unknown version {versions[i].as_py()!r}; declared: {declared}",
        )
    if "timestamp" in part.column_names and not pa.types.is_null(part.column("timestamp").type):
        ts = part.column("timestamp")
        oldest = now - spec.retention.days.total_seconds()  # past the minutes: into hours, days
        flag(
            pc.greater(ts, now + _FUTURE.total_seconds()),
            "timestamp",
            lambda i: (
                f"{format_time(ts[i].as_py(), digits=6)} is more than an hour ahead of the server's clock"
            ),
        )
        flag(
            pc.less(ts, oldest),
            "timestamp",
            lambda i: (
                f"{format_time(ts[i].as_py(), digits=6)} is older than the model's retention of day windows"
            ),
        )
    if "features" in part.column_names and pa.types.is_struct(part.column("features").type):
        struct = part.column("features")
        for k, f in enumerate(struct.type):
            if reserved(f.name):
                flag(pc.is_valid(pc.struct_field(struct, [k])), f"features.{f.name}", _reserved(f.name))
                continue
            declared_spec = spec.features.get(f.name)
            if declared_spec is not None and declared_spec.type == "embedding":
                values = pc.struct_field(struct, [k])
                for row, reason in vector_problems(values, declared_spec.dimensions).items():
                    out.setdefault(row, (f"features.{f.name}", reason))
                continue
            if declared_spec is None or declared_spec.type != "numeric":
                continue
            if pa.types.is_string(f.type):
                # text here means some record sent text; the numbers among them were kept as text too
                values = pc.struct_field(struct, [k])
                flag(
                    pa.array([v is not None and not _number(v) for v in values.to_pylist()]),
                    f"features.{f.name}",
                    _not_a_number(values),
                )
    if spec.task == "regression" and "prediction" in part.column_names:
        p = part.column("prediction")
        if pa.types.is_string(p.type):
            # text here may be numbers kept as text because another model's records in the request
            # predict text (an LLM's answers): those are fine, anything else is not a number
            flag(
                pa.array([v is not None and not _number(v) for v in p.to_pylist()], pa.bool_()),
                "prediction",
                lambda i: f"a regression model predicts numbers, got {p[i].as_py()!r:.60}",
            )
    return out


def _label_time_problem(ts: float, spec: ModelSpec | None, now: float) -> str | None:
    if ts > now + _FUTURE.total_seconds():
        return f"{format_time(ts, digits=6)} is more than an hour ahead of the server's clock"
    if spec is not None and ts < now - spec.retention.predictions.total_seconds():
        days = spec.retention.predictions.total_seconds() / 86_400
        return (
            f"{format_time(ts, digits=6)} is older than the model's retention of predictions "
            f"({days:g} days): the label would join no prediction; its time is when the truth became known "
            "(leave it out for now)"
        )
    return None


def _number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _reserved(name: str) -> Callable[[int], str]:
    return lambda i: f"the name {name!r} is reserved (a column of every event); rename the feature"


def _not_a_number(values: Any) -> Callable[[int], str]:
    return lambda i: f"expected a number (declared numeric), got {values[i].as_py()!r:.60}"


def _guess_task(rows: pa.Table) -> str:
    def present(name: str) -> bool:
        return name in rows.column_names and rows.column(name).null_count < rows.num_rows

    if present("tokens_in") or present("tokens_out"):
        return "llm"
    if present("score"):
        return "binary"
    if present("prediction") and pa.types.is_floating(rows.column("prediction").type):
        return "regression"
    return "multiclass"


def label_text(value: object) -> str:
    """A label as stored: true ``1``, false ``0``, a whole float as an integer (``3.0``: ``3``), else text."""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
