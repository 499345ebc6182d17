"""Live metrics for any range: merge the windows that fall in it, then read them.

Windows come from the store (every writer's saved rows) and, for this process, from the aggregator's
memory (newer than what it last saved). A range is merged window by window; the merged state gives
service, LLM, data-quality and drift metrics; label-based metrics come from the prediction–label join.

**Segments.** Windows are per model and version, not per segment, but the prediction log keeps each
prediction's segment tags, so the metrics computed from the prediction–label join (``SEGMENT_METRICS``)
can be read for one segment: ``series(..., segment={"region": "eu"})`` (or ``"region=eu"``) keeps the
joined rows whose tags include every ``key=value`` given (values compared as text: ``True`` is ``"1"``,
``3.0`` is ``"3"``). With a segment, ``score_mean`` and ``prediction_mean`` are means over those rows (the
predictions sent with a request id), not over the windows' profiles. Other metrics refuse a segment.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from vigil.comparison import compare_profiles
from vigil.config import VigilConfig
from vigil.errors import InputError
from vigil.ingest.batch import SERVICE_COLUMNS, baseline_table, from_ipc
from vigil.monitoring.aggregator import Aggregator, WindowKey
from vigil.monitoring.retention import choose_rows
from vigil.monitoring.window import PREDICTION, SCORE, SEGMENT_PREFIX, WindowState
from vigil.registry import Registry
from vigil.reports.model import Report
from vigil.spec import ModelSpec
from vigil.stats.column import CategoricalProfile, NumericProfile
from vigil.stats.profile import Profile, profile
from vigil.store.base import Store

__all__ = [
    "METRICS",
    "SEGMENT_METRICS",
    "Baselines",
    "JoinedRow",
    "Query",
    "Segment",
    "parse_segment",
    "segment_text",
]

METRICS: dict[str, str] = {
    "events": "events in the step",
    "throughput": "events per second",
    "errors": "failed requests",
    "error_rate": "share of requests that failed",
    "latency_p50": "median latency, ms (1% relative error)",
    "latency_p95": "95th percentile latency, ms",
    "latency_p99": "99th percentile latency, ms",
    "latency_mean": "mean latency, ms",
    "score_mean": "mean score (positive-class probability)",
    "prediction_mean": "mean prediction (regression); share of predictions of class 1 (binary)",
    "tokens_in": "input tokens",
    "tokens_out": "output tokens",
    "cost": "cost, USD",
    "cost_per_prediction": "mean cost of one prediction, USD",
    "tokens_per_prediction": "mean tokens (in + out) per prediction",
    "null_rate": "share of nulls over all features",
    "drift_share": "share of features drifted against the baseline",
    "predictions": "predictions in the prediction log (sent with a request id; first per id)",
    "accuracy": "share of labelled predictions that were right (classification)",
    "precision": "labelled predictions of class 1 that were right (binary)",
    "recall": "labelled cases of class 1 that were predicted 1 (binary)",
    "f1": "harmonic mean of precision and recall (binary)",
    "mae": "mean absolute error of labelled predictions (regression)",
    "rmse": "root mean squared error of labelled predictions (regression)",
    "label_coverage": "share of predictions with a label so far",
    "label_lag_p50": "median delay from prediction to label, seconds",
    "host_cpu_percent": "mean CPU use of the hosts serving the model (SDK readings), percent",
    "host_memory_percent": "mean memory use of those hosts, percent",
    "host_gpu_percent": "mean GPU utilisation of those hosts, percent (NVIDIA only)",
    "host_gpu_memory_percent": "mean GPU memory use of those hosts, percent (NVIDIA only)",
}
"""Metric names ``series`` knows, besides ``drift:<feature>`` and ``null_rate:<feature>``."""
_LABEL_METRICS = ("accuracy", "precision", "recall", "f1", "mae", "rmse", "label_coverage", "label_lag_p50")
SEGMENT_METRICS: tuple[str, ...] = (*_LABEL_METRICS, "predictions", "score_mean", "prediction_mean")
"""Metrics computed from the prediction–label join, so readable for one segment (see the module docstring)."""
POSITIVE = "1"
"""The positive class of binary precision, recall and f1 (labels and predictions as text: True is "1")."""

Segment = Mapping[str, str]
"""A segment selector: every ``tag: value`` must match (``{"region": "eu"}``)."""


def parse_segment(value: object) -> dict[str, str]:
    """A segment selector from ``"region=eu"`` / ``"region=eu,tier=gold"`` or a mapping ``{region: eu}``
    (values as text, see the module docstring). Raises ValueError saying what is wrong.

    >>> parse_segment("region=eu, tier=gold"), parse_segment({"tier": 1})
    ({'region': 'eu', 'tier': 'gold'}, {'tier': '1'})
    """
    if isinstance(value, str):
        pairs: list[tuple[object, object]] = []
        for part in value.split(","):
            key, sep, val = part.partition("=")
            if not sep:
                raise ValueError(f"segment {value!r}: {part.strip()!r} is not key=value")
            pairs.append((key.strip(), val.strip()))
    elif isinstance(value, Mapping):
        pairs = list(value.items())
    else:
        raise ValueError(f"a segment is 'key=value' or a mapping, not {value!r}")
    out: dict[str, str] = {}
    for tag, given in pairs:
        if not isinstance(tag, str) or not tag or given is None or isinstance(given, Mapping | list):
            raise ValueError(f"segment {value!r}: each tag needs a name and a plain value")
        text = _tag_text(given)
        if not text:
            raise ValueError(f"segment {value!r}: tag {tag!r} has an empty value")
        out[tag] = text
    if not out:
        raise ValueError("a segment selector needs at least one key=value")
    return dict(sorted(out.items()))


def segment_text(segment: Segment) -> str:
    """The canonical text of a selector: ``key=value`` pairs sorted by key, comma-separated."""
    return ",".join(f"{k}={v}" for k, v in sorted(segment.items()))


def _tag_text(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


MAX_POINTS = 20_000
"""Most steps one series may have."""


LABELS_BEFORE = 86_400.0
"""How long before its prediction a label may arrive and still join (a label sent first, by a clock ahead)."""


@dataclass(frozen=True)
class JoinedRow:
    """A prediction with its label (label fields are None while the label has not arrived)."""

    request_id: str
    version: str
    ts: float
    prediction: str | None
    score: float | None
    segment: str | None
    label: str | None
    label_ts: float | None


class Baselines:
    """A model's baseline profile: its baseline file profiled once (and kept in the store), or its
    production time range merged from windows."""

    def __init__(self, registry: Registry, store: Store, root: Path | None = None) -> None:
        self.registry = registry
        self.store = store
        self.root = root or Path.cwd()
        self._cache: dict[str, Profile] = {}

    def file_profile(self, model: str) -> Profile | None:
        """The profile of the model's baseline file, or None when it has none (or a time range)."""
        spec = self.registry.get(model)
        if spec is None or spec.baseline is None or spec.baseline.file is None:
            return None
        path = Path(spec.baseline.file)
        path = path if path.is_absolute() else self.root / path
        key = f"file:{path}:{path.stat().st_mtime_ns if path.exists() else 0}"
        if key in self._cache:
            return self._cache[key]
        saved = self.store.baseline(model, key)
        if saved is not None:
            self._cache[key] = Profile.from_bytes(saved)
            return self._cache[key]
        if not path.exists():
            raise InputError(f"baseline file of model {model!r} not found: {path}")
        result = profile(baseline_table(path, spec), kinds=_kinds(spec))
        self.store.put_baseline(model, key, result.to_bytes())
        self._cache[key] = result
        return result


@dataclass
class Query:
    store: Store
    registry: Registry
    aggregator: Aggregator | None
    baselines: Baselines
    clock: Callable[[], float]

    # -- merging -------------------------------------------------------------------------------------------

    def windows(
        self, model: str, start: float, end: float, version: str | None = None
    ) -> dict[WindowKey, WindowState]:
        """Every window of ``model`` starting in ``[start, end)``, each merged over writers."""
        spec = self._spec(model)
        res = int(spec.window.total_seconds())
        lo = math.floor(start / res) * res
        merged: dict[WindowKey, WindowState] = {}
        live = self.aggregator.live_windows(model, lo, end) if self.aggregator is not None else {}
        mine = self.aggregator.writer if self.aggregator is not None else None
        rolled: list[tuple[int, int]] = []
        for row in choose_rows(self.store, model, res, start, end, version):
            key = WindowKey(model, row.version, row.start, row.resolution)
            if row.writer == mine and key in live:
                continue  # memory is newer than the saved copy
            if row.resolution > res:
                rolled.append((row.start, row.start + row.resolution))
            state = WindowState.from_bytes(row.state)
            merged[key] = merged[key].merge(state) if key in merged else state
        for key, state in live.items():
            if any(a <= key.start < b for a, b in rolled):
                continue  # saved, rolled up and pruned while still in memory: the rollup holds it
            if version is None or key.version == version:
                merged[key] = merged[key].merge(state) if key in merged else state
        return merged

    def merged(self, model: str, start: float, end: float, version: str | None = None) -> WindowState:
        total = WindowState()
        for _, state in sorted(self.windows(model, start, end, version).items()):
            total.merge(state)
        return total

    # -- metrics -------------------------------------------------------------------------------------------

    def series(
        self,
        model: str,
        names: Sequence[str],
        start: float,
        end: float,
        step: float | None = None,
        version: str | None = None,
        segment: Segment | str | None = None,
        origin: float = 0.0,
    ) -> dict[str, list[tuple[float, float | None]]]:
        """``{name: [(step start, value), ...]}``; None where a step has no data for that metric.

        Steps start at ``origin + k × step`` (by default at whole multiples of the step since the epoch;
        an alert rule judging the latest windows passes the end of its range); ``origin`` should be a
        window boundary of the model, or steps split windows between them.
        ``segment`` (a selector, see :func:`parse_segment`) restricts ``SEGMENT_METRICS`` to the predictions
        of that segment; asking another metric for a segment raises ``InputError`` naming those that accept
        one."""
        spec = self._spec(model)
        res = spec.window.total_seconds()
        step = max(res, math.ceil((step or res) / res) * res)
        offset = origin % step

        def bucket(t: float) -> float:
            return math.floor((t - offset) / step) * step + offset

        for name in names:
            base = name.split(":", 1)[0]
            if base not in METRICS and base not in ("drift", "null_rate"):
                raise InputError(
                    f"unknown metric {name!r}; known: {', '.join(METRICS)}, drift:<feature>, "
                    "null_rate:<feature>"
                )
        selector: dict[str, str] | None = None
        if segment is not None:
            try:
                selector = parse_segment(segment)
            except ValueError as exc:
                raise InputError(str(exc)) from None
            refused = [n for n in names if n not in SEGMENT_METRICS]
            if refused:
                raise InputError(
                    f"{', '.join(refused)} cannot be read per segment (metric windows are per model and "
                    f"version); metrics that accept a segment: {', '.join(SEGMENT_METRICS)}"
                )
        first = bucket(start)
        points = math.ceil((end - first) / step)
        if points > MAX_POINTS:
            raise InputError(
                f"{points} steps of {step:g} s is over the limit of {MAX_POINTS}; give a larger step "
                "or a shorter range"
            )
        windows = self.windows(model, start, end, version)
        buckets: dict[float, WindowState] = {}
        for key, state in sorted(windows.items()):
            b = bucket(key.start)
            buckets[b] = buckets[b].merge(state) if b in buckets else state
        labelled: dict[float, list[JoinedRow]] = {}
        rows_needed = _needs_labels(names) or selector is not None
        joined = self.joined(model, first, end, version) if rows_needed else []
        for row in _in_segment(joined, selector) if selector is not None else joined:
            labelled.setdefault(bucket(row.ts), []).append(row)
        out: dict[str, list[tuple[float, float | None]]] = {n: [] for n in names}
        baseline = self._baseline_profile(model, spec) if any(n.startswith("drift") for n in names) else None
        hosts = _host_means(
            self.store, model, [n for n in names if n.startswith("host_")], first, end, bucket
        )
        for k in range(points):
            t = first + k * step
            found = buckets.get(t)
            rows = labelled.get(t, [])
            for name in names:
                if name.startswith("host_"):
                    out[name].append((t, hosts.get((name, t))))
                else:
                    value = (
                        _row_metric(name, rows, spec)
                        if selector is not None
                        else _value(name, found, step, rows, spec, baseline, model)
                    )
                    out[name].append((t, value))
        return out

    def joined(self, model: str, start: float, end: float, version: str | None = None) -> list[JoinedRow]:
        """Predictions made in ``[start, end)`` with their labels (None until they arrive), joined by request
        id in Arrow: the first prediction of a request id counts (a replay may store a batch twice)."""
        batches = self.store.predictions(model, start, end)
        if not batches:
            return []
        table = pa.concat_tables([from_ipc(b.payload) for b in batches])
        keep = pc.and_(pc.greater_equal(table.column("ts"), start), pc.less(table.column("ts"), end))
        if version is not None:
            keep = pc.and_(keep, pc.equal(table.column("version"), version))
        table = table.filter(keep)
        ids = table.column("request_id").to_pylist()
        first = {rid: i for i, rid in reversed(list(enumerate(ids)))}
        labels = {r.request_id: r for r in self.store.labels(model, start - LABELS_BEFORE)}
        rows = []
        cols = {n: table.column(n).to_pylist() for n in ("version", "ts", "prediction", "score", "segment")}
        for rid, i in first.items():
            label = labels.get(rid)
            rows.append(
                JoinedRow(
                    rid,
                    cols["version"][i],
                    cols["ts"][i],
                    cols["prediction"][i],
                    cols["score"][i],
                    cols["segment"][i],
                    None if label is None else label.label,
                    None if label is None else label.ts,
                )
            )
        rows.sort(key=lambda r: (r.ts, r.request_id))
        return rows

    def drift(self, model: str, start: float, end: float, version: str | None = None) -> Report:
        """The core's drift report: the baseline against the merged windows of ``[start, end)``, in the
        user's words (see :func:`_in_user_words`: what was compared and what was not, and why)."""
        spec = self._spec(model)
        baseline = self._baseline_profile(model, spec)
        if baseline is None:
            raise InputError(
                f"model {model!r} has no baseline: declare baseline: {{file: ...}} or {{from:, to:}}"
            )
        current = self.merged(model, start, end, version).profile
        if not current.columns:
            raise InputError(f"no events of {model!r} between the given times")
        report = _compare(baseline, current, spec, labels=("baseline", "current"))
        return _in_user_words(report, baseline, current, spec)

    def events(
        self, model: str, start: float, end: float, limit: int = 100, version: str | None = None
    ) -> list[dict[str, Any]]:
        """A uniform sample of raw events of the range (redacted as stored), newest first."""
        sample: list[tuple[float, str]] = []
        for state in self.windows(model, start, end, version).values():
            sample.extend(state.sample)
        sample.sort()
        rows = sorted((orjson.loads(raw) for _, raw in sample[:limit]), key=lambda r: -r.get("ts", 0.0))
        task = self._spec(model).task
        return [_wire(row, task) for row in rows]

    def _spec(self, model: str) -> ModelSpec:
        spec = self.registry.get(model)
        if spec is None:
            raise KeyError(model)
        return spec

    def _baseline_profile(self, model: str, spec: ModelSpec) -> Profile | None:
        if spec.baseline is None:
            return None
        if spec.baseline.file is not None:
            found = self.baselines.file_profile(model)
            extra = spec.baseline.predictions
            missing = [c for c in (PREDICTION, SCORE) if found is not None and c not in found.columns]
            if found is None or extra is None or not missing:
                return found
            outputs = self.merged(model, extra.start.timestamp(), extra.end.timestamp()).profile
            taken = {c: outputs.columns[c] for c in missing if c in outputs.columns}
            return Profile(
                found.rows,
                {**found.columns, **taken},
                {**found.types, **{c: outputs.types[c] for c in taken if c in outputs.types}},
                found.duplicate_rows,
                dict(found.skipped),
            )
        assert spec.baseline.start is not None and spec.baseline.end is not None
        merged = self.merged(model, spec.baseline.start.timestamp(), spec.baseline.end.timestamp())
        return merged.profile if merged.profile.columns else None


def _host_means(
    store: Store, model: str, names: list[str], first: float, end: float, bucket: Callable[[float], float]
) -> dict[tuple[str, float], float]:
    """Mean host readings per step: {(metric name, step start): mean}, for the steps that have readings."""
    if not names:
        return {}
    sums: dict[tuple[str, float], list[float]] = {}
    for row in store.host_metrics(model, first, end):
        t = bucket(row.ts)
        for name in names:
            value = getattr(row, name[len("host_") :], None)
            if value is not None:
                sums.setdefault((name, t), []).append(float(value))
    return {key: sum(v) / len(v) for key, v in sums.items()}


def _needs_labels(names: Sequence[str]) -> bool:
    return any(n in _LABEL_METRICS or n == "predictions" for n in names)


def _in_segment(rows: list[JoinedRow], selector: Segment) -> list[JoinedRow]:
    """The rows whose segment tags include every ``key=value`` of ``selector`` (each distinct tag JSON is
    parsed once)."""
    verdict: dict[str | None, bool] = {}
    out = []
    for row in rows:
        ok = verdict.get(row.segment)
        if ok is None:
            tags = orjson.loads(row.segment) if row.segment else {}
            ok = isinstance(tags, dict) and all(
                k in tags and tags[k] is not None and _tag_text(tags[k]) == v for k, v in selector.items()
            )
            verdict[row.segment] = ok
        if ok:
            out.append(row)
    return out


def _row_metric(name: str, rows: list[JoinedRow], spec: ModelSpec) -> float | None:
    """A metric of ``SEGMENT_METRICS`` from joined rows alone (the per-segment path)."""
    if name == "predictions":
        return float(len(rows))
    if name in ("score_mean", "prediction_mean"):
        if name == "score_mean":
            values = [r.score for r in rows if r.score is not None]
        elif spec.task == "binary":
            values = [float(r.prediction == POSITIVE) for r in rows if r.prediction is not None]
        else:
            values = [float(r.prediction) for r in rows if r.prediction is not None and _num(r.prediction)]
        return float(np.mean(values)) if values else None
    return _label_metric(name, rows, spec)


def _value(
    name: str,
    w: WindowState | None,
    step: float,
    joined: list[JoinedRow],
    spec: ModelSpec,
    baseline: Profile | None,
    model: str,
) -> float | None:
    if name in _LABEL_METRICS:
        return _label_metric(name, joined, spec)
    if name == "predictions":
        return float(len(joined))
    if w is None or w.events == 0:
        return 0.0 if name in ("events", "throughput", "errors", "tokens_in", "tokens_out", "cost") else None
    simple: dict[str, Callable[[WindowState], float]] = {
        "events": lambda s: float(s.events),
        "throughput": lambda s: s.events / step,
        "errors": lambda s: float(s.errors),
        "error_rate": lambda s: s.error_rate,
        "latency_p50": lambda s: s.latency_quantile(0.5),
        "latency_p95": lambda s: s.latency_quantile(0.95),
        "latency_p99": lambda s: s.latency_quantile(0.99),
        "latency_mean": lambda s: s.latency_moments.mean if s.latency_moments.count else math.nan,
        "tokens_in": lambda s: float(s.tokens_in),
        "tokens_out": lambda s: float(s.tokens_out),
        "cost": lambda s: s.cost.mean * s.cost.count if s.cost.count else 0.0,
        "cost_per_prediction": lambda s: s.cost.mean if s.cost.count else math.nan,
        "tokens_per_prediction": lambda s: (s.tokens_in + s.tokens_out) / s.events,
        "score_mean": lambda s: _mean(s.profile, SCORE),
        "prediction_mean": lambda s: _prediction_mean(s.profile, spec.task),
        "null_rate": lambda s: _null_rate(s.profile, None),
    }
    if name in simple:
        value = simple[name](w)
    elif name.startswith("null_rate:"):
        value = _null_rate(w.profile, name.split(":", 1)[1])
    elif name == "drift_share" or name.startswith("drift:"):
        if baseline is None or not w.profile.columns:
            return None
        report = _compare(baseline, w.profile, spec)
        if name == "drift_share":
            value = report.drift_share
        else:
            column = report.columns.get(name.split(":", 1)[1])
            value = column.effect if column is not None else math.nan
    else:
        return None
    return None if value is None or not math.isfinite(value) else float(value)


_OUTPUTS = {PREDICTION: "prediction", SCORE: "score"}


def _compare(
    baseline: Profile, current: Profile, spec: ModelSpec, labels: tuple[str, str] = ("a", "b")
) -> Report:
    """Drift of the features, the prediction and the score; segment tags slice metrics and are not
    compared."""
    tags = [n for n in {*baseline.columns, *current.columns} if n.startswith(SEGMENT_PREFIX)]
    return compare_profiles(baseline, current, config=_model_config(spec), ignore=tags, labels=labels)


def _in_user_words(report: Report, baseline: Profile, current: Profile, spec: ModelSpec) -> Report:
    """``report`` with the prediction and score named so (not by their internal column names), segment
    tags left out, and ``skipped`` saying what was not compared and why, with what to do."""
    source = spec.baseline
    names = {
        inner: outer if outer not in spec.features else f"{outer} (model output)"
        for inner, outer in _OUTPUTS.items()
    }
    skipped = {k: v for k, v in report.skipped.items() if not k.startswith(SEGMENT_PREFIX) and k not in names}
    for inner, shown in names.items():
        if inner in report.columns:
            continue
        if inner in report.skipped:  # the comparison's own reason (untestable, say)
            skipped[shown] = report.skipped[inner]
            continue
        if inner not in current.columns:
            if inner in baseline.columns:
                skipped[shown] = f"not compared: no {_OUTPUTS[inner]}s were logged in this range"
            continue
        if source is not None and source.file is not None and source.predictions is None:
            skipped[shown] = (
                f"not compared: the baseline file has no {_OUTPUTS[inner]} column; add one to it, or set "
                "baseline.predictions: {from: ..., to: ...} to compare with a production time range"
            )
        elif source is not None and source.predictions is not None:
            skipped[shown] = (
                f"not compared: no {_OUTPUTS[inner]}s were logged in the baseline's prediction range "
                f"({source.predictions.start:%Y-%m-%d %H:%M} to {source.predictions.end:%Y-%m-%d %H:%M} UTC)"
            )
        else:
            skipped[shown] = f"not compared: the baseline has no {_OUTPUTS[inner]}s"
    tags = sorted({n[len(SEGMENT_PREFIX) :] for n in current.columns if n.startswith(SEGMENT_PREFIX)})
    if tags:
        skipped["segment tags"] = (
            f"not compared: segment tags ({', '.join(tags)}) slice the metrics; they are not model inputs"
        )
    columns = {
        names.get(n, n): replace(c, column=names.get(n, n))
        for n, c in report.columns.items()
        if not n.startswith(SEGMENT_PREFIX)
    }
    hidden = {n for n in (*names, *current.columns, *baseline.columns) if n.startswith(SEGMENT_PREFIX)}
    hidden |= {n for n in names if n not in report.columns}  # said in skipped, once
    quality = [
        replace(q, column=names.get(q.column, q.column)) if q.column is not None else q
        for q in report.quality
        if q.column not in hidden
    ]
    return replace(report, columns=columns, skipped=skipped, quality=quality)


def _mean(p: Profile, column: str) -> float:
    col = p.columns.get(column)
    return col.moments.mean if isinstance(col, NumericProfile) and col.count else math.nan


def _prediction_mean(p: Profile, task: str) -> float:
    """The mean prediction: of the values (regression), or the share of class 1 (binary; predictions are
    kept as class labels, ``True`` and ``1`` as ``"1"``). NaN for other tasks or no predictions."""
    if task != "binary":
        return _mean(p, PREDICTION)
    col = p.columns.get(PREDICTION)
    if not isinstance(col, CategoricalProfile) or not col.top.exact:
        return math.nan
    total = col.top.total
    return col.top.counts.get(POSITIVE, 0) / total if total else math.nan


def _null_rate(p: Profile, column: str | None) -> float:
    cols = [
        c for n, c in p.columns.items() if not n.startswith(("@", "#")) and (column is None or n == column)
    ]
    rows = sum(c.rows for c in cols)
    return sum(c.nulls for c in cols) / rows if rows else math.nan


def _label_metric(name: str, rows: list[JoinedRow], spec: ModelSpec) -> float | None:
    if not rows:
        return None
    labelled = [r for r in rows if r.label is not None]
    if name == "label_coverage":
        return len(labelled) / len(rows)
    if not labelled:
        return None
    if name == "label_lag_p50":
        return float(np.median([r.label_ts - r.ts for r in labelled if r.label_ts is not None]))
    if name == "accuracy" and spec.task in ("binary", "multiclass"):
        return float(np.mean([r.prediction == r.label for r in labelled]))
    if name in ("precision", "recall", "f1") and spec.task == "binary":
        predicted = np.array([r.prediction == POSITIVE for r in labelled])
        actual = np.array([r.label == POSITIVE for r in labelled])
        tp = float(np.sum(predicted & actual))
        denominator = {
            "precision": float(np.sum(predicted)),
            "recall": float(np.sum(actual)),
            "f1": float(np.sum(predicted) + np.sum(actual)),
        }[name]
        return (2 * tp if name == "f1" else tp) / denominator if denominator else None
    if name in ("mae", "rmse") and spec.task == "regression":
        pairs = np.array(
            [
                (float(r.prediction), float(r.label))
                for r in labelled
                if r.prediction is not None and r.label is not None and _num(r.prediction) and _num(r.label)
            ],
            dtype=np.float64,
        ).reshape(-1, 2)
        if not len(pairs):
            return None
        err = pairs[:, 0] - pairs[:, 1]
        return float(np.mean(np.abs(err))) if name == "mae" else float(np.sqrt(np.mean(err**2)))
    return None


def _num(text: str | None) -> bool:
    try:
        float(text or "")
    except ValueError:
        return False
    return True


def _kinds(spec: ModelSpec) -> dict[str, Any]:
    return {n: s.type for n, s in spec.features.items() if s.type in ("numeric", "categorical")}


def _model_config(spec: ModelSpec) -> VigilConfig:
    """The core's config for one model: its features as columns (prediction and score are columns too)."""
    return VigilConfig(columns=dict(spec.features))


_BINARY = {"0": 0, "1": 1}


def _wire(row: dict[str, Any], task: str) -> dict[str, Any]:
    """A stored row back in the shape it was sent in (features and segments as maps; a binary model's
    predictions 0 and 1 as numbers: they are kept as class labels, ``True`` and ``1`` as ``"1"``)."""
    out: dict[str, Any] = {"features": {}, "segments": {}}
    for name, value in row.items():
        if name == "ts":
            out["timestamp"] = datetime.fromtimestamp(value, tz=UTC).isoformat().replace("+00:00", "Z")
        elif name == PREDICTION:
            out["prediction"] = _BINARY.get(value, value) if task == "binary" else value
        elif name == SCORE:
            out["score"] = value
        elif name == "probabilities":
            out["probabilities"] = orjson.loads(value)
        elif name.startswith(SEGMENT_PREFIX):
            out["segments"][name[len(SEGMENT_PREFIX) :]] = value
        elif name in SERVICE_COLUMNS:
            out[name] = value
        else:
            out["features"][name] = value
    return out
