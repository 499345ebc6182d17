"""The HTTP service. ``create_app`` is the composition root: the one place that picks concrete parts
(config, store, clock), builds the services and includes the routers of ``vigil.server.api``.

Routes: ``POST /v1/events`` · ``/v1/labels`` · ``/v1/host-metrics``; ``/v1/models``, their metrics, drift
and events, alerts, silences, incidents, rules, actions, deploys, maintenance, keys, the audit log and the
procedure diagram; ``/login`` and ``/logout``; the dashboard at ``/`` (``vigil.server.ui``); ``GET /healthz``,
``/metrics`` (Prometheus), ``/docs``, ``/openapi.json``. Who may call each: ``vigil.server.roles``, enforced
by ``vigil.server.auth.authorize`` on every route.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI
from starlette.concurrency import run_in_threadpool

from vigil._version import __version__
from vigil.actions.wiring import subscribe_remediation
from vigil.alerting.engine import AlertEngine
from vigil.broker import Publisher
from vigil.config import VigilConfig
from vigil.ingest.validate import Limits
from vigil.monitoring.impact import Impact
from vigil.server import auth, ui, wire
from vigil.server.api import (
    actions,
    alerts,
    audit,
    deploys,
    docs,
    exposition,
    fairness,
    health,
    incidents,
    ingest,
    keys,
    login,
    maintenance,
    models,
    otlp,
    procedure,
    quality,
    queries,
    rules,
    silences,
    spend,
)
from vigil.server.keyring import Keyring
from vigil.server.prometheus import Exporter
from vigil.server.services import Vigil
from vigil.server.sessions import Sessions, session_secret
from vigil.store.base import Store

__all__ = ["Vigil", "alert_engine", "create_app", "prepare_process"]

_API = (
    ingest,
    otlp,
    models,
    queries,
    quality,
    fairness,
    spend,
    alerts,
    silences,
    incidents,
    rules,
    actions,
    deploys,
    maintenance,
    audit,
    keys,
)
_ROUTERS = (*_API, procedure, health, exposition, login)
"""The modules of the routers, in the order the OpenAPI document lists them."""


def alert_engine(
    config: VigilConfig, vigil: Vigil, *, clock: Callable[[], float], writer: str
) -> AlertEngine | None:
    """The alert engine, when the config has an ``alerting:`` section, with the remediation actions
    subscribed to its rounds (kept as ``vigil.remediator``)."""
    if not config.has_alerting:
        return None
    explain = Impact(vigil.baselines, vigil.query.drift).drift_matters
    engine = AlertEngine.from_config(
        config, vigil.query, vigil.store, clock=clock, holder=writer, explain=explain
    )
    vigil.remediator = subscribe_remediation(engine, config, vigil.registry)
    return engine


def prepare_process() -> None:
    """What a server process does once, before it listens: import ``scipy.stats`` (a drift comparison of a
    small sample takes its KS p-value from it; importing it costs most of a second, which the first page or
    alert to compare would otherwise wait for), compile the dashboard's templates (some 50 ms the first
    page would wait for), then keep what start-up made out of the garbage
    collector's full passes (``gc.freeze``: those objects, some 140,000, live as long as the process, and
    a full pass over them takes about 0.1 s on a busy 2-core machine; a page reading thousands of windows
    sets off a few)."""
    import scipy.stats  # noqa: F401  -- here, not at the top: apps made by tests need not pay for it

    ui.compile_templates()
    gc.collect()
    gc.freeze()


def create_app(
    config: VigilConfig,
    store: Store,
    *,
    clock: Callable[[], float] = time.time,
    writer: str = "main",
    limits: Limits | None = None,
    root: Path | None = None,
    flush_every: float = 2.0,
    close_store: bool = False,
    publisher: Publisher | None = None,
    max_lag: int = 10_000,
) -> FastAPI:
    """The ASGI app. The aggregator starts (replaying the log) when the app starts, and saves on stop;
    with ``close_store`` (the process owns the store: ``vigil serve``) the store is closed last. With a
    ``publisher``, accepted events go to the broker's stream for ``vigil worker`` (503 past ``max_lag``
    batches not folded yet)."""
    vigil = Vigil(
        config,
        store,
        clock=clock,
        writer=writer,
        limits=limits,
        root=root,
        flush_every=flush_every,
        publisher=publisher,
        max_lag=max_lag,
    )
    engine = alert_engine(config, vigil, clock=clock, writer=writer)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(vigil.aggregator.start)  # at once when started already (vigil serve)
        if engine is not None:
            engine.start()
        yield
        if engine is not None:
            await run_in_threadpool(engine.stop)
        await run_in_threadpool(vigil.aggregator.stop)
        if close_store:
            await run_in_threadpool(store.close)

    app = FastAPI(
        title="Vigil",
        version=__version__,
        lifespan=lifespan,
        description="Watches ML and AI models in production.",
        docs_url=None,  # FastAPI's pages load Swagger UI and Redoc from a CDN; /docs serves its own copy
        redoc_url=None,
        dependencies=[Depends(auth.authorize)],  # every route: the role it needs, from vigil.server.roles
    )
    app.state.vigil = vigil
    app.state.alerting = engine
    security = config.security
    secret = session_secret(security.session_secret, store, clock())
    sessions = Sessions(secret, store, security.session_max_age.total_seconds(), clock)
    gate = auth.Gate(Keyring(security.api_keys, store, secret, clock), sessions)
    auth.install(app, gate)  # the key (or the session it signed in) names the caller; nothing else does
    app.state.prometheus = Exporter(vigil)
    # httpx logs each request's full URL at INFO: a Slack hook's path or a token in a query is a secret
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger("httpx").level))
    wire.install(app)
    for resource in _ROUTERS:
        app.include_router(resource.router)
    docs.mount(app)
    ui.mount(app)
    _document_records(app)
    gate.bind(app)  # last: refuses to start with a route the role table does not list
    return app


def _document_records(app: FastAPI) -> None:
    """Add the schemas of the records the ingest routes take to the OpenAPI document (their bodies are
    read as bytes, so FastAPI does not see them)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if not app.openapi_schema:
            schema = generate()
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for record in ingest.RECORDS:
                components[record.__name__] = record.model_json_schema(
                    ref_template="#/components/schemas/{model}"
                )
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
