"""Checked events of one model → one Arrow table (the unit that is logged, profiled and sampled), and
back. Column names: ``ts`` (seconds since the epoch), ``version``, ``request_id``, ``latency_ms``, ``error``,
``tokens_in``, ``tokens_out``, ``cost``, ``probabilities`` (JSON text), ``@prediction``, ``@score``, each
feature under its own name, and each segment tag as ``#name``.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from vigil.ingest.redact import Redactor, scrub_array
from vigil.monitoring.window import PREDICTION, SCORE, SEGMENT_PREFIX
from vigil.schema import Event
from vigil.spec import ModelSpec
from vigil.tables import read_table

__all__ = [
    "SERVICE_COLUMNS",
    "baseline_table",
    "events_table",
    "from_ipc",
    "profiled_columns",
    "reserved",
    "to_ipc",
    "to_table",
]

SERVICE_COLUMNS = (
    "ts",
    "version",
    "request_id",
    "latency_ms",
    "error",
    "tokens_in",
    "tokens_out",
    "cost",
    "probabilities",
)
_NUMERIC_PREDICTION = ("regression",)


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
                arrays[prefix + f.name] = _typed(redacted, kind)
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
    n = table.num_rows
    if "prediction" not in table.column_names or pa.types.is_null(table.column("prediction").type):
        return pa.nulls(n, pa.float64() if task in _NUMERIC_PREDICTION else pa.string())
    p = table.column("prediction")
    if task in _NUMERIC_PREDICTION:
        return pc.cast(p, pa.float64())
    if task == "llm":
        text = pc.cast(p, pa.string())
        return scrub_array(text) if redactor.prediction else text
    return _labels(p)


def _labels(values: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """Class labels as text: True -> "1", 3 and 3.0 -> "3", "cat" -> "cat"."""
    t = values.type
    if pa.types.is_boolean(t):
        return pc.cast(pc.cast(values, pa.int8()), pa.string())
    if pa.types.is_floating(t):
        integral = pc.equal(values, pc.floor(values))
        as_int = pc.cast(pc.cast(pc.if_else(integral, values, 0.0), pa.int64(), safe=False), pa.string())
        return pc.if_else(integral, as_int, pc.cast(values, pa.string()))
    return pc.cast(values, pa.string())


def _typed(values: pa.ChunkedArray | pa.Array, declared: str | None) -> pa.ChunkedArray | pa.Array:
    if declared == "numeric":
        return pc.cast(values, pa.float64())
    if declared in ("categorical", "text") or pa.types.is_null(values.type):
        return _labels(values) if not pa.types.is_null(values.type) else pa.nulls(len(values), pa.string())
    return values


def profiled_columns(table: pa.Table, spec: ModelSpec) -> list[str]:
    """The columns that go into the window's profile: features (not PII, ids, timestamps), the
    prediction, the score and the segments."""
    skip = {n for n, s in spec.features.items() if s.role in ("pii", "id", "timestamp") or s.ignore}
    return [
        n
        for n in table.column_names
        if n not in SERVICE_COLUMNS and n not in skip and (n != PREDICTION or spec.task != "llm")
    ]


def to_ipc(table: pa.Table) -> bytes:
    """The table as a compressed Arrow IPC stream (what the ingest log stores)."""
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema, options=pa.ipc.IpcWriteOptions(compression="lz4")) as writer:
        writer.write_table(table)
    return sink.getvalue()


def from_ipc(payload: bytes) -> pa.Table:
    with pa.ipc.open_stream(payload) as reader:
        return reader.read_all()


def baseline_table(path: Path, spec: ModelSpec) -> pa.Table:
    """A baseline file (training or validation data) with the live tables' column names: features as they
    are, ``prediction`` and ``score`` as ``@prediction`` and ``@score``; PII, ids and timestamps left out."""
    table = read_table(path, what=f"baseline of {spec.description or 'the model'}")
    skip = {n for n, s in spec.features.items() if s.role in ("pii", "id", "timestamp") or s.ignore}
    columns: dict[str, pa.Array | pa.ChunkedArray] = {}
    for name in table.column_names:
        if name in skip:
            continue
        column = table.column(name)
        if name == "prediction":
            columns[PREDICTION] = _prediction(
                pa.table({"prediction": column}), spec.task, Redactor(None, {}, set())
            )
        elif name == "score":
            columns[SCORE] = column.cast(pa.float64())
        else:
            declared = spec.features.get(name)
            columns[name] = _typed(column, declared.type) if declared and declared.type else column
    return pa.table(columns)
