"""OTLP trace export requests (``POST /v1/traces``): decoded from protobuf or OTLP/JSON, their LLM spans
turned into Vigil events, and the answer the OTLP specification gives.

OTLP/JSON differs from protobuf's own JSON mapping in ways that matter here: trace and span ids are hex
strings, not base64 (the specification's "JSON Protobuf Encoding"), and int64 values may be strings. Both
encodings are read into the same ``SpanFacts``. Unknown fields are ignored, as the specification asks of
receivers.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Status

from vigil.errors import InputError
from vigil.otlp.genai import is_llm, to_event
from vigil.spec.pricing import PricingSettings

__all__ = ["JSON", "PROTOBUF", "Decoded", "SpanFacts", "answer", "decode", "events"]

PROTOBUF = "application/x-protobuf"
JSON = "application/json"


@dataclass
class Decoded:
    """What a request's spans gave: the events of its LLM spans, and the spans that could not be read."""

    events: list[dict[str, Any]] = field(default_factory=list)
    evaluations: list[tuple[str, str, str, float, float]] = field(default_factory=list)
    """``gen_ai.evaluation.result`` span events: (model, trace id, evaluator, score, time in seconds)."""
    spans: int = 0
    """Spans in the request."""
    rejected: int = 0
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SpanFacts:
    """What is read of one span, whichever the encoding."""

    service: str
    trace_id: str
    """Hex (empty when absent)."""
    span_id: str
    start_ns: int
    end_ns: int
    attributes: Mapping[str, Any]
    failed: bool
    """Its status is ERROR."""
    message: str
    evaluations: tuple[tuple[str, float, float], ...] = ()
    """Its ``gen_ai.evaluation.result`` events with a numeric score: (evaluator, score, time in seconds)."""


def decode(body: bytes, content_type: str) -> list[SpanFacts]:
    """The spans of the export request in ``body``: protobuf (``application/x-protobuf``) or OTLP/JSON
    (``application/json``, read as JSON directly: protobuf's JSON parser is 40 times slower). Raises
    ``InputError`` for a body that is not one (the endpoint answers 400)."""
    if content_type == PROTOBUF:
        request = ExportTraceServiceRequest()
        try:
            request.ParseFromString(body)
        except DecodeError as exc:
            raise InputError(
                f"the body is not an OTLP ExportTraceServiceRequest in protobuf: {exc}"
            ) from None
        return list(_from_protobuf(request))
    try:
        data = orjson.loads(body) if body.strip() else {}
        if not isinstance(data, dict):
            raise TypeError(f"a JSON {type(data).__name__}, not an object")
        return list(_from_json(data))
    except (orjson.JSONDecodeError, ValueError, TypeError, AttributeError, KeyError) as exc:
        raise InputError(f"the body is not an OTLP trace export request in OTLP/JSON: {exc}") from None


def events(
    spans: list[SpanFacts], model_of: Callable[[str], str], pricing: PricingSettings | None = None
) -> Decoded:
    """The events of the LLM spans among ``spans`` and the evaluations any span carries; ``model_of``
    names the Vigil model of a service, and ``pricing`` prices the spans that carry no cost."""
    out = Decoded(spans=len(spans))
    models: dict[str, str] = {}

    def model_of_span(span: SpanFacts) -> str:
        found = models.get(span.service)
        if found is None:
            found = models[span.service] = model_of(span.service)
        return found

    for span in spans:
        if span.evaluations:
            model = model_of_span(span)
            out.evaluations += [(model, span.trace_id, n, score, t) for n, score, t in span.evaluations]
        if not is_llm(span.attributes):
            continue
        if not span.start_ns:
            out.rejected += 1
            out.problems.append(f"span {span.span_id or '?'} has no start time")
            continue
        model = model_of_span(span)
        out.events.append(
            to_event(
                model,
                span.trace_id,
                span.start_ns,
                span.end_ns,
                span.attributes,
                span.message if span.failed else None,
                pricing,
            )
        )
    return out


def _from_protobuf(request: ExportTraceServiceRequest) -> Iterator[SpanFacts]:
    for resource_spans in request.resource_spans:
        resource = {kv.key: _value(kv.value) for kv in resource_spans.resource.attributes}
        service = str(resource.get("service.name") or "unknown_service")
        for scope in resource_spans.scope_spans:
            for span in scope.spans:
                yield SpanFacts(
                    service,
                    span.trace_id.hex(),
                    span.span_id.hex(),
                    span.start_time_unix_nano,
                    span.end_time_unix_nano,
                    {kv.key: _value(kv.value) for kv in span.attributes},
                    span.status.code == Status.STATUS_CODE_ERROR,
                    span.status.message,
                    _evaluations(
                        (e.name, e.time_unix_nano, {kv.key: _value(kv.value) for kv in e.attributes})
                        for e in span.events
                    ),
                )


def _from_json(data: Mapping[str, Any]) -> Iterator[SpanFacts]:
    for resource_spans in data.get("resourceSpans") or ():
        resource = _json_attributes((resource_spans.get("resource") or {}).get("attributes"))
        service = str(resource.get("service.name") or "unknown_service")
        for scope in resource_spans.get("scopeSpans") or ():
            for span in scope.get("spans") or ():
                status = span.get("status") or {}
                code = status.get("code", 0)
                yield SpanFacts(
                    service,
                    _hex(span.get("traceId")),
                    _hex(span.get("spanId")),
                    int(span.get("startTimeUnixNano") or 0),
                    int(span.get("endTimeUnixNano") or 0),
                    _json_attributes(span.get("attributes")),
                    code in (2, "STATUS_CODE_ERROR"),
                    str(status.get("message") or ""),
                    _evaluations(
                        (
                            e.get("name"),
                            int(e.get("timeUnixNano") or 0),
                            _json_attributes(e.get("attributes")),
                        )
                        for e in span.get("events") or ()
                    ),
                )


EVALUATION = "gen_ai.evaluation.result"
"""The GenAI conventions' span event of an evaluator's verdict."""


def _evaluations(
    events: Iterable[tuple[Any, int, Mapping[str, Any]]],
) -> tuple[tuple[str, float, float], ...]:
    """The evaluator name, numeric score and time of each ``gen_ai.evaluation.result`` event."""
    out = []
    for name, t, attributes in events:
        score = attributes.get("gen_ai.evaluation.score.value")
        evaluator = attributes.get("gen_ai.evaluation.name")
        if (
            name == EVALUATION
            and isinstance(score, int | float)
            and not isinstance(score, bool)
            and evaluator
        ):
            out.append((str(evaluator), float(score), t / 1e9))
    return tuple(out)


def _json_attributes(values: Any) -> dict[str, Any]:
    return {kv["key"]: _json_value(kv.get("value") or {}) for kv in values or ()}


def _json_value(value: Mapping[str, Any]) -> Any:
    """An OTLP/JSON ``AnyValue``: int64 may come as a string; bytes are base64."""
    for kind, found in value.items():
        if kind == "intValue":
            return int(found)
        if kind == "doubleValue":
            return float(found)
        if kind == "arrayValue":
            return [_json_value(v) for v in found.get("values") or ()]
        if kind == "kvlistValue":
            return _json_attributes(found.get("values"))
        if kind == "bytesValue":
            return base64.b64decode(found)
        return found  # stringValue, boolValue
    return None


def _hex(text: Any) -> str:
    if text is None or text == "":
        return ""
    try:
        return bytes.fromhex(text).hex()  # lower case, and a ValueError for what is not hex
    except (ValueError, TypeError):
        raise ValueError(f"trace and span ids are hex in OTLP/JSON; got {text!r}") from None


def answer(rejected: int, message: str, content_type: str) -> tuple[bytes, str]:
    """The body of a successful export's answer, with ``partial_success`` when some spans were rejected,
    in the request's encoding."""
    response = ExportTraceServiceResponse()
    if rejected:
        response.partial_success.rejected_spans = rejected
        response.partial_success.error_message = message
    if content_type == PROTOBUF:
        return response.SerializeToString(), PROTOBUF
    return json_format.MessageToJson(response, indent=None).encode(), JSON


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, kind)
