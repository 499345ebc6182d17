"""Each binary model's performance estimator, fitted on its baseline's labelled scores, for the estimated
metrics (``estimated_*``) and the concept-shift check of the live catalogue.

The reference is the model's baseline: a baseline file with ``score`` and ``label`` columns (the label
``1`` is the positive class, as the live path reads it), or a time-range baseline (``baseline: {from:,
to:}``, or a file's ``predictions: {from:, to:}``), whose labelled predictions in the prediction log are the
reference. The fitted estimator (a few KB of calibration knots) is kept in the store beside the baseline
profiles, so a range baseline whose predictions were pruned since still has one. Without such a reference
a model has no estimator, and its estimated metrics read no value; ``problem`` says why.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from vigil.errors import InputError
from vigil.monitoring.baselines import Baselines
from vigil.monitoring.predictions import Joined, numbers
from vigil.performance.estimation import Band, Estimator, realised
from vigil.registry import Registry
from vigil.store.base import Store
from vigil.tables import read_table

__all__ = ["MIN_REFERENCE", "Estimators", "against_labels", "positive_rows"]

log = logging.getLogger("vigil.estimates")

MIN_REFERENCE = 200
"""Fewest labelled, scored rows a reference needs (with both classes) to fit an estimator."""


def positive_rows(rows: Joined) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The rows of ``rows`` with a score in ``[0, 1]`` and a prediction: their scores, predictions as 0/1
    (class ``1`` or not), labels as 0/1 (-1 while unlabelled), and the boolean mask of those rows."""
    ok = rows.has_score & rows.predicted & (rows.score >= 0) & (rows.score <= 1)
    scores = rows.score[ok]
    predictions = (rows.prediction[ok] == rows.positive).astype(np.int64)
    labelled = rows.labelled[ok]
    labels = np.where(labelled, (rows.label[ok] == rows.positive).astype(np.int64), -1)
    return scores, predictions, labels, ok


def against_labels(estimator: Estimator, rows: Joined) -> tuple[dict[str, Band], dict[str, float]] | None:
    """The estimate and the realised figures over the labelled, scored rows of ``rows`` (what the
    concept-shift check compares); None without such rows."""
    scores, predictions, labels, _ = positive_rows(rows)
    done = labels >= 0
    if not done.any():
        return None
    s, p, y = scores[done], predictions[done], labels[done]
    return estimator.estimate(s, p), realised(s, y, p)


@dataclass
class Estimators:
    """Fitted estimators by model, built on first use from the model's baseline and kept in the store."""

    registry: Registry
    store: Store
    baselines: Baselines
    joined: Callable[[str, float, float], Joined]
    """The prediction log joined with its labels over a range (``Query.joined``)."""
    _cache: dict[str, tuple[str, Estimator | None, str | None]] = field(default_factory=dict)

    def get(self, model: str) -> Estimator | None:
        """The model's estimator, or None (``problem`` says why)."""
        return self._entry(model)[1]

    def problem(self, model: str) -> str | None:
        """Why the model has no estimator, as a sentence; None when it has one."""
        return self._entry(model)[2]

    def _entry(self, model: str) -> tuple[str, Estimator | None, str | None]:
        key = self._key(model)
        cached = self._cache.get(model)
        if cached is not None and cached[0] == key:
            return cached
        entry = (key, *self._build(model, key))
        self._cache[model] = entry
        if entry[2] is not None and key != "none" and entry[2].startswith(("cannot", "the baseline")):
            log.warning("performance of %s cannot be estimated: %s", model, entry[2])
        return entry

    def _key(self, model: str) -> str:
        spec = self.registry.get(model)
        if spec is None or spec.baseline is None:
            return "none"
        b = spec.baseline
        window = b.predictions if b.file is not None else b
        if window is not None and window.start is not None and window.end is not None:
            return f"estimator:range:{window.start.timestamp():.0f}-{window.end.timestamp():.0f}"
        return f"estimator:file:{self.baselines.file_digest(model)}"

    def _build(self, model: str, key: str) -> tuple[Estimator | None, str | None]:
        spec = self.registry.get(model)
        if spec is None or spec.task != "binary":
            return None, "performance is estimated for binary models (one score: the probability of class 1)"
        if key == "none":
            return None, "no baseline: declare one with labelled scores (a file with score and label columns)"
        saved = self.store.baseline(model, key)
        if saved is not None:
            return Estimator.from_bytes(saved), None
        try:
            scores, labels = self._reference(model, key)
        except (InputError, OSError) as exc:
            return None, f"cannot read the baseline's labelled scores: {exc}"
        n = len(scores)
        if n < MIN_REFERENCE or len(np.unique(labels)) < 2:
            return None, (
                f"the baseline has {n} labelled, scored rows ({len(np.unique(labels))} class(es)); "
                f"estimation needs at least {MIN_REFERENCE} of both classes"
            )
        estimator = Estimator.fit(scores, labels)
        self.store.put_baseline(model, key, estimator.to_bytes())
        log.info("fitted the performance estimator of %s on %d labelled rows of its baseline", model, n)
        return estimator, None

    def _reference(self, model: str, key: str) -> tuple[np.ndarray, np.ndarray]:
        if key.startswith("estimator:range:"):
            start, end = (float(t) for t in key.removeprefix("estimator:range:").split("-"))
            scores, _, labels, _ = positive_rows(self.joined(model, start, end))
            return scores[labels >= 0], labels[labels >= 0]
        spec = self.registry.get(model)
        assert spec is not None and spec.baseline is not None and spec.baseline.file is not None
        found = self.baselines.file_path(model)
        if found is None:
            raise InputError("the model has no baseline file")
        table = read_table(found, what="baseline")
        missing = [c for c in ("score", "label") if c not in table.column_names]
        if missing:
            raise InputError(f"the baseline file has no {' and no '.join(missing)} column")
        score, ok_score = numbers(_text(table.column("score")))
        label, ok_label = numbers(_text(table.column("label")))
        keep = ok_score & ok_label & (score >= 0) & (score <= 1)
        return score[keep], (label[keep] == 1).astype(np.int64)


def _text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A column as text the way the live path reads labels (``True`` as ``1``)."""
    if pa.types.is_boolean(column.type):
        column = column.cast(pa.int8())
    return column.cast(pa.string())
