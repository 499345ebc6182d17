"""Baselines: what a model's live data is compared with.

A baseline is a file (training or validation data), profiled once and kept in the store, or a production
time range merged from windows (``Query`` merges those). The file is read with the live tables' column
names, so that its profile lines up with the windows'.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from vigil.errors import InputError
from vigil.events import PREDICTION, SCORE, prediction_values, typed
from vigil.registry import Registry
from vigil.spec import ModelSpec
from vigil.stats.profile import Profile, profile
from vigil.store.base import Store
from vigil.tables import ColumnKind, read_table

__all__ = ["Baselines", "baseline_table", "declared_kinds"]


class Baselines:
    """A model's baseline profile: its baseline file profiled once (and kept in the store), or its
    production time range merged from windows."""

    def __init__(self, registry: Registry, store: Store, root: Path | None = None) -> None:
        self.registry = registry
        self.store = store
        self.root = root or Path.cwd()
        self._cache: dict[str, Profile] = {}

    def file_profile(self, model: str) -> Profile | None:
        """The profile of the model's baseline file, or None when it has none (or a time range)."""
        spec = self.registry.get(model)
        if spec is None or spec.baseline is None or spec.baseline.file is None:
            return None
        path = Path(spec.baseline.file)
        path = path if path.is_absolute() else self.root / path
        key = f"file:{path}:{path.stat().st_mtime_ns if path.exists() else 0}"
        if key in self._cache:
            return self._cache[key]
        saved = self.store.baseline(model, key)
        if saved is not None:
            self._cache[key] = Profile.from_bytes(saved)
            return self._cache[key]
        if not path.exists():
            raise InputError(f"baseline file of model {model!r} not found: {path}")
        result = profile(baseline_table(path, spec), kinds=declared_kinds(spec))
        self.store.put_baseline(model, key, result.to_bytes())
        self._cache[key] = result
        return result


def baseline_table(path: Path, spec: ModelSpec) -> pa.Table:
    """A baseline file (training or validation data) with the live tables' column names: features as they
    are, ``prediction`` and ``score`` as ``@prediction`` and ``@score``; PII, ids and timestamps left out."""
    table = read_table(path, what=f"baseline of {spec.description or 'the model'}")
    skip = {n for n, s in spec.features.items() if s.role in ("pii", "id", "timestamp") or s.ignore}
    columns: dict[str, pa.Array | pa.ChunkedArray] = {}
    for name in table.column_names:
        if name in skip:
            continue
        column = table.column(name)
        if name == "prediction":
            columns[PREDICTION] = prediction_values(pa.table({"prediction": column}), spec.task)
        elif name == "score":
            columns[SCORE] = column.cast(pa.float64())
        else:
            declared = spec.features.get(name)
            columns[name] = typed(column, declared.type) if declared and declared.type else column
    return pa.table(columns)


def declared_kinds(spec: ModelSpec) -> dict[str, ColumnKind]:
    """The kinds the model declares for its features (numeric or categorical), to profile them so."""
    return {n: s.type for n, s in spec.features.items() if s.type in ("numeric", "categorical")}
