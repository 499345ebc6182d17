"""Profile templates: what every window of a model is profiled like, so that all windows merge.

A column's kind and quantile-bucket mapping are fixed the first time it is seen (by the model's baseline,
else by the first batch that has it) and kept in the store under ``TEMPLATE_KEY``, so that the windows of
every writer, before and after restarts, line up with each other and with the baseline.
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa

from vigil.config import ModelSpec
from vigil.monitoring.baselines import declared_kinds
from vigil.stats.profile import Profile, profile
from vigil.store.base import Store

__all__ = ["TEMPLATE_KEY", "Templates"]

TEMPLATE_KEY = "template"
"""The store key of a model's profile template: the mapping every window's sketches share."""


class Templates:
    """Each model's template, read from the store once and kept. ``baselines(model)`` gives the profile of a
    model's baseline (or None), whose mapping a new template takes."""

    def __init__(self, store: Store, baselines: Callable[[str], Profile | None]) -> None:
        self.store = store
        self._baselines = baselines
        self._cache: dict[str, Profile] = {}

    def get(self, model: str) -> Profile | None:
        """The model's template; None before its first batch."""
        return self._cache.get(model) or self._load(model)

    def for_data(self, model: str, data: pa.Table, spec: ModelSpec) -> Profile:
        """The profile every window of ``model`` is built like, covering every column of ``data``.

        A column's kind and bucket mapping are fixed the first time it is seen (by the baseline, else the
        first batch that has it) and kept in the store, so that all windows, of every writer, merge."""
        template = self.get(model)
        if template is None:
            template = self._baselines(model)
            if template is None:  # no baseline: the first batch fixes the bucket mapping for good
                template = profile(data, kinds=declared_kinds(spec))
            template = template.empty_like()
            self.store.put_baseline(model, TEMPLATE_KEY, template.to_bytes())
            self._cache[model] = template
        if not set(data.column_names) <= template.columns.keys() | template.skipped.keys():
            saved = self._load(model)  # another writer may have fixed the new columns already
            if saved is not None:
                saved.columns = {**saved.columns, **template.columns}
                template = saved
            new = [c for c in data.column_names if c not in template.columns and c not in template.skipped]
            if new:
                fresh = profile(data.select(new), kinds=declared_kinds(spec))
                template.columns.update(fresh.empty_like().columns)
                template.skipped.update(fresh.skipped)
            self.store.put_baseline(model, TEMPLATE_KEY, template.to_bytes())
            self._cache[model] = template
        return template

    def _load(self, model: str) -> Profile | None:
        saved = self.store.baseline(model, TEMPLATE_KEY)
        if saved is None:
            return None
        self._cache[model] = Profile.from_bytes(saved)
        return self._cache[model]
