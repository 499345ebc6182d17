"""Events split into the windows they are folded into: the one rule the live aggregator and the backfill
share, so that both build the same windows from the same events.

An event goes to the window of its version and time at the resolution ``placement`` chose for it (the
model's windows, or an hour or day row for history); its profiled part is the columns that have a value
in this table (a column null throughout says nothing of its kind: it counts as missing here), with the
text features' descriptors (``texts.with_descriptors``, measured against the template's vocabularies),
sampled at the model's ``sampling_rate``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import NamedTuple

import numpy as np
import pyarrow as pa

from vigil.events import profiled_columns
from vigil.monitoring.retention import DAY, HOUR
from vigil.monitoring.texts import with_descriptors
from vigil.spec import ModelSpec

__all__ = ["Part", "data_columns", "profiled", "window_parts"]


class Part(NamedTuple):
    version: str
    start: int
    resolution: int
    events: pa.Table
    """The window's events (service columns and all)."""
    data: pa.Table
    """Their profiled columns, after sampling."""


def data_columns(table: pa.Table, spec: ModelSpec) -> list[str]:
    """The profiled columns of ``table`` that have at least one value."""
    return [c for c in profiled_columns(table, spec) if table.column(c).null_count < table.num_rows]


def profiled(table: pa.Table, spec: ModelSpec, vocabularies: Mapping[str, frozenset[str]]) -> pa.Table:
    """What of ``table`` is profiled: ``data_columns`` and the text features' descriptors."""
    return with_descriptors(table.select(data_columns(table, spec)), spec, vocabularies)


def window_parts(
    table: pa.Table,
    data: pa.Table,
    spec: ModelSpec,
    resolution: np.ndarray,
    rng: np.random.Generator,
) -> Iterator[Part]:
    """``table``'s events by window: ``data`` is what of them is profiled (``profiled``), ``resolution``
    each event's window size (from ``placement``)."""
    ts = table.column("ts").to_numpy(zero_copy_only=False)
    starts = (np.floor(ts / resolution) * resolution).astype(np.int64)
    versions = table.column("version").to_numpy(zero_copy_only=False)
    names, version_codes = np.unique(versions.astype(str), return_inverse=True)
    levels = np.searchsorted(np.array([0, HOUR, DAY]), resolution, side="right")  # 1, 2 or 3
    slot = (starts - starts.min()) // int(resolution.min())
    codes = (version_codes.astype(np.int64) * 4 + levels) * (int(slot.max()) + 1) + slot
    keys, inverse = np.unique(codes, return_inverse=True)
    for i in range(len(keys)):
        rows = np.flatnonzero(inverse == i)
        taken = pa.array(rows)
        part, part_data = (table.take(taken), data.take(taken)) if len(keys) > 1 else (table, data)
        first = rows[0]
        if spec.sampling_rate < 1.0:
            keep = rng.random(part.num_rows) < spec.sampling_rate
            part_data = part_data.filter(pa.array(keep))
        yield Part(
            str(names[version_codes[first]]), int(starts[first]), int(resolution[first]), part, part_data
        )
