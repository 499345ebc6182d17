"""``/v1/models``: the monitored models, and registering one."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from vigil.errors import InputError
from vigil.ingest.validate import BadRequest
from vigil.server.api.answers import Answer, errors
from vigil.server.api.deps import VigilDep
from vigil.server.services import Vigil
from vigil.spec import ModelSpec

__all__ = ["ModelView", "router"]

router = APIRouter(tags=["models"])


class Owner(Answer):
    team: str
    contact: str | None = None


class ModelView(Answer):
    name: str
    task: str
    owner: Owner
    environment: str
    versions: list[str]
    live: str
    """The live version."""
    previous: str | None
    """The version a rollback goes to now."""
    window_seconds: float
    features: dict[str, dict[str, Any]]
    """Declared features with what differs from the defaults."""
    segments: list[str]
    source: str
    """``config``, ``api`` (registered through this API) or ``auto`` (registered on first sight)."""


class ModelList(Answer):
    models: list[ModelView]


def _view(vigil: Vigil, name: str, spec: ModelSpec) -> ModelView:
    return ModelView(
        name=name,
        task=spec.task,
        owner=Owner.model_validate(spec.owner.model_dump()),
        environment=spec.environment,
        versions=list(spec.versions),
        live=spec.live_version,
        previous=vigil.registry.previous(name),
        window_seconds=spec.window.total_seconds(),
        features={n: f.model_dump(exclude_defaults=True) for n, f in spec.features.items()},
        segments=list(spec.segments),
        source=vigil.registry.source(name),
    )


@router.get("/v1/models", summary="Monitored models")
async def list_models(vigil: VigilDep) -> ModelList:
    return ModelList(models=[_view(vigil, name, spec) for name, spec in vigil.registry.items()])


@router.post(
    "/v1/models",
    status_code=201,
    summary="Register a model (the config wins)",
    responses=errors(400, 409, 422),
)
async def register_model(request: Request, vigil: VigilDep) -> ModelView:
    """The body is a ``models:`` entry with its ``name``. A model the config declares cannot be replaced."""
    try:
        body = orjson.loads(await request.body() or b"{}")
    except orjson.JSONDecodeError as exc:
        raise BadRequest(400, f"malformed JSON: {exc}") from None
    name = body.pop("name", None) if isinstance(body, dict) else None
    if not isinstance(name, str) or not name:
        raise InputError("give the model's name in 'name'")
    spec = await run_in_threadpool(vigil.register, name, body)
    return _view(vigil, name, spec)


@router.get("/v1/models/{model}", summary="One model", responses=errors(404))
async def get_model(model: str, vigil: VigilDep) -> ModelView:
    return _view(vigil, model, vigil.spec(model))
