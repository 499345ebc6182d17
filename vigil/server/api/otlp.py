"""``POST /v1/traces``, ``/v1/logs`` and ``/v1/metrics``: OTLP/HTTP export (ingest or admin keys), as
the OpenTelemetry SDK's OTLP exporters send it; ``vigil serve --otlp-port 4318`` also listens on OTLP's
own port.

Protobuf (``application/x-protobuf``) or OTLP/JSON (``application/json``), gzip or not. Each LLM span
becomes a Vigil event (``vigil.otlp.genai``) and goes through the same pipeline as ``POST /v1/events``:
checked, scrubbed, in the durable log before the answer; its prompt and completion (from its attributes,
or from the content log events sent before it) are scrubbed here as well, whatever the model's task,
unless the model says ``scrub: false``. Log records give content (stored scrubbed whenever it comes:
the drill-down shows content that came after its span, ``vigil.monitoring.llm_content``) and evaluator
scores (``vigil.otlp.logs``); metric data points are counted, not stored (``vigil.otlp.metrics`` says why).
The answers are the specification's: 200 with an ``Export*ServiceResponse`` in the request's encoding,
its ``partial_success`` counting the items that were not accepted (an unknown service, a bad value) and
saying why; 400 for a body that is not an export request; 415 for another content type; 503 with
``Retry-After`` when the server is catching up or its store is down (the exporter retries); 413 for a
body over the limit. Spans that are not LLM calls and log records that are not GenAI events are neither
kept nor rejected; each signal's items are counted by outcome (``vigil_otlp_received_total``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pyarrow as pa
from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from vigil.errors import InputError
from vigil.ingest.redact import scrub_array
from vigil.ingest.validate import BadRequest, inflate
from vigil.otlp import logs, metrics
from vigil.otlp.traces import JSON, PROTOBUF, Decoded, answer, decode, events
from vigil.server.api.answers import errors
from vigil.server.api.deps import VigilDep
from vigil.server.services import Vigil
from vigil.server.wire import read_body
from vigil.store.base import ContentRow

__all__ = ["router"]

router = APIRouter(tags=["ingest"])

_MESSAGES = 3
"""Reasons quoted in a partial success's message (the count covers all)."""


def _answer(items: str, field: str) -> dict[str, Any]:
    return {
        "description": f"An Export*ServiceResponse in the request's encoding; partial_success when some "
        f"{items} were not accepted.",
        "content": {
            PROTOBUF: {"schema": {"type": "string"}},
            JSON: {
                "schema": {
                    "type": "object",
                    "properties": {
                        "partialSuccess": {
                            "type": "object",
                            "description": f"Present when some {items} were not accepted.",
                            "properties": {
                                field: {
                                    "type": "string",
                                    "description": "How many (an int64, as OTLP/JSON writes it).",
                                },
                                "errorMessage": {"type": "string", "description": "Why, for the first few."},
                            },
                        }
                    },
                }
            },
        },
    }


def _request(message: str) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "description": f"An OTLP {message}; Content-Encoding: gzip accepted.",
            "content": {PROTOBUF: {"schema": {"type": "string"}}, JSON: {"schema": {"type": "object"}}},
        }
    }


@router.post(
    "/v1/traces",
    summary="OTLP/HTTP trace export (LLM spans become events)",
    responses={200: _answer("LLM spans", "rejectedSpans"), **errors(400, 413, 415, 503)},
    response_class=Response,
    openapi_extra=_request("ExportTraceServiceRequest"),
)
async def traces(request: Request, vigil: VigilDep) -> Response:
    """Takes an ``ExportTraceServiceRequest`` (protobuf or OTLP/JSON); its LLM spans are stored as events
    of the model their ``service.name`` names. Answered once they are in the durable log."""
    ctype, body = await _read(request, vigil)
    decoded = await run_in_threadpool(_accept, vigil, body, ctype, request.headers.get("content-encoding"))
    content, media = answer(decoded.rejected, "; ".join(decoded.problems[:_MESSAGES]), ctype)
    return Response(content, media_type=media)


async def _read(request: Request, vigil: Vigil) -> tuple[str, bytes]:
    ctype = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if ctype not in (PROTOBUF, JSON):
        raise BadRequest(415, f"OTLP/HTTP takes {PROTOBUF} or {JSON}, not {ctype or 'no content type'}")
    return ctype, await read_body(request, vigil.ingestor.limits.max_body_bytes)


def _decoded(vigil: Vigil, body: bytes, encoding: str | None, reader: Any, ctype: str) -> Any:
    """The body inflated and read by ``reader`` (a signal's ``decode``); 400 for one it cannot read."""
    data = inflate(body, encoding, vigil.ingestor.limits)
    try:
        return reader(data, ctype)
    except InputError as exc:
        raise BadRequest(400, str(exc)) from None


def _accept(vigil: Vigil, body: bytes, ctype: str, encoding: str | None) -> Decoded:
    request = _decoded(vigil, body, encoding, decode, ctype)
    keep = vigil.config.otlp.keep_content
    decoded = events(request, vigil.otlp_model, vigil.config.pricing, vigil.otlp_content if keep else None)
    vigil.count_otlp(
        "spans", ignored=decoded.spans - len(decoded.events) - decoded.rejected, rejected=decoded.rejected
    )
    _register_llms(vigil, decoded.events)
    if keep:
        _scrub(vigil, decoded.events)
    if decoded.evaluations:  # evaluators' verdicts: feedback on the trace's prediction
        refused = vigil.ingestor.evaluations(decoded.evaluations)
        decoded.rejected += len(refused)
        decoded.problems += refused
    if not decoded.events:
        return decoded
    try:
        result = vigil.ingestor.records(decoded.events)
    except BadRequest as exc:
        if exc.status != 404:  # back-pressure (503) and the like: the exporter retries, content still held
            raise
        vigil.otlp_content.done(decoded.keys)
        decoded.rejected += len(decoded.events)
        decoded.problems.insert(0, str(exc))
        vigil.count_otlp("spans", rejected=len(decoded.events))
        return decoded
    vigil.otlp_content.done(decoded.keys)
    decoded.rejected += len(result.rejected)
    vigil.count_otlp("spans", event=result.accepted, rejected=len(result.rejected))
    for r in result.rejected[:_MESSAGES]:
        decoded.problems.append(f"span {r.index} of the LLM spans: {r.field}: {r.reason}")
    return decoded


_TEXT_PROMPT = {"prompt": {"type": "text"}}
"""An auto-registered model's prompt: watched as text (its descriptors), not profiled as categories."""


def _register_llms(vigil: Vigil, found: list[dict[str, Any]]) -> None:
    """Services no model stands for registered as LLM models where ``auto_register`` allows (the
    pipeline's guess from one batch would call a model without token counts a classifier), their prompt
    declared text where content is kept."""
    if not vigil.registry.auto_register:
        return
    features = _TEXT_PROMPT if vigil.config.otlp.keep_content else None
    for name in {e["model"] for e in found}:
        if vigil.registry.get(name) is None:
            vigil.registry.register_on_first_sight(name, "llm", features)


def _scrub(vigil: Vigil, found: list[dict[str, Any]]) -> None:
    """Prompts and completions scrubbed (``vigil.ingest.redact``) before the pipeline sees them, for every
    model that does not say ``scrub: false``: the pipeline scrubs only an LLM model's undeclared text."""
    where: list[tuple[dict[str, Any], str]] = []
    for event in found:
        spec = vigil.registry.get(event["model"])
        if spec is not None and not spec.scrub:
            continue
        if "prompt" in event.get("features", {}):
            where.append((event["features"], "prompt"))
        if "prediction" in event:
            where.append((event, "prediction"))
    if where:
        done = scrub_array(pa.array([holder[key] for holder, key in where], pa.string())).to_pylist()
        for (holder, key), text in zip(where, done, strict=True):
            holder[key] = text


@router.post(
    "/v1/logs",
    summary="OTLP/HTTP log export (GenAI content and evaluation events)",
    responses={200: _answer("log records", "rejectedLogRecords"), **errors(400, 413, 415, 503)},
    response_class=Response,
    openapi_extra=_request("ExportLogsServiceRequest"),
)
async def log_records(request: Request, vigil: VigilDep) -> Response:
    """Takes an ``ExportLogsServiceRequest``: GenAI content events are stored scrubbed for their span's
    event (and join it when sent before it), ``gen_ai.evaluation.result`` events become evaluator
    scores; other records are accepted and ignored."""
    ctype, body = await _read(request, vigil)
    found = await run_in_threadpool(_accept_logs, vigil, body, ctype, request.headers.get("content-encoding"))
    content, media = logs.answer(found.rejected, "; ".join(found.problems[:_MESSAGES]), ctype)
    return Response(content, media_type=media)


def _accept_logs(vigil: Vigil, body: bytes, ctype: str, encoding: str | None) -> logs.Sorted:
    records = _decoded(vigil, body, encoding, logs.decode, ctype)
    keep = vigil.config.otlp.keep_content
    registry = vigil.registry
    found = logs.sort(
        records,
        vigil.otlp_model,
        vigil.otlp_content if keep else None,
        lambda model: registry.auto_register or registry.get(model) is not None,
    )
    refused = vigil.ingestor.evaluations(found.evaluations) if found.evaluations else []
    found.rejected += len(refused)
    found.problems += refused
    if found.stored:
        _store_content(vigil, found.stored)
    vigil.count_otlp(
        "log_records",
        content=found.content,
        late_content=found.late,
        evaluation=len(found.evaluations) - len(refused),
        ignored=found.ignored,
        rejected=found.rejected,
    )
    return found


def _store_content(vigil: Vigil, rows: list[ContentRow]) -> None:
    """Content records scrubbed (unless their model says ``scrub: false``) and stored before the answer:
    content that comes after its span, or reaches another process than it, is not lost."""
    _register_llms(vigil, [{"model": r.model} for r in rows])
    scrub = [i for i, r in enumerate(rows) if (spec := vigil.registry.get(r.model)) is None or spec.scrub]
    texts = [t for i in scrub for t in (rows[i].prompt, rows[i].completion)]
    if texts:
        done = iter(scrub_array(pa.array(texts, pa.string())).to_pylist())
        for i in scrub:
            rows[i] = replace(rows[i], prompt=next(done), completion=next(done))
    now = vigil.clock()
    vigil.store.put_content([r if r.ts > 0 else replace(r, ts=now) for r in rows])


@router.post(
    "/v1/metrics",
    summary="OTLP/HTTP metric export (accepted, counted, not stored)",
    responses={200: _answer("data points", "rejectedDataPoints"), **errors(400, 413, 415, 503)},
    response_class=Response,
    openapi_extra=_request("ExportMetricsServiceRequest"),
)
async def metric_points(request: Request, vigil: VigilDep) -> Response:
    """Takes an ``ExportMetricsServiceRequest`` and answers success: the GenAI client metrics hold the
    spans' own facts again, so their data points are counted and not stored."""
    ctype, body = await _read(request, vigil)
    found = await run_in_threadpool(
        _decoded, vigil, body, request.headers.get("content-encoding"), metrics.count, ctype
    )
    vigil.count_otlp("data_points", genai_ignored=found.genai, ignored=found.points - found.genai)
    content, media = metrics.answer(ctype)
    return Response(content, media_type=media)
