"""Embeddings and free text in a comparison.

An embedding column (``type: embedding``, or any column of lists of numbers not declared otherwise) is
tested with MMD on at most 2,000 vectors per side (``vigil.drift.mmd``): drifted when the p-value is under
``alpha`` and MMD^2 reaches the threshold (default 0: the bounded sample keeps the test from flagging
negligible changes, as the effect threshold does for other columns). A text column (``type: text``) is
replaced by its descriptors (``vigil.stats.text``), each a numeric column tested like any other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from vigil.comparison.report import ColumnDrift
from vigil.config import VigilConfig
from vigil.drift.decide import DriftRule, adjust_p_values
from vigil.drift.mmd import MAX_SAMPLES, mmd_test
from vigil.stats.text import DESCRIPTORS, descriptor_table, reference_descriptors
from vigil.stats.vectors import Matrix, VectorProfile, as_matrix, is_vector_type

__all__ = [
    "MMD_THRESHOLD",
    "add_descriptors",
    "descriptor_names",
    "embedding_columns",
    "embedding_drift",
    "label_descriptors",
    "readjust",
    "text_columns",
    "vector_drift",
]

MMD_THRESHOLD = 0.0
"""Default threshold on MMD^2 (the p-value decides; see the module docstring)."""


def embedding_columns(cfg: VigilConfig, table: pa.Table, skipped: Mapping[str, str]) -> dict[str, int | None]:
    """Embedding columns of ``table`` and their declared dimensions: declared ``type: embedding``, or lists
    of numbers whose type is not declared."""
    out: dict[str, int | None] = {}
    for name in table.column_names:
        spec = cfg.columns.get(name)
        if name in skipped or (spec is not None and spec.type not in (None, "embedding")):
            continue
        if (spec is not None and spec.type == "embedding") or is_vector_type(table.schema.field(name).type):
            out[name] = spec.dimensions if spec is not None else None
    return out


def text_columns(cfg: VigilConfig) -> list[str]:
    """Columns declared ``type: text`` and tested (not ignored, role feature, target or prediction)."""
    return [
        n
        for n, s in cfg.columns.items()
        if s.type == "text" and not s.ignore and s.role in ("feature", "target", "prediction")
    ]


def descriptor_names(texts: Sequence[str]) -> dict[str, tuple[str, str]]:
    """Each descriptor column's name -> (text column, descriptor)."""
    return {f"{t}.{d}": (t, d) for t in texts for d in DESCRIPTORS}


def add_descriptors(
    reference: pa.Table, current: pa.Table, texts: Sequence[str]
) -> tuple[pa.Table, pa.Table]:
    """Both tables with the descriptor columns of every text column present on both sides appended."""
    for name in texts:
        if name not in reference.column_names or name not in current.column_names:
            continue
        ref_d, known = reference_descriptors(name, reference.column(name))
        cur_d = descriptor_table(name, current.column(name), known)
        for column in ref_d.column_names:
            reference = reference.append_column(column, ref_d.column(column))
            current = current.append_column(column, cur_d.column(column))
    return reference, current


def label_descriptors(columns: dict[str, ColumnDrift], texts: Sequence[str]) -> dict[str, ColumnDrift]:
    """The descriptor columns' verdicts marked as text (type ``text``, a note naming the descriptor)."""
    names = descriptor_names(texts)
    out = dict(columns)
    for name, (text, key) in names.items():
        if name in out:
            out[name] = replace(out[name], type="text", note=f"{DESCRIPTORS[key]} of {text}")
    return out


def embedding_drift(
    name: str,
    reference: pa.ChunkedArray,
    current: pa.ChunkedArray,
    dimensions: int | None,
    rule: DriftRule,
    threshold: tuple[float, str] = (MMD_THRESHOLD, "default"),
) -> ColumnDrift | str:
    """MMD verdict for one embedding column, or why it cannot be tested. Raises ``InputError`` for vectors of
    mixed lengths (naming the row)."""
    ref = as_matrix(reference, name, dimensions, what="reference")
    cur = as_matrix(current, name, dimensions, what="current")
    return _verdict(name, (ref.vectors, _summary(ref)), (cur.vectors, _summary(cur)), rule, threshold)


def vector_drift(
    name: str, reference: VectorProfile, current: VectorProfile, rule: DriftRule
) -> ColumnDrift | str:
    """MMD verdict for one embedding column of two profiles (their samples), or why it cannot be tested."""
    return _verdict(
        name,
        (reference.sample, _profile_summary(reference)),
        (current.sample, _profile_summary(current)),
        rule,
        (MMD_THRESHOLD, "default"),
    )


def _verdict(
    name: str,
    reference: tuple[npt.NDArray[Any], dict[str, object]],
    current: tuple[npt.NDArray[Any], dict[str, object]],
    rule: DriftRule,
    threshold: tuple[float, str],
) -> ColumnDrift | str:
    (ref, ref_summary), (cur, cur_summary) = reference, current
    if ref.ndim != 2 or cur.ndim != 2 or len(ref) < 2 or len(cur) < 2:
        return "fewer than 2 usable vectors on one side: nothing to compare"
    if ref.shape[1] != cur.shape[1]:
        return (
            f"vectors of {ref.shape[1]} numbers in reference but {cur.shape[1]} in current: "
            "not the same embedding"
        )
    outcome = mmd_test(ref, cur)
    p = float(outcome.p_value if outcome.p_value is not None else 1.0)
    return ColumnDrift(
        column=name,
        type="embedding",
        method="mmd",
        method_title="maximum mean discrepancy",
        statistic=outcome.statistic,
        p_value=p,
        p_value_adjusted=None,
        alpha=rule.alpha,
        effect=outcome.effect,
        threshold=threshold[0],
        threshold_source=threshold[1],
        drift=bool(p < rule.alpha and outcome.effect >= threshold[0]),
        note=f"MMD^2 on at most {MAX_SAMPLES:,} vectors per side, permutation p-value",
        reference=ref_summary,
        current=cur_summary,
    )


def _summary(m: Matrix) -> dict[str, object]:
    v = m.vectors
    norms = np.linalg.norm(v, axis=1) if len(v) else np.zeros(0)
    return {
        "rows": len(v) + m.nulls + m.non_finite,
        "nulls": m.nulls,
        "non_finite": m.non_finite,
        "dimensions": int(v.shape[1]),
        "mean_norm": float(norms.mean()) if len(norms) else None,
        "sampled": min(len(v), MAX_SAMPLES),
    }


def _profile_summary(v: VectorProfile) -> dict[str, object]:
    mean = v.mean
    spread = None if v.m2 is None or v.count < 2 else float(np.sqrt(v.m2 / (v.count - 1)).mean())
    return {
        "rows": v.rows,
        "nulls": v.nulls,
        "non_finite": v.non_finite,
        "dimensions": v.dimensions,
        "mean_norm": None if mean is None else float(np.linalg.norm(mean)),
        "mean_axis_sd": spread,
        "sampled": len(v.sample),
    }


def readjust(columns: dict[str, ColumnDrift], rule: DriftRule) -> dict[str, ColumnDrift]:
    """Every column's adjusted p-value and verdict recomputed over all columns together (when embedding
    columns joined the ones ``decide`` corrected)."""
    if rule.correction == "none" or not columns:
        return columns
    names = list(columns)
    raw = [1.0 if columns[n].p_value is None else float(columns[n].p_value or 0.0) for n in names]
    out = {}
    for name, p in zip(names, adjust_p_values(raw, rule.correction), strict=True):
        c = columns[name]
        out[name] = replace(c, p_value_adjusted=p, drift=bool(p < rule.alpha and c.effect >= c.threshold))
    return out
