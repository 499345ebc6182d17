"""``GET /login`` (a page that works without JavaScript), ``POST /login`` (form: ``key``, ``next``: sets
the signed session cookie) and ``POST /logout`` (form: ``csrf_token``); see ``vigil.server.sessions``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.concurrency import run_in_threadpool

from vigil.server.auth import CallerDep, Gate, csrf_token
from vigil.server.sessions import COOKIE, CSRF_FIELD
from vigil.timefmt import format_duration

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

_PAGES = Environment(
    loader=PackageLoader("vigil.server", "templates"),
    autoescape=select_autoescape(),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _local(target: object) -> str:
    """``target`` when it is a path on this server, else ``/`` (never a redirect to another site)."""
    if not isinstance(target, str) or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    return target


def _page(request: Request, status: int = 200, **values: Any) -> HTMLResponse:
    gate: Gate = request.app.state.gate
    values.setdefault("next", _local(request.query_params.get("next")))
    values.setdefault("open", False)
    values.setdefault("caller", None)
    html = _PAGES.get_template("login.html").render(
        csrf_token=csrf_token(request), max_age=format_duration(gate.sessions.max_age), **values
    )
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})


@router.get("/login")
async def login_page(request: Request, caller: CallerDep) -> HTMLResponse:
    signed_in = caller if caller.via in ("session", "key") else None
    return _page(request, open=caller.via == "open", caller=signed_in)


@router.post("/login")
async def sign_in(request: Request, caller: CallerDep) -> Response:
    gate: Gate = request.app.state.gate
    form = await request.form()
    target = _local(form.get("next"))
    if caller.via == "open":
        return RedirectResponse(target, status_code=303)
    key = form.get("key")
    holder = await run_in_threadpool(gate.keyring.identify, key) if isinstance(key, str) and key else None
    if holder is None:
        return _page(request, 401, next=target, problem="That key is not one this server knows.")
    if not holder.roles - {"ingest"}:
        problem = "An ingest key only sends data: sign in with a viewer, editor or admin key."
        return _page(request, 403, next=target, problem=problem)
    cookie, _ = gate.sessions.issue(holder.id)
    answer = RedirectResponse(target, status_code=303)
    answer.set_cookie(
        COOKIE,
        cookie,
        max_age=int(gate.sessions.max_age),
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return answer


@router.post("/logout")
async def sign_out(request: Request, caller: CallerDep) -> Response:
    gate: Gate = request.app.state.gate
    session = caller.session
    if session is not None:
        form = await request.form()
        token = form.get(CSRF_FIELD)
        if not gate.sessions.csrf_ok(session, token if isinstance(token, str) else None):
            problem = "Signing out needs the page's own form: reload it and try again."
            return _page(request, 403, caller=caller, problem=problem)
        await run_in_threadpool(gate.sessions.end, session)
    answer = RedirectResponse("/login", status_code=303)
    answer.delete_cookie(COOKIE, path="/")
    return answer
