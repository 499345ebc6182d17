"""What ``otlp:`` declares: which Vigil model the spans of each OpenTelemetry service are events of."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from vigil.spec.fields import Section

__all__ = ["OtlpSettings"]

Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class OtlpSettings(Section):
    """OTLP ingest (``otlp:``): a span's resource attribute ``service.name`` names its model, unless
    ``services`` maps that service to another (``services: {checkout-api: assistant}``); prompts and
    completions are kept scrubbed unless ``keep_content: false``."""

    services: dict[Name, Name] = Field(default_factory=dict)
    keep_content: bool = True
    """Keep LLM calls' prompts and completions (span attributes or log events) as each event's ``prompt``
    feature and ``prediction``, scrubbed like free text unless the model says ``scrub: false``; ``false``:
    never kept."""

    def model_of(self, service: str) -> str:
        """The Vigil model of ``service``'s spans."""
        return self.services.get(service, service)
