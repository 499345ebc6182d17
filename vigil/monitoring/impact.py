"""Which live drift matters: a range's drifted features ranked by their importance to the model times how
far past its threshold each drifted (:mod:`vigil.comparison.importance`), said in sentences for alerts.

Importance is measured on the model's baseline file: each feature's share of the mutual information with
the model's own output there (its ``score`` column, else its ``prediction``), worked out once per file
(cached by path and modification time; a second or two on 5,000 rows) and only when a drift alert asks.
Text and embedding features are left out (no mutual information with raw text or vectors), and so are
models without a baseline file or without an output column in it: their alerts say nothing more.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from vigil.comparison.importance import importance, rank, sentence
from vigil.comparison.report import ColumnDrift, Report
from vigil.errors import InputError
from vigil.events import PREDICTION, SCORE, SEGMENT_PREFIX
from vigil.monitoring.baselines import Baselines, baseline_table
from vigil.monitoring.texts import text_features

__all__ = ["MOST", "Impact"]

log = logging.getLogger("vigil.impact")

MOST = 3
"""Sentences an alert carries at most (the drifted features that matter most)."""

_Shares = tuple[str, dict[str, float]]
"""(the output's name in words, each feature's share)."""


class Impact:
    """Each model's baseline file's importance shares, kept while the file is unchanged; ``report`` gives
    a range's drift report (``Query.drift``)."""

    def __init__(
        self, baselines: Baselines, report: Callable[[str, float, float, str | None], Report]
    ) -> None:
        self.baselines = baselines
        self.report = report
        self._shares: dict[str, _Shares | None] = {}
        self._lock = threading.Lock()

    def drift_matters(self, model: str, start: float, end: float, version: str | None = None) -> list[str]:
        """The drifted features of ``[start, end)`` that matter most, in sentences (at most ``MOST``):
        "income drifted (4.2× its threshold) and carries 60% of the features' information about score".
        Empty when nothing drifted, or without a baseline file with the model's output, or without events."""
        try:
            if self._of(model) is None:
                return []
            return self.sentences(model, self.report(model, start, end, version).columns)
        except InputError:  # no baseline, no events in the range
            return []
        except Exception:  # the alert goes out without it; alerting goes on
            log.exception("cannot say which drift of %s matters", model)
            return []

    def ranked(self, model: str, columns: Mapping[str, ColumnDrift]) -> list[dict[str, Any]]:
        """The drifted ``columns`` (a drift report's, in the user's words) that the baseline file's
        importance knows, ranked (``importance.rank``); empty without a baseline file or an output."""
        found = self._of(model)
        return [] if found is None else rank(found[1], columns)

    def sentences(self, model: str, columns: Mapping[str, ColumnDrift], most: int = MOST) -> list[str]:
        """``ranked`` in words, the ``most`` that matter most first."""
        found = self._of(model)
        if found is None:
            return []
        return [sentence(r, found[0]) for r in rank(found[1], columns)[:most]]

    def _of(self, model: str) -> _Shares | None:
        path = self.baselines.file_path(model)
        spec = self.baselines.registry.get(model)
        if path is None or spec is None or not path.exists():
            return None
        key = f"{model}:{path}:{path.stat().st_mtime_ns}"
        with self._lock:
            if key in self._shares:
                return self._shares[key]
        profile = self.baselines.file_profile(model)
        table = baseline_table(path, spec)
        output = SCORE if SCORE in table.column_names else PREDICTION
        skip = {PREDICTION, SCORE, "label", *text_features(spec)}
        features = [n for n in table.column_names if n not in skip and not n.startswith(SEGMENT_PREFIX)]
        found = None
        if profile is not None and output in table.column_names:
            measured = importance(table, profile, features, output)
            if measured is not None:
                found = ("score" if output == SCORE else "prediction", measured[0])
        with self._lock:
            self._shares[key] = found
        return found
