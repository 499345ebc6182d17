"""Performance estimated per chunk of a file of scored rows, from a reference file that has labels.

:func:`estimate_files` reads both tables (Parquet, CSV, Feather, or anything ``read_table`` takes), fits an
:class:`~vigil.performance.estimation.Estimator` on the reference's labelled rows, and estimates every
chunk of ``chunk_size`` consecutive rows of the current table. Where a chunk has labels, the realised
figures are computed on its labelled rows and compared with the estimate for those same rows: a realised
figure outside its band sets ``concept_shift``.

Score columns: one column (a binary model's probability of the positive class; labels and predictions are
0/1 or true/false), or one ``CLASS=COLUMN`` per class (a multiclass model's probability of each class;
labels and predictions hold the class names, compared as text). Without a prediction column, a binary
model predicts ``score >= 0.5`` and a multiclass one the class of the highest score.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from vigil.errors import InputError
from vigil.performance.estimation import (
    METRICS,
    WIDTH,
    Band,
    CalibrationMode,
    Estimator,
    outside,
    realised,
)
from vigil.tables import describe_source, read_table

__all__ = ["ScoreColumn", "estimate_files", "parse_scores"]


@dataclass(frozen=True)
class ScoreColumn:
    """A score column and the class whose probability it holds (None: a binary model's positive class)."""

    column: str
    label: str | None


def parse_scores(specs: Sequence[str]) -> list[ScoreColumn]:
    """``["p"]`` (binary) or ``["a=p_a", "b=p_b", ...]`` (one per class; ``COLUMN`` alone names its class)."""
    if not specs:
        raise InputError("give the score column: --score COLUMN (binary) or --score CLASS=COLUMN per class")
    if len(specs) == 1 and "=" not in specs[0]:
        return [ScoreColumn(specs[0], None)]
    if len(specs) == 1:
        raise InputError(
            f"--score {specs[0]} names one class: a multiclass model needs one --score CLASS=COLUMN per "
            "class, a binary model just --score COLUMN"
        )
    out = [ScoreColumn(*reversed(s.split("=", 1))) if "=" in s else ScoreColumn(s, s) for s in specs]
    names = [s.label for s in out]
    if len(set(names)) < len(names):
        raise InputError(f"--score names a class twice: {names}")
    return out


class _Table:
    """One side's table, with its columns read as the estimator needs them and errors that say where."""

    def __init__(self, data: Any, what: str) -> None:
        self.table = read_table(data, what=what)
        self.what = f"{what} ({describe_source(data)})"
        self.rows = self.table.num_rows

    def has(self, name: str) -> bool:
        return name in self.table.column_names

    def column(self, name: str, role: str) -> pa.ChunkedArray:
        if not self.has(name):
            shown = ", ".join(self.table.column_names[:20])
            raise InputError(f"{self.what} has no {role} column '{name}'; its columns are: {shown}")
        return self.table.column(name)

    def scores(self, spec: ScoreColumn) -> npt.NDArray[np.float64]:
        col = self.column(spec.column, "score")
        if not (pa.types.is_floating(col.type) or pa.types.is_integer(col.type)):
            raise InputError(f"score column '{spec.column}' of {self.what} is {col.type}, not a number")
        values: npt.NDArray[np.float64] = col.to_numpy(zero_copy_only=False).astype(np.float64)
        bad = np.flatnonzero(~((values >= 0) & (values <= 1)))
        if bad.size:
            row = int(bad[0])
            value = "missing" if math.isnan(values[row]) else repr(float(values[row]))
            raise InputError(
                f"score column '{spec.column}' of {self.what}, row {row}: {value} is not a probability in "
                f"[0, 1] ({bad.size} such rows); give the model's probability of the class, e.g. a sigmoid "
                "of a logit or a softmax"
            )
        return values

    def codes(self, name: str, role: str, classes: list[str] | None) -> npt.NDArray[np.int64]:
        """Class indices (-1 where missing): 0/1 for a binary model, the index in ``classes`` otherwise."""
        col = self.column(name, role)
        valid = pc.is_valid(col).to_numpy(zero_copy_only=False)
        if classes is None:
            return self._binary(col, name, role, valid)
        text = pc.cast(col, pa.string())
        found = pc.index_in(text, value_set=pa.array(classes, pa.string()))
        out: npt.NDArray[np.int64] = pc.fill_null(found, -1).to_numpy(zero_copy_only=False).astype(np.int64)
        unknown = np.flatnonzero(valid & (out < 0))
        if unknown.size:
            row = int(unknown[0])
            raise InputError(
                f"{role} column '{name}' of {self.what}, row {row}: {text[row].as_py()!r} is none of the "
                f"classes named by --score ({', '.join(classes)}); give one --score CLASS=COLUMN per class"
            )
        return out

    def _binary(
        self, col: pa.ChunkedArray, name: str, role: str, valid: npt.NDArray[np.bool_]
    ) -> npt.NDArray[np.int64]:
        if not (
            pa.types.is_boolean(col.type) or pa.types.is_integer(col.type) or pa.types.is_floating(col.type)
        ):
            raise InputError(
                f"{role} column '{name}' of {self.what} is {col.type}; a binary model's {role}s are 0/1 or "
                "true/false (for a multiclass model give one --score CLASS=COLUMN per class)"
            )
        values = pc.fill_null(pc.cast(col, pa.float64()), -1.0).to_numpy(zero_copy_only=False)
        bad = np.flatnonzero(valid & (values != 0) & (values != 1))
        if bad.size:
            row = int(bad[0])
            raise InputError(
                f"{role} column '{name}' of {self.what}, row {row}: {float(values[row]):g} is not 0/1; a "
                f"binary model's {role}s are 0/1 or true/false (for several classes give one --score "
                "CLASS=COLUMN each)"
            )
        return np.where(valid, values, -1).astype(np.int64)


def _side(
    t: _Table, specs: list[ScoreColumn], prediction: str | None, classes: list[str] | None
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    scores = t.scores(specs[0]) if classes is None else np.column_stack([t.scores(s) for s in specs])
    if prediction is None:
        pred = (scores >= 0.5).astype(np.int64) if classes is None else scores.argmax(axis=1)
        return scores, pred
    pred = t.codes(prediction, "prediction", classes)
    if (missing := np.flatnonzero(pred < 0)).size:
        raise InputError(
            f"prediction column '{prediction}' of {t.what} is missing at row {int(missing[0])} "
            f"({missing.size} rows); every scored row needs its prediction"
        )
    return scores, pred


def _band(b: Band) -> dict[str, float | None]:
    return {
        k: (v if math.isfinite(v) else None)
        for k, v in (("value", b.value), ("lower", b.lower), ("upper", b.upper))
    }


def _clean(figures: dict[str, float]) -> dict[str, float | None]:
    return {k: (v if math.isfinite(v) else None) for k, v in figures.items()}


def estimate_files(
    reference: Any,
    current: Any,
    *,
    scores: Sequence[str],
    label: str,
    prediction: str | None = None,
    chunk_size: int,
    calibration: CalibrationMode = "auto",
) -> dict[str, Any]:
    """Estimate every chunk of ``current`` from ``reference``; the JSON-ready result (``chunks``: ``start``,
    ``end`` (row positions in current, end exclusive), ``estimated``, ``realised``, ``concept_shift``)."""
    if chunk_size < 1:
        raise InputError(f"--chunk-size must be at least 1, not {chunk_size}")
    specs = parse_scores(scores)
    classes = None if specs[0].label is None else [str(s.label) for s in specs]
    ref, cur = _Table(reference, "reference"), _Table(current, "current")
    ref_scores, ref_pred = _side(ref, specs, prediction, classes)
    if not ref.has(label):
        raise InputError(
            f"{ref.what} has no label column '{label}': the reference needs labels to calibrate the scores"
        )
    ref_labels = ref.codes(label, "label", classes)
    known = ref_labels >= 0
    if known.sum() < 2 or np.unique(ref_labels[known]).size < 2:
        raise InputError(
            f"{ref.what}: label column '{label}' has {int(known.sum())} labelled rows of "
            f"{np.unique(ref_labels[known]).size} classes; the reference needs labelled rows of every class"
        )
    estimator = Estimator.fit(ref_scores[known], ref_labels[known], calibration=calibration)
    cur_scores, cur_pred = _side(cur, specs, prediction, classes)
    cur_labels = cur.codes(label, "label", classes) if cur.has(label) else None

    chunks = []
    for start in range(0, cur.rows, chunk_size):
        end = min(start + chunk_size, cur.rows)
        s, p = cur_scores[start:end], cur_pred[start:end]
        estimated = estimator.estimate(s, p)
        chunk: dict[str, Any] = {
            "start": start,
            "end": end,
            "estimated": {m: _band(b) for m, b in estimated.items()},
        }
        chunk["labelled"] = 0
        chunk["concept_shift"] = None
        if cur_labels is not None and (have := cur_labels[start:end] >= 0).any():
            # like with like: the labelled rows' realised figures against the estimate for those rows
            check = estimated if have.all() else estimator.estimate(s[have], p[have])
            figures = realised(s[have], cur_labels[start:end][have], p[have])
            off = outside(check, figures)
            chunk.update(
                labelled=int(have.sum()), realised=_clean(figures), concept_shift=bool(off), outside=off
            )
        chunks.append(chunk)
    ref_figures = realised(ref_scores[known], ref_labels[known], ref_pred[known])
    columns = [s.column for s in specs]
    return {
        "reference": {
            "source": describe_source(reference),
            "rows": ref.rows,
            "labelled": int(known.sum()),
            "realised": _clean(ref_figures),
            "calibration": calibration,
            "calibrated": dict(zip(columns, estimator.calibrated, strict=True)),
        },
        "current": {"source": describe_source(current), "rows": cur.rows},
        "classes": classes,
        "metrics": list(METRICS),
        "chunk_size": chunk_size,
        "band": f"value ± {WIDTH:g} standard errors, clipped to [0, 1]",
        "concept_shift_chunks": sum(1 for c in chunks if c["concept_shift"]),
        "chunks": chunks,
    }
