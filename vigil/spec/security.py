"""Access and privacy at ingest (``security:``): API keys, their holders and roles, browser sessions, the
PII key."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field, field_validator, model_validator

from vigil.errors import Invalid, Issue, as_written
from vigil.spec.fields import Duration, Secret, Section, check

__all__ = ["RESERVED_ACTORS", "ROLES", "ApiKey", "ApiKeys", "Role", "SecuritySettings", "key_digest"]

_HOLDER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}")
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
RESERVED_ACTORS = ("vigil", "config")
"""Names Vigil itself acts under (automatic runs, the config's deploys): no key may carry them."""

Role = Literal["viewer", "editor", "admin", "ingest"]
ROLES: tuple[Role, ...] = ("viewer", "editor", "admin", "ingest")
"""The roles a key can have, as ``security.api_keys`` lists them."""

_FORMS = '{name: alice, key: "${ALICE_KEY}"} or {name: alice, sha256: "<64 hex digits>"}'


def key_digest(key: str) -> str:
    """The SHA-256 of ``key`` (its UTF-8 bytes), as 64 lowercase hex digits: what Vigil keeps of a key.

    >>> key_digest("test")
    '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08'
    """
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()


def check_holder(value: object) -> str:
    """``value`` when it can name a key's holder; else ``Invalid`` saying what a name may be."""
    if not isinstance(value, str) or not _HOLDER.fullmatch(value):
        raise Invalid(
            Issue(
                f"a key holder's name must be a word of letters, digits and . _ @ + - "
                f"(at most 64; got {as_written(value)})",
                "write a user or service name such as alice or billing-service",
            )
        )
    if value in RESERVED_ACTORS:
        raise Invalid(Issue(f"{value!r} is the name Vigil itself acts under", "choose another name"))
    return value


class ApiKey(Section):
    """One key and the person or service that holds it: ``{name: alice, key: "${ALICE_KEY}"}``, or the
    key's SHA-256 instead of the key, ``{name: alice, sha256: "9f86…"}``, so that the key itself need be
    neither in the file nor in the server's environment.

    ``name`` is None for a key written as a plain string: such a key is accepted, but it names nobody, so
    what is done with it is recorded as unverified and it cannot approve an action.
    """

    name: str | None = None
    key: Secret | None = Field(default=None, repr=False)
    """The key in the clear, as written; once validated, None: only its SHA-256 is kept."""
    sha256: str | None = Field(default=None, repr=False)
    """The key's SHA-256 as 64 hex digits (``printf %s "$KEY" | sha256sum``), given or computed."""

    @field_validator("name", mode="before")
    @classmethod
    def _check_name(cls, value: object) -> object:
        return None if value is None else check_holder(value)

    @field_validator("sha256", mode="before")
    @classmethod
    def _check_sha256(cls, value: object) -> object:
        if value is None:
            return None
        if not isinstance(value, str) or not _SHA256.fullmatch(value):
            raise Invalid(
                Issue(
                    f"must be a SHA-256 as 64 hex digits (got {as_written(value)})",
                    'compute it with: printf %s "$KEY" | sha256sum',
                )
            )
        return value.lower()

    @check("key", "sha256")
    def _key_or_its_digest(self) -> Iterator[Issue]:
        if self.key is None and self.sha256 is None:
            yield Issue("give the key or its SHA-256", f"write it as {_FORMS}", ("key",), at_key=True)
        elif self.key is not None and self.sha256 is not None:
            yield Issue(
                "give the key or its SHA-256, not both", "keep sha256 and drop key", ("sha256",), at_key=True
            )

    @model_validator(mode="after")
    def _keep_only_the_digest(self) -> ApiKey:
        """A key given in the clear is kept as its SHA-256 from here on: the config held in memory has
        no key to show."""
        if self.key is None or self.sha256 is not None:
            return self  # nothing to hash, or both given (reported by the check)
        return self.model_copy(update={"key": None, "sha256": key_digest(self.key)})

    @property
    def digest(self) -> str:
        """The key's SHA-256, 64 lowercase hex digits."""
        assert self.sha256 is not None  # checked, and a key in the clear was hashed
        return self.sha256


def _key_entries(value: object) -> object:
    """A list of keys: plain strings (no holder) or ``{name, key}`` / ``{name, sha256}`` mappings."""
    if not isinstance(value, list | tuple):
        return value
    bad = [i for i, item in enumerate(value) if not isinstance(item, str | dict)]
    if bad:
        raise Invalid(
            *(
                Issue(
                    f"must be a key holder and their key (got {as_written(value[i])})",
                    f"write it as {_FORMS}",
                    (i,),
                )
                for i in bad
            )
        )
    return tuple({"key": item} if isinstance(item, str) else item for item in value)


Keys = Annotated[tuple[ApiKey, ...], BeforeValidator(_key_entries)]


class ApiKeys(Section):
    """Keys accepted at the door (``security.api_keys:``), by role; none configured here nor created
    through the API (``POST /v1/keys``) means the API is open.

    Each key is ``{name: HOLDER, key: "${ENV_VAR}"}`` or ``{name: HOLDER, sha256: "<hex>"}``; the holder is
    who Vigil records as doing what is done with the key (acks, silences, approvals, the audit log). A
    plain string is still accepted: it names nobody (see :class:`ApiKey`). A key listed under several
    roles has them all.
    """

    viewer: Keys = ()
    """May read everything but raw events and the audit log."""
    editor: Keys = ()
    """May also acknowledge, silence, comment, give verdicts, and manage rules and maintenance windows."""
    admin: Keys = ()
    """May do everything: actions and approvals, models, deploys, keys, raw events, the audit log."""
    ingest: Keys = ()
    """May only send events, labels and host metrics."""

    @check(*ROLES)
    def _one_holder_per_key(self) -> Iterator[Issue]:
        seen: dict[str, tuple[str, int, str | None]] = {}
        for role in ROLES:
            for i, entry in enumerate(getattr(self, role)):
                if entry.key is None and entry.sha256 is None:
                    continue  # reported by the entry
                first = seen.setdefault(entry.digest, (role, i, entry.name))
                if first[:2] == (role, i):
                    continue
                if first[0] == role or first[2] != entry.name:
                    yield Issue(
                        f"the same key as {first[0]}[{first[1]}]" + (f" ({first[2]})" if first[2] else ""),
                        "give each holder a key of their own",
                        (role, i),
                    )

    def entries(self) -> Iterator[tuple[Role, ApiKey]]:
        """Every key with its role, role by role."""
        for role in ROLES:
            for entry in getattr(self, role):
                yield role, entry


def _session_secret(value: str) -> str:
    if len(value) < 32:
        raise Invalid(
            Issue(
                f"must be at least 32 characters (got {len(value)})",
                "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'",
            )
        )
    return value


SessionSecret = Annotated[Secret, AfterValidator(_session_secret)]


class SecuritySettings(Section):
    """Access and privacy at ingest (``security:``)."""

    api_keys: ApiKeys = Field(default_factory=ApiKeys)
    session_secret: Annotated[Secret, AfterValidator(_session_secret)] | None = Field(
        default=None, repr=False
    )
    """What signs the dashboard's session cookies; write it as ${VIGIL_SESSION_SECRET}. Without it Vigil
    makes one and keeps it in the store, so that every server sharing the store, and restarts, keep
    sessions."""
    session_max_age: Duration = timedelta(hours=12)
    """How long a dashboard sign-in lasts."""
    pii_key: Secret | None = None
    """The HMAC key for PII pseudonyms; write it as ${VIGIL_PII_KEY}. Without it PII fields are dropped."""
    auto_register: bool = False
    """Accept events of undeclared models (registered on first sight) instead of answering 404."""
