"""Checked events of one model → one Arrow table (the unit that is logged, profiled and sampled): the event
table of ``vigil.events`` (its columns, class labels as text, its IPC form, re-exported here)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from vigil.events import (
    PREDICTION,
    SCORE,
    SEGMENT_PREFIX,
    SERVICE_COLUMNS,
    from_ipc,
    prediction_values,
    profiled_columns,
    to_ipc,
    typed,
)
from vigil.ingest.redact import Redactor, scrub_array
from vigil.schema import Event
from vigil.spec import ModelSpec

__all__ = [
    "SERVICE_COLUMNS",
    "events_table",
    "from_ipc",
    "profiled_columns",
    "reserved",
    "to_ipc",
    "to_table",
]


def to_table(events: Sequence[Event], spec: ModelSpec, now: datetime, redactor: Redactor) -> pa.Table:
    """Validated events (one model) as the event table."""
    from vigil.ingest.columnar import from_events

    return events_table(from_events(events), spec, now.timestamp(), redactor)


def events_table(table: pa.Table, spec: ModelSpec, now: float, redactor: Redactor) -> pa.Table:
    """A checked wire table (``columnar.fast_table`` / ``from_events``) of one model as the event table:
    defaults filled in (time, live version), redaction applied, types following the model's schema."""
    n = table.num_rows

    def col(name: str, kind: pa.DataType) -> pa.ChunkedArray | pa.Array:
        if name in table.column_names and not pa.types.is_null(table.column(name).type):
            return pc.cast(table.column(name), kind)
        return pa.nulls(n, kind)

    ts = pc.fill_null(col("timestamp", pa.float64()), now)
    version = pc.fill_null(col("version", pa.string()), spec.live_version)
    error = col("error", pa.string())
    if redactor.error:
        error = scrub_array(error)
    arrays: dict[str, pa.ChunkedArray | pa.Array] = {
        "ts": ts,
        "version": version,
        "request_id": col("request_id", pa.string()),
        "latency_ms": col("latency_ms", pa.float64()),
        "error": error,
        "tokens_in": col("tokens_in", pa.int64()),
        "tokens_out": col("tokens_out", pa.int64()),
        "cost": col("cost", pa.float64()),
        "probabilities": _probabilities(table),
        SCORE: col("score", pa.float64()),
        PREDICTION: _prediction(table, spec.task, redactor),
    }
    for source, prefix in (("features", ""), ("segments", SEGMENT_PREFIX)):
        if source not in table.column_names or not pa.types.is_struct(table.column(source).type):
            continue
        struct = table.column(source)
        for i, f in enumerate(struct.type):
            if not prefix and reserved(f.name):  # its values were rejected; never let it replace a column
                continue
            values = pc.struct_field(struct, [i])
            declared = spec.features.get(f.name) if not prefix else None
            kind = "categorical" if prefix else (declared.type if declared is not None else None)
            if redactor.hashes(f.name):
                kind = "text"  # a pseudonym, even of a number
            redacted = redactor.column(f.name, values)  # segment tags too: PII is PII wherever it is sent
            if redacted is not None:
                arrays[prefix + f.name] = typed(redacted, kind)
    return pa.table(arrays)


def reserved(feature: str) -> bool:
    """Whether a feature's name is taken by a column of the event table (``ts``, ``@score``, ``#tier``)."""
    return feature in SERVICE_COLUMNS or feature in (PREDICTION, SCORE) or feature.startswith(SEGMENT_PREFIX)


def _probabilities(table: pa.Table) -> pa.Array:
    if "probabilities" not in table.column_names or not pa.types.is_struct(
        table.column("probabilities").type
    ):
        return pa.nulls(table.num_rows, pa.string())
    return pa.array(
        [
            None if p is None else orjson.dumps({k: v for k, v in p.items() if v is not None}).decode()
            for p in table.column("probabilities").to_pylist()
        ],
        pa.string(),
    )


def _prediction(table: pa.Table, task: str, redactor: Redactor) -> pa.ChunkedArray | pa.Array:
    values = prediction_values(table, task)
    sent = "prediction" in table.column_names and not pa.types.is_null(table.column("prediction").type)
    return scrub_array(values) if task == "llm" and sent and redactor.prediction else values
