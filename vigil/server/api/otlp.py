"""``POST /v1/traces``: OTLP/HTTP trace export (ingest or admin keys), as the OpenTelemetry SDK's OTLP
exporter sends it; ``vigil serve --otlp-port 4318`` also listens on OTLP's own port.

Protobuf (``application/x-protobuf``) or OTLP/JSON (``application/json``), gzip or not. Each LLM span
becomes a Vigil event (``vigil.otlp.genai``) and goes through the same pipeline as ``POST /v1/events``:
checked, scrubbed, in the durable log before the answer. The answers are the specification's: 200 with
an ``ExportTraceServiceResponse`` in the request's encoding, its ``partial_success`` counting the spans
that were not accepted (an unknown service, a bad value) and saying why; 400 for a body that is not an
export request; 415 for another content type; 503 with ``Retry-After`` when the server is catching up or
its store is down (the exporter retries); 413 for a body over the limit. Spans that are not LLM calls are
neither kept nor rejected.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from vigil.errors import InputError
from vigil.ingest.validate import BadRequest, inflate
from vigil.otlp.traces import JSON, PROTOBUF, Decoded, answer, decode, events
from vigil.server.api.answers import errors
from vigil.server.api.deps import VigilDep
from vigil.server.services import Vigil
from vigil.server.wire import read_body

__all__ = ["router"]

router = APIRouter(tags=["ingest"])

_MESSAGES = 3
"""Reasons quoted in a partial success's message (the count covers all)."""


_ANSWER = {
    "description": "An ExportTraceServiceResponse in the request's encoding; partial_success when some LLM "
    "spans were not accepted.",
    "content": {
        PROTOBUF: {"schema": {"type": "string"}},
        JSON: {
            "schema": {
                "type": "object",
                "properties": {
                    "partialSuccess": {
                        "type": "object",
                        "description": "Present when some spans were not accepted.",
                        "properties": {
                            "rejectedSpans": {
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
_REQUEST = {
    "requestBody": {
        "required": True,
        "description": "An OTLP ExportTraceServiceRequest; Content-Encoding: gzip accepted.",
        "content": {PROTOBUF: {"schema": {"type": "string"}}, JSON: {"schema": {"type": "object"}}},
    }
}


@router.post(
    "/v1/traces",
    summary="OTLP/HTTP trace export (LLM spans become events)",
    responses={200: _ANSWER, **errors(400, 413, 415, 503)},
    response_class=Response,
    openapi_extra=_REQUEST,
)
async def traces(request: Request, vigil: VigilDep) -> Response:
    """Takes an ``ExportTraceServiceRequest`` (protobuf or OTLP/JSON); its LLM spans are stored as events
    of the model their ``service.name`` names. Answered once they are in the durable log."""
    ctype = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if ctype not in (PROTOBUF, JSON):
        raise BadRequest(415, f"OTLP/HTTP takes {PROTOBUF} or {JSON}, not {ctype or 'no content type'}")
    body = await read_body(request, vigil.ingestor.limits.max_body_bytes)
    decoded = await run_in_threadpool(_accept, vigil, body, ctype, request.headers.get("content-encoding"))
    content, media = answer(decoded.rejected, "; ".join(decoded.problems[:_MESSAGES]), ctype)
    return Response(content, media_type=media)


def _accept(vigil: Vigil, body: bytes, ctype: str, encoding: str | None) -> Decoded:
    data = inflate(body, encoding, vigil.ingestor.limits)
    try:
        request = decode(data, ctype)
    except InputError as exc:
        raise BadRequest(400, str(exc)) from None
    decoded = events(request, vigil.otlp_model, vigil.config.pricing)
    if decoded.evaluations:  # evaluators' verdicts: feedback on the trace's prediction
        refused = vigil.ingestor.evaluations(decoded.evaluations)
        decoded.rejected += len(refused)
        decoded.problems += refused
    if not decoded.events:
        return decoded
    try:
        result = vigil.ingestor.records(decoded.events)
    except BadRequest as exc:
        if exc.status != 404:  # back-pressure (503) and the like: the exporter retries
            raise
        decoded.rejected += len(decoded.events)
        decoded.problems.insert(0, str(exc))
        return decoded
    decoded.rejected += len(result.rejected)
    for r in result.rejected[:_MESSAGES]:
        decoded.problems.append(f"span {r.index} of the LLM spans: {r.field}: {r.reason}")
    return decoded
