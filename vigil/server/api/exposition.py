"""``GET /metrics``: the server's state for Prometheus (open: no key); see ``vigil.server.prometheus``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from vigil.server.prometheus import Exporter

__all__ = ["router"]

router = APIRouter(tags=["health"])


def _exporter(request: Request) -> Exporter:
    exporter: Exporter = request.app.state.prometheus
    return exporter


_TEXT = {"schema": {"type": "string"}}


@router.get(
    "/metrics",
    summary="Prometheus exposition",
    response_class=Response,
    responses={
        200: {
            "description": "The Prometheus text format, or OpenMetrics 1.0 when the Accept header asks.",
            "content": {
                "text/plain; version=0.0.4": _TEXT,
                "application/openmetrics-text; version=1.0.0": _TEXT,
            },
        }
    },
)
async def prometheus(request: Request, exporter: Annotated[Exporter, Depends(_exporter)]) -> Response:
    body, content_type = await run_in_threadpool(exporter.exposition, request.headers.get("accept"))
    return Response(body, media_type=content_type)
