"""``GET /healthz``: liveness and readiness (open: no key)."""

from __future__ import annotations

import dataclasses

from fastapi import APIRouter, Response
from starlette.concurrency import run_in_threadpool

from vigil._version import __version__
from vigil.server.api.answers import Answer
from vigil.server.api.deps import VigilDep
from vigil.server.services import Vigil

__all__ = ["router"]

router = APIRouter(tags=["health"])


class Held(Answer):
    events: int
    batches: int
    models: list[str]


class BrokerLag(Answer):
    """The workers' lag behind the broker's stream (``vigil serve --broker``)."""

    stream: str
    pending: int
    """Batches in the stream not delivered to a worker yet."""
    ack_pending: int
    """Batches delivered to a worker and not acknowledged yet."""
    redelivered: int
    stream_messages: int
    stream_bytes: int


class Health(Answer):
    status: str
    """``ok``, ``degraded`` or ``unavailable``."""
    version: str
    store: str
    """The store's URL (never with a password)."""
    models: int
    pending_rows: int
    """Events accepted but not folded into windows yet."""
    held: Held
    """Events kept but not counted: their model is no longer declared."""
    quarantined: Held
    """Events kept but not counted: they cannot be folded."""
    broker: BrokerLag | None = None
    """With a broker: the workers' lag, as last read (every second)."""
    problems: list[str]


@router.get(
    "/healthz",
    summary="Liveness and readiness",
    responses={503: {"model": Health, "description": "The store cannot be used."}},
)
async def healthz(vigil: VigilDep, response: Response) -> Health:
    """``status``: ``ok``; ``degraded`` (events held: a model no longer declared, or batches that
    cannot be folded); ``unavailable`` (503: the store cannot be written, or folding is stuck on
    it). ``problems`` says what is wrong in words."""
    found = await run_in_threadpool(vigil.health)
    if found.status == "unavailable":
        response.status_code = 503
    return Health(
        status=found.status,
        version=__version__,
        store=vigil.store.url,
        models=len(vigil.registry.names()),
        pending_rows=vigil.aggregator.pending_rows,
        held=Held.model_validate(found.held),
        quarantined=Held.model_validate(found.quarantined),
        broker=_broker(vigil),
        problems=found.problems,
    )


def _broker(vigil: Vigil) -> BrokerLag | None:
    lag, publisher = vigil.broker_lag(), vigil.ingestor.publisher
    if lag is None or publisher is None:
        return None
    return BrokerLag(stream=publisher.stream, **dataclasses.asdict(lag))
