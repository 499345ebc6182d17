"""Who is calling: the API key of a request and the holder it names (``security.api_keys``).

A key written ``{name: alice, key: "${ALICE_KEY}"}`` names its holder: what is done with it is recorded
as done by ``alice``, whatever the request says. A key written as a plain string names nobody, and with no
key configured the API is open: then the name the client gives (``X-Vigil-User``, or ``by`` in a body) is
recorded as a claim, ``ana (unverified)``, and such a caller cannot approve an action (four eyes needs two
people Vigil can tell apart).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import Depends, Header, HTTPException, Request

from vigil.actions.remediator import unverified
from vigil.errors import InputError
from vigil.spec import ApiKey, ApiKeys

__all__ = [
    "AdminCaller",
    "Caller",
    "Doorman",
    "IngestCaller",
    "Level",
    "admin_key",
    "claimed_actor",
    "ingest_key",
]

Level = Literal["admin", "ingest"]
_CLAIM_LIMIT = 64


@dataclass(frozen=True)
class Caller:
    """The caller of one request: the key's holder (``None`` for a plain key or an open API)."""

    holder: str | None
    level: Level | None
    """The key's level; None when the API is open."""

    def actor(self, claim: object = None) -> str:
        """Who to record as acting: the holder, else ``claim`` (the client's word) marked unverified."""
        if self.holder is not None:
            return self.holder
        if claim is None or claim == "":
            return unverified(None)
        if not isinstance(claim, str) or not claim.strip():
            raise InputError("'by' (or X-Vigil-User) must be a name")
        text = " ".join(claim.split())[:_CLAIM_LIMIT]
        return unverified("".join(ch for ch in text if ch.isprintable()))


class Doorman:
    """Checks the key of each request against ``keys`` in time that does not depend on the key."""

    def __init__(self, keys: ApiKeys) -> None:
        self._entries: list[tuple[Level, ApiKey]] = [
            *(("admin", k) for k in keys.admin),
            *(("ingest", k) for k in keys.ingest),
        ]

    @property
    def open(self) -> bool:
        """Whether no key is configured (every route is open)."""
        return not self._entries

    def identify(self, given: str) -> tuple[Level, ApiKey] | None:
        """The level and entry of key ``given`` (admin first), or None for an unknown key."""
        raw = given.encode("utf-8", "surrogateescape")
        matches = [hmac.compare_digest(raw, entry.key.encode("utf-8")) for _, entry in self._entries]
        for matched, found in zip(matches, self._entries, strict=True):
            if matched:
                return found
        return None

    def admit(
        self, level: Level, request: Request, authorization: str | None, x_api_key: str | None
    ) -> Caller:
        """The caller of ``request``: 401 without a known key, 403 for an ingest key on an admin route.
        Kept as ``request.state.caller``."""
        if self.open:
            caller = Caller(None, None)
        else:
            given = x_api_key or (
                authorization[7:] if authorization and authorization[:7].lower() == "bearer " else None
            )
            if given is None:
                raise HTTPException(401, "send an API key: Authorization: Bearer <key> (or X-API-Key)")
            found = self.identify(given)
            if found is None:
                raise HTTPException(401, "unknown API key")
            if level == "admin" and found[0] != "admin":
                raise HTTPException(403, f"this key may not do this (needs an {level} key)")
            caller = Caller(found[1].name, found[0])
        request.state.caller = caller
        return caller


def _guard(level: Level) -> Callable[..., Caller]:
    def check(
        request: Request,
        authorization: Annotated[str | None, Header()] = None,
        x_api_key: Annotated[str | None, Header()] = None,
    ) -> Caller:
        doorman: Doorman = request.app.state.doorman
        return doorman.admit(level, request, authorization, x_api_key)

    return check


admin_key = _guard("admin")
"""A dependency: the caller of a route that needs an admin key (the app's ``state.doorman`` checks it)."""
ingest_key = _guard("ingest")
"""A dependency: the caller of a route that needs an ingest (or admin) key."""
AdminCaller = Annotated[Caller, Depends(admin_key)]
IngestCaller = Annotated[Caller, Depends(ingest_key)]


def claimed_actor(caller: Caller, request: Request, body: Mapping[str, Any] | None = None) -> str:
    """Who to record as acting in ``request``: the key's holder, else the name the client gives (``by`` in
    the body, else ``X-Vigil-User``) marked unverified."""
    claim = (body or {}).get("by") or request.headers.get("x-vigil-user")
    return caller.actor(claim)
