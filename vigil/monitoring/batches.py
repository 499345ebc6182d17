"""A batch of events cut for folding: which window each row goes to, and what of it is profiled.

A batch's rows go to the finest window that will still be rolled up (``retention.placement``), per
version. What is profiled is the features, prediction, score and segments (``events.profiled_columns``)
that hold a value in the batch, with the text features' descriptors (``texts.with_descriptors``, measured
against the template's vocabularies), sampled at the model's ``sampling_rate``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vigil.events import profiled_columns
from vigil.monitoring.retention import DAY, HOUR, placement
from vigil.monitoring.templates import Templates
from vigil.monitoring.texts import with_descriptors
from vigil.spec import ModelSpec
from vigil.stats.profile import Profile
from vigil.store.base import Store

__all__ = ["Batch", "Part", "WindowKey", "add_totals", "by_model", "cut"]


@dataclass(frozen=True, order=True)
class WindowKey:
    model: str
    version: str
    start: int
    resolution: int


@dataclass(frozen=True)
class Batch:
    """An acknowledged batch: its model, its sequence number in the log, its events."""

    model: str
    seq: int
    table: pa.Table


Part = tuple[WindowKey, pa.Table, pa.Table]
"""(a window, its events, their profiled columns after sampling)."""


def cut(
    store: Store,
    templates: Templates,
    model: str,
    spec: ModelSpec,
    table: pa.Table,
    now: float,
    rng: np.random.Generator,
) -> tuple[Profile, list[Part]]:
    """The model's template (extended to the batch's columns) and the batch cut into its windows."""
    ts = table.column("ts").to_numpy(zero_copy_only=False)
    resolution = placement(store, model, spec, ts, now)
    starts = (np.floor(ts / resolution) * resolution).astype(np.int64)
    versions = table.column("version").to_numpy(zero_copy_only=False)
    # a column that is null throughout this batch says nothing of its kind (numbers or categories):
    # it counts as missing here (all null), and is profiled from the first batch that has a value
    data_columns = [c for c in profiled_columns(table, spec) if table.column(c).null_count < table.num_rows]
    profiled = with_descriptors(table.select(data_columns), spec, templates.vocabularies(model))
    template = templates.covering(model, profiled, spec)
    names, version_codes = np.unique(versions.astype(str), return_inverse=True)
    levels = np.searchsorted(np.array([0, HOUR, DAY]), resolution, side="right")  # 1, 2 or 3
    slot = (starts - starts.min()) // int(resolution.min())
    codes = (version_codes.astype(np.int64) * 4 + levels) * (int(slot.max()) + 1) + slot
    keys, inverse = np.unique(codes, return_inverse=True)
    parts: list[Part] = []
    for i in range(len(keys)):
        rows = np.flatnonzero(inverse == i)
        taken = pa.array(rows)
        part, data = (table.take(taken), profiled.take(taken)) if len(keys) > 1 else (table, profiled)
        first = rows[0]
        key = WindowKey(model, str(names[version_codes[first]]), int(starts[first]), int(resolution[first]))
        if spec.sampling_rate < 1.0:
            keep = rng.random(part.num_rows) < spec.sampling_rate
            data = data.filter(pa.array(keep))
        parts.append((key, part, data))
    return template, parts


def by_model(batches: Sequence[Batch]) -> dict[str, list[Batch]]:
    """The batches of each model, in their order."""
    out: dict[str, list[Batch]] = {}
    for b in batches:
        out.setdefault(b.model, []).append(b)
    return out


def add_totals(totals: dict[str, float], part: pa.Table) -> None:
    """Add a window part's events, errors, tokens, cost and latency to running ``totals`` (/metrics)."""
    totals["events"] = totals.get("events", 0) + part.num_rows
    totals["errors"] = totals.get("errors", 0) + part.num_rows - part.column("error").null_count
    for name in ("tokens_in", "tokens_out", "cost"):
        value = pc.sum(part.column(name)).as_py()
        totals[name] = totals.get(name, 0) + float(value or 0)
    lat = part.column("latency_ms")
    if lat.null_count < len(lat):
        totals["latency_sum_ms"] = totals.get("latency_sum_ms", 0) + float(pc.sum(lat).as_py() or 0)
        totals["latency_count"] = totals.get("latency_count", 0) + len(lat) - lat.null_count
