"""Who may open the dashboard: the one dependency every page of ``vigil.server.ui`` uses (``ui_caller``).

With no API key configured the dashboard is open, like the API. Otherwise a page needs an admin key, as
the API's read routes do: sent as ``Authorization: Bearer <key>`` or ``X-API-Key`` (scripts, tests), or
typed into the browser's sign-in prompt (HTTP Basic: any user name, the key as the password), which a
refused page asks for. The check itself is the API's (``Doorman.admit``), so both always agree.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from vigil.alerting.engine import AlertEngine
from vigil.server.auth import Caller, Doorman
from vigil.server.services import Vigil
from vigil.server.ui.rollups import Rollups

__all__ = ["MaybeEngine", "UiCaller", "UiVigil", "rollups", "ui_caller"]

REALM = 'Basic realm="Vigil dashboard: the password is an admin API key", charset="UTF-8"'


def _basic_password(authorization: str | None) -> str | None:
    """The password of an HTTP Basic ``Authorization`` header (None when it is not one)."""
    if not authorization or authorization[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded.partition(":")[2] or None


def ui_caller(
    request: Request,
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> Caller:
    """The caller of a dashboard page: anyone when the API is open, else the holder of an admin key (401
    asks the browser for it; 403 for an ingest key)."""
    doorman: Doorman = request.app.state.doorman
    password = _basic_password(authorization)
    try:
        if password is not None:
            return doorman.admit("admin", request, None, password)
        return doorman.admit("admin", request, authorization, x_api_key)
    except HTTPException as exc:
        if exc.status_code == 401:
            raise HTTPException(401, exc.detail, headers={"WWW-Authenticate": REALM}) from None
        raise


def _vigil(request: Request) -> Vigil:
    vigil: Vigil = request.app.state.vigil
    return vigil


def rollups(request: Request) -> Rollups:
    """The app's cached service rollups (made on first use)."""
    found: Rollups | None = getattr(request.app.state, "ui_rollups", None)
    if found is None:
        vigil = _vigil(request)
        found = request.app.state.ui_rollups = Rollups(vigil.query, vigil.clock)
    return found


def _engine(request: Request) -> AlertEngine | None:
    engine: AlertEngine | None = request.app.state.alerting
    return engine


UiCaller = Annotated[Caller, Depends(ui_caller)]
"""The caller of a dashboard page (see :func:`ui_caller`)."""
UiVigil = Annotated[Vigil, Depends(_vigil)]
"""The running parts of the server: the same services the JSON API calls."""
MaybeEngine = Annotated[AlertEngine | None, Depends(_engine)]
"""The alert engine; None when the config has no ``alerting:`` section."""
