"""LLM content that came apart from its event: prompts and completions from OTLP log records stored
(``Store.put_content``) after their span's event was, or at another server process, added to the stored
events the drill-down shows.

An event knows its trace (``request_id``), not its span: its content is that of the span of its trace
whose records' times lie nearest the event's own (``ts`` to ``ts + latency_ms``; the OpenTelemetry SDK
emits a call's content events while its span is open, with their time), the farthest record no more
than ``SLACK`` seconds outside; none when two spans are as near. Content never replaces what the event
has: it fills a missing prompt or completion.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby
from typing import Any

from vigil.events import PREDICTION
from vigil.store.base import ContentRow, Store

__all__ = ["PROMPT", "SLACK", "fill"]

PROMPT = "prompt"
"""The feature an LLM event's prompt is."""
SLACK = 1.0
"""Seconds a content record's time may sit outside its span's (clocks, rounding)."""


def fill(store: Store, model: str, rows: Sequence[dict[str, Any]]) -> int:
    """Give stored event rows (column names as stored) without a prompt or completion the content
    stored for their call, in place; one store read. Returns the number of rows given some."""
    wanting = [
        r for r in rows if r.get("request_id") and (r.get(PROMPT) is None or r.get(PREDICTION) is None)
    ]
    if not wanting:
        return 0
    found = store.content(model, [r["request_id"] for r in wanting])
    traces: dict[str, list[list[ContentRow]]] = {}
    for (trace, _), parts in groupby(found, key=lambda c: (c.trace_id, c.span_id)):
        traces.setdefault(trace, []).append(list(parts))
    given = 0
    for row in wanting:
        span = _span_of(row, traces.get(row["request_id"], []))
        if span is None:
            continue
        prompt = "\n".join(p.prompt for p in span if p.prompt is not None)
        completion = "\n".join(p.completion for p in span if p.completion is not None)
        before = (row.get(PROMPT), row.get(PREDICTION))
        if row.get(PROMPT) is None and prompt:
            row[PROMPT] = prompt
        if row.get(PREDICTION) is None and completion:
            row[PREDICTION] = completion
        given += (row.get(PROMPT), row.get(PREDICTION)) != before
    return given


def _span_of(row: dict[str, Any], spans: list[list[ContentRow]]) -> list[ContentRow] | None:
    """The span whose records lie nearest the event's time (the farthest record counts), when one is
    nearest and within ``SLACK``."""
    start = float(row.get("ts") or 0.0)
    end = start + float(row.get("latency_ms") or 0.0) / 1000
    off = sorted((max(max(start - p.ts, p.ts - end, 0.0) for p in span), i) for i, span in enumerate(spans))
    if not off or off[0][0] > SLACK or (len(off) > 1 and off[1][0] == off[0][0]):
        return None
    return spans[off[0][1]]
