"""Who is calling, and whether they may: the gate every route passes (``authorize``, an app-wide
dependency), reading the role each route needs from ``vigil.server.roles.ROUTES``.

A caller is identified by an API key (``Authorization: Bearer <key>`` or ``X-API-Key``), else by the
dashboard's session cookie (``vigil.server.sessions``). A key written ``{name: alice, ...}`` or created
as ``{name: alice, role: ...}`` names its holder: what is done with it is recorded as done by ``alice``,
whatever the request says. A key written as a plain string names nobody, and with no key configured nor
created the API is open: then the name the client gives (``X-Vigil-User``, or ``by`` in a body) is
recorded as a claim, ``ana (unverified)``, and such a caller cannot approve an action (four eyes needs
two people Vigil can tell apart).

Refusals: 401 without a known key or a live session (a browser asking for a page is sent to ``/login``
instead); 403 for a role that may not, naming the role needed; 403 for a form sent with the session
cookie without its CSRF token, and for any change asked cross-site (``Sec-Fetch-Site: cross-site``)
without an API key header.

For pages: ``CallerDep`` (the caller ``authorize`` found), ``csrf_token(request)`` for forms, and
``verify_csrf`` (what ``authorize`` already does for every route; for a route that wants it said).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from vigil.actions.remediator import unverified
from vigil.errors import InputError, StoreError
from vigil.server import roles
from vigil.server.keyring import Holder, Keyring
from vigil.server.roles import Need
from vigil.server.sessions import COOKIE, CSRF_FIELD, CSRF_HEADER, Session, Sessions
from vigil.spec.security import ROLES, Role

__all__ = [
    "Caller",
    "CallerDep",
    "Gate",
    "NotSignedIn",
    "Refused",
    "authorize",
    "claimed_actor",
    "csrf_token",
    "current_caller",
    "install",
    "verify_csrf",
]

_CLAIM_LIMIT = 64
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


@dataclass(frozen=True)
class Caller:
    """The caller of one request."""

    holder: str | None
    """Who holds the key (or signed in with it); None for a key that names nobody, or nobody at all."""
    roles: frozenset[Role]
    via: Literal["key", "session", "open", "nobody"]
    """How they were identified: ``open`` when the API has no key at all (everyone has every role);
    ``nobody`` when nothing identified them, on a route open to anyone."""
    key_id: str | None = None
    session: Session | None = None

    @property
    def role(self) -> str:
        """The strongest role (admin, editor, viewer, ingest), ``none`` without any."""
        return next((r for r in ("admin", "editor", "viewer", "ingest") if r in self.roles), "none")

    def may(self, need: Need) -> bool:
        """Whether this caller may call a route that needs ``need``."""
        return roles.allows(self.roles, need)

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


_OPEN = Caller(None, frozenset(ROLES), "open")
_NOBODY = Caller(None, frozenset(), "nobody")


class NotSignedIn(HTTPException):
    """401: no key, an unknown one, or a session that is over."""

    def __init__(self, detail: str) -> None:
        super().__init__(401, detail, headers={"WWW-Authenticate": "Bearer"})


class Refused(HTTPException):
    """403: the caller may not do this (the message says what it needs), or the request is not the
    caller's own doing (no CSRF token, or sent cross-site)."""

    def __init__(self, detail: str, need: Need | None = None) -> None:
        super().__init__(403, detail)
        self.need = need


def _from(holder: Holder, via: Literal["key", "session"], session: Session | None = None) -> Caller:
    return Caller(holder.name, holder.roles, via, holder.id, session)


class Gate:
    """Identifies the caller of each request and checks the role its route needs."""

    def __init__(self, keyring: Keyring, sessions: Sessions) -> None:
        self.keyring = keyring
        self.sessions = sessions
        self._needs: dict[tuple[int, str], Need] = {}

    def bind(self, app: FastAPI, table: Mapping[str, Need] = roles.ROUTES) -> None:
        """Learn what each route of ``app`` needs from ``table`` (raises when it misses one)."""
        self._needs = roles.bind(app, table)

    def need(self, request: Request) -> Need:
        """What the request's route needs (a route added after ``bind``: admin)."""
        method = "GET" if request.method == "HEAD" else request.method
        return self._needs.get((id(request.scope.get("route")), method), "admin")

    def identify(self, request: Request) -> Caller:
        """The caller, from the API key headers, else the session cookie; ``NotSignedIn`` for an unknown
        key or a session that is over (unless the API is open)."""
        key = _given_key(request)
        if key is not None:
            holder = self.keyring.identify(key)
            if holder is not None:
                return _from(holder, "key")
            if self.keyring.open():
                return _OPEN
            raise NotSignedIn("unknown API key")
        cookie = request.cookies.get(COOKIE)
        if cookie:
            session = self.sessions.read(cookie)
            holder = self.keyring.holder(session.key_id) if session is not None else None
            if holder is not None and session is not None:
                return _from(holder, "session", session)
            if self.keyring.open():
                return _OPEN
            raise NotSignedIn("your session is over (expired, signed out, or its key revoked): sign in again")
        return _OPEN if self.keyring.open() else _NOBODY

    def identify_quietly(self, request: Request) -> Caller:
        """The caller, or nobody (for routes open to anyone: a stale cookie refuses nothing, and a store
        that cannot be read fails no health probe)."""
        try:
            return self.identify(request)
        except (NotSignedIn, StoreError):
            return _NOBODY


def _given_key(request: Request) -> str | None:
    header = request.headers.get("x-api-key")
    if header:
        return header
    authorization = request.headers.get("authorization")
    if authorization and authorization[:7].lower() == "bearer ":
        return authorization[7:]
    return None


def _sent_cross_site(request: Request) -> bool:
    return request.headers.get("sec-fetch-site") == "cross-site"


async def authorize(request: Request) -> Caller:
    """The dependency every route passes (see the module docstring); kept as ``request.state.caller``."""
    gate: Gate = request.app.state.gate
    need = gate.need(request)
    changes = request.method not in _SAFE
    if changes and _sent_cross_site(request) and _given_key(request) is None:
        raise Refused("a change asked by another site is refused: use Vigil's own pages, or an API key")
    if need == "open":
        caller = await run_in_threadpool(gate.identify_quietly, request)
    else:
        caller = await run_in_threadpool(gate.identify, request)
        if caller.via == "nobody":
            raise NotSignedIn(
                "send an API key: Authorization: Bearer <key> (or X-API-Key), or sign in at /login"
            )
        request.state.caller = caller  # the refusal's page says who is signed in
        if not caller.may(need):
            who = caller.holder or "this key"
            raise Refused(
                f"{request.method} {request.url.path} needs the {need} role ({roles.needs_role(need)}); "
                f"{who} has the {caller.role} role",
                need,
            )
        if changes and caller.session is not None:
            await _check_csrf(request, gate.sessions, caller.session)
    request.state.caller = caller
    return caller


async def _check_csrf(request: Request, sessions: Sessions, session: Session) -> None:
    token = request.headers.get(CSRF_HEADER)
    if token is None and request.headers.get("content-type", "").startswith(_FORMS):
        await request.body()  # kept: the form is parsed from it, and the route can still read the body
        value = (await request.form()).get(CSRF_FIELD)
        token = value if isinstance(value, str) else None
    if not sessions.csrf_ok(session, token):
        raise Refused(
            f"this form's {CSRF_FIELD} is missing or is not this session's: reload the page and send it again"
        )


async def verify_csrf(request: Request) -> None:
    """A dependency: 403 for a change sent with the session cookie without its CSRF token (``authorize``
    does this for every route already)."""
    caller: Caller | None = getattr(request.state, "caller", None)
    if caller is None:
        caller = await authorize(request)
    if request.method not in _SAFE and caller.session is not None:
        await _check_csrf(request, request.app.state.gate.sessions, caller.session)


def csrf_token(request: Request) -> str:
    """The CSRF token for the forms of the page answering ``request`` (its session's; a harmless token
    without a session). Put it in a hidden ``csrf_token`` field."""
    caller: Caller | None = getattr(request.state, "caller", None)
    gate: Gate = request.app.state.gate
    return gate.sessions.csrf_token(caller.session if caller is not None else None)


def current_caller(request: Request) -> Caller:
    """The caller of ``request``, as ``authorize`` (which every route passes first) found it."""
    caller: Caller = request.state.caller
    return caller


CallerDep = Annotated[Caller, Depends(current_caller)]
"""The caller of this request, as ``authorize`` found it."""


def claimed_actor(caller: Caller, request: Request, body: Mapping[str, Any] | None = None) -> str:
    """Who to record as acting in ``request``: the key's holder, else the name the client gives (``by`` in
    the body, else ``X-Vigil-User``) marked unverified."""
    claim = (body or {}).get("by") or request.headers.get("x-vigil-user")
    return caller.actor(claim)


# -- answering a browser ------------------------------------------------------------------------------------


def _wants_page(request: Request) -> bool:
    return not request.url.path.startswith("/v1/") and "text/html" in request.headers.get("accept", "")


async def _not_signed_in(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, NotSignedIn)
    if _wants_page(request) and request.method in _SAFE:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        answer: Response = RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
    else:
        answer = JSONResponse({"detail": exc.detail}, status_code=401, headers=exc.headers)
    if COOKIE in request.cookies:
        answer.delete_cookie(COOKIE, path="/")
    return answer


async def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refused)
    if _wants_page(request):
        page = getattr(request.app.state, "refused_page", None)
        if page is not None:  # the dashboard's own page (vigil.server.ui), in its look
            answer: Response = page(request, str(exc.detail))
            return answer
        text = str(exc.detail).replace("&", "&amp;").replace("<", "&lt;")
        return HTMLResponse(
            f"<!doctype html><title>Not allowed · Vigil</title><h1>Not allowed</h1><p>{text}</p>"
            '<p><a href="/login">Sign in with another key</a></p>',
            status_code=403,
        )
    return JSONResponse({"detail": exc.detail}, status_code=403)


def install(app: FastAPI, gate: Gate) -> None:
    """Put ``gate`` on ``app``: ``authorize`` must be among the app's dependencies, and ``gate.bind(app)``
    called once every route is there."""
    app.state.gate = gate
    app.add_exception_handler(NotSignedIn, _not_signed_in)
    app.add_exception_handler(Refused, _refused)
