"""OTLP trace export requests (``POST /v1/traces``): decoded from protobuf or OTLP/JSON (``vigil.otlp.wire``),
their LLM spans turned into Vigil events, and the answer the OTLP specification gives. Both encodings are
read into the same ``SpanFacts``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Status

from vigil.otlp import wire
from vigil.otlp.content import Pending, from_span
from vigil.otlp.genai import is_llm, to_event
from vigil.otlp.wire import JSON, PROTOBUF, hex_id, json_attributes, value
from vigil.spec.pricing import PricingSettings

__all__ = [
    "EVALUATION",
    "JSON",
    "PROTOBUF",
    "Decoded",
    "SpanFacts",
    "answer",
    "decode",
    "evaluation",
    "events",
]


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
    keys: list[tuple[str, str]] = field(default_factory=list)
    """(trace id, span id) of the LLM spans whose content was looked up: ``Pending.done`` once stored."""


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
    (``application/json``). Raises ``InputError`` for a body that is not one (the endpoint answers 400)."""
    return wire.read(body, content_type, ExportTraceServiceRequest, _from_protobuf, _from_json)


def events(
    spans: list[SpanFacts],
    model_of: Callable[[str], str],
    pricing: PricingSettings | None = None,
    content: Pending | None = None,
) -> Decoded:
    """The events of the LLM spans among ``spans`` and the evaluations any span carries; ``model_of``
    names the Vigil model of a service, and ``pricing`` prices the spans that carry no cost. With
    ``content``, each event keeps its prompt (feature ``prompt``) and completion (``prediction``), from
    the span's attributes or else from the log records ``content`` holds for it (unscrubbed: the
    caller scrubs, and calls ``content.done(keys)`` once the events are stored); without, they are
    dropped."""
    out = Decoded(spans=len(spans))
    models: dict[str, str] = {}
    said: list[tuple[dict[str, Any], Any, tuple[str, str]]] = []

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
        event = to_event(
            model,
            span.trace_id,
            span.start_ns,
            span.end_ns,
            span.attributes,
            span.message if span.failed else None,
            pricing,
        )
        out.events.append(event)
        if content is not None:
            said.append((event, from_span(span.attributes), (span.trace_id, span.span_id)))
    if content is not None and said:
        out.keys = [key for _, _, key in said]
        held = content.peek(out.keys)
        for event, found, key in said:
            logged = held.get(key)
            prompt = found.prompt or (logged.prompt if logged else None)
            completion = found.completion or (logged.completion if logged else None)
            if prompt is not None:
                event.setdefault("features", {})["prompt"] = prompt
            if completion is not None:
                event["prediction"] = completion
    return out


def _from_protobuf(request: ExportTraceServiceRequest) -> Iterator[SpanFacts]:
    for resource_spans in request.resource_spans:
        resource = {kv.key: value(kv.value) for kv in resource_spans.resource.attributes}
        service = str(resource.get("service.name") or "unknown_service")
        for scope in resource_spans.scope_spans:
            for span in scope.spans:
                yield SpanFacts(
                    service,
                    span.trace_id.hex(),
                    span.span_id.hex(),
                    span.start_time_unix_nano,
                    span.end_time_unix_nano,
                    _with_content_events(
                        {kv.key: value(kv.value) for kv in span.attributes},
                        [(e.name, {kv.key: value(kv.value) for kv in e.attributes}) for e in span.events],
                    ),
                    span.status.code == Status.STATUS_CODE_ERROR,
                    span.status.message,
                    _evaluations(
                        (e.name, e.time_unix_nano, {kv.key: value(kv.value) for kv in e.attributes})
                        for e in span.events
                    ),
                )


def _from_json(data: Mapping[str, Any]) -> Iterator[SpanFacts]:
    for resource_spans in data.get("resourceSpans") or ():
        resource = json_attributes((resource_spans.get("resource") or {}).get("attributes"))
        service = str(resource.get("service.name") or "unknown_service")
        for scope in resource_spans.get("scopeSpans") or ():
            for span in scope.get("spans") or ():
                status = span.get("status") or {}
                code = status.get("code", 0)
                yield SpanFacts(
                    service,
                    hex_id(span.get("traceId")),
                    hex_id(span.get("spanId")),
                    int(span.get("startTimeUnixNano") or 0),
                    int(span.get("endTimeUnixNano") or 0),
                    _with_content_events(
                        json_attributes(span.get("attributes")),
                        [
                            (e.get("name"), json_attributes(e.get("attributes")))
                            for e in span.get("events") or ()
                        ],
                    ),
                    code in (2, "STATUS_CODE_ERROR"),
                    str(status.get("message") or ""),
                    _evaluations(
                        (
                            e.get("name"),
                            int(e.get("timeUnixNano") or 0),
                            json_attributes(e.get("attributes")),
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
        found = evaluation(attributes) if name == EVALUATION else None
        if found is not None:
            out.append((found[0], found[1], t / 1e9))
    return tuple(out)


def evaluation(attributes: Mapping[str, Any]) -> tuple[str, float] | None:
    """The evaluator and numeric score of a ``gen_ai.evaluation.result`` event (span or log); None when
    it has no name or no numeric score (a label-only verdict)."""
    score = attributes.get("gen_ai.evaluation.score.value")
    evaluator = attributes.get("gen_ai.evaluation.name")
    if isinstance(score, int | float) and not isinstance(score, bool) and evaluator:
        return str(evaluator), float(score)
    return None


def answer(rejected: int, message: str, content_type: str) -> tuple[bytes, str]:
    """The body of a successful export's answer, with ``partial_success`` when some spans were rejected,
    in the request's encoding."""
    return wire.answer(ExportTraceServiceResponse, "rejected_spans", rejected, message, content_type)


_CONTENT_EVENTS = {"gen_ai.content.prompt": "gen_ai.prompt", "gen_ai.content.completion": "gen_ai.completion"}
"""The previous GenAI conventions' span events of a call's content, and the attribute each carries."""


def _with_content_events(
    attributes: dict[str, Any], span_events: Iterable[tuple[Any, Mapping[str, Any]]]
) -> dict[str, Any]:
    """The span's attributes, with the prompt and completion of its content events where it has none."""
    for name, found in span_events:
        key = _CONTENT_EVENTS.get(name)
        if key is not None and key not in attributes and found.get(key) is not None:
            attributes[key] = found[key]
    return attributes
