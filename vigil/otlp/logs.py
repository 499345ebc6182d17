"""OTLP log export requests (``POST /v1/logs``): the GenAI conventions' events among the log records.

A record is an event by its ``event_name`` field, else its ``event.name`` attribute. Read:

* content events (``vigil.otlp.content.CONTENT_EVENTS``: ``gen_ai.user.message``, ``gen_ai.choice``,
  ``gen_ai.client.inference.operation.details``...): the prompt and completion of the LLM call whose span
  the record's trace and span ids name, when content is kept: held for that span in this process
  (``content.Pending``: the span's event takes it when the span comes later) and returned as store rows
  (``Sorted.stored``: the drill-down finds there what came after its span, or reached another process);
* ``gen_ai.evaluation.result``: an evaluator's score, stored as feedback on the trace's prediction as the
  span event of that name is.

Every other record (application logs, other events) is accepted and counted as ignored: a receiver
accepts what it does not use, and the specification's partial success is for records it refused.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)

from vigil.otlp import wire
from vigil.otlp.content import CONTENT_EVENTS, Pending, from_event
from vigil.otlp.traces import EVALUATION, evaluation
from vigil.otlp.wire import hex_id, json_attributes, json_value, value
from vigil.store.base import ContentRow

__all__ = ["LogFacts", "Sorted", "answer", "decode", "sort"]


@dataclass(frozen=True)
class LogFacts:
    """What is read of one log record, whichever the encoding."""

    service: str
    trace_id: str
    """Hex (empty when absent)."""
    span_id: str
    time_ns: int
    """Its time, else when it was observed (0 when neither)."""
    event: str
    """Its event name ("" for a plain log line)."""
    body: Any
    attributes: Mapping[str, Any]


@dataclass
class Sorted:
    """What a request's log records gave."""

    records: int = 0
    evaluations: list[tuple[str, str, str, float, float]] = field(default_factory=list)
    """(model, trace id, evaluator, score, time in seconds), as ``traces.Decoded.evaluations``."""
    content: int = 0
    """Content records held for their span."""
    late: int = 0
    """Content records whose span was ingested before them (in the store rows only)."""
    stored: list[ContentRow] = field(default_factory=list)
    """Every content record as a store row, unscrubbed (the caller scrubs; time 0 when the record has
    none)."""
    ignored: int = 0
    """Records that are none of the above (other logs, content not kept, evaluations without a score)."""
    rejected: int = 0
    problems: list[str] = field(default_factory=list)


def decode(body: bytes, content_type: str) -> list[LogFacts]:
    """The log records of the export request in ``body`` (protobuf or OTLP/JSON); ``InputError`` for a
    body that is not one (answered 400)."""
    return wire.read(body, content_type, ExportLogsServiceRequest, _from_protobuf, _from_json)


def sort(
    records: list[LogFacts],
    model_of: Callable[[str], str],
    content: Pending | None,
    known: Callable[[str], bool] = lambda model: True,
) -> Sorted:
    """Sort the records into evaluations, content for ``content`` to hold (None: content not kept) and
    the rest; ``model_of`` names the Vigil model of a service, and content for a model ``known`` says
    no: is rejected."""
    out = Sorted(records=len(records))
    for record in records:
        if record.event == EVALUATION:
            found = evaluation(record.attributes)
            if found is None:
                out.ignored += 1
            else:
                evaluator, score = found
                model = model_of(record.service)
                out.evaluations.append((model, record.trace_id, evaluator, score, record.time_ns / 1e9))
        elif record.event in CONTENT_EVENTS and content is not None:
            if not (record.trace_id and record.span_id):
                out.rejected += 1
                out.problems.append(f"a {record.event} event without the trace and span ids of its LLM call")
                continue
            said = from_event(record.event, record.body, record.attributes)
            if not said:
                out.ignored += 1
                continue
            model = model_of(record.service)
            if not known(model):
                out.rejected += 1
                out.problems.append(f"a {record.event} event of unknown model {model!r}")
                continue
            if content.hold(
                record.trace_id, record.span_id, said, (record.time_ns, said.prompt, said.completion)
            ):
                out.content += 1
            else:
                out.late += 1
            digest = hashlib.blake2b(
                orjson.dumps([record.time_ns, record.event, said.prompt, said.completion]), digest_size=16
            ).digest()
            out.stored.append(
                ContentRow(
                    model,
                    record.trace_id,
                    record.span_id,
                    digest,
                    record.time_ns / 1e9,
                    len(out.stored),
                    said.prompt,
                    said.completion,
                )
            )
        else:
            out.ignored += 1
    return out


def answer(rejected: int, message: str, content_type: str) -> tuple[bytes, str]:
    """The body of a successful export's answer, with ``partial_success`` when some records were
    rejected, in the request's encoding."""
    return wire.answer(ExportLogsServiceResponse, "rejected_log_records", rejected, message, content_type)


def _event_name(name: str, attributes: Mapping[str, Any]) -> str:
    return name or str(attributes.get("event.name") or "")


def _from_protobuf(request: ExportLogsServiceRequest) -> Iterator[LogFacts]:
    for resource_logs in request.resource_logs:
        resource = {kv.key: value(kv.value) for kv in resource_logs.resource.attributes}
        service = str(resource.get("service.name") or "unknown_service")
        for scope in resource_logs.scope_logs:
            for record in scope.log_records:
                attributes = {kv.key: value(kv.value) for kv in record.attributes}
                yield LogFacts(
                    service,
                    record.trace_id.hex(),
                    record.span_id.hex(),
                    record.time_unix_nano or record.observed_time_unix_nano,
                    _event_name(getattr(record, "event_name", ""), attributes),
                    value(record.body) if record.HasField("body") else None,
                    attributes,
                )


def _from_json(data: Mapping[str, Any]) -> Iterator[LogFacts]:
    for resource_logs in data.get("resourceLogs") or ():
        resource = json_attributes((resource_logs.get("resource") or {}).get("attributes"))
        service = str(resource.get("service.name") or "unknown_service")
        for scope in resource_logs.get("scopeLogs") or ():
            for record in scope.get("logRecords") or ():
                attributes = json_attributes(record.get("attributes"))
                body = record.get("body")
                yield LogFacts(
                    service,
                    hex_id(record.get("traceId")),
                    hex_id(record.get("spanId")),
                    int(record.get("timeUnixNano") or record.get("observedTimeUnixNano") or 0),
                    _event_name(str(record.get("eventName") or ""), attributes),
                    json_value(body) if isinstance(body, Mapping) else None,
                    attributes,
                )
