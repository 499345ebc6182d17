"""The event table: what ingest writes and monitoring reads, one row per prediction.

Columns: ``ts`` (seconds since the epoch), ``version``, ``request_id``, ``latency_ms``, ``error``,
``tokens_in``, ``tokens_out``, ``cost``, ``probabilities`` (JSON text) (the ``SERVICE_COLUMNS``), the
model's outputs under reserved names (``@prediction``, ``@score``), each feature under its own name and
each segment tag as ``#name``. The ingest log keeps it as a compressed Arrow IPC stream (``to_ipc``).
Class labels are kept as text (``class_labels``), so that ``True``, ``1`` and ``1.0`` are one class.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:
    from vigil.spec import ModelSpec

__all__ = [
    "PREDICTION",
    "SCORE",
    "SEGMENT_PREFIX",
    "SERVICE_COLUMNS",
    "VECTOR_TYPE",
    "as_vectors",
    "class_labels",
    "from_ipc",
    "is_list_type",
    "parsed_vector",
    "prediction_values",
    "profiled_columns",
    "to_ipc",
    "typed",
]

PREDICTION = "@prediction"
"""The prediction (class labels as text, regression values as numbers)."""
SCORE = "@score"
"""The score (the positive-class probability)."""
SEGMENT_PREFIX = "#"
"""Prefix of segment tag columns: tag ``region`` is column ``#region``."""
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
VECTOR_TYPE = pa.list_(pa.float64())
"""How the event table keeps an embedding."""


def class_labels(values: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """Class labels as text: True -> "1", 3 and 3.0 -> "3", "cat" -> "cat"."""
    t = values.type
    if pa.types.is_boolean(t):
        return pc.cast(pc.cast(values, pa.int8()), pa.string())
    if pa.types.is_floating(t):
        integral = pc.equal(values, pc.floor(values))
        as_int = pc.cast(pc.cast(pc.if_else(integral, values, 0.0), pa.int64(), safe=False), pa.string())
        return pc.if_else(integral, as_int, pc.cast(values, pa.string()))
    return pc.cast(values, pa.string())


def typed(values: pa.ChunkedArray | pa.Array, declared: str | None) -> pa.ChunkedArray | pa.Array:
    """A feature's values as its declared type says (numbers as float64, categories and text as text,
    embeddings as lists of float64)."""
    if declared == "numeric":
        return pc.cast(values, pa.float64())
    if declared == "embedding":
        return as_vectors(values)
    if pa.types.is_null(values.type):
        return pa.nulls(len(values), pa.string())
    return class_labels(values) if declared in ("categorical", "text") else values


def is_list_type(dtype: pa.DataType) -> bool:
    return bool(
        pa.types.is_list(dtype) or pa.types.is_large_list(dtype) or pa.types.is_fixed_size_list(dtype)
    )


def parsed_vector(text: str) -> list[float] | None:
    """A list of numbers written as JSON text (the per-record path's form of a list among scalars)."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(value, list) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in value
    ):
        return None
    return [float(v) for v in value]


def as_vectors(values: Any) -> Any:
    """The values as ``list<float64>`` (rows that are not lists of numbers as nulls: ``vigil.ingest.vectors``
    rejected them before)."""
    if is_list_type(values.type):
        return pc.cast(values, VECTOR_TYPE)
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        return pa.array([None if v is None else parsed_vector(v) for v in values.to_pylist()], VECTOR_TYPE)
    return pa.nulls(len(values), VECTOR_TYPE)


def prediction_values(table: pa.Table, task: str) -> pa.ChunkedArray | pa.Array:
    """The ``prediction`` column of a table as the event table keeps it for the model's task: numbers for
    regression, text for LLMs, class labels otherwise (nulls when there is none)."""
    n = table.num_rows
    if "prediction" not in table.column_names or pa.types.is_null(table.column("prediction").type):
        return pa.nulls(n, pa.float64() if task in _NUMERIC_PREDICTION else pa.string())
    p = table.column("prediction")
    if task in _NUMERIC_PREDICTION:
        return pc.cast(p, pa.float64())
    if task == "llm":
        return pc.cast(p, pa.string())
    return class_labels(p)


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
    """The table as a compressed Arrow IPC stream (what the ingest log stores). Compressed on the calling
    thread: Arrow's pool cost 3-4x the CPU for a request's few hundred kilobytes (0.5 against 0.15 ms)."""
    options = pa.ipc.IpcWriteOptions(compression="lz4", use_threads=False)
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema, options=options) as writer:
        writer.write_table(table)
    return sink.getvalue()


def from_ipc(payload: bytes) -> pa.Table:
    """Read what ``to_ipc`` wrote."""
    with pa.ipc.open_stream(payload) as reader:
        return reader.read_all()
