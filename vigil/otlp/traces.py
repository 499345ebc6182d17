"""OTLP trace export requests (``POST /v1/traces``): decoded from protobuf or OTLP/JSON, their LLM spans
turned into Vigil events, and the answer the OTLP specification gives.

OTLP/JSON differs from protobuf's own JSON mapping in one way that matters here: trace and span ids are
hex strings, not base64 (the specification's "JSON Protobuf Encoding"); they are turned into bytes before
the message is read, so both encodings decode into the same ``ExportTraceServiceRequest``. Unknown fields
are ignored, as the specification asks of receivers.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Status

from vigil.errors import InputError
from vigil.otlp.genai import is_llm, to_event

__all__ = ["PROTOBUF", "Decoded", "answer", "decode", "events"]

PROTOBUF = "application/x-protobuf"
JSON = "application/json"


@dataclass
class Decoded:
    """What a request's spans gave: the events of its LLM spans, and the spans that could not be read."""

    events: list[dict[str, Any]] = field(default_factory=list)
    spans: int = 0
    """Spans in the request."""
    rejected: int = 0
    problems: list[str] = field(default_factory=list)


def decode(body: bytes, content_type: str) -> ExportTraceServiceRequest:
    """The request in ``body``: protobuf (``application/x-protobuf``) or OTLP/JSON (``application/json``).
    Raises ``InputError`` for a body that is not one (the endpoint answers 400)."""
    request = ExportTraceServiceRequest()
    if content_type == PROTOBUF:
        try:
            request.ParseFromString(body)
        except DecodeError as exc:
            raise InputError(
                f"the body is not an OTLP ExportTraceServiceRequest in protobuf: {exc}"
            ) from None
        return request
    try:
        data = orjson.loads(body)
        json_format.ParseDict(_ids_as_bytes(data), request, ignore_unknown_fields=True)
    except (orjson.JSONDecodeError, json_format.ParseError, ValueError, TypeError) as exc:
        raise InputError(f"the body is not an OTLP ExportTraceServiceRequest in OTLP/JSON: {exc}") from None
    return request


def events(request: ExportTraceServiceRequest, model_of: Callable[[str], str]) -> Decoded:
    """The events of ``request``'s LLM spans; ``model_of`` names the Vigil model of a service."""
    out = Decoded()
    for resource_spans in request.resource_spans:
        resource = _attributes(resource_spans.resource.attributes)
        service = str(resource.get("service.name") or "unknown_service")
        model = model_of(service)
        for scope in resource_spans.scope_spans:
            for span in scope.spans:
                out.spans += 1
                attributes = _attributes(span.attributes)
                if not is_llm(attributes):
                    continue
                if not span.start_time_unix_nano:
                    out.rejected += 1
                    out.problems.append(f"span {span.span_id.hex() or '?'} has no start time")
                    continue
                failed = span.status.code == Status.STATUS_CODE_ERROR
                out.events.append(
                    to_event(
                        model,
                        span.trace_id.hex(),
                        span.start_time_unix_nano,
                        span.end_time_unix_nano,
                        attributes,
                        span.status.message if failed else None,
                    )
                )
    return out


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


def _attributes(values: Iterator[KeyValue] | Any) -> Mapping[str, Any]:
    return {kv.key: _value(kv.value) for kv in values}


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, kind)


def _ids_as_bytes(data: Any) -> Any:
    """OTLP/JSON's hex ids as the base64 that protobuf's JSON mapping reads for bytes."""
    if isinstance(data, dict):
        return {
            k: (
                _hex_to_base64(v)
                if k in ("traceId", "spanId", "parentSpanId") and isinstance(v, str)
                else _ids_as_bytes(v)
            )
            for k, v in data.items()
        }
    if isinstance(data, list):
        return [_ids_as_bytes(v) for v in data]
    return data


def _hex_to_base64(text: str) -> str:
    try:
        return base64.b64encode(bytes.fromhex(text)).decode()
    except ValueError:
        raise InputError(f"trace and span ids are hex in OTLP/JSON; got {text!r}") from None
