"""Baselines: what a model's live data is compared with.

A baseline is a file (training or validation data), profiled once (with its text features' descriptors
and vocabularies, ``vigil.monitoring.texts``) and kept in the store, or a production
time range merged from windows (``Query`` merges those). The file is read with the live tables' column
names, so that its profile lines up with the windows'.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow as pa

from vigil.errors import InputError
from vigil.events import PREDICTION, SCORE, prediction_values, typed
from vigil.monitoring.texts import baseline_descriptors
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
        self._digests: dict[str, str] = {}

    def file_profile(self, model: str) -> Profile | None:
        """The profile of the model's baseline file, or None when it has none (or a time range)."""
        found = self._file(model)
        if found is None:
            return None
        key, path, spec = found
        if key in self._cache:
            return self._cache[key]
        saved = self.store.baseline(model, key)
        if saved is not None:
            self._cache[key] = Profile.from_bytes(saved)
            self._digests[key] = _digest(saved)
            return self._cache[key]
        if not path.exists():
            raise InputError(f"baseline file of model {model!r} not found: {path}")
        table, vocabularies = baseline_descriptors(baseline_table(path, spec), spec)
        result = profile(table, kinds=declared_kinds(spec))
        result.vocabularies = vocabularies
        data = result.to_bytes()
        self.store.put_baseline(model, key, data)
        self._cache[key] = result
        self._digests[key] = _digest(data)
        return result

    def file_digest(self, model: str) -> str | None:
        """A digest of the model's baseline file's profile as kept (what drift kept for later is checked
        against), without decoding it when it was kept before; None when the model has no baseline file."""
        found = self._file(model)
        if found is None:
            return None
        key = found[0]
        if key not in self._digests:
            saved = self.store.baseline(model, key)
            if saved is None:
                self.file_profile(model)  # profiled and kept now
            else:
                self._digests[key] = _digest(saved)
        return self._digests[key]

    def file_path(self, model: str) -> Path | None:
        """Where the model's baseline file is, or None when it has none."""
        found = self._file(model)
        return None if found is None else found[1]

    def _file(self, model: str) -> tuple[str, Path, ModelSpec] | None:
        """The key the model's baseline file's profile is kept under (its path and modification time)."""
        spec = self.registry.get(model)
        if spec is None or spec.baseline is None or spec.baseline.file is None:
            return None
        path = Path(spec.baseline.file)
        path = path if path.is_absolute() else self.root / path
        mtime = path.stat().st_mtime_ns if path.exists() else 0
        return f"file:{path}:{mtime}:{_PROFILED}", path, spec


_PROFILED = 2
"""How a baseline file is profiled, part of the key its profile is kept under: 2 added the text features'
descriptors and vocabularies, so a profile kept before is made again."""


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=12).hexdigest()


def baseline_table(path: Path, spec: ModelSpec) -> pa.Table:
    """A baseline file (training or validation data) with the live tables' column names: features as they
    are, ``prediction`` and ``score`` as ``@prediction`` and ``@score``; PII, ids and timestamps left out,
    and ``label`` (the ground truth the performance estimator is fitted on, not a feature)."""
    table = read_table(path, what=f"baseline of {spec.description or 'the model'}")
    skip = {n for n, s in spec.features.items() if s.role in ("pii", "id", "timestamp") or s.ignore}
    if "label" not in spec.features:
        skip.add("label")
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
