"""What PII scrubbing costs at ingest: an LLM's events (prompt, completion, error) turned into the event
table (``vigil.ingest.batch.events_table``, where redaction happens), scrubbed by default and with
``scrub: false``; and the tabular model of ingest_bench.py, whose only scrubbed text is ``error``.

    .venv/bin/python bench/redact_bench.py [--events 1000] [--reps 20]

A third of the prompts and a fifth of the completions carry an e-mail address, a phone or card number or
an IP address; every prompt is distinct (as real prompts are); 5% of the events failed with an error text.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

LLM = """
models:
  chat: {task: llm, owner: {team: bench}, window: 1m}
  plain: {task: llm, owner: {team: bench}, window: 1m, scrub: false}
"""
WORDS = ["the", "a", "my", "order", "account", "refund", "shipping", "invoice", "please", "help", "thanks"]
PII = ["jo.smith@example.com", "+44 20 7946 0958", "4111 1111 1111 1111", "10.20.30.40", "(555) 123-4567"]


def _text(rng: np.random.Generator, words: int, pii_share: float) -> str:
    text = (
        " ".join(rng.choice(WORDS, size=words))
        + f" ref {rng.integers(10**6)} on 2026-11-{rng.integers(1, 29)}"
    )
    if rng.random() < pii_share:
        text += f", reach me at {rng.choice(PII)}"
    return text


def llm_events(model: str, n: int, seed: int = 0) -> list[dict[str, object]]:
    rng = np.random.default_rng(seed)
    return [
        {
            "model": model,
            "request_id": f"r{i}",
            "features": {"prompt": _text(rng, 40, 1 / 3), "channel": str(rng.choice(["web", "app"]))},
            "prediction": _text(rng, 60, 1 / 5),
            "error": f"upstream 10.0.{i % 7}.9 timed out" if rng.random() < 0.05 else None,
            "tokens_in": int(rng.integers(50, 500)),
        }
        for i in range(n)
    ]


def per_event_us(model: str, config: str, records: list[dict[str, object]], reps: int) -> float:
    from vigil.config import parse_config
    from vigil.ingest.batch import events_table
    from vigil.ingest.columnar import from_events
    from vigil.ingest.redact import Redactor
    from vigil.schema import Event

    spec = parse_config(config).models[model]
    wire = from_events([Event.model_validate(r) for r in records])
    redactor = Redactor.for_model(spec, None)
    events_table(wire, spec, time.time(), redactor)  # warm-up
    t = time.perf_counter()
    for _ in range(reps):
        events_table(wire, spec, time.time(), redactor)
    return (time.perf_counter() - t) / reps / len(records) * 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1000)
    ap.add_argument("--reps", type=int, default=20)
    args = ap.parse_args()
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from ingest_bench import CONFIG, events

    for label, model, config, records in (
        ("llm, scrubbed (default)", "chat", LLM, llm_events("chat", args.events)),
        ("llm, scrub: false", "plain", LLM, llm_events("plain", args.events)),
        (
            "tabular (ingest_bench)",
            "bench",
            CONFIG,
            events(np.random.default_rng(0), args.events, time.time()),
        ),
    ):
        print(f"{label:26} {per_event_us(model, config, records, args.reps):8.1f} µs/event")


if __name__ == "__main__":
    main()
