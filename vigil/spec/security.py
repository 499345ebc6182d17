"""Access and privacy at ingest (``security:``): API keys and their holders, the PII key."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated

from pydantic import BeforeValidator, Field, field_validator

from vigil.errors import Invalid, Issue, as_written
from vigil.spec.fields import Secret, Section, check

__all__ = ["RESERVED_ACTORS", "ApiKey", "ApiKeys", "SecuritySettings"]

_HOLDER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}")
RESERVED_ACTORS = ("vigil", "config")
"""Names Vigil itself acts under (automatic runs, the config's deploys): no key may carry them."""


class ApiKey(Section):
    """One key and the person or service that holds it (``{name: alice, key: "${ALICE_KEY}"}``).

    ``name`` is None for a key written as a plain string: such a key is accepted, but it names nobody, so
    what is done with it is recorded as unverified and it cannot approve an action.
    """

    name: str | None = None
    key: Secret = Field(repr=False)

    @field_validator("name", mode="before")
    @classmethod
    def _check_name(cls, value: object) -> object:
        if value is None:
            return None
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


def _key_entries(value: object) -> object:
    """A list of keys: plain strings (no holder) or ``{name, key}`` mappings."""
    if not isinstance(value, list | tuple):
        return value
    bad = [i for i, item in enumerate(value) if not isinstance(item, str | dict)]
    if bad:
        raise Invalid(
            *(
                Issue(
                    f"must be a key holder and their key (got {as_written(value[i])})",
                    'write it as {name: alice, key: "${ALICE_KEY}"}',
                    (i,),
                )
                for i in bad
            )
        )
    return tuple({"key": item} if isinstance(item, str) else item for item in value)


Keys = Annotated[tuple[ApiKey, ...], BeforeValidator(_key_entries)]


class ApiKeys(Section):
    """Keys accepted at the door (``security.api_keys:``); none configured means the API is open.

    Each key is ``{name: HOLDER, key: "${ENV_VAR}"}``; the holder is who Vigil records as doing what is
    done with the key (acks, silences, approvals, the audit log). A plain string is still accepted: it
    names nobody (see :class:`ApiKey`).
    """

    ingest: Keys = ()
    """May only send events, labels and host metrics."""
    admin: Keys = ()
    """May do everything, reads and registrations included."""

    @check("admin", "ingest")
    def _one_holder_per_key(self) -> Iterator[Issue]:
        seen: dict[str, tuple[str, int, str | None]] = {}
        for level in ("admin", "ingest"):
            for i, entry in enumerate(getattr(self, level)):
                first = seen.setdefault(entry.key, (level, i, entry.name))
                if first[:2] == (level, i):
                    continue
                if first[0] == level or first[2] != entry.name:
                    yield Issue(
                        f"the same key as {first[0]}[{first[1]}]" + (f" ({first[2]})" if first[2] else ""),
                        "give each holder a key of their own",
                        (level, i),
                    )


class SecuritySettings(Section):
    """Access and privacy at ingest (``security:``)."""

    api_keys: ApiKeys = Field(default_factory=ApiKeys)
    pii_key: Secret | None = None
    """The HMAC key for PII pseudonyms; write it as ${VIGIL_PII_KEY}. Without it PII fields are dropped."""
    auto_register: bool = False
    """Accept events of undeclared models (registered on first sight) instead of answering 404."""
