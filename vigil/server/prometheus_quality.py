"""Realised model quality on ``/metrics``: one gauge family per label metric of the catalogue, per model.

For each classification or regression model, the label metrics that apply to its task (accuracy, roc_auc,
ece, mae, r2, ..., ``label_coverage`` and ``labelled``) over the last ``QUALITY_RANGE`` seconds of its
windows, as ``Query.readings`` reads them (the same figures as ``GET /v1/models/{m}/metrics`` with one step
over that hour). Names: ``vigil_quality_<metric>`` with the base-unit suffix Prometheus expects
(``_ratio`` for shares 0–1, ``_seconds`` for the label lag), e.g. ``vigil_quality_roc_auc_ratio{model}``;
HELP is the catalogue's help. A metric without a value in the hour (no labels yet) has no series.

The hour's figures are cached for ``QUALITY_TTL`` seconds per model, so a scrape joins a model's
predictions with their labels at most that often.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from vigil.monitoring.catalogue import CATALOGUE
from vigil.server.services import Vigil
from vigil.spec import ModelSpec

__all__ = ["QUALITY_RANGE", "QUALITY_TTL", "QualityGauges", "gauge_name"]

QUALITY_RANGE = 3600.0
"""Seconds of the latest complete model windows behind the quality gauges."""
QUALITY_TTL = 30.0
"""Seconds a model's quality figures are reused before they are read again."""

log = logging.getLogger("vigil.prometheus")

_SUFFIX = {"ratio": "_ratio", "s": "_seconds"}


def gauge_name(metric: str) -> str:
    """The Prometheus name of a catalogue metric's gauge (``roc_auc``: ``vigil_quality_roc_auc_ratio``)."""
    return f"vigil_quality_{metric}{_SUFFIX.get(CATALOGUE[metric].unit, '')}"


def _names(task: str) -> list[str]:
    return [
        n
        for n, m in CATALOGUE.items()
        if (m.labels or m.band is not None) and (not m.tasks or task in m.tasks)
    ]


@dataclass
class QualityGauges:
    """The quality gauges of one server, and the figures kept between its scrapes."""

    vigil: Vigil
    failed: Callable[[], None]
    """Called when a model's figures cannot be read (they are left out of the scrape)."""
    kept: dict[str, tuple[float, dict[str, float]]] = field(default_factory=dict)

    def families(self, models: dict[str, ModelSpec], now: float) -> Iterable[Metric]:
        """The gauge families of every classification and regression model in ``models``."""
        families: dict[str, GaugeMetricFamily] = {}
        for model, spec in sorted(models.items()):
            if spec.task not in ("binary", "multiclass", "regression"):
                continue
            for name, value in self._figures(model, spec, now).items():
                if name not in families:
                    families[name] = GaugeMetricFamily(
                        gauge_name(name), f"{CATALOGUE[name].help}; last hour", labels=["model"]
                    )
                families[name].add_metric([model], value)
        for gone in set(self.kept) - set(models):
            del self.kept[gone]
        return [families[n] for n in CATALOGUE if n in families]

    def _figures(self, model: str, spec: ModelSpec, now: float) -> dict[str, float]:
        found = self.kept.get(model)
        if found is not None and time.monotonic() - found[0] < QUALITY_TTL:
            return found[1]
        res = spec.window.total_seconds()
        end = math.floor(now / res) * res
        try:
            got = self.vigil.query.readings(
                model, _names(spec.task), end - QUALITY_RANGE, end, QUALITY_RANGE, origin=end
            )
        except Exception:
            log.exception("could not compute the quality metrics of model %r for Prometheus; left out", model)
            self.failed()
            return {}
        values = {n: points[-1].value for n, points in got.items() if points}
        figures = {n: v for n, v in values.items() if v is not None}
        self.kept[model] = (time.monotonic(), figures)
        return figures
