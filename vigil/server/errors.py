"""What a request can run into, as the services say it; ``vigil.server.wire`` turns each into an HTTP answer.

These know nothing of HTTP. Beside them the API answers errors raised below it: ``InputError`` (bad input),
``StoreError`` (the store cannot be used), ``BadRequest`` (a request refused as a whole: too large,
unreadable, the server catching up), ``registry.Conflict`` and the actions' ``UnknownAction``,
``ActionDenied`` and ``NotIdentified``.
"""

from __future__ import annotations

from vigil.errors import VigilError

__all__ = ["AlertingOff", "Conflict", "NotFound", "UnknownModel"]


class NotFound(VigilError):
    """Nothing by the id or name the request gives (an incident, a silence, a rule added through the API)."""


class UnknownModel(NotFound):
    """A model that is not registered; the message says how to add one, ``known`` lists those there are."""

    def __init__(self, message: str, known: list[str]) -> None:
        super().__init__(message)
        self.known = known


class Conflict(VigilError):
    """The request contradicts what holds: a rule or maintenance window that the config owns."""


class AlertingOff(Conflict):
    """A response route called while the config has no ``alerting:`` section."""

    def __init__(self) -> None:
        super().__init__("alerting is off: add an alerting: section to vigil.yaml")
