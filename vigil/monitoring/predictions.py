"""The prediction log: each prediction sent with a request id, kept to join its label whenever it arrives.

``prediction_batch`` turns a folded batch into the log's rows (request id, version, time, prediction as
text, score, segment tags as JSON). ``join`` takes a range of the log, keeps the first prediction of each
request id (a replay may store a batch twice), looks up each one's label (``None`` until it arrives) and
sorts by time then request id, all in Arrow. Class labels and predictions become integer codes over one
shared list of classes, so comparing them is integer arithmetic; numeric text becomes float64 with a mask
of what parsed (as Python's ``float`` reads it), so regression errors are numpy arithmetic too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
import pyarrow as pa
import pyarrow.compute as pc

import vigil.performance as performance
from vigil.events import PREDICTION, SCORE, SEGMENT_PREFIX, to_ipc
from vigil.monitoring.segments import Segment, tag_text
from vigil.spec import ModelSpec
from vigil.store.base import LabelColumns, PredictionBatch

__all__ = ["Joined", "join", "numbers", "prediction_batch"]

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

NO_CLASS = -1
"""The code of a missing prediction or label."""


@dataclass(frozen=True)
class Joined:
    """One row per prediction (the first per request id), sorted by ``ts`` then request id."""

    ts: Floats
    prediction: Ints
    """Class code of the prediction (``NO_CLASS`` when none)."""
    label: Ints
    """Class code of the label (``NO_CLASS`` while it has not arrived)."""
    prediction_value: Floats
    prediction_is_number: Bools
    label_value: Floats
    label_is_number: Bools
    score: Floats
    has_score: Bools
    label_ts: Floats
    """When the label arrived (NaN while it has not)."""
    segment: Ints
    """Index into ``segments`` of the row's segment tags (JSON text; -1 for none)."""
    segments: Sequence[str]
    positive: int
    """The code of the class "1" (the positive class of binary metrics); ``NO_CLASS - 1`` if no row has it."""
    classes: pa.Array | None = None
    """The class (text) of each code: labels and predictions alike."""

    def __len__(self) -> int:
        return int(self.ts.size)

    @property
    def labelled(self) -> Bools:
        """Rows whose label has arrived."""
        return np.asarray(self.label != NO_CLASS, dtype=bool)

    @property
    def predicted(self) -> Bools:
        """Rows with a prediction."""
        return np.asarray(self.prediction != NO_CLASS, dtype=bool)

    def take(self, rows: slice | Bools) -> Joined:
        """The rows selected by a slice or a boolean mask."""
        cut: dict[str, Any] = {
            f.name: getattr(self, f.name)[rows]
            for f in fields(self)
            if isinstance(getattr(self, f.name), np.ndarray)
        }
        return Joined(**cut, segments=self.segments, positive=self.positive, classes=self.classes)

    def in_segment(self, selector: Segment) -> Joined:
        """The rows whose segment tags include every ``key=value`` of ``selector`` (each distinct tag text
        is parsed once)."""
        keep = np.zeros(len(self.segments) + 1, dtype=bool)  # the last entry: rows without tags
        for i, text in enumerate(self.segments):
            tags = orjson.loads(text) if text else {}
            keep[i] = isinstance(tags, dict) and all(
                k in tags and tags[k] is not None and tag_text(tags[k]) == v for k, v in selector.items()
            )
        return self.take(keep[self.segment])

    # -- metrics (of labelled rows where they need labels) -------------------------------------------------

    def accuracy(self) -> float:
        return performance.accuracy(self.label, self.prediction)

    def confusion(self) -> performance.Confusion:
        """The confusion counts of the class "1" (binary models)."""
        return performance.confusion(self.label, self.prediction, self.positive)

    def classification(self) -> performance.ClassificationState:
        """The confusion counts of every class (class codes as text; a missing prediction counts as wrong)."""
        predicted = self.prediction.astype(str).astype(object)
        predicted[~self.predicted] = None
        return performance.ClassificationState().update(self.label.astype(str), predicted)

    def labelled_count(self) -> int:
        return int(np.count_nonzero(self.labelled))

    def realised_classification(self, binary: bool) -> performance.ClassificationState:
        """The labelled rows' mergeable state, classes by name; for a binary model with the score as the
        probability of class ``1`` (a score outside ``[0, 1]`` is left out of the score figures)."""
        rows = self.take(self.labelled)
        state = performance.ClassificationState()
        codes = np.unique(np.concatenate([rows.label, rows.prediction]))
        codes = codes[codes != NO_CLASS]
        if not codes.size or self.classes is None:
            return state
        names = np.array(self.classes.take(pa.array(codes)).to_pylist(), dtype=str)
        truth = names[np.searchsorted(codes, rows.label)]
        predicted: npt.NDArray[Any] = names[np.searchsorted(codes, rows.prediction).clip(0, codes.size - 1)]
        if not rows.predicted.all():  # a missing prediction counts as wrong
            predicted = predicted.astype(object)
            predicted[~rows.predicted] = None
        if not binary:
            return state.update(truth, predicted)
        score = rows.score
        usable = rows.has_score & (score >= 0.0) & (score <= 1.0)
        return state.update(truth, predicted, np.where(usable, score, np.nan), ["1"])

    def realised_regression(self) -> performance.RegressionState:
        """The mergeable error state of the rows whose prediction and label are both numbers."""
        both = self.prediction_is_number & self.label_is_number
        return performance.RegressionState().update(self.label_value[both], self.prediction_value[both])

    def mae(self) -> float:
        both = self.prediction_is_number & self.label_is_number
        return performance.mae(self.label_value[both], self.prediction_value[both])

    def rmse(self) -> float:
        both = self.prediction_is_number & self.label_is_number
        return performance.rmse(self.label_value[both], self.prediction_value[both])

    def label_coverage(self) -> float:
        return float(np.count_nonzero(self.labelled)) / len(self) if len(self) else math.nan

    def label_lag_p50(self) -> float:
        """The median delay from prediction to label, seconds."""
        return float(np.median(self.label_ts - self.ts)) if len(self) else math.nan

    def score_mean(self) -> float:
        return _mean(self.score[self.has_score])

    def prediction_mean(self, task: str) -> float:
        """Binary: the share of predictions of class 1; else the mean of the numeric predictions."""
        if task == "binary":
            return _mean(self.prediction[self.predicted] == self.positive)
        return _mean(self.prediction_value[self.prediction_is_number])

    @staticmethod
    def empty() -> Joined:
        f, i, b = np.zeros(0), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool)
        return Joined(f, i, i, f, b, f, b, f, b, f, i, [], NO_CLASS - 1)


def prediction_batch(
    model: str, writer: str, seq: int, table: pa.Table, spec: ModelSpec
) -> PredictionBatch | None:
    """The rows of ``table`` (the events of batch ``seq``) that carry a request id (those a label can join),
    as the prediction log keeps them; None when none does. An LLM's text output is not kept."""
    ids = table.column("request_id")
    if ids.null_count == len(ids):
        return None
    sub = table.filter(pc.is_valid(ids))
    prediction = sub.column(PREDICTION) if spec.task != "llm" else pa.nulls(sub.num_rows, pa.string())
    rows = pa.table(
        {
            "request_id": sub.column("request_id"),
            "version": sub.column("version"),
            "ts": sub.column("ts"),
            "prediction": pc.cast(prediction, pa.string()),
            "score": sub.column(SCORE),
            "segment": _segment_json(sub),
        }
    )
    ts = sub.column("ts")
    start, end = float(pc.min(ts).as_py()), float(pc.max(ts).as_py())
    return PredictionBatch(model, writer, seq, start, end, sub.num_rows, to_ipc(rows))


def _segment_json(table: pa.Table) -> pa.Array:
    """Each row's segment tags as a JSON object (tags without a value left out; null without tags), one
    ``orjson.dumps`` per distinct combination of tag values."""
    names = [n for n in table.column_names if n.startswith(SEGMENT_PREFIX)]
    if not names:
        return pa.nulls(table.num_rows, pa.string())
    codes, values = [], []
    for name in names:
        encoded = table.column(name).combine_chunks().dictionary_encode()
        codes.append(_codes(encoded.indices))
        values.append(encoded.dictionary.to_pylist())
    combos, inverse = np.unique(np.stack(codes, axis=1), axis=0, return_inverse=True)
    texts = [
        orjson.dumps({n[1:]: v[c] for n, v, c in zip(names, values, combo, strict=True) if c >= 0}).decode()
        for combo in combos.tolist()
    ]
    return pa.array(texts, pa.string()).take(pa.array(np.asarray(inverse).ravel()))


def join(predictions: pa.Table | None, labels: LabelColumns) -> Joined:
    """Join a prediction log table (``request_id``, ``ts``, ``prediction``, ``score``, ``segment``) with
    ``labels`` by request id; see the module docstring."""
    if predictions is None or predictions.num_rows == 0:
        return Joined.empty()
    ids = predictions.column("request_id").combine_chunks().dictionary_encode()
    _, first = np.unique(np.asarray(ids.indices.to_numpy(zero_copy_only=False)), return_index=True)
    table = predictions.take(pa.array(first)).sort_by([("ts", "ascending"), ("request_id", "ascending")])
    at = pc.index_in(table.column("request_id"), value_set=pa.array(labels.request_ids, pa.string()))
    label_text = pa.array(labels.labels, pa.string()).take(at)
    label_ts = pa.array(labels.ts, pa.float64()).take(at)

    prediction_text = pc.cast(table.column("prediction"), pa.string()).combine_chunks()
    classes = (
        pa.chunked_array([prediction_text, label_text], pa.string()).dictionary_encode().combine_chunks()
    )
    codes = _codes(classes.indices)
    n = table.num_rows
    dictionary = classes.dictionary
    found = pc.index(dictionary, "1").as_py()
    segment = table.column("segment").combine_chunks().dictionary_encode()
    prediction_value, prediction_is_number = numbers(prediction_text)
    label_value, label_is_number = numbers(label_text)
    score = table.column("score").combine_chunks()
    return Joined(
        ts=_floats(table.column("ts")),
        prediction=codes[:n],
        label=codes[n:],
        prediction_value=prediction_value,
        prediction_is_number=prediction_is_number,
        label_value=label_value,
        label_is_number=label_is_number,
        score=_floats(score),
        has_score=np.asarray(score.is_valid(), dtype=bool),
        label_ts=_floats(label_ts),
        segment=_codes(segment.indices),
        segments=segment.dictionary.to_pylist(),
        positive=found if found >= 0 else NO_CLASS - 1,
        classes=dictionary,
    )


def numbers(text: pa.Array | pa.ChunkedArray) -> tuple[Floats, Bools]:
    """Text as float64, and where it is a number as Python's ``float`` reads it (nulls are not). Arrow parses
    the common case at once; text Arrow refuses (a stray word, ``1_000``) is read value by distinct value."""
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    valid = np.asarray(text.is_valid(), dtype=bool)
    try:
        values = _floats(pc.cast(text, pa.float64()))
        return values, valid
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    encoded = text.dictionary_encode()
    parsed = [_float(v) for v in encoded.dictionary.to_pylist()]
    table = np.array([np.nan if v is None else v for v in parsed] + [np.nan], dtype=np.float64)
    ok = np.array([v is not None for v in parsed] + [False], dtype=bool)
    codes = _codes(encoded.indices)
    return table[codes], ok[codes]


def _mean(values: npt.NDArray[Any]) -> float:
    return float(np.mean(values)) if values.size else math.nan


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _floats(values: pa.Array | pa.ChunkedArray) -> Floats:
    """float64 with NaN for nulls."""
    return np.asarray(pc.fill_null(pc.cast(values, pa.float64()), np.nan).to_numpy(), dtype=np.float64)


def _codes(indices: pa.Array) -> Ints:
    """Dictionary indices as int64, ``NO_CLASS`` (-1) for nulls."""
    return np.asarray(pc.fill_null(pc.cast(indices, pa.int64()), NO_CLASS).to_numpy(), dtype=np.int64)
