"""Silences kept in the store, so every server sharing it mutes the same alerts, and every change is audited.

Records of kind ``silence`` (id: a random 16-hex id) hold the matchers as strings, the time range, author
and comment. Creating one and expiring one each append to the audit log (``silence.create``,
``silence.expire``) with the record before and after. Expiring sets ``ends_at`` to the time of expiry
(Alertmanager's semantics: the silence stays listed as expired until retention removes it).
:meth:`SilenceStore.muter` reads the store once and returns a :class:`~vigil.alerting.silence.Silences`
snapshot for one evaluation round.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import replace
from typing import Any

from vigil.alerting.matchers import parse_matcher
from vigil.alerting.silence import Silence, Silences
from vigil.errors import InputError
from vigil.store.base import Store

__all__ = ["KIND", "SilenceStore", "silence_from_dict", "silence_to_dict"]

KIND = "silence"


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
