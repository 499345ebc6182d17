"""Who holds which key: the config's keys (``security.api_keys``) and the keys admins create through the
API (``POST /v1/keys``), both kept only as their SHA-256.

Why a plain SHA-256: a key Vigil makes is 32 random bytes (256 bits), so its hash cannot be reversed nor
guessed, and a salt or a slow hash (which guard low-entropy passwords) would add nothing but cost; an
unsalted hash is also what lets a key be found by one indexed lookup, and lets an operator write a key
into the config as its ``sha256`` without the key ever reaching the server. (A key the config gives in
the clear is only as strong as what was written there.) The config's digests are compared in constant
time; the store's are looked up by index, which can leak how much of a *hash* matched, never the key.

A key created through the API is shown once, in the answer that creates it; the store keeps its hash, its
holder and role, who created it and when, and when it was last used (at most once a minute). Revoking it
deletes it: the next request with it, or with a session signed in with it, is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

from vigil.errors import InputError, Invalid
from vigil.server.errors import Conflict, NotFound
from vigil.spec.security import ROLES, ApiKeys, Role, check_holder, key_digest
from vigil.store.base import ApiKeyRecord, Store

__all__ = ["KEY_PREFIX", "Holder", "Keyring"]

KEY_PREFIX = "vigil_"
"""What a key Vigil makes starts with (so that secret scanners can find a leaked one)."""
_TOUCH_EVERY = 60.0
"""Seconds between two records of a key's last use."""
_OPEN_FOR = 1.0
"""Seconds an answer to "does the store hold any key?" is reused (another server may create one)."""


@dataclass(frozen=True)
class Holder:
    """A key as the server knows it (never the key itself)."""

    id: str
    name: str | None
    """Who holds it; None for a key the config gives as a plain string (it names nobody)."""
    roles: frozenset[Role]
    source: Literal["config", "api"]
    created_at: float | None = None
    created_by: str | None = None
    last_used: float | None = None

    @property
    def role(self) -> str:
        """The strongest of its roles (admin, editor, viewer, ingest); ``none`` for a role this version
        does not know (it grants nothing)."""
        return next((r for r in ("admin", "editor", "viewer", "ingest") if r in self.roles), "none")


class Keyring:
    """The keys the server accepts: the config's, held in memory as digests, and the store's."""

    def __init__(
        self, keys: ApiKeys, store: Store, secret: bytes, clock: Callable[[], float] = time.time
    ) -> None:
        self._store = store
        self._clock = clock
        merged: dict[str, tuple[str | None, set[Role]]] = {}
        for role, entry in keys.entries():
            merged.setdefault(entry.digest, (entry.name, set()))[1].add(role)
        self._config: list[tuple[bytes, Holder]] = []
        for digest, (name, roles) in merged.items():
            # an id that says nothing of the key, even to someone who reads it off a cookie
            id = "config-" + hmac.new(secret, digest.encode(), hashlib.sha256).hexdigest()[:16]
            self._config.append((bytes.fromhex(digest), Holder(id, name, frozenset(roles), "config")))
        self._by_id = {holder.id: holder for _, holder in self._config}
        self._used: dict[str, float] = {}
        self._stored_keys: tuple[float, bool] | None = None

    # -- who is calling -----------------------------------------------------------------------------------

    def open(self) -> bool:
        """Whether no key is configured nor created: then the API is open to anyone."""
        if self._config:
            return False
        cached = self._stored_keys
        if cached is None or time.monotonic() - cached[0] > _OPEN_FOR:
            cached = (time.monotonic(), bool(self._store.api_keys()))
            self._stored_keys = cached
        return not cached[1]

    def identify(self, key: str) -> Holder | None:
        """The holder of ``key``; None for a key nobody was given (or one revoked)."""
        digest = key_digest(key)
        raw = bytes.fromhex(digest)
        matches = [hmac.compare_digest(raw, known) for known, _ in self._config]  # every one, always
        for matched, (_, holder) in zip(matches, self._config, strict=True):
            if matched:
                self._used[holder.id] = self._clock()
                return holder
        record = self._store.api_key_by_digest(digest)
        return None if record is None else self._used_now(record)

    def holder(self, id: str) -> Holder | None:
        """The key of id ``id`` (a session's), None when it is gone."""
        if id in self._by_id:
            return self._by_id[id]
        if id.startswith("config-"):
            return None
        record = self._store.api_key(id)
        return None if record is None else self._used_now(record)

    def _used_now(self, record: ApiKeyRecord) -> Holder:
        now = self._clock()
        if record.last_used is None or now - record.last_used >= _TOUCH_EVERY:
            self._store.touch_api_key(record.id, now)
            record = replace(record, last_used=now)
        return _holder(record)

    # -- managing keys (an admin, through the API) --------------------------------------------------------

    def create(self, name: object, role: object, by: str) -> tuple[Holder, str]:
        """A new key for ``name`` with ``role``: the holder and the key, which is shown this once and kept
        only as its hash. Audited as ``key.create``."""
        try:
            check_holder(name)
        except Invalid as exc:
            raise InputError(f"'name': {exc}") from None
        if role not in ROLES:
            raise InputError(f"'role' must be one of {', '.join(ROLES)} (got {role!r})")
        assert isinstance(name, str)
        if role != "admin" and self.open():
            raise Conflict(
                "the first key must be an admin key: from the first key on, the API asks every caller "
                "for one, and only an admin key can make more"
            )
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        now = self._clock()
        record = ApiKeyRecord(secrets.token_hex(8), name, str(role), key_digest(key), now, by)
        self._store.put_api_key(record)
        self._stored_keys = None
        self._audit(by, "key.create", record.id, None, record)
        return _holder(record), key

    def listing(self) -> list[Holder]:
        """Every key: the config's first, then those created through the API, oldest first."""
        config = [replace(h, last_used=self._used.get(h.id)) for _, h in self._config]
        return config + [_holder(r) for r in self._store.api_keys()]

    def revoke(self, id: str, by: str) -> Holder:
        """Delete the key ``id`` (``NotFound``; ``Conflict`` for a key of the config, or the last admin
        key when others remain and the config has none). Audited as ``key.revoke``."""
        if id in self._by_id:
            raise Conflict(f"key {id} is in the config: remove it from security.api_keys and restart")
        record = self._store.api_key(id)
        if record is None:
            raise NotFound(f"no key {id!r} (GET /v1/keys lists them)")
        if record.role == "admin" and not any("admin" in h.roles for _, h in self._config):
            others = [r for r in self._store.api_keys() if r.id != id]
            if others and not any(r.role == "admin" for r in others):
                raise Conflict(
                    f"{id} is the last admin key: nobody could manage keys any more; create another "
                    "admin key first (or revoke the other keys)"
                )
        if not self._store.delete_api_key(id):
            raise NotFound(f"no key {id!r} (GET /v1/keys lists them)")
        self._stored_keys = None
        self._audit(by, "key.revoke", id, record, None)
        return _holder(record)

    def _audit(
        self, by: str, action: str, id: str, before: ApiKeyRecord | None, after: ApiKeyRecord | None
    ) -> None:
        def shown(r: ApiKeyRecord | None) -> str | None:
            return None if r is None else json.dumps({"name": r.name, "role": r.role})

        self._store.append_audit(self._clock(), by, action, f"key/{id}", shown(before), shown(after))


def _holder(record: ApiKeyRecord) -> Holder:
    roles = frozenset(r for r in ROLES if r == record.role)  # a role unknown to this version: none
    return Holder(
        record.id,
        record.name,
        roles,
        "api",
        record.created_at,
        record.created_by,
        record.last_used,
    )
