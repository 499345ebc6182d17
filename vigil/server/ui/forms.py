"""What every form handler of the dashboard does: read the posted form, name who acts, have a service do
the change (services write the store and the audit log, as for the JSON API), then send the browser back
to the page the form was on (303: works without JavaScript, and a reload does not post twice). When the
service refuses, the answer is a page that says why, with the status the JSON API gives the same refusal
(403 an approval without a named key, 409 four eyes or a conflict, 404 nothing by that id, 422 bad input).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from vigil.actions.errors import ActionDenied, NotIdentified, UnknownAction
from vigil.alerting.engine import AlertEngine
from vigil.errors import InputError, VigilError
from vigil.server.auth import Caller, claimed_actor
from vigil.server.errors import AlertingOff, Conflict, NotFound
from vigil.server.services import Operations, Vigil
from vigil.server.ui.csrf import check_csrf
from vigil.server.ui.render import Page, render
from vigil.server.wire import read_body

__all__ = ["MAX_FORM", "Form", "acted", "need_engine", "operations", "read_form"]

MAX_FORM = 64 * 1024
"""Largest form body, bytes (a note or a silence's comment fits many times over)."""

_REFUSALS: tuple[tuple[type[VigilError], int], ...] = (
    (NotIdentified, 403),
    (ActionDenied, 409),
    (UnknownAction, 404),
    (NotFound, 404),
    (Conflict, 409),
    (InputError, 422),
)
"""A refusal and its status, most specific first (as ``vigil.server.wire`` answers them)."""


@dataclass(frozen=True)
class Form:
    """A posted form: its fields (the first value of each name), who acts, and where to go back to."""

    fields: dict[str, str]
    actor: str
    back: str
    """The page the form was on (a path on this server), where the browser goes afterwards."""

    def get(self, name: str, default: str = "") -> str:
        return self.fields.get(name, default).strip()

    def need(self, name: str, what: str) -> str:
        """The field ``name``, refused (422) when empty, saying ``what`` to give."""
        value = self.get(name)
        if not value:
            raise InputError(f"give {what}")
        return value


async def read_form(request: Request, caller: Caller, default_back: str) -> Form:
    """The request's form (``application/x-www-form-urlencoded``, at most :data:`MAX_FORM` bytes), after
    the CSRF check. The actor is the key's holder, else the name typed in the form's ``by`` field (or
    ``X-Vigil-User``) marked unverified, as the JSON API records it."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise InputError(f"a dashboard form is sent as application/x-www-form-urlencoded, not {kind!r}")
    body = await read_body(request, MAX_FORM)
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=100)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"the form cannot be read: {exc}") from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        fields.setdefault(name, value)
    check_csrf(request, fields)
    actor = claimed_actor(caller, request, {"by": fields.get("by", "").strip()})
    return Form(fields, actor, _local(fields.get("back", ""), default_back))


def _local(target: str, default: str) -> str:
    """``target`` when it is a path on this server (never another site: ``//host``, ``/\\host``)."""
    if target.startswith("/") and not target.startswith(("//", "/\\")) and "\n" not in target:
        return target
    return default


def need_engine(engine: AlertEngine | None) -> AlertEngine:
    """The alert engine; ``AlertingOff`` (409) when the config has no ``alerting:`` section."""
    if engine is None:
        raise AlertingOff()
    return engine


def operations(vigil: Vigil, engine: AlertEngine | None) -> Operations:
    """The response side's changes, as the JSON routes make them."""
    return Operations(vigil, need_engine(engine))


async def acted(
    request: Request, form: Form, title: str, nav: str, work: Callable[[], object], anchor: str = ""
) -> Response:
    """Run ``work`` (the service call) off the event loop, then send the browser back to ``form.back``
    (at ``#anchor``); when the service refuses, a page titled ``title`` saying why."""
    try:
        await run_in_threadpool(work)
    except VigilError as exc:
        status = next((s for kind, s in _REFUSALS if isinstance(exc, kind)), None)
        if status is None:
            raise  # the store is down, say: the app's handlers answer it
        return render(request, "refused.html", Page(title, nav), status=status, why=str(exc), back=form.back)
    target = form.back if not anchor or "#" in form.back else f"{form.back}#{anchor}"
    return RedirectResponse(target, status_code=303)
