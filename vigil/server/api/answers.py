"""The base of the API's answer models, and the error answers routes document."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = ["Answer", "Deleted", "Detail", "Error", "errors"]


class Answer(BaseModel):
    """An answer's shape, for the OpenAPI document and to check what routes return. Keys a domain object
    adds are passed through (``extra="allow"``); routes leave out the keys their source left out."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Error(Answer):
    """A request that cannot be served: what was wrong and what to do. Some carry details beside it
    (``known_models``, ``problems``, ``limit``, ``retry_after``)."""

    error: str


class Detail(Answer):
    """A response route's refusal (the shape of FastAPI's own errors)."""

    detail: Any


class Deleted(Answer):
    deleted: str
    """The name of what was removed."""


_WHY = {
    400: "The body cannot be read.",
    401: "No API key, or an unknown one.",
    403: "The key may not do this, or the caller cannot be named.",
    404: "Nothing by that name or id.",
    409: "It contradicts the config, or alerting is off.",
    413: "The body is over the limit.",
    415: "An unsupported Content-Encoding.",
    422: "Bad input: what was wrong and what to do.",
    501: "This server cannot make this answer: a program it needs is missing (the answer says which).",
    503: "Try again after Retry-After seconds: the store is unavailable, or the server is catching up.",
}
_DETAIL = {401, 403}


def errors(*statuses: int, detail: tuple[int, ...] = ()) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` of a route that may answer ``statuses``; those in ``detail`` (and 401, 403)
    answer ``{"detail": ...}``, the others ``{"error": ...}``."""
    return {
        status: {
            "model": Detail if status in _DETAIL or status in detail else Error,
            "description": _WHY[status],
        }
        for status in statuses
    }
