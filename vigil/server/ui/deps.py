"""What a dashboard page depends on: its caller (``ui_caller``, the one auth seam of the pages), the running
services, the alert engine and the overview's rollups.

Who may open which page is decided before the page runs, from the route × role table
(``vigil.server.roles``) by the app-wide gate (``vigil.server.auth.authorize``): a browser that is not signed
in is sent to ``/login``. ``ui_caller`` hands the page the caller the gate found (a session, a key, or
anyone on an open API) so it can show who is signed in and which buttons they may use.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from vigil.alerting.engine import AlertEngine
from vigil.server.auth import Caller, current_caller
from vigil.server.services import Vigil
from vigil.server.ui.rollups import Rollups

__all__ = ["MaybeEngine", "UiCaller", "UiVigil", "rollups", "ui_caller"]


def ui_caller(request: Request) -> Caller:
    """The caller of a dashboard page, as the gate identified it."""
    return current_caller(request)


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
