"""What a backfill keeps for the label join, as the live path keeps it: the predictions of a partition's
checked events that carry a request id (the prediction log's rows: ``predictions.prediction_batch``)
and, when the files carry their labels (``label_column``), those labels.

**Predictions.** The rows of a partition with a request id, sorted by time and cut into batches of at most
``BATCH`` rows (a query reads only the batches its range overlaps, as it reads the live path's small ones),
stored under the file's writer and numbered ``partition × SEQS + k``: the same file backfilled again makes
the same batches under the same keys, and ``Store.put_predictions`` leaves a batch stored already as it is.
Predictions older than the model's ``retention.predictions`` at the backfill's clock are not kept (the live
path deletes them at its next retention pass), nor their labels.

**Labels.** The label column's value of each row whose prediction is kept, as text as ``POST /v1/labels``
stores it (true ``1``, false ``0``, ``3.0`` ``3``); a null is no label (one may be posted later). The label's
time is its prediction's: a history file does not say when the truth became known (so label lag reads 0
for those rows). A label that cannot be kept is refused under the field ``label``, naming its row (the
row's event is in): a number not finite or larger than ``MAX_NUMBER``, text longer than ``MAX_STRING``, a
value of another type, a row without a request id (a label joins its prediction by request id).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vigil.events import to_ipc
from vigil.ingest.pipeline import label_text
from vigil.monitoring.predictions import prediction_batch
from vigil.schema import MAX_NUMBER, MAX_STRING
from vigil.spec import ModelSpec
from vigil.store.base import PredictionBatch

__all__ = ["BATCH", "SEQS", "Kept", "keep_labels", "keep_predictions"]

BATCH = 10_000
"""Most predictions in one stored batch."""
SEQS = 1 << 20
"""Batch numbers of one partition (``partition × SEQS + k``)."""


class Kept:
    """A partition's predictions kept so far: their batches, and their request ids and times (what the
    labels of the partition join)."""

    def __init__(self) -> None:
        self.batches: list[PredictionBatch] = []
        self.past = 0
        """Predictions with a request id older than ``retention.predictions``: not kept."""
        self._ids: list[pa.ChunkedArray] = []
        self._ts: list[pa.ChunkedArray] = []

    @property
    def rows(self) -> int:
        return sum(b.rows for b in self.batches)

    def add(self, batch: PredictionBatch, request_ids: pa.ChunkedArray, ts: pa.ChunkedArray) -> None:
        """Keep ``batch``, whose predictions have these request ids and times (Unix seconds, any numeric
        type), in the order of its rows."""
        self.batches.append(batch)
        self._ids.append(request_ids)
        self._ts.append(pc.cast(ts, pa.float64()))

    def times(self) -> tuple[pa.Array, pa.Array]:
        """The kept predictions' request ids and times (in the order of the batches)."""
        if not self._ids:
            return pa.array([], pa.string()), pa.array([], pa.float64())
        ids = pa.chunked_array([c for chunked in self._ids for c in chunked.chunks], pa.string())
        ts = pa.chunked_array([c for chunked in self._ts for c in chunked.chunks], pa.float64())
        return ids.combine_chunks(), ts.combine_chunks()


def keep_predictions(
    kept: Kept, events: pa.Table, model: str, writer: str, partition: int, spec: ModelSpec, now: float
) -> None:
    """Add the predictions of ``events`` (checked events of one partition) to ``kept``: see the module
    docstring."""
    with_id = events.filter(pc.is_valid(events.column("request_id")))
    if not with_id.num_rows:
        return
    recent = pc.greater_equal(with_id.column("ts"), now - spec.retention.predictions.total_seconds())
    kept.past += with_id.num_rows - int(pc.sum(pc.cast(recent, pa.int64())).as_py() or 0)
    rows = with_id.filter(recent).sort_by([("ts", "ascending")])
    for first in range(0, rows.num_rows, BATCH):
        part = rows.slice(first, BATCH)
        seq = partition * SEQS + len(kept.batches)
        batch = prediction_batch(model, writer, seq, part, spec)
        assert batch is not None  # every row has a request id
        kept.add(batch, part.column("request_id"), part.column("ts"))


def keep_labels(
    kept: Kept,
    request_ids: pa.ChunkedArray | None,
    labels: pa.ChunkedArray,
    refuse: Callable[[int, str, str], None],
) -> tuple[bytes | None, int]:
    """The labels of one partition's rows (``labels``, beside the file's ``request_id`` column or None
    when it has none) whose prediction ``kept`` holds, as an Arrow IPC table (request_id, label, ts; the
    file's order, so the last label of a request id wins as it would posted) and how many; ``refuse(row,
    field, reason)`` is told of those that cannot be kept (row: 0-based in the partition)."""
    n = len(labels)
    texts, problems = _texts(labels)
    given = np.asarray(labels.is_valid(), dtype=bool)
    if request_ids is None:
        ids = pa.nulls(n, pa.string())
    else:
        try:
            ids = pc.cast(request_ids, pa.string()).combine_chunks()
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            ids = pa.nulls(n, pa.string())
    has_id = np.asarray(ids.is_valid(), dtype=bool)
    for row in np.flatnonzero(given & (problems != "")):
        refuse(int(row), "label", str(problems[row]))
    without = np.flatnonzero(given & (problems == "") & ~has_id)
    for row in without:
        refuse(int(row), "label", "no request_id: a label joins its prediction by request id")
    usable = given & (problems == "") & has_id
    if not usable.any():
        return None, 0
    kept_ids, kept_ts = kept.times()
    at = pc.index_in(ids, value_set=kept_ids)
    usable &= np.asarray(at.is_valid(), dtype=bool)
    rows = np.flatnonzero(usable)
    if not rows.size:
        return None, 0
    take = pa.array(rows)
    table = pa.table(
        {
            "request_id": ids.take(take),
            "label": pa.array(texts[rows].tolist(), pa.string()),
            "ts": kept_ts.take(at.take(take)),
        }
    )
    return to_ipc(table), int(rows.size)


def _texts(labels: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """Each value's text as ``POST /v1/labels`` stores it and why it cannot be a label ("" when it can;
    both "" for nulls), worked out once per distinct value."""
    encoded = labels.combine_chunks().dictionary_encode()
    values = encoded.dictionary.to_pylist()
    text, problem = [], []
    for value in values:
        why = _problem(value)
        problem.append(why)
        text.append("" if why else label_text(value))
    codes = np.asarray(pc.fill_null(encoded.indices, len(values)).to_numpy(zero_copy_only=False))
    texts = np.array([*text, ""], dtype=object)
    problems = np.array([*problem, ""], dtype=object)
    return texts[codes], problems[codes]


def _problem(value: object) -> str:
    if isinstance(value, bool):
        return ""
    if isinstance(value, int):
        return "" if -(2**63) <= value < 2**63 else f"{value} does not fit 64 bits"
    if isinstance(value, float):
        ok = math.isfinite(value) and abs(value) <= MAX_NUMBER
        return "" if ok else f"{value!r} is not a finite number no larger than {MAX_NUMBER:g}"
    if isinstance(value, str):
        return "" if len(value) <= MAX_STRING else f"text longer than {MAX_STRING} characters"
    return f"expected true/false, a number or text, got {type(value).__name__}"
