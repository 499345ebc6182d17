"""The demo's assistant as the demo runs it: the OpenTelemetry SDK's exporter sends its answers to a real
`vigil serve` with the demo's model declaration; prompts and completions arrive, scrubbed, and the prompt is
watched as text (its descriptors), not profiled as categories."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.server.test_otlp import Serve
from vigil.demo.assistant import MODEL, Assistant

CONFIG = f"""
models:
  {MODEL}:
    task: llm
    owner: {{team: assistant}}
    features:
      prompt: {{type: text}}
"""


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    s = Serve(tmp_path, CONFIG)
    try:
        yield s
    finally:
        s.stop()


def test_the_assistant_sends_its_conversations_and_the_server_scrubs_them(serve: Serve) -> None:
    assistant = Assistant(serve.otlp_url, None, np.random.default_rng(7))
    assert assistant.answer(60, spike=False) == 60  # no feedback due yet: the client is not called
    assistant.close()
    events: list[dict[str, object]] = []
    for _ in range(100):
        r = httpx.get(f"{serve.url}/v1/models/{MODEL}/events", params={"limit": 100})
        events = r.json()["events"]
        if len(events) == 60:
            break
        time.sleep(0.1)
    prompts = [e["features"]["prompt"] for e in events]  # type: ignore[index]
    assert len(prompts) == 60 and all(p.startswith("user: ") for p in prompts)
    assert all(str(e["prediction"]).startswith("assistant: Sure: ") for e in events)
    scrubbed = [p for p in prompts if "[EMAIL]" in p or "[PHONE]" in p]
    assert 1 <= len(scrubbed) <= 15, prompts  # PII_SHARE (0.1) of 60 questions, seeded
    assert not any("example.com" in p or "7946" in p for p in prompts)
    r = httpx.get(
        f"{serve.url}/v1/models/{MODEL}/metrics", params={"names": "text_length:prompt", "step": "1d"}
    )
    lengths = [v for _, v in r.json()["series"]["text_length:prompt"] if v is not None]
    assert len(lengths) == 1 and 20 < lengths[0] < 120, lengths  # characters per question
