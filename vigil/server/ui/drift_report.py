"""What the reports page asks for, read from its URL, and the drift report that answers it: one model's
current range (the page's time range) against its baseline (``Query.drift``, as ``GET
/v1/models/{m}/drift``) or against a reference range (``Query.compare``: two ranges of its own traffic).

Parameters: ``model`` (default: the first model with a baseline, else the first), ``against``
(``baseline`` or ``range``; default the baseline when the model has one), ``ref_from`` and ``ref_to`` (the
reference range; default the period of the same length just before the current range), and the page's
``range`` or ``from``/``to``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlencode

from vigil.comparison.report import Report
from vigil.errors import InputError
from vigil.monitoring.query import Query
from vigil.registry import Registry
from vigil.server.ui.timerange import TimeRange
from vigil.server.wire import iso, parse_time

__all__ = ["ReportAsk", "ask_of", "build"]

Against = Literal["baseline", "range"]


@dataclass(frozen=True)
class ReportAsk:
    """One report asked for."""

    model: str
    against: Against
    current: TimeRange
    reference: tuple[float, float]
    has_baseline: bool
    problem: str | None = None
    """Why a parameter given was not used (the default was), in words."""

    def params(self) -> dict[str, str]:
        """The report as absolute query parameters: a download gives what the page showed."""
        out = {"model": self.model, "against": self.against, "from": iso(self.current.start)}
        out["to"] = iso(self.current.end)
        if self.against == "range":
            out["ref_from"], out["ref_to"] = iso(self.reference[0]), iso(self.reference[1])
        return out

    def link(self, path: str) -> str:
        return f"{path}?{urlencode(self.params())}"

    def label(self) -> str:
        if self.against == "baseline":
            return f"{self.model}: {self.current.label()} against the baseline"
        return f"{self.model}: {self.current.label()} against {_label(self.reference)}"

    def file_name(self, ext: str) -> str:
        stamp = iso(self.current.start)[:16].replace(":", "")
        return f"vigil-drift-{self.model}-{stamp}.{ext}"


def _label(r: tuple[float, float]) -> str:
    a, b = iso(r[0]), iso(r[1])
    return f"{a[:16].replace('T', ' ')} to {b[:16].replace('T', ' ')} UTC"


def ask_of(params: Mapping[str, str], registry: Registry, current: TimeRange) -> ReportAsk | None:
    """The report ``params`` ask for; None when no model is registered."""
    names = registry.names()
    if not names:
        return None
    problems = []
    with_baseline = [n for n in names if (s := registry.get(n)) is not None and s.baseline is not None]
    model = params.get("model", "") or (with_baseline or names)[0]
    if model not in names:
        problems.append(f"no model named {model!r}; showing {names[0]}")
        model = names[0]
    spec = registry.get(model)
    has_baseline = spec is not None and spec.baseline is not None
    given = params.get("against", "")
    against: Against = "baseline" if has_baseline else "range"
    if given == "range":
        against = "range"
    elif given == "baseline" and not has_baseline:
        problems.append(f"{model} has no baseline; comparing with the previous period instead")
    length = current.span
    reference = (current.start - length, current.start)
    if params.get("ref_from") or params.get("ref_to"):
        try:
            b = parse_time(params["ref_to"]) if params.get("ref_to") else current.start
            a = parse_time(params["ref_from"]) if params.get("ref_from") else b - length
            if not a < b:
                raise InputError("the reference range must start before it ends")
            reference = (a, b)
        except InputError as exc:
            problems.append(f"reference range: {exc}; using the period before the current range")
    return ReportAsk(model, against, current, reference, has_baseline, "; ".join(problems) or None)


def build(query: Query, ask: ReportAsk) -> Report:
    """The drift report of ``ask``; ``InputError`` saying why there is none (no baseline, no events)."""
    start, end = ask.current.start, ask.current.end
    if ask.against == "baseline":
        return query.drift(ask.model, start, end)
    labels = (f"reference: {_label(ask.reference)}", f"current: {_label((start, end))}")
    return query.compare(ask.model, ask.reference, (start, end), labels=labels)
