"""The ``/metrics`` endpoint: Vigil's state in the Prometheus exposition formats.

Each app holds one ``Exporter``: a ``CollectorRegistry`` of its own with one custom collector (and the
process, platform and GC collectors), and the state kept between its scrapes, so two servers in one
process never share numbers. ``Exporter.exposition(accept)`` encodes the registry as the ``Accept``
header asks (``prometheus_client.exposition.choose_encoder``): OpenMetrics 1.0 when asked for, else the
Prometheus text format. Everything is read at scrape time from what the server already keeps; nothing
here is updated on the ingest path.

Metrics (prefix ``vigil_``, base units, label values escaped by ``prometheus_client``). Labels are only
``model``, ``model_version``, ``outcome``/``token_type`` (a few values each), ``signal``, ``feature`` (the
first ``MAX_FEATURES`` per model) and ``method``: never request ids, users or prompts.

* ``vigil_build_info{version}`` (gauge, 1): the running Vigil.
* ``vigil_start_time_seconds`` (gauge): when this process started; its counters count from then.
* ``vigil_model_info{model, task, team, live_version}`` (gauge, 1): one per registered model.
* ``vigil_predictions_total{model, model_version, outcome="success"|"error"}`` (counter): events since
  start; ``error`` counts events that carry an ``error``. Live versions start at 0.
* ``vigil_inference_duration_seconds{model, model_version}`` (summary): ``_sum`` and ``_count`` since
  start; ``{quantile="0.5"|"0.95"|"0.99"}`` over the last 5 minutes (see below).
* ``vigil_error_ratio{model}`` (gauge, 0–1): errors / events over the last 5 minutes, all versions.
* ``vigil_llm_tokens_total{model, model_version, token_type="input"|"output"}`` (counter) and
  ``vigil_llm_cost_dollars_total{model, model_version}`` (counter, US dollars): since start; for LLM
  models (and any model that reports tokens or cost).
* ``vigil_feature_drift_score{model, feature, method}`` (gauge): the drift method's effect size, last
  hour against the baseline; ``vigil_feature_drifted{model, feature}`` (gauge, 0/1): its verdict.
* ``vigil_dataset_drift_share{model}`` (gauge, 0–1): share of tested features that drifted;
  ``vigil_dataset_drifted{model}`` (gauge, 0/1): the model's dataset-drift verdict.
* ``vigil_last_evaluation_timestamp_seconds{model}`` (gauge): when those drift metrics were computed.
* ``vigil_quality_<metric>{model}`` (gauges): realised quality over the last hour, one family per label
  metric of the model's task (``vigil_quality_accuracy_ratio``, ``vigil_quality_roc_auc_ratio``,
  ``vigil_quality_ece_ratio``, ``vigil_quality_mae``, ``vigil_quality_label_coverage_ratio``,
  ``vigil_quality_labelled``...); see ``vigil.server.prometheus_quality``.
* ``vigil_aggregator_pending_events`` (gauge): events accepted but not folded into windows yet.
* ``vigil_otlp_received_total{signal, outcome}`` (counter): OTLP items received: ``spans`` (``event``,
  ``ignored``: not LLM calls, ``rejected``), ``log_records`` (``content``, ``late_content``: arrived
  after its span, not stored, ``evaluation``, ``ignored``, ``rejected``), ``data_points``
  (``genai_ignored``: the GenAI client metrics, ``ignored``: others; ``vigil.otlp.metrics`` says why).
* ``vigil_broker_pending_messages`` and ``vigil_broker_ack_pending_messages`` (gauges, with ``--broker``):
  batches in the stream not delivered to a worker yet, and delivered but not acknowledged (the workers' lag).
* ``vigil_metrics_collection_errors_total`` (counter): model computations that failed in scrapes.

Plus the standard ``process_*`` and ``python_*`` metrics of ``prometheus_client``.

**Latency: a summary, not a classic histogram.** A histogram's ``_bucket`` series must be cumulative
counts since the process started, and Vigil keeps no such buckets: the running totals hold only the sum
and count of latencies, and the latency sketches live in time windows (kept in memory for a few
minutes, then in the store). Buckets rebuilt from windows would either not be cumulative or would not
agree with ``_count`` (``le="+Inf"`` must equal it). So the latency is exposed the way a Prometheus
summary is defined (and the way the Go client's summaries behave): ``_sum`` and ``_count`` are exact
counters since start, and the ``quantile`` series are estimates (DDSketch, 1% relative error) over a
sliding window, here the windows of this process that overlap the last 5 minutes (by event time).
Query them as ``vigil_inference_duration_seconds{quantile="0.95"}`` and the mean as
``rate(…_sum[5m]) / rate(…_count[5m])``; like every summary they cannot be aggregated across Vigil
processes, and ``histogram_quantile`` does not apply. With no events in the last 5 minutes a version's
quantile series are absent (not NaN).

**Per process.** Counters, the summary and the error ratio count what this process ingested (the
totals reset when it restarts, as Prometheus expects of counters); with several Vigil processes sum the
counters across instances. Drift metrics read the store, so every process reports the same values.

**Drift** (models with a baseline only): the drift report of the last hour against the baseline,
cached for ``DRIFT_TTL`` seconds. A scrape spends at most about ``DRIFT_BUDGET`` seconds refreshing
stale drift reports (the oldest first); models not refreshed in time keep their previous values until a
later scrape, so a scrape stays fast however many models there are. A model without events in the last
hour has no drift series.

**Failures.** An error computing one model's metrics is logged and counted; that model's series are left
out of the scrape (its service metrics and its drift metrics fail separately) and the rest is served.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial

from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.samples import Sample

from vigil._version import __version__
from vigil.errors import InputError
from vigil.monitoring.window import ServiceTotals
from vigil.server.prometheus_quality import QualityGauges
from vigil.server.services import Vigil
from vigil.spec import ModelSpec

__all__ = ["DRIFT_BUDGET", "DRIFT_RANGE", "DRIFT_TTL", "MAX_FEATURES", "QUANTILES", "RECENT", "Exporter"]

log = logging.getLogger("vigil.prometheus")

QUANTILES: tuple[float, ...] = (0.5, 0.95, 0.99)
"""The latency quantiles exposed."""
RECENT = 300.0
"""Seconds of recent windows behind the latency quantiles and the error ratio."""
DRIFT_RANGE = 3600.0
"""Seconds of events compared with the baseline."""
DRIFT_TTL = 30.0
"""Seconds a model's drift report is reused before it is computed again."""
DRIFT_BUDGET = 0.5
"""Seconds a scrape may spend refreshing drift reports (at least one model is refreshed per scrape)."""
MAX_FEATURES = 50
"""Drift series per model at most: declared features first (in declaration order), then the rest."""


class Exporter:
    """The Prometheus side of one server: its collectors, and what they keep between scrapes."""

    def __init__(self, vigil: Vigil) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_VigilCollector(vigil, _State()))
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)

    def exposition(self, accept: str | None) -> tuple[bytes, str]:
        """The body of a ``/metrics`` answer and its Content-Type, negotiated from the ``Accept`` header."""
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry), content_type


# -- state kept between scrapes -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _FeatureDrift:
    feature: str
    method: str
    effect: float
    drifted: bool


@dataclass(frozen=True)
class _Drift:
    """A digest of one drift report; ``features`` is None when there is none (no baseline, no recent
    events, or the computation failed)."""

    computed: float  # time.monotonic()
    evaluated_at: float  # the Vigil clock
    features: tuple[_FeatureDrift, ...] | None = None
    share: float = math.nan
    dataset_drifted: bool = False


@dataclass
class _State:
    drift: dict[str, _Drift] = field(default_factory=dict)
    refreshing: threading.Lock = field(default_factory=threading.Lock)
    errors: int = 0
    errors_lock: threading.Lock = field(default_factory=threading.Lock)

    def failed(self) -> None:
        with self.errors_lock:
            self.errors += 1


# -- the collector -------------------------------------------------------------------------------------------


class _VigilCollector:
    def __init__(self, vigil: Vigil, state: _State) -> None:
        self.vigil = vigil
        self.state = state
        self.quality = QualityGauges(vigil, state.failed)

    def collect(self) -> Iterator[Metric]:
        vigil = self.vigil
        now = vigil.clock()
        f = _Families()
        f.build.add_metric([], {"version": __version__})
        f.start.add_metric([], vigil.started_at)
        f.pending.add_metric([], float(vigil.aggregator.pending_rows))
        for (signal, outcome), n in sorted(vigil.otlp_counts().items()):
            f.otlp.add_metric([signal, outcome], float(n))
        lag = vigil.broker_lag()
        if lag is not None:
            f.broker_pending.add_metric([], float(lag.pending))
            f.broker_ack_pending.add_metric([], float(lag.ack_pending))

        models = dict(vigil.registry.items())
        by_model: dict[str, dict[str, dict[str, float]]] = {}
        for (model, version), values in _totals_snapshot(vigil).items():
            by_model.setdefault(model, {})[version] = values
        for model in sorted(set(models) | set(by_model)):
            try:  # compute everything first, then add: a failure leaves no partial series
                adds = _service(vigil, f, model, models.get(model), by_model.get(model, {}), now)
            except Exception:
                log.exception("could not compute the Prometheus metrics of model %r; left out", model)
                self.state.failed()
                continue
            for add in adds:
                add()

        self._refresh_drift(models, now)
        for model in sorted(models):
            digest = self.state.drift.get(model)
            if digest is not None and digest.features is not None:
                _add_drift(f, model, digest)

        quality = self.quality.families(models, now)
        f.errors.add_metric([], float(self.state.errors))
        yield from f.all()
        yield from quality

    def _refresh_drift(self, models: dict[str, ModelSpec], now: float) -> None:
        """Recompute stale drift reports, the oldest first, within ``DRIFT_BUDGET`` seconds."""
        state = self.state
        if not state.refreshing.acquire(blocking=False):
            return  # another scrape is refreshing: serve what is cached
        try:
            for name in [m for m in state.drift if m not in models or models[m].baseline is None]:
                del state.drift[name]
            started = time.monotonic()
            stale = [
                m
                for m, spec in models.items()
                if spec.baseline is not None
                and (m not in state.drift or started - state.drift[m].computed >= DRIFT_TTL)
            ]
            stale.sort(key=lambda m: state.drift[m].computed if m in state.drift else -math.inf)
            for i, model in enumerate(stale):
                if i and time.monotonic() - started > DRIFT_BUDGET:
                    break
                state.drift[model] = self._drift(model, models[model], now)
        finally:
            state.refreshing.release()

    def _drift(self, model: str, spec: ModelSpec, now: float) -> _Drift:
        try:
            report = self.vigil.query.drift(model, now - DRIFT_RANGE, now)
        except InputError:  # no baseline (yet) or no events in the range
            return _Drift(time.monotonic(), now)
        except Exception:
            log.exception("could not compute the drift of model %r for Prometheus; left out", model)
            self.state.failed()
            return _Drift(time.monotonic(), now)
        declared = [n for n in spec.features if n in report.columns]
        rest = sorted(n for n in report.columns if n not in spec.features)
        features = tuple(
            _FeatureDrift(
                n, report.columns[n].method, float(report.columns[n].effect), report.columns[n].drift
            )
            for n in (declared + rest)[:MAX_FEATURES]
        )
        return _Drift(time.monotonic(), now, features, float(report.drift_share), report.dataset_drift)


# -- the metric families -------------------------------------------------------------------------------------

_MV = ["model", "model_version"]


class _Families:
    def __init__(self) -> None:
        self.build = InfoMetricFamily("vigil_build", "The running Vigil.", labels=[])
        self.start = GaugeMetricFamily(
            "vigil_start_time_seconds",
            "When this Vigil process started (Unix time); its counters count from then.",
            unit="seconds",
        )
        self.model_info = InfoMetricFamily("vigil_model", "A registered model.", labels=["model"])
        self.predictions = CounterMetricFamily(
            "vigil_predictions",
            "Prediction events ingested by this process, by outcome (error: the event carries an error).",
            labels=[*_MV, "outcome"],
        )
        self.latency = SummaryMetricFamily(
            "vigil_inference_duration_seconds",
            "Inference latency. _sum/_count: since this process started; quantiles: over the last "
            "5 minutes (1% relative error).",
            labels=_MV,
            unit="seconds",
        )
        self.error_ratio = GaugeMetricFamily(
            "vigil_error_ratio",
            "Share (0-1) of events that failed over the last 5 minutes.",
            labels=["model"],
        )
        self.tokens = CounterMetricFamily(
            "vigil_llm_tokens", "LLM tokens ingested by this process.", labels=[*_MV, "token_type"]
        )
        self.cost = CounterMetricFamily(
            "vigil_llm_cost_dollars", "LLM cost ingested by this process, US dollars.", labels=_MV
        )
        self.drift_score = GaugeMetricFamily(
            "vigil_feature_drift_score",
            "Drift effect size of a feature, last hour against the baseline (the method's scale).",
            labels=["model", "feature", "method"],
        )
        self.drifted = GaugeMetricFamily(
            "vigil_feature_drifted",
            "1 when the feature drifted (last hour against the baseline), else 0.",
            labels=["model", "feature"],
        )
        self.drift_share = GaugeMetricFamily(
            "vigil_dataset_drift_share",
            "Share (0-1) of tested features that drifted, last hour against the baseline.",
            labels=["model"],
        )
        self.dataset_drifted = GaugeMetricFamily(
            "vigil_dataset_drifted",
            "1 when the share of drifted features reaches the model's dataset-drift threshold, else 0.",
            labels=["model"],
        )
        self.evaluated = GaugeMetricFamily(
            "vigil_last_evaluation_timestamp_seconds",
            "When the drift metrics of the model were last computed (Unix time).",
            labels=["model"],
            unit="seconds",
        )
        self.pending = GaugeMetricFamily(
            "vigil_aggregator_pending_events", "Events accepted but not yet folded into windows."
        )
        self.otlp = CounterMetricFamily(
            "vigil_otlp_received",
            "OTLP items received by this process, by signal (spans, log_records, data_points) and outcome.",
            labels=["signal", "outcome"],
        )
        self.broker_pending = GaugeMetricFamily(
            "vigil_broker_pending_messages", "Batches in the broker's stream not delivered to a worker yet."
        )
        self.broker_ack_pending = GaugeMetricFamily(
            "vigil_broker_ack_pending_messages", "Batches delivered to a worker and not acknowledged yet."
        )
        self.errors = CounterMetricFamily(
            "vigil_metrics_collection_errors",
            "Model metric computations that failed during scrapes of this process (series left out).",
        )

    def all(self) -> Iterable[Metric]:
        return [
            self.build,
            self.start,
            self.model_info,
            self.predictions,
            self.latency,
            self.error_ratio,
            self.tokens,
            self.cost,
            self.drift_score,
            self.drifted,
            self.drift_share,
            self.dataset_drifted,
            self.evaluated,
            self.pending,
            self.otlp,
            *([self.broker_pending, self.broker_ack_pending] if self.broker_pending.samples else []),
            self.errors,
        ]


# -- computing -----------------------------------------------------------------------------------------------

_Add = Callable[[], None]


def _totals_snapshot(vigil: Vigil) -> dict[tuple[str, str], dict[str, float]]:
    """A consistent copy of the aggregator's running totals (per model and version, since start)."""
    return vigil.aggregator.totals_snapshot()


def _recent(vigil: Vigil, model: str, spec: ModelSpec | None, now: float) -> dict[str, ServiceTotals]:
    """Events, errors and latencies of this process's windows of ``model`` that overlap the last
    ``RECENT`` seconds, per version (the windows in memory hold at least the last ``keep_open`` seconds)."""
    if spec is None:
        return {}
    res = int(spec.window.total_seconds())
    lo = math.floor((now - RECENT) / res) * res
    return vigil.aggregator.recent_service(model, lo, now + 1)


def _service(
    vigil: Vigil,
    f: _Families,
    model: str,
    spec: ModelSpec | None,
    totals: dict[str, dict[str, float]],
    now: float,
) -> list[_Add]:
    """The service and LLM series of one model, as additions to make once all of them are computed."""
    adds: list[_Add] = []
    versions = dict(totals)
    if spec is not None:
        adds.append(
            partial(
                f.model_info.add_metric,
                [model],
                {"task": spec.task, "team": spec.owner.team, "live_version": spec.live_version},
            )
        )
        versions.setdefault(spec.live_version, {})  # initialise the live version's series to 0
    llm = spec is not None and spec.task == "llm"
    recent = _recent(vigil, model, spec, now)
    for version, t in sorted(versions.items()):
        labels = [model, version]
        events, errors = t.get("events", 0.0), t.get("errors", 0.0)
        adds.append(partial(f.predictions.add_metric, [*labels, "success"], events - errors))
        adds.append(partial(f.predictions.add_metric, [*labels, "error"], errors))
        window = recent.get(version)
        quantiles: list[tuple[float, float]] = []
        if window is not None and window.latency.count:
            quantiles = [(q, float(window.latency.quantile(q)) / 1000.0) for q in QUANTILES]
        adds.append(
            partial(
                _add_summary,
                f.latency,
                labels,
                int(t.get("latency_count", 0)),
                t.get("latency_sum_ms", 0.0) / 1000.0,
                quantiles,
            )
        )
        if llm or any(t.get(k) for k in ("tokens_in", "tokens_out", "cost")):
            adds.append(partial(f.tokens.add_metric, [*labels, "input"], t.get("tokens_in", 0.0)))
            adds.append(partial(f.tokens.add_metric, [*labels, "output"], t.get("tokens_out", 0.0)))
            adds.append(partial(f.cost.add_metric, labels, t.get("cost", 0.0)))
    events = sum(w.events for w in recent.values())
    if events:
        errors = sum(w.errors for w in recent.values())
        adds.append(partial(f.error_ratio.add_metric, [model], errors / events))
    return adds


def _add_summary(
    family: SummaryMetricFamily,
    labels: list[str],
    count: int,
    total: float,
    quantiles: list[tuple[float, float]],
) -> None:
    named = dict(zip(_MV, labels, strict=True))
    for q, value in quantiles:
        if math.isfinite(value):
            family.samples.append(Sample(family.name, {**named, "quantile": str(q)}, value))
    family.add_metric(labels, count, total)


def _add_drift(f: _Families, model: str, digest: _Drift) -> None:
    for d in digest.features or ():
        if math.isfinite(d.effect):
            f.drift_score.add_metric([model, d.feature, d.method], d.effect)
        f.drifted.add_metric([model, d.feature], 1.0 if d.drifted else 0.0)
    if math.isfinite(digest.share):
        f.drift_share.add_metric([model], digest.share)
    f.dataset_drifted.add_metric([model], 1.0 if digest.dataset_drifted else 0.0)
    f.evaluated.add_metric([model], digest.evaluated_at)
