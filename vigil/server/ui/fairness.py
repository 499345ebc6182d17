"""For whom a model does worse, for its page: the fairness figures of each protected attribute and the worst
slices over its declared segments, over the page's range, as ``/v1/models/{m}/fairness`` and ``/slices``
answer them with their defaults."""

from __future__ import annotations

from dataclasses import dataclass

from vigil.monitoring import fairness as figures
from vigil.monitoring.query import Query
from vigil.performance.fairness import Fairness
from vigil.performance.slices import Search, Slice
from vigil.server.ui.timerange import TimeRange
from vigil.spec import ModelSpec

__all__ = ["WhoFaresWorse", "who_fares_worse"]

SLICE_ROWS = 10
"""Most worst slices the page lists."""


@dataclass(frozen=True)
class WhoFaresWorse:
    fairness: dict[str, Fairness]
    """Per protected attribute (empty unless the model declares ``fairness.protected``)."""
    slices: Search | None
    """The worst-slice search (None for an LLM, or without labelled rows)."""
    labelled: int

    @property
    def worst(self) -> list[Slice]:
        return list(self.slices.worse[:SLICE_ROWS]) if self.slices is not None else []


def who_fares_worse(query: Query, name: str, spec: ModelSpec, span: TimeRange) -> WhoFaresWorse | None:
    """The page's fairness and slice block; None when the model has neither segments nor fairness, or is an
    LLM (nothing to compare against labels)."""
    if spec.task == "llm" or (not spec.segments and spec.fairness is None):
        return None
    rows = query.joined(name, span.start, span.end)
    labelled = int(rows.labelled.sum())
    found = {}
    if spec.fairness is not None and spec.task == "binary":
        found = {a: figures.fairness_of(rows, a, spec.fairness.min_group) for a in spec.fairness.protected}
    search = None
    if labelled:
        metric = "error" if spec.task == "regression" else "accuracy"
        search = figures.worst_slices(rows, spec.task, list(spec.segments), metric)
    return WhoFaresWorse(found, search, labelled)
