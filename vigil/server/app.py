"""The HTTP service. ``create_app`` is the composition root: the one place that picks concrete parts
(config, store, clock) and wires them together.

Routes: ``POST /v1/events`` · ``/v1/labels`` · ``/v1/host-metrics`` (ingest keys); ``GET /v1/models``,
``/v1/models/{model}``, ``/v1/models/{model}/metrics``, ``/drift``, ``/events``, ``POST /v1/models``
(admin keys); ``GET /healthz``, ``/metrics`` (Prometheus), ``/openapi.json`` (open).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import orjson
from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from vigil import __version__
from vigil.config import ModelSpec, VigilConfig
from vigil.errors import InputError, StoreError
from vigil.ingest.pipeline import Ingestor
from vigil.ingest.validate import BadRequest, Limits
from vigil.monitoring.aggregator import Aggregator
from vigil.monitoring.query import METRICS, Baselines
from vigil.monitoring.query import Query as MetricsQuery
from vigil.registry import Conflict, Registry
from vigil.schema import Event, HostMetrics, Label
from vigil.server.auth import Doorman
from vigil.store.base import Store

__all__ = ["STORE_RETRY_AFTER", "Vigil", "create_app"]

STORE_RETRY_AFTER = 2
"""Seconds a client is asked to wait (``Retry-After``) when the store cannot take its request."""

_BODY_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"type": "array", "items": {"$ref": "#/components/schemas/{name}"}}
            },
            "application/x-ndjson": {"schema": {"type": "string", "description": "one JSON record per line"}},
        },
        "description": "A JSON array (or NDJSON) of records; Content-Encoding: gzip accepted.",
    }
}


def _body_doc(name: str) -> dict[str, Any]:
    text = orjson.dumps(_BODY_DOC).decode().replace("{name}", name)
    return dict(orjson.loads(text))


class Vigil:
    """The running parts of one server process (what routes use)."""

    def __init__(
        self,
        config: VigilConfig,
        store: Store,
        *,
        clock: Callable[[], float] = time.time,
        writer: str = "main",
        limits: Limits | None = None,
        root: Path | None = None,
        flush_every: float = 2.0,
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.registry = Registry(config, store)
        self._record_config_deploys(clock())
        self.baselines = Baselines(self.registry, store, root)
        self.aggregator = Aggregator(
            store,
            self.registry,
            writer=writer,
            clock=clock,
            flush_every=flush_every,
            baselines=self._template_baseline,
        )
        self.ingestor = Ingestor(
            self.registry, store, self.aggregator, config.security, limits=limits, writer=writer, clock=clock
        )
        self.query = MetricsQuery(store, self.registry, self.aggregator, self.baselines, clock)
        self.started_at = clock()

    def _record_config_deploys(self, now: float) -> None:
        """A ``live:`` edited in the config since the store last recorded it is a deploy: record it now."""
        from vigil.actions.deployments import Deployments

        deployments = Deployments(self.store, self.registry.declared, lambda _: self.registry.refresh())
        for name in self.registry.names():
            deployments.get(name, now)

    def _template_baseline(self, model: str) -> Any:
        try:
            return self.baselines.file_profile(model)
        except InputError:
            return None


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
) -> FastAPI:
    """The ASGI app. The aggregator starts (replaying the log) when the app starts, and saves on stop;
    with ``close_store`` (the process owns the store: ``vigil serve``) the store is closed last."""
    vigil = Vigil(
        config, store, clock=clock, writer=writer, limits=limits, root=root, flush_every=flush_every
    )

    engine = None
    if "alerting" in (config.model_extra or {}):
        from vigil.actions.wiring import subscribe_remediation
        from vigil.alerting.engine import AlertEngine

        engine = AlertEngine.from_config(config, vigil.query, store, clock=clock, holder=writer)
        subscribe_remediation(engine, config, vigil.registry)  # remediation acts on the alert rounds

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
    )
    _docs(app)
    app.state.alerting = engine
    app.state.vigil = vigil
    # httpx logs each request's full URL at INFO: a Slack hook's path or a token in a query is a secret
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger("httpx").level))
    doorman = Doorman(config.security.api_keys)
    authorise = doorman.guard  # the key names the caller (vigil.server.auth); nothing in the request does

    ingest_key = Depends(authorise("ingest"))
    admin_key = Depends(authorise("admin"))

    @app.exception_handler(BadRequest)
    async def bad_request(_: Request, exc: BadRequest) -> JSONResponse:
        headers = {"Retry-After": str(exc.details["retry_after"])} if "retry_after" in exc.details else None
        return JSONResponse({"error": str(exc), **exc.details}, status_code=exc.status, headers=headers)

    @app.exception_handler(InputError)
    async def input_error(_: Request, exc: InputError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=422)

    @app.exception_handler(StoreError)
    async def store_error(_: Request, exc: StoreError) -> JSONResponse:
        # nothing was acknowledged: the client keeps the request and sends it again
        return JSONResponse(
            {"error": f"the store is unavailable, retry shortly: {exc}", "retry_after": STORE_RETRY_AFTER},
            status_code=503,
            headers={"Retry-After": str(STORE_RETRY_AFTER)},
        )

    @app.exception_handler(KeyError)
    async def unknown_model(_: Request, exc: KeyError) -> JSONResponse:
        return JSONResponse(
            {"error": vigil.registry.unknown(str(exc.args[0])), "known_models": vigil.registry.names()},
            status_code=404,
        )

    async def _ingest(
        request: Request, handler: Callable[[bytes, str | None, str | None], Any]
    ) -> JSONResponse:
        body = await _read_body(request, vigil.ingestor.limits.max_body_bytes)
        result = await run_in_threadpool(
            handler, body, request.headers.get("content-type"), request.headers.get("content-encoding")
        )
        return JSONResponse(result.to_dict(), status_code=result.status)

    @app.post(
        "/v1/events",
        dependencies=[ingest_key],
        openapi_extra=_body_doc("Event"),
        summary="Log predictions",
        responses={413: {}, 422: {}, 404: {}, 409: {}, 503: {}},
    )
    async def post_events(request: Request) -> JSONResponse:
        """Accepts the good records of a batch and names each rejected one (index, field, reason).
        Answered only once the accepted events are stored durably. A retry carrying the same
        ``Idempotency-Key`` header and body as a stored request is answered alike and stored once; the
        key with another body is refused (409)."""
        key = (request.headers.get("idempotency-key") or "").strip()[:200] or None

        def handler(body: bytes, ctype: str | None, cenc: str | None) -> Any:
            return vigil.ingestor.events(body, ctype, cenc, key)

        return await _ingest(request, handler)

    @app.post(
        "/v1/labels", dependencies=[ingest_key], openapi_extra=_body_doc("Label"), summary="Log ground truth"
    )
    async def post_labels(request: Request) -> JSONResponse:
        """Labels join their prediction by request id, whenever they arrive."""
        return await _ingest(request, vigil.ingestor.labels)

    @app.post(
        "/v1/host-metrics",
        dependencies=[ingest_key],
        openapi_extra=_body_doc("HostMetrics"),
        summary="Log host CPU/memory/GPU readings",
    )
    async def post_host_metrics(request: Request) -> JSONResponse:
        return await _ingest(request, vigil.ingestor.host_metrics)

    @app.get("/v1/models", dependencies=[admin_key], summary="Monitored models")
    async def list_models() -> dict[str, Any]:
        return {"models": [_model_view(vigil, name, spec) for name, spec in vigil.registry.items()]}

    @app.post("/v1/models", dependencies=[admin_key], summary="Register a model (the config wins)")
    async def register_model(request: Request) -> JSONResponse:
        try:
            body = orjson.loads(await request.body() or b"{}")
        except orjson.JSONDecodeError as exc:
            return JSONResponse({"error": f"malformed JSON: {exc}"}, status_code=400)
        name = body.pop("name", None) if isinstance(body, dict) else None
        if not isinstance(name, str) or not name:
            return JSONResponse({"error": "give the model's name in 'name'"}, status_code=422)
        try:
            spec = ModelSpec.model_validate(body, strict=False)
            vigil.registry.register(name, spec)
        except ValidationError as exc:
            errors = [{"field": ".".join(map(str, e["loc"])), "reason": e["msg"]} for e in exc.errors()]
            return JSONResponse({"error": "invalid model", "problems": errors}, status_code=422)
        except Conflict as exc:
            return JSONResponse({"error": str(exc)}, status_code=409)
        return JSONResponse(_model_view(vigil, name, spec), status_code=201)

    @app.get("/v1/models/{model}", dependencies=[admin_key], summary="One model")
    async def get_model(model: str) -> dict[str, Any]:
        spec = vigil.registry.get(model)
        if spec is None:
            raise KeyError(model)
        return _model_view(vigil, model, spec)

    @app.get("/v1/models/{model}/metrics", dependencies=[admin_key], summary="Metric series over a range")
    async def metrics(
        model: str,
        names: Annotated[
            str, Query(description="comma-separated: " + ", ".join(METRICS))
        ] = "throughput,error_rate,latency_p95",
        start: Annotated[str | None, Query(alias="from")] = None,
        end: Annotated[str | None, Query(alias="to")] = None,
        step: Annotated[str | None, Query(description="seconds, or 1m / 1h / 1d")] = None,
        version: str | None = None,
        segment: Annotated[
            str | None, Query(description="e.g. region=eu (label-based and prediction metrics only)")
        ] = None,
    ) -> dict[str, Any]:
        from vigil.monitoring.query import parse_segment

        a, b = _range(start, end, vigil.clock())
        try:
            chosen = parse_segment(segment) if segment else None
        except ValueError as exc:
            raise InputError(f"segment: {exc}") from None
        series = await run_in_threadpool(
            vigil.query.series,
            model,
            [n.strip() for n in names.split(",") if n.strip()],
            a,
            b,
            _seconds(step) if step else None,
            version,
            chosen,
        )
        return {
            "model": model,
            "from": _iso(a),
            "to": _iso(b),
            "series": {n: [[_iso(t), v] for t, v in points] for n, points in series.items()},
        }

    @app.get("/v1/models/{model}/drift", dependencies=[admin_key], summary="Drift against the baseline")
    async def drift(
        model: str,
        start: Annotated[str | None, Query(alias="from")] = None,
        end: Annotated[str | None, Query(alias="to")] = None,
        version: str | None = None,
    ) -> dict[str, Any]:
        a, b = _range(start, end, vigil.clock())
        report = await run_in_threadpool(vigil.query.drift, model, a, b, version)
        return {"model": model, "from": _iso(a), "to": _iso(b), **report.to_dict()}

    @app.get("/v1/models/{model}/events", dependencies=[admin_key], summary="A sample of raw events")
    async def sample_events(
        model: str,
        start: Annotated[str | None, Query(alias="from")] = None,
        end: Annotated[str | None, Query(alias="to")] = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
        version: str | None = None,
    ) -> dict[str, Any]:
        a, b = _range(start, end, vigil.clock())
        events = await run_in_threadpool(vigil.query.events, model, a, b, limit, version)
        return {"model": model, "from": _iso(a), "to": _iso(b), "events": events}

    @app.get(
        "/v1/alerts", dependencies=[admin_key], summary="Current alerts (firing, and resolved not yet sent)"
    )
    async def list_alerts() -> dict[str, Any]:
        """Alertmanager's shape, with ``status.state`` ``active`` or ``suppressed`` and the ids of the
        silences that mute each alert (``silencedBy``) and whether an inhibition does (``inhibited``)."""
        if engine is None:
            return {"alerts": [], "note": "alerting is off: add an alerting: section to vigil.yaml"}
        now = vigil.clock()
        alerts = engine.alerts()
        silences = await run_in_threadpool(engine.silences.all)
        inhibitor = engine.inhibitor()
        out = []
        for a in alerts:
            silenced = [s.id for s in silences if s.mutes(a.labels, now)]
            inhibited = inhibitor.mutes(a.labels, now)
            out.append(
                {
                    "labels": dict(a.labels),
                    "annotations": dict(a.annotations),
                    "status": str(a.status.value),
                    "startsAt": _iso(a.starts_at),
                    "endsAt": _iso(a.ends_at) if a.ends_at else None,
                    "fingerprint": a.fingerprint,
                    "silencedBy": silenced,
                    "inhibited": inhibited,
                    "state": "suppressed" if silenced or inhibited else "active",
                }
            )
        return {"alerts": out}

    from vigil.server.ops import ops_router

    app.include_router(ops_router(vigil, engine, authorise("admin"), iso=_iso, parse_time=_time))

    @app.get("/healthz", summary="Liveness and readiness", responses={503: {}})
    async def healthz() -> JSONResponse:
        """``status``: ``ok``; ``degraded`` (events held: a model no longer declared, or batches that
        cannot be folded); ``unavailable`` (503: the store cannot be written, or folding is stuck on
        it). ``problems`` says what is wrong in words."""
        problems: list[str] = []
        down = False
        try:
            await run_in_threadpool(store.check)
        except StoreError as exc:
            problems.append(str(exc))
            down = True
        trouble = vigil.aggregator.trouble
        if trouble is not None:
            problems.append(f"{trouble[0]} (since {_iso(trouble[1])})")
            down = True
        held = vigil.aggregator.held()
        summaries: dict[str, dict[str, Any]] = {}
        for kind, name in (("undeclared", "held"), ("damaged", "quarantined")):
            of_kind = [h for h in held if h.kind == kind]
            models = sorted({h.model for h in of_kind})
            events = sum(h.rows for h in of_kind)
            summaries[name] = {"events": events, "batches": len(of_kind), "models": models}
            if not of_kind:
                continue
            first = of_kind[0]
            problems.append(
                f"{events} events of {', '.join(models)} are kept but not counted: the config no longer "
                "declares these models; declare them again to count them"
                if kind == "undeclared"
                else f"{events} events cannot be folded (batch {first.seq} of {first.model}: "
                f"{first.reason}); they are kept in the store's log"
            )
        body = {
            "status": "unavailable" if down else "degraded" if problems else "ok",
            "version": __version__,
            "store": store.url,  # a store's url never shows a password
            "models": len(vigil.registry.names()),
            "pending_rows": vigil.aggregator.pending_rows,
            **summaries,
            "problems": problems,
        }
        return JSONResponse(body, status_code=503 if down else 200)

    @app.get("/metrics", summary="Prometheus exposition", response_class=Response)
    async def prometheus(request: Request) -> Response:
        from vigil.server.prometheus import exposition

        body, content_type = await run_in_threadpool(exposition, vigil, request.headers.get("accept"))
        return Response(body, media_type=content_type)

    # the schemas of the records, for the request bodies documented above
    app.openapi_schema = None
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model_type in (Event, Label, HostMetrics):
            components[model_type.__name__] = model_type.model_json_schema(
                ref_template="#/components/schemas/{model}"
            )
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _docs(app: FastAPI) -> None:
    """``GET /docs``: Swagger UI for the API, its script and styles served from the swagger-ui-bundle-v2
    package (Apache-2.0) under ``/docs/assets``, so the page works without the internet."""
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.responses import HTMLResponse
    from fastapi.staticfiles import StaticFiles
    from swagger_ui_bundle import swagger_ui_path

    app.mount("/docs/assets", StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title="Vigil API",
            swagger_js_url=f"{root}/docs/assets/swagger-ui-bundle.js",
            swagger_css_url=f"{root}/docs/assets/swagger-ui.css",
            swagger_favicon_url=f"{root}/docs/assets/favicon-32x32.png",
        )


def _model_view(vigil: Vigil, name: str, spec: ModelSpec) -> dict[str, Any]:
    return {
        "name": name,
        "task": spec.task,
        "owner": spec.owner.model_dump(),
        "environment": spec.environment,
        "versions": list(spec.versions),
        "live": spec.live_version,
        "previous": vigil.registry.previous(name),
        "window_seconds": spec.window.total_seconds(),
        "features": {n: f.model_dump(exclude_defaults=True) for n, f in spec.features.items()},
        "segments": list(spec.segments),
        "source": vigil.registry.source(name),
    }


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, refused (413) as soon as it is known to be over ``limit``, before it is all read."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BadRequest(413, f"body of {declared} bytes is over the limit", limit=limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BadRequest(413, "body is over the limit", limit=limit)
        chunks.append(chunk)
    return b"".join(chunks)


_FIRST = datetime(1970, 1, 1, tzinfo=UTC).timestamp()
_LAST = datetime(9999, 12, 30, tzinfo=UTC).timestamp()


def _time(text: str) -> float:
    try:
        t = float(text)
    except ValueError:
        try:
            when = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise InputError(
                f"not a time: {text!r}; use RFC 3339 (2026-11-21T10:00:00Z) or epoch seconds"
            ) from None
        t = (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()
    if not _FIRST <= t <= _LAST:  # NaN included
        raise InputError(f"time out of range: {text!r}; give a time between 1970 and 9999")
    return t


def _range(start: str | None, end: str | None, now: float) -> tuple[float, float]:
    b = _time(end) if end else now
    a = _time(start) if start else b - 3600
    if not a < b:
        raise InputError("'from' must be before 'to'")
    return a, b


def _seconds(step: str) -> float:
    from vigil.config import parse_duration

    try:
        seconds = float(step)
    except ValueError:
        try:
            seconds = parse_duration(step).total_seconds()
        except Exception:
            raise InputError(f"not a step: {step!r}; use seconds or 1m, 1h, 1d") from None
    if not 0 < seconds <= 400 * 86_400:  # NaN included
        raise InputError(f"not a step: {step!r}; give a positive duration of at most 400 days")
    return seconds


def _iso(t: float) -> str:
    if not math.isfinite(t):
        return ""
    return datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
