"""OpenTelemetry in: OTLP trace export requests decoded (``traces``, protobuf or OTLP/JSON) and their LLM
spans read as Vigil events by the GenAI conventions and those of OpenInference and OpenLLMetry
(``genai``). ``vigil.server.api.otlp`` serves it as ``POST /v1/traces``."""
