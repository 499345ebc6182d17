"""Browser sessions: a signed cookie naming the key signed in with, and the CSRF tokens of its forms.

The cookie (``vigil_session``) holds the id of the key that signed in (never the key), a random session
id and when it was issued, signed with ``itsdangerous`` under the server's secret: a cookie that was
changed, signed with another secret, or is older than ``security.session_max_age`` is refused. Every
request re-reads the key by its id, so revoking a key (or removing it from the config) ends its sessions
at once, and a role changed in the config applies at the next request. Signing out records the session
id as ended (a ``session-end`` record, forgotten once the cookie would have expired anyway).

CSRF: a form sent with the session cookie carries ``csrf_token``, the session id signed under another
salt (a synchronizer token: the same for every form of a session, useless for any other session); a
script sends it as the ``X-CSRF-Token`` header. Requests with an API key header need none: a browser
never adds that header to a cross-site request on its own.

The secret: ``security.session_secret``, else one made on first start and kept in the store
(``Store.secret``), shared by every server of the store and kept across restarts.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from itsdangerous import (
    BadSignature,
    SignatureExpired,
    TimestampSigner,
    URLSafeSerializer,
    URLSafeTimedSerializer,
)

from vigil.store.base import Store

__all__ = ["COOKIE", "CSRF_FIELD", "CSRF_HEADER", "Session", "Sessions", "session_secret"]

COOKIE = "vigil_session"
CSRF_FIELD = "csrf_token"
"""The form field of the CSRF token."""
CSRF_HEADER = "x-csrf-token"
"""The header a script sends the CSRF token in."""
_ENDED = "session-end"
"""The record kind of sessions signed out of (id: the session id)."""


def session_secret(configured: str | None, store: Store, now: float) -> bytes:
    """The secret that signs sessions: the configured one, else the store's (made on first use)."""
    if configured is not None:
        return configured.encode("utf-8")
    return store.secret("session", secrets.token_bytes(32), now)


@dataclass(frozen=True)
class Session:
    """A signed-in browser: the key it signed in with, and its own id (what its CSRF tokens sign)."""

    key_id: str
    sid: str
    issued_at: float


class _ClockSigner(TimestampSigner):
    """itsdangerous' timestamp signer on the server's clock (so that expiry follows the injected clock)."""

    def __init__(self, *args: Any, clock: Callable[[], float] = time.time, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clock = clock

    def get_timestamp(self) -> int:
        return int(self._clock())


class Sessions:
    """Issues and reads session cookies and CSRF tokens under one secret."""

    def __init__(
        self, secret: bytes, store: Store, max_age: float, clock: Callable[[], float] = time.time
    ) -> None:
        self.max_age = max_age
        self._store = store
        self._clock = clock
        self._cookies = URLSafeTimedSerializer(
            secret, salt="vigil.session", signer=_ClockSigner, signer_kwargs={"clock": clock}
        )
        self._csrf = URLSafeSerializer(secret, salt="vigil.csrf")

    def issue(self, key_id: str) -> tuple[str, Session]:
        """A new session for the key ``key_id``: the cookie's value and the session."""
        session = Session(key_id, secrets.token_urlsafe(16), self._clock())
        return self._cookies.dumps({"k": key_id, "s": session.sid}), session

    def read(self, cookie: str) -> Session | None:
        """The session of a cookie; None when it is forged, expired or was signed out of."""
        try:
            data, issued = self._cookies.loads(cookie, max_age=int(self.max_age), return_timestamp=True)
        except (BadSignature, SignatureExpired):
            return None
        if not (isinstance(data, dict) and isinstance(data.get("k"), str) and isinstance(data.get("s"), str)):
            return None
        if self._store.record(_ENDED, data["s"]) is not None:
            return None
        return Session(data["k"], data["s"], issued.timestamp())

    def end(self, session: Session) -> None:
        """Sign out: the session's cookie is refused from now on, also if it was copied."""
        now = self._clock()
        self._store.put_record(_ENDED, session.sid, "{}", now)
        self._store.delete_records(_ENDED, before=now - self.max_age)  # their cookies have expired

    def csrf_token(self, session: Session | None) -> str:
        """The CSRF token of ``session``'s forms (of a request without a session: a token nothing needs)."""
        return str(self._csrf.dumps(session.sid if session is not None else ""))

    def csrf_ok(self, session: Session, token: str | None) -> bool:
        """Whether ``token`` is ``session``'s CSRF token."""
        if not token:
            return False
        try:
            sid = self._csrf.loads(token)
        except BadSignature:
            return False
        return isinstance(sid, str) and hmac.compare_digest(sid.encode(), session.sid.encode())
