"""Profile templates: the bucket mapping every window of a model shares, so that all windows merge.

A column's kind and bucket mapping are fixed the first time it is seen (by the baseline, else the first
batch that has it) and kept in the store under ``TEMPLATE_KEY``, so that the windows of every writer, and
of every restart, merge exactly. The baseline's text vocabularies go with it: live out-of-vocabulary shares
are measured against them (``vocabularies``).
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa

from vigil.spec import ModelSpec
from vigil.stats.profile import Profile, profile
from vigil.store.base import Store
from vigil.tables import ColumnKind

__all__ = ["TEMPLATE_KEY", "Templates"]

TEMPLATE_KEY = "template"
"""The store key of a model's profile template."""


class Templates:
    """The templates of every model, read from ``store`` once and kept. ``baselines(model)`` gives the
    profile of a model's baseline (None when it has none): its mapping is the one windows start with."""

    def __init__(self, store: Store, baselines: Callable[[str], Profile | None]) -> None:
        self._store = store
        self._baselines = baselines
        self._known: dict[str, Profile] = {}

    def get(self, model: str) -> Profile | None:
        return self._known.get(model) or self._load(model)

    def covering(self, model: str, data: pa.Table, spec: ModelSpec) -> Profile:
        """The template of ``model``, extended (and saved) to cover every column of ``data``."""
        template = self.get(model)
        if template is None:
            template = self._baselines(model)
            if template is None:  # no baseline: the first batch fixes the bucket mapping for good
                template = profile(data, kinds=_kinds(spec))
            vocabularies = template.vocabularies
            template = template.empty_like()
            template.vocabularies = dict(vocabularies)
            self._store.put_baseline(model, TEMPLATE_KEY, template.to_bytes())
            self._known[model] = template
        if not set(data.column_names) <= template.columns.keys() | template.skipped.keys():
            saved = self._load(model)  # another writer may have fixed the new columns already
            if saved is not None:
                saved.columns = {**saved.columns, **template.columns}
                saved.vocabularies = {**template.vocabularies, **saved.vocabularies}
                template = saved
            new = [c for c in data.column_names if c not in template.columns and c not in template.skipped]
            if new:
                # the baseline's mapping where it has the column (a template fixed before it had it)
                baseline = self._baselines(model)
                if baseline is not None:
                    template.columns.update(
                        baseline.empty_like([c for c in new if c in baseline.columns]).columns
                    )
                    new = [c for c in new if c not in template.columns]
            if new:
                fresh = profile(data.select(new), kinds=_kinds(spec))
                template.columns.update(fresh.empty_like().columns)
                template.skipped.update(fresh.skipped)
            self._store.put_baseline(model, TEMPLATE_KEY, template.to_bytes())
            self._known[model] = template
        return template

    def vocabularies(self, model: str) -> dict[str, frozenset[str]]:
        """The vocabularies of the model's text features that live text is measured against: the
        template's, else (no template yet, or one fixed before the baseline had any) the baseline's."""
        template = self.get(model)
        if template is not None and template.vocabularies:
            return template.vocabularies
        baseline = self._baselines(model)
        return baseline.vocabularies if baseline is not None else {}

    def _load(self, model: str) -> Profile | None:
        saved = self._store.baseline(model, TEMPLATE_KEY)
        if saved is None:
            return None
        self._known[model] = Profile.from_bytes(saved)
        return self._known[model]


def _kinds(spec: ModelSpec) -> dict[str, ColumnKind]:
    """The declared kinds of a model's features (numbers or categories), where declared."""
    kinds: dict[str, ColumnKind] = {}
    for name, s in spec.features.items():
        if s.type == "numeric" or s.type == "categorical":
            kinds[name] = s.type
    return kinds
