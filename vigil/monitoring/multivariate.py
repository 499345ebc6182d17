"""Live multivariate drift: the PCA reconstruction error of a range's sampled events against the model's
baseline file (:mod:`vigil.drift.multivariate.reconstruction`), read as the metrics ``reconstruction_error``
and ``multivariate_drift``.

The principal components and the threshold band are fitted once per baseline file (cached by its path and
modification time, about a second per million rows). A range's rows are the raw events its windows keep
(``sample_size`` per window, 100 by default): every window contributes its own sample, so quiet and busy
windows weigh the same. With fewer than ``MIN_ROWS`` sampled events the metrics have no value: below that
the band is too wide to catch anything but gross changes (at 100 rows, a mean error must move by about 30%
of its spread; raise ``sample_size`` for finer ranges). The threshold scales with the number of rows read,
so the false-alarm rate stays at the method's 0.27% per step whatever the range.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from vigil.drift.multivariate import Encoder, MultivariateOutcome, Reconstruction
from vigil.events import PREDICTION, SCORE, SEGMENT_PREFIX, SERVICE_COLUMNS
from vigil.monitoring.baselines import Baselines, baseline_table
from vigil.monitoring.window import WindowState

__all__ = ["MIN_ROWS", "JointBaselines"]

MIN_ROWS = 100
"""Fewest sampled events a step needs for a joint verdict."""


@dataclass(frozen=True)
class _Fitted:
    encoder: Encoder
    model: Reconstruction


class JointBaselines:
    """Each model's baseline file fitted for the reconstruction error, kept while the file is unchanged."""

    def __init__(self, baselines: Baselines) -> None:
        self.baselines = baselines
        self._fitted: dict[str, _Fitted | None] = {}
        self._lock = threading.Lock()

    def step(
        self,
        windows: Callable[[str, float, float, str | None], Mapping[Any, WindowState]],
        model: str,
        start: float,
        end: float,
        version: str | None,
    ) -> MultivariateOutcome | None:
        """The sampled events of every window ``windows`` (``Query.windows``) gives for ``[start, end)``,
        jointly against the baseline file; the windows are not read when the model has no baseline file."""
        if self.baselines.file_path(model) is None:
            return None
        states = windows(model, start, end, version).values()
        return self.outcome(model, (orjson.loads(raw) for state in states for _, raw in state.sample))

    def outcome(self, model: str, rows: Iterable[Mapping[str, Any]]) -> MultivariateOutcome | None:
        """The verdict for ``rows`` (raw events, as the windows sample them); None without a baseline file
        or with fewer than ``MIN_ROWS`` rows."""
        events = list(rows)
        if len(events) < MIN_ROWS:
            return None
        fitted = self._fit(model)
        if fitted is None:
            return None
        enc = fitted.encoder
        numeric = {n: np.array([_number(r.get(n)) for r in events], dtype=np.float64) for n in enc.numeric}
        categorical = {n: np.array([_text(r.get(n)) for r in events], dtype=object) for n in enc.categorical}
        return fitted.model.test(enc.transform(numeric, categorical))

    def _fit(self, model: str) -> _Fitted | None:
        path = self.baselines.file_path(model)
        spec = self.baselines.registry.get(model)
        if path is None or spec is None or not path.exists():
            return None
        key = f"{model}:{path}:{path.stat().st_mtime_ns}"
        with self._lock:
            if key not in self._fitted:
                self._fitted[key] = _fitted(baseline_table(path, spec))
            return self._fitted[key]


def _fitted(table: pa.Table) -> _Fitted | None:
    skip = {PREDICTION, SCORE, "label", *SERVICE_COLUMNS}
    names = [n for n in table.column_names if n not in skip and not n.startswith(SEGMENT_PREFIX)]
    numeric, categorical = {}, {}
    for name in names:
        column = table.column(name)
        if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
            numeric[name] = pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False)
        else:
            categorical[name] = pc.cast(column, pa.string()).to_numpy(zero_copy_only=False)
    if not names or table.num_rows < 100:
        return None
    encoder, x = Encoder.fit_transform(numeric, categorical)
    return _Fitted(encoder, Reconstruction(x))


def _number(value: Any) -> float:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(value) if value is not None else np.nan
    except (TypeError, ValueError):
        return np.nan


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
