"""A batch of events cut for folding: which window each row goes to, and what of it is profiled.

A batch's rows go to the finest window that will still be rolled up (``retention.placement``), per
version, by the rule the backfill shares (``folding``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vigil.monitoring.folding import data_columns, profiled, window_parts
from vigil.monitoring.retention import placement
from vigil.monitoring.templates import Templates
from vigil.spec import ModelSpec
from vigil.stats.profile import Profile
from vigil.store.base import Store

__all__ = ["Batch", "Part", "WindowKey", "add_totals", "by_model", "cut", "mapped"]


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
    data = profiled(table, spec, templates.vocabularies(model))
    template = templates.covering(model, data, spec)
    parts: list[Part] = [
        (WindowKey(model, p.version, p.start, p.resolution), p.events, p.data)
        for p in window_parts(table, data, spec, resolution, rng)
    ]
    return template, parts


def mapped(templates: Templates, model: str, spec: ModelSpec, table: pa.Table) -> bool:
    """Whether the model's template maps every profiled column of ``table`` already: else the first batch
    that has a column fixes its buckets, and must be folded alone to fix them as if it had come alone."""
    template = templates.get(model)
    if template is None:
        return False
    known = template.columns.keys() | template.skipped.keys()
    return all(c in known for c in data_columns(table, spec))


def by_model(batches: Sequence[Batch]) -> list[tuple[str, list[Batch]]]:
    """The batches of each model, in their order, in runs of one schema: batches folded together are
    concatenated, and a column one of them lacks would become a column of nulls in the others' windows
    (a score absent is not a score missing), so what a window holds would depend on how the batches
    happened to queue up."""
    runs: dict[str, list[list[Batch]]] = {}
    for b in batches:
        model = runs.setdefault(b.model, [])
        if model and model[-1][-1].table.schema.equals(b.table.schema):
            model[-1].append(b)
        else:
            model.append([b])
    return [(name, run) for name, model in runs.items() for run in model]


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
