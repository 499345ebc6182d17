"""Live text descriptors: a model's ``type: text`` features watched through numbers, as files are
(``vigil.stats.text``).

Each text feature ``answer`` gains the numeric columns ``answer.length``, ``answer.tokens``,
``answer.empty`` and ``answer.oov`` in every window's profile, worked out over the whole batch as it is
folded. The baseline file gets the same columns when profiled (``baseline_descriptors``), and its
vocabulary (the most frequent words of its even rows, its own ``oov`` measured on its odd rows) is kept in
its profile and handed to every window through the model's template, so that live ``oov`` is the share of
words the baseline's vocabulary lacks. The descriptor columns are compared with the baseline like any
numeric column, so they take part in ``drift_share`` and read as ``drift:answer.length``.

Metrics: ``text_length:<feature>``, ``text_empty:<feature>``, ``text_oov:<feature>`` (means of the
step's descriptor columns) and ``text_drift:<feature>`` (1 when any of the feature's descriptors drifted
against the baseline). The module imports nothing heavy until a table is described.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from vigil.monitoring.metric import Metric, Step

if TYPE_CHECKING:
    import pyarrow as pa

    from vigil.spec import ModelSpec

__all__ = ["TEXT", "baseline_descriptors", "text_features", "with_descriptors"]

_KEYS = ("length", "tokens", "empty", "oov")
"""The descriptors (``vigil.stats.text.DESCRIPTORS``), named here so that reading a metric name needs no
numpy."""


def text_features(spec: ModelSpec) -> list[str]:
    """The model's features declared ``type: text`` (not ignored, not PII or ids)."""
    return [
        n
        for n, s in spec.features.items()
        if s.type == "text" and not s.ignore and s.role not in ("pii", "id", "timestamp")
    ]


def with_descriptors(data: pa.Table, spec: ModelSpec, vocabularies: Mapping[str, frozenset[str]]) -> pa.Table:
    """``data`` with the descriptor columns of each of the model's text features it holds appended;
    ``oov`` against ``vocabularies[feature]`` (null throughout without one)."""
    from vigil.stats.text import descriptor_table

    for name in text_features(spec):
        if name not in data.column_names:
            continue
        described = descriptor_table(name, data.column(name), vocabularies.get(name))
        for column in described.column_names:
            data = data.append_column(column, described.column(column))
    return data


def baseline_descriptors(table: pa.Table, spec: ModelSpec) -> tuple[pa.Table, dict[str, frozenset[str]]]:
    """A baseline table with its text features' descriptor columns appended, and their vocabularies."""
    from vigil.stats.text import reference_descriptors

    vocabularies: dict[str, frozenset[str]] = {}
    for name in text_features(spec):
        if name not in table.column_names:
            continue
        described, vocabularies[name] = reference_descriptors(name, table.column(name))
        for column in described.column_names:
            table = table.append_column(column, described.column(column))
    return table, vocabularies


def _mean(key: str) -> Callable[[Step, str | None], float | None]:
    def compute(step: Step, feature: str | None) -> float | None:
        if step.window is None or not feature:
            return None
        column = step.window.profile.columns.get(f"{feature}.{key}")
        moments = getattr(column, "moments", None)
        if moments is None or moments.count == 0:
            return None
        return float(moments.mean)

    return compute


def _drifted(step: Step, feature: str | None) -> float | None:
    drift = step.drift()
    if drift is None or not feature:
        return None
    compared = [f"{feature}.{k}" for k in _KEYS if f"{feature}.{k}" in drift.effects]
    if not compared:
        return None
    return float(any(c in drift.drifted for c in compared))


TEXT: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric(
            "text_length",
            "mean characters per value of a text feature (nulls left out)",
            "characters",
            "window",
            _mean("length"),
        ),
        Metric(
            "text_empty",
            "share of a text feature's values that are empty or blank (nulls left out)",
            "ratio",
            "window",
            _mean("empty"),
        ),
        Metric(
            "text_oov",
            "mean share of a text value's words outside the baseline file's vocabulary (values with words)",
            "ratio",
            "window",
            _mean("oov"),
        ),
        Metric(
            "text_drift",
            "1 when a text feature's length, words, empty share or out-of-vocabulary share drifted against "
            "the baseline file, else 0",
            "ratio",
            "drift",
            _drifted,
        ),
    )
}
"""Metrics of one text feature, read as ``name:<feature>``."""
