"""Which spans are LLM calls, and how each instrumentation's attributes become an event's fields."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from vigil.otlp.genai import is_llm, to_event
from vigil.spec.pricing import PricingSettings

START = 1_800_000_000_000_000_000


def test_llm_spans_are_told_by_any_convention_and_others_are_not() -> None:
    assert is_llm({"gen_ai.operation.name": "chat"})
    assert is_llm({"gen_ai.system": "openai"})  # the previous generation
    assert is_llm({"llm.request.type": "completion"})  # OpenLLMetry
    assert is_llm({"openinference.span.kind": "llm"})  # OpenInference, any case
    assert not is_llm({"openinference.span.kind": "RETRIEVER"})
    assert not is_llm({"http.request.method": "POST", "url.path": "/chat"})


def test_current_conventions_win_over_older_names_and_the_error_type_names_the_error() -> None:
    event = to_event(
        "assistant",
        "ab" * 16,
        START,
        START + 1_500_000_000,
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.system": "old-name",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.response.model": "gpt-4o-2024-08-06",
            "gen_ai.usage.input_tokens": 12,
            "gen_ai.usage.prompt_tokens": 999,
            "gen_ai.usage.output_tokens": 3,
            "error.type": "RateLimitError",
        },
        "",  # status ERROR without a message
    )
    assert event == {
        "model": "assistant",
        "request_id": "ab" * 16,
        "timestamp": START / 1e9,
        "latency_ms": 1500.0,
        "error": "RateLimitError",
        "tokens_in": 12,
        "tokens_out": 3,
        "segments": {"llm_model": "gpt-4o-2024-08-06", "provider": "openai", "operation": "chat"},
    }


def test_openllmetry_and_openinference_names_and_a_status_message() -> None:
    openllmetry = to_event(
        "m",
        "",
        START,
        0,
        {"llm.request.type": "chat", "gen_ai.system": "anthropic", "llm.usage.prompt_tokens": 5},
        "overloaded",
    )
    assert openllmetry == {
        "model": "m",
        "timestamp": START / 1e9,
        "error": "overloaded",
        "tokens_in": 5,
        "segments": {"provider": "anthropic", "operation": "chat"},
    }
    openinference = to_event(
        "m",
        "cd" * 16,
        START,
        START + 10**6,
        {"openinference.span.kind": "LLM", "llm.model_name": "mistral", "llm.token_count.completion": 8},
        None,
    )
    assert openinference["tokens_out"] == 8 and openinference["segments"] == {"llm_model": "mistral"}
    assert "error" not in openinference and openinference["latency_ms"] == 1.0


PRICES = PricingSettings.model_validate(
    {
        "version": "2026-12",
        "models": {
            "openai/gpt-4o": {"input": 2.5, "output": 10.0, "cached_input": 1.25},
            "claude": {"input": 3.0, "output": 15.0},
        },
    }
)


def test_a_span_without_a_cost_is_priced_by_the_table_and_says_by_which() -> None:
    attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.response.model": "gpt-4o-2024-08-06",  # not in the table: the request's model is
        "gen_ai.usage.input_tokens": 1_000,
        "gen_ai.usage.cache_read.input_tokens": 400,
        "gen_ai.usage.output_tokens": 200,
    }
    event = to_event("m", "", START, START, attributes, None, PRICES)
    assert event["cost"] == pytest.approx((600 * 2.5 + 400 * 1.25 + 200 * 10.0) / 1e6, rel=1e-15)
    assert event["segments"]["pricing"] == "2026-12"
    # by model alone, whatever the provider; no cached price: cached tokens at the input price
    claude = to_event(
        "m",
        "",
        START,
        START,
        {"gen_ai.system": "x", "gen_ai.request.model": "claude"}
        | {"gen_ai.usage.input_tokens": 10, "gen_ai.usage.cache_read.input_tokens": 4},
        None,
        PRICES,
    )
    assert claude["cost"] == pytest.approx(10 * 3.0 / 1e6, rel=1e-15)
    # a cost sent by the instrumentation wins, and an unpriced model has none (no pricing segment)
    sent = to_event("m", "", START, START, attributes | {"gen_ai.usage.cost": 0.5}, None, PRICES)
    assert sent["cost"] == 0.5 and "pricing" not in sent["segments"]
    unknown = to_event("m", "", START, START, attributes | {"gen_ai.request.model": "o9"}, None, PRICES)
    assert "cost" not in unknown and "pricing" not in unknown["segments"]


def test_a_price_must_be_a_non_negative_number() -> None:
    with pytest.raises(ValidationError, match="greater than or equal to 0"):
        PricingSettings.model_validate({"models": {"m": {"input": -1, "output": 1}}})


def test_the_user_and_the_feature_are_segments_that_spend_is_summed_by() -> None:
    base = {"gen_ai.operation.name": "chat"}
    first = to_event(
        "m", "", START, START, base | {"user.id": "u-1", "enduser.id": "e-1", "app.feature": "faq"}, None
    )
    assert first["segments"] == {"operation": "chat", "user": "u-1", "feature": "faq"}
    second = to_event("m", "", START, START, base | {"enduser.id": 42, "http.route": "/chat/{id}"}, None)
    assert (second["segments"]["user"], second["segments"]["feature"]) == ("42", "/chat/{id}")
    assert "user" not in to_event("m", "", START, START, base, None)["segments"]
    third = to_event(
        "m", "", START, START, base | {"session.id": "s-9", "gen_ai.conversation.id": "c-1"}, None
    )
    assert (third["segments"]["session"], third["segments"]["conversation"]) == ("s-9", "c-1")
