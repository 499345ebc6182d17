"""Silences: mute alerts matching all of a silence's matchers between ``starts_at`` and ``ends_at``.

A silence is ``pending`` before ``starts_at``, ``active`` for ``starts_at <= now < ends_at`` and
``expired`` from ``ends_at`` on (Alertmanager's states); only an active silence mutes.

Silences are kept in the store (:class:`SilenceStore`), so every server sharing it mutes the same alerts,
and every change is audited: records of kind ``silence`` (id: a random 16-hex id) hold the matchers as
strings, the time range, author and comment. Creating one and expiring one each append to the audit log
(``silence.create``, ``silence.expire``) with the record before and after. Expiring sets ``ends_at`` to the
time of expiry (Alertmanager's semantics: the silence stays listed as expired until retention removes it).
:meth:`SilenceStore.muter` reads the store once and returns a :class:`Silences` snapshot for one round.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from vigil.alerting.fingerprint import Labels
from vigil.alerting.matchers import Matcher, matches_all, parse_matcher
from vigil.errors import InputError

if TYPE_CHECKING:  # the pure stages (Silence, Silences) load without the store package
    from vigil.store.base import Store

__all__ = [
    "KIND",
    "Silence",
    "SilenceState",
    "SilenceStore",
    "Silences",
    "silence_from_dict",
    "silence_to_dict",
]

KIND = "silence"


class SilenceState(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Silence:
    """One silence; times in seconds. Raises ValueError for a silence that cannot be used."""

    matchers: tuple[Matcher, ...]
    starts_at: float
    ends_at: float
    created_by: str
    comment: str
    id: str = ""

    def __post_init__(self) -> None:
        if not self.matchers:
            raise ValueError('a silence needs at least one matcher; add e.g. alertname="..."')
        if all(m.matches({}) for m in self.matchers):
            raise ValueError(
                "a silence whose matchers all match the empty label set would mute every alert; "
                "add a matcher that requires a label value"
            )
        if not self.ends_at > self.starts_at:
            raise ValueError(
                f"a silence must end after it starts (starts_at={self.starts_at}, ends_at={self.ends_at})"
            )
        if not self.created_by.strip():
            raise ValueError("a silence needs created_by: say who created it")

    def state(self, now: float) -> SilenceState:
        if now < self.starts_at:
            return SilenceState.PENDING
        if now < self.ends_at:
            return SilenceState.ACTIVE
        return SilenceState.EXPIRED

    def mutes(self, labels: Labels, now: float) -> bool:
        return self.state(now) is SilenceState.ACTIVE and matches_all(self.matchers, labels)


class Silences:
    """A set of silences; mutes what any active one mutes."""

    def __init__(self, silences: Iterable[Silence] = ()) -> None:
        self._silences = list(silences)

    def add(self, silence: Silence) -> None:
        self._silences.append(silence)

    def __iter__(self) -> Iterator[Silence]:
        return iter(self._silences)

    def silenced_by(self, labels: Labels, now: float) -> list[Silence]:
        """The active silences that match ``labels``, in the order they were added."""
        return [s for s in self._silences if s.mutes(labels, now)]

    def mutes(self, labels: Labels, now: float) -> bool:
        return any(s.mutes(labels, now) for s in self._silences)


def silence_to_dict(silence: Silence, now: float | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": silence.id,
        "matchers": [str(m) for m in silence.matchers],
        "starts_at": silence.starts_at,
        "ends_at": silence.ends_at,
        "created_by": silence.created_by,
        "comment": silence.comment,
    }
    if now is not None:
        out["state"] = silence.state(now).value
    return out


def silence_from_dict(data: dict[str, Any], id: str = "") -> Silence:
    """A silence from its JSON form; raises ``InputError`` saying what is wrong."""
    try:
        raw = data["matchers"]
        texts = [raw] if isinstance(raw, str) else list(raw)
        matchers = tuple(parse_matcher(str(t)) for t in texts)
        return Silence(
            matchers,
            float(data["starts_at"]),
            float(data["ends_at"]),
            str(data.get("created_by", "")),
            str(data.get("comment", "")),
            id or str(data.get("id", "")),
        )
    except KeyError as exc:
        raise InputError(f"a silence needs {exc.args[0]!r}") from None
    except (TypeError, ValueError) as exc:
        raise InputError(f"bad silence: {exc}") from None


class SilenceStore:
    def __init__(self, store: Store) -> None:
        self.store = store

    def all(self) -> list[Silence]:
        return [silence_from_dict(json.loads(r.body), r.id) for r in self.store.records(KIND)]

    def get(self, id: str) -> Silence | None:
        record = self.store.record(KIND, id)
        return silence_from_dict(json.loads(record.body), id) if record else None

    def create(self, silence: Silence, now: float) -> Silence:
        """Store a new silence (a fresh id) and audit it; returns it with its id."""
        made = replace(silence, id=secrets.token_hex(8))
        body = json.dumps(silence_to_dict(made))
        self.store.put_record(KIND, made.id, body, now)
        self.store.append_audit(now, made.created_by, "silence.create", f"silence/{made.id}", None, body)
        return made

    def expire(self, id: str, actor: str, now: float) -> Silence:
        """End a silence now (an expired one stays as it is); raises KeyError for an unknown id."""
        silence = self.get(id)
        if silence is None:
            raise KeyError(f"no silence {id!r}")
        if silence.ends_at <= now:
            return silence
        before = json.dumps(silence_to_dict(silence))
        ended = replace(silence, ends_at=max(now, silence.starts_at + 1e-6))
        after = json.dumps(silence_to_dict(ended))
        self.store.put_record(KIND, id, after, now)
        self.store.append_audit(now, actor, "silence.expire", f"silence/{id}", before, after)
        return ended

    def muter(self) -> Silences:
        return Silences(self.all())

    def prune(self, before: float) -> int:
        """Delete silences that ended before ``before``."""
        gone = [s.id for s in self.all() if s.ends_at < before]
        for id in gone:
            self.store.delete_record(KIND, id)
        return len(gone)
