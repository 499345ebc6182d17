"""The dashboard's CSRF seam: ``csrf_token()`` is what every form of the dashboard sends back in its hidden
``csrf_token`` field (the token of the page's signed-in session, from ``vigil.server.auth``), and
``check_csrf`` is what every form handler calls before it changes anything.

The role gate (``vigil.server.auth.authorize``) already refuses, before any route runs, a change sent with a
session cookie whose form or ``X-CSRF-Token`` header lacks the session's token; ``check_csrf`` checks the
form the handler read once more against the same session, so a handler can never act on a form the gate
did not see (a form read by another path, a route added without the gate's dependency).
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import Request
from jinja2 import pass_context
from jinja2.runtime import Context

from vigil.server import auth
from vigil.server.auth import Caller, Refused
from vigil.server.sessions import CSRF_FIELD, CSRF_HEADER

__all__ = ["FIELD", "check_csrf", "csrf_token"]

FIELD = CSRF_FIELD
"""The name of the hidden form field that carries the token."""


@pass_context
def csrf_token(context: Context) -> str:
    """The CSRF token for the forms of the page being rendered (a Jinja2 global)."""
    request: Request | None = context.get("request")
    return "" if request is None else auth.csrf_token(request)


def check_csrf(request: Request, form: Mapping[str, str]) -> None:
    """Refuse (403) a form sent with a session whose ``csrf_token`` is not that session's. Forms sent with
    an API key in a header, or to an open API with no session, carry no session to forge."""
    caller: Caller | None = getattr(request.state, "caller", None)
    if caller is None or caller.session is None:
        return
    token = request.headers.get(CSRF_HEADER) or form.get(FIELD)
    if not request.app.state.gate.sessions.csrf_ok(caller.session, token):
        raise Refused(
            f"this form's {FIELD} is missing or is not this session's: reload the page and send it again"
        )
