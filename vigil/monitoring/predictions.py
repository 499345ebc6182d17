"""The predictions of a logged batch, kept for the label join: one Arrow table per batch.

Labels arrive later, by request id; only predictions with a request id can be joined, so only those are
kept, with their version, time, prediction (as text), score and segment tags (as JSON text).
"""

from __future__ import annotations

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from vigil.ingest.batch import to_ipc
from vigil.monitoring.window import PREDICTION, SCORE, SEGMENT_PREFIX
from vigil.spec import ModelSpec
from vigil.store.base import PredictionBatch

__all__ = ["prediction_batch"]


def prediction_batch(
    model: str, writer: str, seq: int, table: pa.Table, spec: ModelSpec
) -> PredictionBatch | None:
    """The predictions of ``table`` (the events of batch ``seq``) that carry a request id; None if none."""
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
        writer,
        seq,
        float(pc.min(ts).as_py()),
        float(pc.max(ts).as_py()),
        sub.num_rows,
        to_ipc(predictions),
    )
