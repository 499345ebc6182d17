"""Events split into the windows they are folded into: the one rule the live aggregator and the backfill
share, so that both build the same windows from the same events.

An event goes to the window of its version and time at the resolution ``placement`` chose for it (the
model's windows, or an hour or day row for history); its profiled part is the columns that have a value
in this table (a column null throughout says nothing of its kind: it counts as missing here), sampled at
the model's ``sampling_rate``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import numpy as np
import pyarrow as pa

from vigil.events import profiled_columns
from vigil.monitoring.retention import DAY, HOUR
from vigil.spec import ModelSpec

__all__ = ["Part", "data_columns", "window_parts"]


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


def window_parts(
    table: pa.Table,
    spec: ModelSpec,
    resolution: np.ndarray,
    columns: list[str],
    rng: np.random.Generator,
) -> Iterator[Part]:
    """``table``'s events by window: ``resolution`` is each event's (from ``placement``), ``columns`` the
    profiled ones (``data_columns``)."""
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
        part = table.take(pa.array(rows)) if len(keys) > 1 else table
        first = rows[0]
        data = part.select(columns)
        if spec.sampling_rate < 1.0:
            keep = rng.random(part.num_rows) < spec.sampling_rate
            data = data.filter(pa.array(keep))
        yield Part(str(names[version_codes[first]]), int(starts[first]), int(resolution[first]), part, data)
