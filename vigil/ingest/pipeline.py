"""The ingest pipeline: check → redact → append durably → acknowledge → fold (in the background).

``Ingestor.events`` answers only once the accepted events of every model in the request are in the
store's log, so an acknowledged event survives a crash (the aggregator replays the log on restart).
Each rejected record is reported with its index, field and reason, and the good records of the batch are
accepted anyway.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import TypeAdapter

from vigil.config import ModelSpec, SecuritySettings
from vigil.ingest.batch import to_ipc, to_table
from vigil.ingest.redact import Redactor
from vigil.ingest.validate import BadRequest, Checked, Limits, Rejection, check_records, decode_body
from vigil.monitoring.aggregator import Aggregator
from vigil.registry import Registry
from vigil.schema import Event, HostMetrics, Label
from vigil.store.base import HostRow, LabelRow, Store

__all__ = ["IngestResult", "Ingestor"]

_EVENTS: TypeAdapter[list[Event]] = TypeAdapter(list[Event])
_LABELS: TypeAdapter[list[Label]] = TypeAdapter(list[Label])
_HOSTS: TypeAdapter[list[HostMetrics]] = TypeAdapter(list[HostMetrics])
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
    ) -> None:
        self.registry = registry
        self.store = store
        self.aggregator = aggregator
        self.security = security
        self.limits = limits or Limits()
        self.writer = writer
        self.clock = clock
        self._redactors: dict[str, tuple[ModelSpec, Redactor]] = {}

    # -- events --------------------------------------------------------------------------------------------

    def events(self, body: bytes, content_type: str | None, content_encoding: str | None) -> IngestResult:
        records = decode_body(body, content_type, content_encoding, self.limits)
        checked = check_records(records, _EVENTS)
        now = datetime.fromtimestamp(self.clock(), tz=UTC)
        by_model: dict[str, list[Event]] = {}
        unknown: set[str] = set()
        for event, position in zip(checked.records, checked.positions, strict=True):
            spec = self._spec(event)
            if spec is None:
                unknown.add(event.model)
                checked.reject(position, "model", f"unknown model {event.model!r}; known: {self._known()}")
                continue
            problem = _problem(event, spec, now)
            if problem is not None:
                checked.reject(position, *problem)
                continue
            by_model.setdefault(event.model, []).append(event)
        if unknown and not by_model and len(checked.rejected) == len(records):
            raise BadRequest(404, f"unknown model {sorted(unknown)[0]!r}", known_models=self.registry.names())
        result = IngestResult(rejected=sorted(checked.rejected, key=lambda r: r.index))
        total = sum(len(v) for v in by_model.values())
        if total and not self.aggregator.admit(total):
            raise BadRequest(503, "the server is catching up; retry shortly", retry_after=1)
        try:
            for model, events in by_model.items():
                spec, redactor = self._redactor(model)
                table = to_table(events, spec, now, redactor)
                seq = self.store.append(self.writer, model, table.num_rows, to_ipc(table), self.clock())
                self.aggregator.submit(model, seq, table)
                result.accepted += table.num_rows
                total -= table.num_rows
        finally:
            if total:
                self.aggregator.release(total)  # what was admitted but never logged
        return result

    def _spec(self, event: Event) -> ModelSpec | None:
        spec = self.registry.get(event.model)
        if spec is None and self.registry.auto_register:
            spec = self.registry.register_on_first_sight(event.model, _guess_task(event))
        return spec

    def _known(self) -> str:
        names = self.registry.names()
        return ", ".join(names[:20]) + (" ..." if len(names) > 20 else "") if names else "(none registered)"

    def _redactor(self, model: str) -> tuple[ModelSpec, Redactor]:
        spec = self.registry.get(model)
        assert spec is not None
        cached = self._redactors.get(model)
        if cached is None or cached[0] is not spec:
            pii = {n: s.redact for n, s in spec.features.items() if s.role == "pii"}
            scrubbed = {n for n, s in spec.features.items() if s.scrub}
            cached = (spec, Redactor(self.security.pii_key, pii, scrubbed))
            self._redactors[model] = cached
        return cached

    # -- labels and host metrics ---------------------------------------------------------------------------

    def labels(self, body: bytes, content_type: str | None, content_encoding: str | None) -> IngestResult:
        checked = self._simple(body, content_type, content_encoding, _LABELS)
        now = self.clock()
        rows = [
            LabelRow(r.model, r.request_id, _text(r.label), r.timestamp.timestamp() if r.timestamp else now)
            for r in checked.records
        ]
        if rows:
            self.store.put_labels(rows)
        return IngestResult(len(rows), checked.rejected)

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
        keep, positions = [], []
        for record, position in zip(checked.records, checked.positions, strict=True):
            if self._spec_by_name(record.model) is None:
                checked.reject(position, "model", f"unknown model {record.model!r}; known: {self._known()}")
            else:
                keep.append(record)
                positions.append(position)
        checked.records, checked.positions = keep, positions
        checked.rejected.sort(key=lambda r: r.index)
        if checked.rejected and not keep and all(r.field == "model" for r in checked.rejected):
            raise BadRequest(404, "unknown model", known_models=self.registry.names())
        return checked

    def _spec_by_name(self, model: str) -> ModelSpec | None:
        return self.registry.get(model)


def _problem(event: Event, spec: ModelSpec, now: datetime) -> tuple[str, str] | None:
    """What is wrong with an otherwise well-formed event for this model, as (field, reason)."""
    if event.version is not None and spec.versions and event.version not in spec.versions:
        return "version", f"unknown version {event.version!r}; declared: {', '.join(spec.versions)}"
    if event.timestamp is not None:
        when = event.when(now)
        if when > now + _FUTURE:
            return "timestamp", f"{when.isoformat()} is more than an hour ahead of the server's clock"
        if when < now - spec.retention.minutes:
            return "timestamp", f"{when.isoformat()} is older than the model's retention of minute windows"
    for name, value in event.features.items():
        declared = spec.features.get(name)
        if declared is None or value is None:
            continue
        if declared.type == "numeric" and (isinstance(value, str) or not math.isfinite(float(value))):
            return f"features.{name}", f"expected a number (declared numeric), got {value!r:.60}"
    if spec.task == "regression" and isinstance(event.prediction, str):
        return "prediction", f"a regression model predicts numbers, got {event.prediction!r:.60}"
    return None


def _guess_task(event: Event) -> str:
    if event.tokens_in is not None or event.tokens_out is not None:
        return "llm"
    if event.score is not None:
        return "binary"
    if isinstance(event.prediction, float):
        return "regression"
    return "multiclass"


def _text(value: object) -> str:
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
