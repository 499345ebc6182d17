"""The result of comparing a current table with a reference: typed, and exported as JSON, HTML or text.

``Report.to_dict()`` is the JSON-ready form; the renderers in :mod:`vigil.reports` draw it.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vigil._version import __version__
from vigil.quality.base import Check
from vigil.reports.html import render_html
from vigil.reports.text import summary
from vigil.timefmt import format_time

__all__ = ["ColumnDrift", "Report"]


@dataclass(frozen=True)
class ColumnDrift:
    """The drift verdict for one column, with what is needed to explain and draw it."""

    column: str
    type: str
    method: str
    method_title: str
    statistic: float
    p_value: float | None
    p_value_adjusted: float | None
    alpha: float
    effect: float
    threshold: float
    threshold_source: str
    drift: bool
    error_bound: float | None = None
    note: str | None = None
    reference: dict[str, Any] = field(default_factory=dict)
    current: dict[str, Any] = field(default_factory=dict)
    distribution: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "column"}
        return dict(_clean(d))


@dataclass(frozen=True)
class Report:
    """Drift per column, dataset drift, and data-quality checks."""

    reference: dict[str, Any]
    current: dict[str, Any]
    settings: dict[str, Any]
    columns: dict[str, ColumnDrift]
    skipped: dict[str, str]
    quality: list[Check]
    multivariate: dict[str, Any] | None = None
    importance: dict[str, Any] | None = None
    """Which drift matters (:mod:`vigil.comparison.importance`): set when a column drifted and the
    reference holds the model's output."""
    generated_at: str = field(default_factory=lambda: format_time(time.time()))

    @property
    def n_tested(self) -> int:
        return len(self.columns)

    @property
    def drifted(self) -> list[str]:
        return [name for name, c in self.columns.items() if c.drift]

    @property
    def drift_share(self) -> float:
        return len(self.drifted) / self.n_tested if self.n_tested else 0.0

    @property
    def dataset_drift(self) -> bool:
        return self.n_tested > 0 and self.drift_share >= float(self.settings["drift_share"])

    @property
    def multivariate_drift(self) -> bool:
        """Whether a joint test (PCA reconstruction error, domain classifier) flagged the features."""
        return bool(self.multivariate and self.multivariate.get("drift"))

    @property
    def failed_checks(self) -> list[Check]:
        return [c for c in self.quality if c.status == "fail"]

    def to_dict(self) -> dict[str, Any]:
        return dict(
            _clean(
                {
                    "vigil_version": __version__,
                    "generated_at": self.generated_at,
                    "reference": self.reference,
                    "current": self.current,
                    "settings": self.settings,
                    "dataset_drift": self.dataset_drift,
                    "drift_share": self.drift_share,
                    "n_drifted": len(self.drifted),
                    "n_tested": self.n_tested,
                    "columns": {name: c.to_dict() for name, c in self.columns.items()},
                    "skipped": self.skipped,
                    "quality": [c.to_dict() for c in self.quality],
                    "multivariate": self.multivariate,
                    "importance": self.importance,
                }
            )
        )

    def to_json(self, indent: int | None = 2) -> str:
        """The report as JSON (strict: NaN and infinities become null)."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def to_html(self) -> str:
        """One self-contained HTML page (:func:`vigil.reports.html.render_html`)."""
        return render_html(self.to_dict())

    def to_text(self) -> str:
        """A plain-text summary for the terminal and CI logs (:func:`vigil.reports.text.summary`)."""
        return summary(self.to_dict())

    def save_json(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json(), encoding="utf-8")

    def save_html(self, path: str | Path) -> None:
        Path(path).write_text(self.to_html(), encoding="utf-8")


def _clean(value: Any) -> Any:
    """JSON-safe: numpy scalars to Python, NaN/inf to None, tuples to lists."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    try:
        f = float(value)
    except (TypeError, ValueError):
        return str(value)
    if isinstance(value, int) or (hasattr(value, "dtype") and value.dtype.kind in "iu"):
        return int(value)
    return f if math.isfinite(f) else None
