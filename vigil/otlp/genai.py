"""An LLM span as a Vigil event: which spans are LLM calls, and where each instrumentation puts their facts.

Read, in order of preference, from the span's attributes:

* the OpenTelemetry GenAI semantic conventions, current (``gen_ai.provider.name``,
  ``gen_ai.usage.input_tokens``/``output_tokens``) and the previous generation (``gen_ai.system``,
  ``gen_ai.usage.prompt_tokens``/``completion_tokens``), with ``gen_ai.operation.name``,
  ``gen_ai.request.model``, ``gen_ai.response.model``, ``error.type``;
* OpenInference (``openinference.span.kind`` = ``LLM``, ``llm.model_name``, ``llm.provider``/``llm.system``,
  ``llm.token_count.prompt``/``completion``);
* OpenLLMetry (``llm.request.type``, ``llm.usage.*``; it also writes the previous ``gen_ai.*`` names).

A span is an LLM call when it carries any of the GenAI, OpenInference-LLM or OpenLLMetry markers; other
spans (HTTP handlers, database calls) are not events and are neither kept nor rejected. The event: the
model is the resource's ``service.name`` (unless the config maps it), its time the span's start, its
latency the span's duration, its error the span's ERROR status (``error.type``, else the status message,
else ``error``), its tokens as sent, its cost from an attribute where the instrumentation gives one,
else from the config's price table (``pricing:``, by provider and model, cached input tokens at their
own price; the table's version then a segment, ``pricing``), and as segments the provider's model name
(``llm_model``: the response's, else the request's), the provider, the operation, the ``user``
(``user.id``, ``enduser.id``), the ``feature`` (``app.feature``, ``feature``, ``http.route``), the
``session`` (``session.id``) and the ``conversation`` (``gen_ai.conversation.id``), which ``spend:`` can
sum cost by. ``request_id`` is
the trace id (hex), so feedback and labels sent for the trace join its first LLM call. Prompts and
completions are read apart (``vigil.otlp.content``) and added by ``traces.events``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vigil.spec.pricing import PricingSettings

__all__ = ["is_llm", "to_event"]

Attributes = Mapping[str, Any]

_PROVIDER = ("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system")
_MODEL = ("gen_ai.response.model", "gen_ai.request.model", "llm.model_name", "llm.response.model")
_OPERATION = ("gen_ai.operation.name", "llm.request.type")
_TOKENS_IN = (
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.prompt_tokens",
    "llm.token_count.prompt",
    "llm.usage.prompt_tokens",
)
_TOKENS_OUT = (
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.completion_tokens",
    "llm.token_count.completion",
    "llm.usage.completion_tokens",
)
_COST = ("gen_ai.usage.cost", "llm.usage.cost", "llm.cost.total")
_CACHED = (
    "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.cache_read_input_tokens",
    "llm.token_count.prompt_details.cache_read",
)
_USER = ("user.id", "enduser.id")
_FEATURE = ("app.feature", "feature", "http.route")
_SESSION = ("session.id",)
_CONVERSATION = ("gen_ai.conversation.id",)
_MARKERS = ("gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.system", "llm.request.type")


def is_llm(attributes: Attributes) -> bool:
    """Whether a span with these attributes is an LLM call (see the module docstring)."""
    if any(k in attributes for k in _MARKERS):
        return True
    kind = attributes.get("openinference.span.kind")
    return isinstance(kind, str) and kind.upper() == "LLM"


def to_event(
    model: str,
    trace_id: str,
    start_ns: int,
    end_ns: int,
    attributes: Attributes,
    error_status: str | None,
    pricing: PricingSettings | None = None,
) -> dict[str, Any]:
    """The Vigil event (a wire record, as ``vigil.schema.Event`` reads it) of one LLM span.
    ``error_status``: the span status's message when its code is ERROR (``""`` without one), else None.
    A span without a cost attribute is priced by ``pricing`` where it names the provider's model (cached
    input tokens at the cached price); the table's version is then the event's ``pricing`` segment."""
    error = None
    if error_status is not None:
        error = _text(attributes.get("error.type")) or error_status or "error"
    elif "error.type" in attributes:
        error = _text(attributes["error.type"])
    segments = {
        name: value
        for name, value in (
            ("llm_model", _first(attributes, _MODEL)),
            ("provider", _first(attributes, _PROVIDER)),
            ("operation", _first(attributes, _OPERATION)),
            ("user", _first(attributes, _USER)),
            ("feature", _first(attributes, _FEATURE)),
            ("session", _first(attributes, _SESSION)),
            ("conversation", _first(attributes, _CONVERSATION)),
        )
        if value is not None
    }
    tokens_in, tokens_out = _first(attributes, _TOKENS_IN), _first(attributes, _TOKENS_OUT)
    cost = _first(attributes, _COST)
    if cost is None and pricing is not None and (tokens_in is not None or tokens_out is not None):
        cost = pricing.cost(
            _text(_first(attributes, _PROVIDER)),
            tuple(_text(attributes.get(n)) for n in _MODEL),
            _count(tokens_in),
            _count(tokens_out),
            _count(_first(attributes, _CACHED)),
        )
        if cost is not None:
            segments["pricing"] = pricing.version
    event: dict[str, Any] = {
        "model": model,
        "request_id": trace_id or None,
        "timestamp": start_ns / 1e9,
        "latency_ms": max(end_ns - start_ns, 0) / 1e6 if end_ns else None,
        "error": error,
        "tokens_in": tokens_in,
        "tokens_out": tokens_out,
        "cost": cost,
        "segments": {k: _text(v) for k, v in segments.items()},
    }
    return {k: v for k, v in event.items() if v is not None and v != {}}


def _first(attributes: Attributes, names: tuple[str, ...]) -> Any:
    for name in names:
        value = attributes.get(name)
        if value is not None and value != "":
            return value
    return None


def _count(value: Any) -> int:
    """A token count for pricing (0 when absent or not a count: the event's own check rejects it)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
