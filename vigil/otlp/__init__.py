"""OpenTelemetry in: OTLP export requests decoded (``wire``: protobuf or OTLP/JSON): traces, whose LLM
spans are read as Vigil events by the GenAI conventions and those of OpenInference and OpenLLMetry
(``traces``, ``genai``); logs, whose GenAI events give prompts, completions (``content``) and evaluator
scores (``logs``); metrics, counted (``metrics``). ``vigil.server.api.otlp`` serves them as
``POST /v1/traces``, ``/v1/logs`` and ``/v1/metrics``."""
