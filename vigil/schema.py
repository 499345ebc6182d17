"""The wire records: one inference (``Event``), one late ground truth (``Label``), one host reading
(``HostMetrics``). The HTTP API, the SDK and file ingest all speak these; pydantic checks them (in Rust,
over a whole batch at once), and every problem is reported with the record's index and the field.

Times are RFC 3339 strings or seconds since the epoch (UTC), kept to the microsecond. Strings are capped
at ``MAX_STRING`` characters, feature maps at ``MAX_FEATURES`` entries, embeddings (a feature given as
a list of numbers) at ``MAX_DIMENSIONS`` numbers; NaN and infinities are refused
(JSON has none, and a NaN feature is a null: send ``null``). Numbers are capped at ``MAX_NUMBER`` in size
and token counts at ``MAX_TOKENS``, so that no window's sums and sums of squares can overflow: a larger
value is nearly always a sentinel (``1.8e308`` for "missing"), refused with its record rather than
turning a window's mean into nothing.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

__all__ = [
    "MAX_DIMENSIONS",
    "MAX_FEATURES",
    "MAX_NUMBER",
    "MAX_STRING",
    "MAX_TOKENS",
    "Event",
    "Feedback",
    "HostMetrics",
    "Label",
    "Scalar",
]

MAX_STRING = 65_536
"""Longest accepted string (a prompt, a completion, an error message), in characters."""
MAX_FEATURES = 2_000
"""Most entries in one event's ``features`` (or ``segments``) map."""
MAX_NUMBER = 1e100
"""Largest size of a number (a feature, score, latency, cost, probability, label): squared and summed
over any window it stays finite."""
MAX_DIMENSIONS = 8_192
"""Most numbers in one embedding feature."""
MAX_TOKENS = 1_000_000_000
"""Most tokens in one call (``tokens_in``, ``tokens_out``): a window's totals stay within 64 bits."""

_RECORD = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True, str_max_length=MAX_STRING)

Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(max_length=MAX_STRING)]
Int64 = Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]
"""An integer that fits 64 bits (what is stored); a larger one in a feature is read as a float."""
Count = Annotated[int, Field(ge=0, le=2**63 - 1)]
Tokens = Annotated[int, Field(ge=0, le=MAX_TOKENS)]
Real = Annotated[float, Field(ge=-MAX_NUMBER, le=MAX_NUMBER)]
"""A finite float no larger than ``MAX_NUMBER``."""
NonNegative = Annotated[float, Field(ge=0, le=MAX_NUMBER)]
Scalar = bool | Int64 | Real | Text | None
"""A feature value: a number, a boolean, a string, or null."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FIRST = datetime(1, 1, 2, tzinfo=UTC).timestamp()
_LAST = datetime(9999, 12, 31, tzinfo=UTC).timestamp()
_YEAR = re.compile(r"\s*([+-]?\d{4,})-\d\d-\d\d")
"""A date's year, of any size (ISO 8601's expanded years, ``14645-06-30``, ``-0001-01-01``, ``0000-...``)."""


def _to_datetime(value: Any) -> Any:
    """Seconds since the epoch become an aware UTC datetime, rounded half to even to the microsecond
    from the float ``value * 1e6`` (as the vectorised path rounds them); strings are left to pydantic
    (RFC 3339)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not (math.isfinite(value) and _FIRST <= value <= _LAST):
            raise ValueError("seconds since the epoch out of range (years 1 to 9999)")
        return _EPOCH + timedelta(microseconds=round(float(value) * 1e6))
    if isinstance(value, str) and (year := _YEAR.match(value)) and not 1 <= int(year[1]) <= 9999:
        raise ValueError("time out of range (years 1 to 9999)")  # not "invalid date separator"
    return value


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _in_range(value: datetime) -> datetime:
    """An aware datetime whose epoch seconds exist (not past year 9999 or before year 1 once in UTC)."""
    value = _aware(value)
    if not _FIRST <= value.timestamp() <= _LAST:
        raise ValueError("time out of range (years 1 to 9999)")
    return value


Timestamp = Annotated[datetime, BeforeValidator(_to_datetime), AfterValidator(_in_range)]


def _no_map(value: Any) -> Any:
    return {} if value is None else value


Map = Annotated[dict[Name, Scalar], BeforeValidator(_no_map), Field(max_length=MAX_FEATURES)]
"""Segment tags; null is an empty map."""
Vector = Annotated[list[Real], Field(min_length=1, max_length=MAX_DIMENSIONS)]
"""An embedding: a list of finite numbers."""
Features = Annotated[dict[Name, Scalar | Vector], BeforeValidator(_no_map), Field(max_length=MAX_FEATURES)]
"""Features: scalars, or lists of numbers (embeddings); null is an empty map."""


class Event(BaseModel):
    """One prediction as the model served it."""

    model_config = _RECORD

    model: Name
    version: Name | None = None
    """Defaults to the model's live version from the registry."""
    request_id: Name | None = None
    """Needed to join a label later."""
    timestamp: Timestamp | None = None
    """When the prediction was made; the server's clock when absent."""
    features: Features = Field(default_factory=dict)
    prediction: Scalar = None
    """The class (binary/multiclass), the value (regression) or the text (LLM)."""
    score: Real | None = None
    """The positive-class probability (binary) or the confidence of ``prediction``."""
    probabilities: dict[Name, Real | None] | None = Field(default=None, max_length=1_000)
    """Per class; a class given null is left out."""
    latency_ms: NonNegative | None = None
    error: Text | None = None
    """What went wrong, when the request failed (the prediction is then usually null)."""
    tokens_in: Tokens | None = None
    tokens_out: Tokens | None = None
    cost: NonNegative | None = None
    """In US dollars."""
    segments: Map = Field(default_factory=dict)
    """Tags to slice by (region, customer tier, ...)."""

    def when(self, now: datetime) -> datetime:
        return _aware(self.timestamp) if self.timestamp is not None else now


class Label(BaseModel):
    """The ground truth for an earlier prediction, joined by ``request_id`` whenever it arrives."""

    model_config = _RECORD

    model: Name
    request_id: Name
    label: bool | Int64 | Real | Text
    """The true class (or value); required, and not null."""
    timestamp: Timestamp | None = None
    """When the truth became known; the server's clock when absent."""


class Feedback(BaseModel):
    """What a user (or an evaluator) said of an earlier prediction, joined by ``request_id`` (for spans
    sent over OTLP, the trace id) like a label. At least one of ``thumb``, ``rating`` and ``scores``."""

    model_config = _RECORD

    model: Name
    request_id: Name
    thumb: Literal["up", "down"] | None = None
    rating: Real | None = None
    """On the application's own scale (1–5 stars, 0–10...)."""
    scores: dict[Name, Real] = Field(default_factory=dict, max_length=100)
    """Evaluators' scores by evaluator name (``faithfulness``, ``relevance``...)."""
    comment: Text | None = None
    """Free text: scrubbed of personal data before it is stored, as the model's scrub setting says."""
    timestamp: Timestamp | None = None
    """When it was given; the server's clock when absent."""

    @model_validator(mode="after")
    def _something(self) -> Feedback:
        if self.thumb is None and self.rating is None and not self.scores:
            raise ValueError("give a thumb (up or down), a rating or evaluator scores")
        return self


class HostMetrics(BaseModel):
    """A reading of the machine that serves a model (sent by the SDK every few seconds)."""

    model_config = _RECORD

    model: Name
    host: Name
    timestamp: Timestamp | None = None
    cpu_percent: NonNegative | None = None
    memory_percent: Annotated[float, Field(ge=0, le=100)] | None = None
    memory_bytes: Count | None = None
    gpu_percent: Annotated[float, Field(ge=0, le=100)] | None = None
    gpu_memory_percent: Annotated[float, Field(ge=0, le=100)] | None = None
    gpu_memory_bytes: Count | None = None
