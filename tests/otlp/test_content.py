"""Prompts and completions read where each instrumentation writes them, and held content waiting for its
span (bounded in time and size)."""

from __future__ import annotations

import json

from vigil.otlp.content import MAX_TEXT, Content, Pending, from_event, from_span


def test_current_conventions_messages_with_system_instructions_and_tool_calls() -> None:
    messages = [
        {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]},
        {
            "role": "assistant",
            "parts": [{"type": "tool_call", "id": "c1", "name": "weather", "arguments": {"city": "Paris"}}],
        },
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "c1", "response": "rain"}]},
    ]
    out = [{"role": "assistant", "parts": [{"type": "text", "content": "Rain."}], "finish_reason": "stop"}]
    found = from_span(
        {
            "gen_ai.system_instructions": json.dumps([{"type": "text", "content": "Be brief."}]),
            "gen_ai.input.messages": json.dumps(messages),
            "gen_ai.output.messages": out,  # structured (a log event's attribute), not a JSON string
        }
    )
    assert found.prompt == (
        "system: Be brief.\nuser: Weather in Paris?\n"
        'assistant: [tool call weather({"city":"Paris"})]\ntool: [tool response: rain]'
    )
    assert found.completion == "assistant: Rain."


def test_previous_conventions_openllmetry_and_openinference() -> None:
    assert from_span({"gen_ai.prompt": "hi", "gen_ai.completion": "hello"}) == Content("hi", "hello")
    openllmetry = {
        "gen_ai.prompt.1.role": "user",
        "gen_ai.prompt.1.content": "second",
        "gen_ai.prompt.0.role": "system",
        "gen_ai.prompt.0.content": "first",
        "gen_ai.completion.0.content": "done",
    }
    assert from_span(openllmetry) == Content("system: first\nuser: second", "assistant: done")
    openinference = {
        "llm.input_messages.0.message.role": "user",
        "llm.input_messages.0.message.content": "q",
        "llm.output_messages.0.message.role": "assistant",
        "llm.output_messages.0.message.content": "a",
        "input.value": '{"raw": "request"}',  # the messages are preferred to the raw request
    }
    assert from_span(openinference) == Content("user: q", "assistant: a")
    assert from_span({"input.value": "plain", "output.value": "text"}) == Content("plain", "text")
    assert not from_span({"gen_ai.operation.name": "chat"})
    assert from_span({"gen_ai.input.messages": "not json"}).prompt == "not json"


def test_log_events_of_each_kind() -> None:
    assert from_event("gen_ai.user.message", {"content": "q"}, {}) == Content(prompt="user: q")
    assert from_event("gen_ai.system.message", "be kind", {}) == Content(prompt="system: be kind")
    call = {"id": "1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    assert from_event("gen_ai.assistant.message", {"tool_calls": [call]}, {}).prompt == (
        "assistant: [tool call f({})]"
    )
    choice = {"index": 0, "finish_reason": "stop", "message": {"content": "a"}}
    assert from_event("gen_ai.choice", choice, {}) == Content(completion="assistant: a")
    details = {"gen_ai.input.messages": [{"role": "user", "parts": [{"type": "text", "content": "x"}]}]}
    assert from_event("gen_ai.client.inference.operation.details", None, details) == Content("user: x")


def test_long_text_is_cut_to_the_event_limit() -> None:
    found = from_span({"gen_ai.prompt": "a" * (MAX_TEXT + 10)})
    assert found.prompt is not None and len(found.prompt) == MAX_TEXT and found.prompt.endswith("…")


def test_pending_joins_in_order_tells_late_content_and_forgets_by_time_and_size() -> None:
    now = [0.0]
    pending = Pending(ttl=10, budget=100, clock=lambda: now[0])
    assert pending.hold("t", "s1", Content(prompt="system: a"))
    assert pending.hold("t", "s1", Content(prompt="user: b", completion="assistant: c"), record=(5, "b", "c"))
    # the same log record again (an export retried after a lost answer): held once
    assert pending.hold("t", "s1", Content(prompt="user: b", completion="assistant: c"), record=(5, "b", "c"))
    joined = {("t", "s1"): Content("system: a\nuser: b", "assistant: c")}
    assert pending.peek([("t", "s1"), ("t", "s2")]) == joined
    assert pending.peek([("t", "s1")]) == joined  # still held: a refused export is retried
    pending.done([("t", "s1"), ("t", "s2")])
    assert pending.peek([("t", "s1")]) == {}
    assert not pending.hold("t", "s1", Content(prompt="late"))  # its span was ingested: late
    assert not pending.hold("t", "s2", Content(prompt="late"))
    now[0] = 11.0  # past the ttl: ingested spans forgotten, so content for them is held again
    assert pending.hold("t", "s2", Content(prompt="x"))
    assert pending.hold("t", "s3", Content(prompt="y" * 100))  # over the budget: the oldest dropped
    assert len(pending) == 1 and pending.peek([("t", "s2")]) == {}
    now[0] = 22.0
    assert pending.peek([("t", "s3")]) == {}  # expired
