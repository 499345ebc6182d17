"""What routes are given: the app's services, as typed FastAPI dependencies (the caller's identity is in
``vigil.server.auth``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from vigil.actions.remediator import Remediator
from vigil.alerting.engine import AlertEngine
from vigil.server.errors import AlertingOff
from vigil.server.services import Operations, Vigil

__all__ = ["EngineDep", "MaybeEngineDep", "OperationsDep", "RemediatorDep", "VigilDep"]


def _vigil(request: Request) -> Vigil:
    vigil: Vigil = request.app.state.vigil
    return vigil


def _maybe_engine(request: Request) -> AlertEngine | None:
    engine: AlertEngine | None = request.app.state.alerting
    return engine


def _engine(request: Request) -> AlertEngine:
    engine = _maybe_engine(request)
    if engine is None:
        raise AlertingOff()
    return engine


VigilDep = Annotated[Vigil, Depends(_vigil)]
"""The running parts of this app's server."""
MaybeEngineDep = Annotated[AlertEngine | None, Depends(_maybe_engine)]
"""The alert engine; None when the config has no ``alerting:`` section."""
EngineDep = Annotated[AlertEngine, Depends(_engine)]
"""The alert engine; a route that needs it answers 409 when alerting is off."""


def _remediator(vigil: VigilDep, engine: EngineDep) -> Remediator:
    assert vigil.remediator is not None  # wired with the engine
    return vigil.remediator


RemediatorDep = Annotated[Remediator, Depends(_remediator)]
"""The remediation actions (a route that needs them answers 409 when alerting is off)."""


def _operations(vigil: VigilDep, engine: EngineDep) -> Operations:
    return Operations(vigil, engine)


OperationsDep = Annotated[Operations, Depends(_operations)]
"""The response side's changes (answers 409 when alerting is off)."""
