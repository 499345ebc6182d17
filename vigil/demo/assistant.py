"""The demo's LLM assistant, instrumented as LLM applications are: each answer is an OpenTelemetry span
with the GenAI attributes (provider, model, tokens, and the conversation: ``gen_ai.input.messages`` and
``gen_ai.output.messages``), the user (``user.id``) and the feature (``app.feature``), exported by the
OpenTelemetry SDK's OTLP/HTTP exporter (protobuf) to the demo server's ``/v1/traces``; the server prices
it from the config's table and stores the prompt and completion scrubbed: one question in
:data:`PII_SHARE` gives the user's e-mail address or phone number, which the drill-down shows as
``[EMAIL]`` or ``[PHONE]``. Some users give a thumb up or down a few seconds later, through the Vigil SDK,
joined to the answer by its trace id.

During the cost spike one user (:data:`ABUSER`) runs a script that asks for long summaries in a loop: as
many calls again as everyone else, each answer ten times longer.
"""

from __future__ import annotations

import json
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
QUESTIONS = {
    "answer": ["How do I reset my password?", "Why was I charged twice this month?", "Can I change my plan?"],
    "summarise": ["Summarise this support thread for me.", "Give me the short version of my last tickets."],
    "translate": ["Translate my last message into French.", "How do I say 'refund' in German?"],
    "search": ["Find the article about export limits.", "Where is the invoice history page?"],
}
PII = ["You can reach me at {user}@example.com.", "Call me back on +44 20 7946 0{n:03d}."]
PII_SHARE = 0.1
"""Share of questions that give an e-mail address or a phone number (scrubbed by the server)."""
_WORDS = [
    "the",
    "account",
    "plan",
    "invoice",
    "page",
    "setting",
    "support",
    "team",
    "update",
    "access",
    "export",
    "refund",
    "message",
]


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
        question, answer = self._conversation(user, feature, tokens_out)
        span.set_attributes(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": LLM,
                "gen_ai.usage.input_tokens": tokens_in,
                "gen_ai.usage.output_tokens": tokens_out,
                "gen_ai.input.messages": json.dumps([_message("user", question)]),
                "gen_ai.output.messages": json.dumps([_message("assistant", answer)]),
                "user.id": user,
                "app.feature": feature,
            }
        )
        span.end(end_time=start + latency_ns)
        if self.rng.random() < 0.3:  # some users say what they thought, a few seconds later
            thumb = "up" if self.rng.random() < (0.3 if verbose > 1 else 0.8) else "down"
            trace = format(span.get_span_context().trace_id, "032x")
            self.feedback.append((time.time() + float(self.rng.uniform(2, 5)), trace, thumb))

    def _conversation(self, user: str, feature: str, tokens_out: int) -> tuple[str, str]:
        """A question of the feature (with the user's contact details now and then) and an answer of
        about ``tokens_out`` tokens (three words to four tokens, at most 300 words)."""
        options = QUESTIONS[feature]
        question = options[int(self.rng.integers(len(options)))]
        if self.rng.random() < PII_SHARE:
            pii = PII[int(self.rng.integers(len(PII)))]
            question += " " + pii.format(user=user.replace("-", "."), n=int(self.rng.integers(1000)))
        words = self.rng.choice(_WORDS, size=max(1, min(tokens_out * 3 // 4, 300)))
        return question, "Sure: " + " ".join(words) + "."

    def close(self) -> None:
        """Export what is left and stop the exporter."""
        self.provider.force_flush(5000)
        self.provider.shutdown()


def _message(role: str, text: str) -> dict[str, Any]:
    """A message in the GenAI conventions' form."""
    return {"role": role, "parts": [{"type": "text", "content": text}]}
