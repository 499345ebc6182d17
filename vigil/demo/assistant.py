"""The demo's LLM assistant, instrumented as LLM applications are: each answer is an OpenTelemetry span
with the GenAI attributes (provider, model, tokens), the user (``user.id``) and the feature
(``app.feature``), exported by the OpenTelemetry SDK's OTLP/HTTP exporter (protobuf) to the demo server's
``/v1/traces``; the server prices it from the config's table. Some users give a thumb up or down a few
seconds later, through the Vigil SDK, joined to the answer by its trace id.

During the cost spike one user (:data:`ABUSER`) runs a script that asks for long summaries in a loop: as
many calls again as everyone else, each answer ten times longer.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

import numpy as np

__all__ = ["ABUSER", "MODEL", "PRICES", "Assistant"]

MODEL = "support-assistant"
LLM = "gpt-small-2026-10"
PRICES = {"input": 0.15, "output": 0.6}
"""USD per million tokens (the demo config's ``pricing:``)."""
ABUSER = "u-4821"
USERS = [f"u-{1000 + i}" for i in range(200)]
FEATURES = ["answer", "summarise", "translate", "search"]


class Assistant:
    """Sends the assistant's spans to ``url``/v1/traces and its users' feedback through ``client``."""

    def __init__(self, url: str, client: Any, rng: np.random.Generator) -> None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        self.provider = TracerProvider(resource=Resource.create({"service.name": MODEL}))
        exporter = OTLPSpanExporter(endpoint=f"{url}/v1/traces", timeout=5)
        self.provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=500))
        self.tracer = self.provider.get_tracer("vigil-demo-assistant")
        self.client, self.rng = client, rng
        self.feedback: deque[tuple[float, str, str]] = deque()
        """(when, trace id, thumb): feedback the users will give."""

    def answer(self, n: int, spike: bool) -> int:
        """``n`` answers to random users (and as many to :data:`ABUSER`, ten times longer, in a spike);
        then the feedback that is due. Returns the number of answers."""
        sent = 0
        for user, verbose in [(None, 1.0)] * n + ([(ABUSER, 10.0)] * n if spike else []):
            who = user or USERS[int(self.rng.integers(len(USERS)))]
            feature = "summarise" if user else FEATURES[int(self.rng.integers(len(FEATURES)))]
            self._call(who, feature, verbose)
            sent += 1
        now = time.time()
        while self.feedback and self.feedback[0][0] <= now:
            _, trace, thumb = self.feedback.popleft()
            self.client.log_feedback(MODEL, trace, thumb=thumb)
        return sent

    def _call(self, user: str, feature: str, verbose: float) -> None:
        tokens_in = int(self.rng.integers(40, 400))
        tokens_out = int(self.rng.gamma(3.0, 60.0) * verbose)
        latency_ns = int((200 + tokens_out * 8 * self.rng.uniform(0.8, 1.2)) * 1e6)
        start = time.time_ns()
        span = self.tracer.start_span(f"chat {LLM}", start_time=start)
        span.set_attributes(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": LLM,
                "gen_ai.usage.input_tokens": tokens_in,
                "gen_ai.usage.output_tokens": tokens_out,
                "user.id": user,
                "app.feature": feature,
            }
        )
        span.end(end_time=start + latency_ns)
        if self.rng.random() < 0.3:  # some users say what they thought, a few seconds later
            thumb = "up" if self.rng.random() < (0.3 if verbose > 1 else 0.8) else "down"
            trace = format(span.get_span_context().trace_id, "032x")
            self.feedback.append((time.time() + float(self.rng.uniform(2, 5)), trace, thumb))

    def close(self) -> None:
        """Export what is left and stop the exporter."""
        self.provider.force_flush(5000)
        self.provider.shutdown()
