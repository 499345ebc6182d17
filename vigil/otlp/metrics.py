"""OTLP metric export requests (``POST /v1/metrics``): accepted, counted, and not stored.

Why nothing is mapped: the GenAI client metrics (``gen_ai.client.token.usage``, a histogram by
``gen_ai.token.type``, and ``gen_ai.client.operation.duration``) are aggregates, over the exporter's
interval, of the very facts each LLM span already carries (its tokens and its duration). Vigil builds
its token totals, cost and latency sketches from the spans, per call, with the trace id for drill-down
and the joins of feedback and labels; the histograms carry no request id, their bucket bounds are the
SDK's (latency quantiles from them would be coarser than the spans' DDSketch), and adding them would
count every call twice. An application that exports all three signals to Vigil must not see its metric
exporter fail, so the endpoint answers as the specification asks: 200 with an empty
``ExportMetricsServiceResponse`` (nothing is refused: data a receiver does not use is not an error).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)

from vigil.errors import InputError
from vigil.otlp import wire

__all__ = ["Counted", "answer", "count"]

GENAI = ("gen_ai.client.token.usage", "gen_ai.client.operation.duration")
"""The GenAI client metrics (see the module docstring for why their data points are not stored)."""
_KINDS = ("gauge", "sum", "histogram", "exponentialHistogram", "summary")
_PB_KINDS = ("gauge", "sum", "histogram", "exponential_histogram", "summary")


@dataclass
class Counted:
    """The data points of a request: all of them, and those of the GenAI client metrics."""

    points: int = 0
    genai: int = 0


def count(body: bytes, content_type: str) -> Counted:
    """The data points of the export request in ``body`` (protobuf or OTLP/JSON); ``InputError`` for a
    body that is not one (answered 400)."""
    request = wire.parse(body, content_type, ExportMetricsServiceRequest)
    out = Counted()
    if isinstance(request, ExportMetricsServiceRequest):
        for resource in request.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    kind = metric.WhichOneof("data")
                    n = len(getattr(metric, kind).data_points) if kind in _PB_KINDS else 0
                    out.points += n
                    out.genai += n if metric.name in GENAI else 0
        return out
    try:
        for resource in _items(request, "resourceMetrics"):  # type: ignore[arg-type]
            for scope in _items(resource, "scopeMetrics"):
                for metric in _items(scope, "metrics"):
                    n = sum(len(_items(metric.get(k) or {}, "dataPoints")) for k in _KINDS)
                    out.points += n
                    out.genai += n if metric.get("name") in GENAI else 0
    except (ValueError, TypeError, AttributeError) as exc:
        raise InputError(f"the body is not an OTLP metric export request in OTLP/JSON: {exc}") from None
    return out


def answer(content_type: str) -> tuple[bytes, str]:
    """The answer of an export: every data point accepted."""
    return wire.answer(ExportMetricsServiceResponse, "rejected_data_points", 0, "", content_type)


def _items(parent: Mapping[str, Any], name: str) -> list[Any]:
    found = parent.get(name) or []
    if not isinstance(found, list):
        raise TypeError(f"{name} is a JSON {type(found).__name__}, not a list")
    return found
