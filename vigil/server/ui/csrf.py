"""The dashboard's CSRF seam: ``csrf_token()`` is what every form of the dashboard sends back in its hidden
``csrf_token`` field, and ``check_csrf`` is what every form handler calls before it changes anything.

Both are placeholders until the dashboard has sessions: with signed-cookie sessions, ``csrf_token`` returns
the token of the page's session (the template context holds the ``request``) and ``check_csrf`` refuses a
form whose token does not match it. Nothing else needs to change: the templates and the handlers already
go through these two functions.
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import Request
from jinja2 import pass_context
from jinja2.runtime import Context

__all__ = ["FIELD", "check_csrf", "csrf_token"]

FIELD = "csrf_token"
"""The name of the hidden form field that carries the token."""


@pass_context
def csrf_token(context: Context) -> str:
    """The CSRF token for the forms of the page being rendered (a Jinja2 global).

    Empty for now: sessions will fill it from ``context["request"]``."""
    return ""


def check_csrf(request: Request, form: Mapping[str, str]) -> None:
    """Refuse a form whose ``csrf_token`` does not belong to the caller's session (raises).

    Accepts every form for now: sessions will compare ``form.get(FIELD)`` with the session's token."""
    return None
