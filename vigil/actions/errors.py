"""Errors of the remediation API: a call that names nothing known, or one that is not allowed.

A guard that stops a *request* (cooldown, a run already under way, nothing to roll back to) is not an
error: it gives a run in state ``refused`` that says why, kept and audited like any other.
"""

from __future__ import annotations

from vigil.errors import VigilError

__all__ = ["ActionDenied", "ActionError", "NotIdentified", "UnknownAction"]


class ActionError(VigilError):
    """Base class of the remediation errors."""


class UnknownAction(ActionError, LookupError):
    """No such action, run or model (an HTTP API answers 404)."""


class ActionDenied(ActionError):
    """The call is not allowed: approving one's own request, deciding a run that is not awaiting approval,
    an action that does not apply to the model (an HTTP API answers 409)."""


class NotIdentified(ActionDenied):
    """The call needs a person Vigil can name (an approval), and the caller has no named API key (an HTTP
    API answers 403)."""
