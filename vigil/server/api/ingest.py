"""``POST /v1/events``, ``/v1/labels``, ``/v1/host-metrics``: what models log (ingest or admin keys)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from vigil.ingest.pipeline import IngestResult
from vigil.schema import Event, Feedback, HostMetrics, Label
from vigil.server.api.answers import Answer, errors
from vigil.server.api.deps import VigilDep
from vigil.server.wire import read_body

__all__ = ["RECORDS", "router"]

RECORDS = (Event, Label, Feedback, HostMetrics)
"""The records these routes take, for the OpenAPI document's schemas."""

router = APIRouter(tags=["ingest"])


class Rejection(Answer):
    index: int
    """The record's position in the batch (0-based)."""
    field: str
    reason: str


class Ingested(Answer):
    """How many records were stored, and why each other one was not. Answered 422 when none was."""

    accepted: int
    rejected: list[Rejection]


_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/{name}"}}},
        "application/x-ndjson": {"schema": {"type": "string", "description": "one JSON record per line"}},
    },
    "description": "A JSON array (or NDJSON) of records; Content-Encoding: gzip accepted.",
}


def _body_doc(name: str) -> dict[str, Any]:
    text = orjson.dumps(_BODY).decode().replace("{name}", name)
    return {"requestBody": orjson.loads(text)}


_REFUSED = {**errors(400, 404, 413, 415, 503), 422: {"model": Ingested, "description": "No record accepted."}}


async def _ingest(
    request: Request, limit: int, handler: Callable[[bytes, str | None, str | None], IngestResult]
) -> JSONResponse:
    body = await read_body(request, limit)
    result = await run_in_threadpool(
        handler, body, request.headers.get("content-type"), request.headers.get("content-encoding")
    )
    # encoded as the ingestor gave it: checking up to max_records rejections again would slow ingest
    return JSONResponse(result.to_dict(), status_code=result.status)


@router.post(
    "/v1/events",
    summary="Log predictions",
    response_model=Ingested,
    openapi_extra=_body_doc("Event"),
    responses={**_REFUSED, **errors(409)},
)
async def post_events(request: Request, vigil: VigilDep) -> JSONResponse:
    """Accepts the good records of a batch and names each rejected one (index, field, reason).
    Answered only once the accepted events are stored durably. A retry carrying the same
    ``Idempotency-Key`` header and body as a stored request is answered alike and stored once; the
    key with another body is refused (409)."""
    key = (request.headers.get("idempotency-key") or "").strip()[:200] or None

    def handler(body: bytes, ctype: str | None, cenc: str | None) -> IngestResult:
        return vigil.ingestor.events(body, ctype, cenc, key)

    return await _ingest(request, vigil.ingestor.limits.max_body_bytes, handler)


@router.post(
    "/v1/labels",
    summary="Log ground truth",
    response_model=Ingested,
    openapi_extra=_body_doc("Label"),
    responses=_REFUSED,
)
async def post_labels(request: Request, vigil: VigilDep) -> JSONResponse:
    """Labels join their prediction by request id, whenever they arrive."""
    return await _ingest(request, vigil.ingestor.limits.max_body_bytes, vigil.ingestor.labels)


@router.post(
    "/v1/feedback",
    summary="Log user feedback and evaluator scores",
    response_model=Ingested,
    openapi_extra=_body_doc("Feedback"),
    responses=_REFUSED,
)
async def post_feedback(request: Request, vigil: VigilDep) -> JSONResponse:
    """Thumbs, ratings and evaluator scores of a prediction, joined by request id (the trace id for spans
    sent over OTLP) like labels; the latest of each per request id counts. Comments are scrubbed."""
    return await _ingest(request, vigil.ingestor.limits.max_body_bytes, vigil.ingestor.feedback)


@router.post(
    "/v1/host-metrics",
    summary="Log host CPU/memory/GPU readings",
    response_model=Ingested,
    openapi_extra=_body_doc("HostMetrics"),
    responses=_REFUSED,
)
async def post_host_metrics(request: Request, vigil: VigilDep) -> JSONResponse:
    return await _ingest(request, vigil.ingestor.limits.max_body_bytes, vigil.ingestor.host_metrics)
