"""Generations carrying raw Chat Completions objects and the usage shapes of the JavaScript
Agents SDK, on items recorded from what its OpenAITracingExporter posts
(``js_sdk_ingest.json``: one request body of ``tests/js/drive_sdk.mjs``, trimmed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as ga

from agent_otlp.core.convert.chat_completion import completion_messages, response_only
from agent_otlp.core.convert.records import AgentSpan, SpanKind, StatusCode, parse_item
from agent_otlp.core.convert.spans import ConvertOptions, convert_span

FIXTURE = Path(__file__).with_name("js_sdk_ingest.json")
ITEMS: list[dict[str, Any]] = json.loads(FIXTURE.read_text())["data"]
OFF = ConvertOptions()
ON = ConvertOptions(capture_content=True)


def recorded(predicate: Any) -> AgentSpan:
    (item,) = [i for i in ITEMS if i["object"] == "trace.span" and predicate(i["span_data"])]
    parsed = parse_item(item)
    assert isinstance(parsed, AgentSpan)
    return parsed


def chat_generation() -> AgentSpan:
    return recorded(lambda d: d["type"] == "generation" and "usage" not in d)


def test_usage_comes_from_the_raw_completion_when_the_span_has_none() -> None:
    attrs = convert_span(chat_generation(), OFF).attributes
    assert attrs[ga.GEN_AI_USAGE_INPUT_TOKENS] == 240
    assert attrs[ga.GEN_AI_USAGE_OUTPUT_TOKENS] == 12
    assert attrs[ga.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 128
    assert attrs[ga.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 32
    assert not any(key.startswith("openai_agents.span_data.usage") for key in attrs)


def test_finish_reason_id_and_model_come_from_the_completion() -> None:
    record = convert_span(chat_generation(), OFF)
    attrs = record.attributes
    assert record.name == "chat gpt-4o-mini-2024-07-18" and record.kind == SpanKind.CLIENT
    assert attrs[ga.GEN_AI_RESPONSE_FINISH_REASONS] == ["tool_calls"]
    assert attrs[ga.GEN_AI_RESPONSE_ID] == "chatcmpl-js-check-3"
    assert attrs[ga.GEN_AI_RESPONSE_MODEL] == "gpt-4o-mini-2024-07-18"


def test_captured_output_is_the_completion_message() -> None:
    attrs = convert_span(chat_generation(), ON).attributes
    assert json.loads(str(attrs[ga.GEN_AI_OUTPUT_MESSAGES])) == [
        {
            "role": "assistant",
            "parts": [{"type": "tool_call", "id": "call_handoff_1",
                       "name": "transfer_to_Refund_Agent", "arguments": {}}],
            "finish_reason": "tool_calls",
        }
    ]
    # a Chat Completions system message is part of the history: it stays in the input
    assert json.loads(str(attrs[ga.GEN_AI_INPUT_MESSAGES]))[0] == {
        "role": "system", "parts": [{"type": "text", "content": "You route customer requests."}]
    }


def test_exporter_details_give_cached_and_reasoning_tokens() -> None:
    span = recorded(lambda d: d.get("model") == "gpt-4.1-nano")
    assert span.data["usage"]["details"] == {"cached_tokens": 32, "reasoning_tokens": 4,
                                             "total_tokens": 59}
    attrs = convert_span(span, OFF).attributes
    assert attrs[ga.GEN_AI_USAGE_INPUT_TOKENS] == 50
    assert attrs[ga.GEN_AI_USAGE_OUTPUT_TOKENS] == 9
    assert attrs[ga.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 32
    assert attrs[ga.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 4
    assert ga.GEN_AI_RESPONSE_FINISH_REASONS not in attrs  # the message names none


def test_failed_completion_keeps_its_error_usage_and_finish_reason() -> None:
    span = recorded(lambda d: d["type"] == "generation" and "input_tokens_details"
                    in d.get("usage", {}).get("details", {}))
    record = convert_span(span, ON)
    attrs = record.attributes
    assert record.status_code == StatusCode.ERROR
    assert "finish_reason='length'" in record.status_message
    assert attrs[ga.GEN_AI_USAGE_INPUT_TOKENS] == 90
    assert attrs[ga.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 48
    assert attrs[ga.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 64
    assert attrs[ga.GEN_AI_RESPONSE_FINISH_REASONS] == ["length"]
    assert attrs[ga.GEN_AI_RESPONSE_ID] == "chatcmpl-js-check-cut"
    output = json.loads(str(attrs[ga.GEN_AI_OUTPUT_MESSAGES]))
    assert output == [{"role": "assistant", "parts": [], "finish_reason": "length"}]


def test_response_span_with_only_an_id_is_not_a_chat_span() -> None:
    span = recorded(lambda d: d["type"] == "response")
    assert span.data == {"type": "response", "response_id": "resp_js_check_1"}
    record = convert_span(span, ON)
    assert record.name == "response"
    assert record.attributes[ga.GEN_AI_RESPONSE_ID] == "resp_js_check_1"
    for key in (ga.GEN_AI_OPERATION_NAME, ga.GEN_AI_REQUEST_MODEL, ga.GEN_AI_RESPONSE_MODEL,
                ga.GEN_AI_INPUT_MESSAGES, ga.GEN_AI_OUTPUT_MESSAGES):
        assert key not in record.attributes


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"type": "response"}, True),
        ({"type": "response", "response_id": "resp_1"}, True),
        ({"type": "response", "response_id": "resp_1", "model": "gpt-5"}, False),
        ({"type": "response", "response_id": "resp_1", "usage": {"input_tokens": 1}}, False),
        ({"type": "response", "response_id": "resp_1", "output": [{"type": "message"}]}, False),
    ],
)
def test_response_only(data: dict[str, Any], expected: bool) -> None:
    assert response_only(data) is expected


def test_usage_from_completions_with_legacy_attributes() -> None:
    attrs = convert_span(chat_generation(), ConvertOptions(legacy_attributes=True)).attributes
    assert attrs[ga.GEN_AI_USAGE_PROMPT_TOKENS] == 240
    assert attrs[ga.GEN_AI_USAGE_COMPLETION_TOKENS] == 12


def test_several_completions_add_up_and_keep_their_order() -> None:
    def completion(number: int, text: str) -> dict[str, Any]:
        return {"id": f"chatcmpl-{number}", "object": "chat.completion", "model": "m-1",
                "choices": [{"message": {"role": "assistant", "content": text},
                             "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 2,
                          "prompt_tokens_details": {"cached_tokens": 4}}}

    data = {"type": "generation", "model": "m",
            "output": [completion(1, "one"), {"role": "assistant", "content": "kept"},
                       completion(2, "two")]}
    span = parse_item({"object": "trace.span", "id": "span_1", "trace_id": "trace_1",
                       "started_at": 1.0, "ended_at": 2.0, "span_data": data})
    assert isinstance(span, AgentSpan)
    attrs = convert_span(span, ON).attributes
    assert attrs[ga.GEN_AI_USAGE_INPUT_TOKENS] == 20
    assert attrs[ga.GEN_AI_USAGE_OUTPUT_TOKENS] == 4
    assert attrs[ga.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 8
    assert ga.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS not in attrs
    assert attrs[ga.GEN_AI_RESPONSE_ID] == "chatcmpl-1"
    assert attrs[ga.GEN_AI_RESPONSE_MODEL] == "m-1"
    texts = [m["parts"][0]["content"] for m in json.loads(str(attrs[ga.GEN_AI_OUTPUT_MESSAGES]))]
    assert texts == ["one", "kept", "two"]


@pytest.mark.parametrize(
    "completion",
    [
        {"object": "chat.completion"},
        {"object": "chat.completion", "choices": "nope", "usage": "nope", "id": 7, "model": None},
        {"object": "chat.completion", "choices": [None, 3, {"message": "x"}],
         "usage": {"prompt_tokens": True, "completion_tokens": float("nan"),
                   "prompt_tokens_details": {"cached_tokens": float("inf")}}},
    ],
)
def test_malformed_completions_are_converted_without_made_up_values(completion: Any) -> None:
    data = {"type": "generation", "model": "m", "output": [completion]}
    span = parse_item({"object": "trace.span", "id": "span_1", "trace_id": "trace_1",
                       "started_at": 1.0, "ended_at": 2.0, "span_data": data})
    assert isinstance(span, AgentSpan)
    attrs = convert_span(span, ON).attributes
    for key in (ga.GEN_AI_USAGE_INPUT_TOKENS, ga.GEN_AI_USAGE_OUTPUT_TOKENS,
                ga.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, ga.GEN_AI_RESPONSE_ID):
        assert key not in attrs
    assert attrs[ga.GEN_AI_REQUEST_MODEL] == "m"
    assert ga.GEN_AI_RESPONSE_MODEL not in attrs  # the model asked for is not the one that answered


def test_messages_are_left_alone() -> None:
    output = [{"role": "assistant", "content": "hi"}]
    assert completion_messages(output) is output
    assert completion_messages(None) is None
