"""``/v1/keys``: API keys an admin creates, lists and revokes (see ``vigil.server.keyring``). The key is in
the answer that creates it, and nowhere else: the store keeps its SHA-256."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from vigil.server.api.answers import Answer, errors
from vigil.server.auth import CallerDep, claimed_actor
from vigil.server.keyring import Holder, Keyring
from vigil.server.wire import iso, read_object

__all__ = ["router"]

router = APIRouter(tags=["keys"])


class KeyView(Answer):
    id: str
    name: str | None
    """Its holder (None: a key the config gives as a plain string)."""
    role: str
    """The strongest of its roles: admin, editor, viewer or ingest."""
    roles: list[str]
    source: str
    """``config`` (vigil.yaml) or ``api`` (created here)."""
    created_at: str | None
    created_by: str | None
    last_used: str | None
    """For a config key: its last use by this server process since it started."""


class NewKey(KeyView):
    key: str
    """The key: shown this once, kept only as its SHA-256. Send it as ``Authorization: Bearer <key>``."""


class Keys(Answer):
    keys: list[KeyView]


def _view(h: Holder) -> dict[str, object]:
    return {
        "id": h.id,
        "name": h.name,
        "role": h.role,
        "roles": sorted(h.roles),
        "source": h.source,
        "created_at": None if h.created_at is None else iso(h.created_at),
        "created_by": h.created_by,
        "last_used": None if h.last_used is None else iso(h.last_used),
    }


def _keyring(request: Request) -> Keyring:
    keyring: Keyring = request.app.state.gate.keyring
    return keyring


@router.get("/v1/keys", summary="API keys: holders, roles, when created and last used (never a key)")
async def list_keys(request: Request) -> Keys:
    found = await run_in_threadpool(_keyring(request).listing)
    return Keys.model_validate({"keys": [_view(h) for h in found]})


@router.post(
    "/v1/keys",
    status_code=201,
    summary="Create a key (shown once)",
    responses=errors(409, 422, detail=(409,)),
)
async def create_key(request: Request, caller: CallerDep) -> NewKey:
    """Body: ``name`` (its holder: who Vigil records as acting with it) and ``role`` (viewer, editor,
    admin or ingest). On an API with no key yet, the first must be an admin key. Audited."""
    body = await read_object(request)
    by = claimed_actor(caller, request, body)
    holder, key = await run_in_threadpool(_keyring(request).create, body.get("name"), body.get("role"), by)
    return NewKey.model_validate({**_view(holder), "key": key})


@router.delete(
    "/v1/keys/{id}",
    summary="Revoke a key (refused from the next request on)",
    responses=errors(404, 409, detail=(404, 409)),
)
async def revoke_key(id: str, request: Request, caller: CallerDep) -> KeyView:
    """A key of the config is revoked by removing it from vigil.yaml (409); so is the last admin key
    while other keys remain (409). Audited."""
    holder = await run_in_threadpool(_keyring(request).revoke, id, claimed_actor(caller, request))
    return KeyView.model_validate(_view(holder))
