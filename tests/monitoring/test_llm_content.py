"""Stored LLM content fills the drill-down's events: the span of the trace whose records lie nearest the
event's time, never what the event has, none when two spans are as near or all are too far."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vigil.events import PREDICTION
from vigil.monitoring.llm_content import SLACK, fill
from vigil.store.base import ContentRow
from vigil.store.sqlite import SQLiteStore


def _part(trace: str, span: str, ts: float, prompt: str | None, completion: str | None = None) -> ContentRow:
    return ContentRow("m", trace, span, f"{span}{ts}{prompt}".encode(), ts, 0, prompt, completion)


def test_each_event_takes_the_content_of_its_own_span(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "v.db")
    try:
        store.put_content(
            [
                _part("t", "a", 100.01, "user: first"),
                _part("t", "a", 100.02, None, "assistant: one"),
                _part("t", "b", 100.51, "user: second"),
                _part("u", "c", 200.0, "user: tie 1"),
                _part("u", "d", 200.0, "user: tie 2"),
                _part("v", "e", 300.0 + 0.1 + SLACK + 0.01, "user: too late"),
                _part("w", "f", 400.0, "user: not this"),
            ]
        )
        rows: list[dict[str, Any]] = [
            {"request_id": "t", "ts": 100.0, "latency_ms": 100.0},
            {"request_id": "t", "ts": 100.5, "latency_ms": 100.0},
            {"request_id": "u", "ts": 200.0, "latency_ms": 10.0},
            {"request_id": "v", "ts": 300.0, "latency_ms": 100.0},
            {"request_id": "w", "ts": 400.0, "prompt": "user: kept", PREDICTION: "assistant: kept"},
            {"ts": 100.0},
        ]
        assert fill(store, "m", rows) == 2
        assert (rows[0]["prompt"], rows[0][PREDICTION]) == ("user: first", "assistant: one")
        assert rows[1]["prompt"] == "user: second" and PREDICTION not in rows[1]
        assert "prompt" not in rows[2] and "prompt" not in rows[3]  # two spans as near; too far
        assert rows[4]["prompt"] == "user: kept"
        assert fill(store, "other", [{"request_id": "t", "ts": 100.0}]) == 0  # another model's traces
    finally:
        store.close()
