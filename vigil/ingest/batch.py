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

from vigil.config import ModelSpec
from vigil.ingest.redact import Redactor
from vigil.monitoring.window import PREDICTION, SCORE, SEGMENT_PREFIX
from vigil.schema import Event
from vigil.tables import read_table

__all__ = ["SERVICE_COLUMNS", "baseline_table", "from_ipc", "profiled_columns", "to_ipc", "to_table"]

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
    """One column per field; feature types follow the model's declared schema where there is one."""
    live = spec.live_version
    cols: dict[str, list[object]] = {name: [] for name in SERVICE_COLUMNS}
    cols[PREDICTION], cols[SCORE] = [], []
    features: dict[str, list[object]] = {}
    segments: dict[str, list[object]] = {}
    for i, e in enumerate(events):
        cols["ts"].append(e.when(now).timestamp())
        cols["version"].append(e.version or live)
        cols["request_id"].append(e.request_id)
        cols["latency_ms"].append(e.latency_ms)
        cols["error"].append(redactor.text("error", e.error))
        cols["tokens_in"].append(e.tokens_in)
        cols["tokens_out"].append(e.tokens_out)
        cols["cost"].append(e.cost)
        cols["probabilities"].append(orjson.dumps(e.probabilities).decode() if e.probabilities else None)
        prediction = e.prediction
        cols[PREDICTION].append(
            redactor.text("prediction", prediction) if isinstance(prediction, str) else prediction
        )
        cols[SCORE].append(e.score)
        for source, target in (
            (redactor.apply(e.features), features),
            (redactor.apply(e.segments), segments),
        ):
            for name, value in source.items():
                column = target.get(name)
                if column is None:
                    column = target[name] = [None] * i
                column.append(value)
        for target in (features, segments):
            for column in target.values():
                if len(column) < i + 1:
                    column.append(None)
    arrays: dict[str, pa.Array] = {
        "ts": pa.array(cols["ts"], pa.float64()),
        "version": pa.array(cols["version"], pa.string()),
        "request_id": pa.array(cols["request_id"], pa.string()),
        "latency_ms": pa.array(cols["latency_ms"], pa.float64()),
        "error": pa.array(cols["error"], pa.string()),
        "tokens_in": pa.array(cols["tokens_in"], pa.int64()),
        "tokens_out": pa.array(cols["tokens_out"], pa.int64()),
        "cost": pa.array(cols["cost"], pa.float64()),
        "probabilities": pa.array(cols["probabilities"], pa.string()),
        SCORE: pa.array(cols[SCORE], pa.float64()),
        PREDICTION: _prediction(cols[PREDICTION], spec.task),
    }
    for name, values in features.items():
        declared = spec.features.get(name)
        arrays[name] = _column(values, declared.type if declared is not None else None)
    for name, values in segments.items():
        arrays[SEGMENT_PREFIX + name] = _column(values, "categorical")
    return pa.table(arrays)


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


def _prediction(values: list[object], task: str) -> pa.Array:
    if task in _NUMERIC_PREDICTION:
        return pa.array([None if v is None or isinstance(v, str) else float(v) for v in values], pa.float64())  # type: ignore[arg-type]
    if task == "llm":
        return pa.array([None if v is None else str(v) for v in values], pa.string())
    return pa.array([None if v is None else _label(v) for v in values], pa.string())


def _label(v: object) -> str:
    if isinstance(v, bool):
        return str(int(v))
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _column(values: list[object], declared: str | None) -> pa.Array:
    if declared == "numeric":
        return pa.array([None if v is None else float(v) for v in values], pa.float64())  # type: ignore[arg-type]
    if declared in ("categorical", "text"):
        return pa.array([None if v is None else _label(v) for v in values], pa.string())
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed types: keep them all, as text
        return pa.array([None if v is None else _label(v) for v in values], pa.string())


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
            values = column.to_pylist()
            columns[PREDICTION] = _prediction(values, spec.task)
        elif name == "score":
            columns[SCORE] = column.cast(pa.float64())
        else:
            declared = spec.features.get(name)
            columns[name] = (
                _column(column.to_pylist(), declared.type) if declared and declared.type else column
            )
    return pa.table(columns)
