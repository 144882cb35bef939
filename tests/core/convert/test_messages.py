"""Message content in the shapes of the GenAI JSON schemas: every Responses API item type,
Chat Completions messages, Response objects (finish reasons, parameters), content modes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_otlp.core.config.capture import parse_capture
from agent_otlp.core.config.errors import ConfigError
from agent_otlp.core.convert.content import place_content
from agent_otlp.core.convert.messages import chat_messages, item_messages, output_message
from agent_otlp.core.convert.records import AgentSpan, SpanRecord, parse_item
from agent_otlp.core.convert.spans import ConvertOptions, convert_span
from conformance.schemas import (
    input_messages_errors,
    output_messages_errors,
    system_instructions_errors,
)

ON = ConvertOptions(capture_content=True)

#: One item of every type the Responses API sends or returns, and the part it becomes.
ITEMS: list[tuple[dict[str, Any], str, dict[str, Any]]] = [
    ({"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
     "user", {"type": "text", "content": "hi"}),
    ({"type": "message", "role": "assistant", "content": [
        {"type": "output_text", "text": "yo", "annotations": []}]},
     "assistant", {"type": "text", "content": "yo", "annotations": []}),
    ({"type": "message", "role": "assistant", "content": [{"type": "refusal", "refusal": "no"}]},
     "assistant", {"type": "refusal", "content": "no"}),
    ({"role": "user", "content": [{"type": "input_image", "image_url": "https://x/cat.png",
                                   "detail": "auto"}]},
     "user", {"type": "uri", "modality": "image", "uri": "https://x/cat.png", "detail": "auto"}),
    ({"role": "user", "content": [{"type": "input_image", "file_id": "file_1"}]},
     "user", {"type": "file", "modality": "image", "file_id": "file_1"}),
    ({"role": "user", "content": [{"type": "input_file", "file_data": "data:application/pdf;base64,QUJD",
                                   "filename": "a.pdf"}]},
     "user", {"type": "blob", "modality": "document", "mime_type": "application/pdf",
              "content": "QUJD", "filename": "a.pdf"}),
    ({"role": "user", "content": [{"type": "input_audio",
                                   "input_audio": {"data": "UklG", "format": "wav"}}]},
     "user", {"type": "blob", "modality": "audio", "mime_type": "audio/wav", "content": "UklG",
              "format": "wav"}),
    ({"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "get_weather",
      "arguments": '{"city": "Paris"}'},
     "assistant", {"type": "tool_call", "id": "call_1", "name": "get_weather",
                   "arguments": {"city": "Paris"}}),
    ({"type": "function_call_output", "call_id": "call_1", "output": "rainy"},
     "tool", {"type": "tool_call_response", "id": "call_1", "response": "rainy"}),
    ({"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "think"}]},
     "assistant", {"type": "reasoning", "content": "think"}),
    ({"type": "reasoning", "id": "rs_2", "summary": [], "encrypted_content": "gAAA"},
     "assistant", {"type": "encrypted_reasoning", "id": "rs_2"}),
    ({"type": "web_search_call", "id": "ws_1", "status": "completed",
      "action": {"type": "search", "query": "q"}},
     "assistant", {"type": "server_tool_call", "id": "ws_1", "name": "web_search",
                   "server_tool_call": {"type": "web_search_call", "status": "completed",
                                        "action": {"type": "search", "query": "q"}}}),
    ({"type": "computer_call", "id": "cu_1", "call_id": "call_c", "status": "completed",
      "action": {"type": "click", "x": 1, "y": 2}, "pending_safety_checks": []},
     "assistant", {"type": "tool_call", "id": "call_c", "name": "computer",
                   "arguments": {"type": "click", "x": 1, "y": 2}}),
    ({"type": "computer_call_output", "call_id": "call_c",
      "output": {"type": "computer_screenshot", "image_url": "data:image/png;base64,AA"}},
     "tool", {"type": "tool_call_response", "id": "call_c",
              "response": {"type": "computer_screenshot", "image_url": "data:image/png;base64,AA"}}),
    ({"type": "mcp_approval_request", "id": "ap_1", "name": "t", "server_label": "s",
      "arguments": "{}"},
     "assistant", {"type": "mcp_approval_request", "id": "ap_1", "name": "t",
                   "server_label": "s", "arguments": "{}"}),
    ({"type": "mcp_approval_response", "approval_request_id": "ap_1", "approve": True},
     "user", {"type": "mcp_approval_response", "approval_request_id": "ap_1", "approve": True}),
    ({"type": "item_reference", "id": "msg_0"}, "user", {"type": "item_reference", "id": "msg_0"}),
    ({"type": "compaction", "id": "cmp_1", "encrypted_content": "x"},
     "assistant", {"type": "compaction", "id": "cmp_1"}),
    ({"type": "brand_new_item", "x": 1}, "user", {"type": "brand_new_item", "x": 1}),
]


@pytest.mark.parametrize(("item", "role", "part"), ITEMS, ids=lambda v: str(v)[:40])
def test_every_responses_item_becomes_a_schema_part(item: dict[str, Any], role: str,
                                                    part: dict[str, Any]) -> None:
    (message,) = item_messages([item])
    assert message == {"role": role, "parts": [part]}
    assert input_messages_errors([message]) == []


@pytest.mark.parametrize(
    ("item", "parts"),
    [
        ({"type": "mcp_call", "id": "mcp_1", "name": "lookup", "server_label": "orders",
          "arguments": "{}", "output": "found"},
         [{"type": "server_tool_call", "id": "mcp_1", "name": "lookup",
           "server_tool_call": {"type": "mcp_call", "server_label": "orders", "arguments": "{}",
                                "name": "lookup"}},
          {"type": "server_tool_call_response", "id": "mcp_1",
           "server_tool_call_response": {"type": "mcp_call", "output": "found"}}]),
        ({"type": "image_generation_call", "id": "ig_1", "status": "completed",
          "result": "iVBO", "output_format": "png"},
         [{"type": "server_tool_call", "id": "ig_1", "name": "image_generation",
           "server_tool_call": {"type": "image_generation_call", "status": "completed",
                                "output_format": "png"}},
          {"type": "blob", "modality": "image", "content": "iVBO", "mime_type": "image/png"}]),
        ({"type": "file_search_call", "id": "fs_1", "queries": ["q"], "status": "completed",
          "results": [{"file_id": "f", "score": 0.5}]},
         [{"type": "server_tool_call", "id": "fs_1", "name": "file_search",
           "server_tool_call": {"type": "file_search_call", "queries": ["q"],
                                "status": "completed"}},
          {"type": "server_tool_call_response", "id": "fs_1",
           "server_tool_call_response": {"type": "file_search_call",
                                         "results": [{"file_id": "f", "score": 0.5}]}}]),
    ],
)
def test_server_calls_keep_call_and_outcome(item: dict[str, Any], parts: list[Any]) -> None:
    message = output_message([item], None)
    assert message == {"role": "assistant", "parts": parts}
    assert output_messages_errors([message]) == []


def test_an_answer_is_one_output_message_with_all_its_items() -> None:
    items = [entry[0] for entry in ITEMS if entry[1] == "assistant"]
    message = output_message(items, "length")
    assert message is not None
    assert message["role"] == "assistant" and message["finish_reason"] == "length"
    assert len(message["parts"]) == len(items)
    assert output_messages_errors([message]) == []


def test_sdk_objects_are_read_with_the_api_names() -> None:
    from openai.types.responses import ResponseFunctionToolCall

    call = ResponseFunctionToolCall(type="function_call", call_id="c", name="f", arguments="{}")
    (message,) = item_messages([call])
    assert message["parts"] == [{"type": "tool_call", "id": "c", "name": "f", "arguments": {}}]


def test_chat_messages_and_choices() -> None:
    messages = chat_messages([
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": [{"type": "text", "text": "look"},
                                     {"type": "image_url", "image_url": {"url": "https://i/x.png"}}]},
        {"role": "assistant", "content": None, "refusal": "cannot"},
        {"role": "assistant", "content": None},  # says nothing: left out
        {"message": {"role": "assistant", "content": ""}, "finish_reason": "content_filter"},
    ])
    assert messages == [
        {"role": "system", "parts": [{"type": "text", "content": "be brief"}]},
        {"role": "user", "parts": [{"type": "text", "content": "look"},
                                   {"type": "uri", "modality": "image", "uri": "https://i/x.png"}]},
        {"role": "assistant", "parts": [{"type": "refusal", "content": "cannot"}]},
        {"role": "assistant", "parts": [], "finish_reason": "content_filter"},
    ]
    assert input_messages_errors(messages) == []


def _span(data: dict[str, Any]) -> AgentSpan:
    parsed = parse_item({"object": "trace.span", "id": "span_1", "trace_id": "trace_1",
                         "started_at": 1.0, "ended_at": 2.0, "span_data": data})
    assert isinstance(parsed, AgentSpan)
    return parsed


RESPONSE: dict[str, Any] = {
    "id": "resp_9", "object": "response", "model": "gpt-5-2025-08-07", "status": "incomplete",
    "incomplete_details": {"reason": "content_filter"}, "temperature": 1, "top_p": 0.5,
    "max_output_tokens": 100, "service_tier": "flex", "text": {"format": {"type": "json_schema"}},
    "conversation": {"id": "conv_9"}, "reasoning": {"effort": "low"}, "tool_choice": "auto",
    "instructions": "be kind",
    "output": [{"type": "message", "role": "assistant",
                "content": [{"type": "output_text", "text": "{}"}]}],
}


def test_response_object_facts_and_content() -> None:
    data = {"type": "response", "response_id": "resp_9", "response": RESPONSE, "input": "hi"}
    a = convert_span(_span(data), ON).attributes
    assert a["gen_ai.response.model"] == "gpt-5-2025-08-07"
    assert a["gen_ai.request.temperature"] == 1.0 and isinstance(a["gen_ai.request.temperature"], float)
    assert a["gen_ai.request.top_p"] == 0.5
    assert a["gen_ai.request.max_tokens"] == 100
    assert a["openai.response.service_tier"] == "flex"
    assert a["gen_ai.output.type"] == "json"
    assert a["gen_ai.conversation.id"] == "conv_9"
    assert a["gen_ai.response.finish_reasons"] == ["content_filter"]  # said, not guessed
    assert a["openai_agents.span_data.response.reasoning.effort"] == "low"
    output = json.loads(str(a["gen_ai.output.messages"]))
    assert output == [{"role": "assistant", "parts": [{"type": "text", "content": "{}"}],
                       "finish_reason": "content_filter"}]
    assert output_messages_errors(output) == []
    instructions = json.loads(str(a["gen_ai.system_instructions"]))
    assert instructions == [{"type": "text", "content": "be kind"}]
    assert system_instructions_errors(instructions) == []


@pytest.mark.parametrize(("status", "details", "reasons"), [
    ("completed", None, None),  # a completed response names no reason: none is made up
    ("incomplete", {"reason": "max_output_tokens"}, ["length"]),
    ("failed", None, ["error"]),
])
def test_response_finish_reasons_only_when_said(status: str, details: Any, reasons: Any) -> None:
    response = {**RESPONSE, "status": status, "incomplete_details": details}
    a = convert_span(_span({"type": "response", "response": response}), ON).attributes
    assert a.get("gen_ai.response.finish_reasons") == reasons
    assert ("finish_reason" in json.loads(str(a["gen_ai.output.messages"]))[0]) is bool(reasons)


def test_streamed_generation_output_is_the_answer_not_an_empty_user_message() -> None:
    # a streamed Chat Completions generation of the Python SDK records the Response it built
    built = {"id": "__fake_id__", "object": "response", "model": "gpt-4o", "status": "completed",
             "created_at": 1.0, "temperature": 0.3,
             "output": [{"type": "message", "role": "assistant", "id": "__fake_id__",
                         "content": [{"type": "output_text", "text": "done"}]}]}
    data = {"type": "generation", "model": "gpt-4o", "output": [built], "input": []}
    a = convert_span(_span(data), ON).attributes
    assert json.loads(str(a["gen_ai.output.messages"])) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "done"}]}]
    assert "gen_ai.input.messages" not in a  # no messages: no attribute
    assert "gen_ai.response.id" not in a  # the SDK's placeholder is no response's id
    assert "gen_ai.response.model" not in a  # it is the model asked for
    empty = convert_span(_span({"type": "generation", "model": "m", "output": []}), ON).attributes
    assert "gen_ai.output.messages" not in empty


def test_agent_span_output_type_and_usage() -> None:
    a = convert_span(_span({"type": "agent", "name": "A", "output_type": "Report",
                            "usage": {"input_tokens": 5, "output_tokens": 6}}), ON).attributes
    assert a["gen_ai.output.type"] == "json"
    assert (a["gen_ai.usage.input_tokens"], a["gen_ai.usage.output_tokens"]) == (5, 6)
    text = convert_span(_span({"type": "agent", "name": "A", "output_type": "str"}), ON).attributes
    assert text["gen_ai.output.type"] == "text"


@pytest.mark.parametrize(("raw", "mode"), [
    ("SPAN_ONLY", "span_only"), ("event_only", "event_only"), ("Span_And_Event", "span_and_event"),
    ("NO_CONTENT", "no_content"), ("true", "span_only"), ("0", "no_content"), (True, "span_only"),
    (False, "no_content"),
])
def test_capture_values(raw: Any, mode: str) -> None:
    assert parse_capture(raw, "X") == mode


def test_capture_value_refused_names_setting_and_value() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_capture("SPANS", "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT")
    text = str(caught.value)
    assert "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT" in text and "SPANS" in text


@pytest.mark.parametrize(("mode", "on_span", "events"), [
    ("span_only", True, 0), ("event_only", False, 1), ("span_and_event", True, 1)])
def test_place_content(mode: str, on_span: bool, events: int) -> None:
    record = SpanRecord(b"\x01" * 16, b"\x02" * 8, b"", "chat m", 3, 1, 2,
                        {"gen_ai.operation.name": "chat", "gen_ai.input.messages": "[]"})
    place_content(record, mode)
    assert ("gen_ai.input.messages" in record.attributes) is on_span
    assert [e.name for e in record.events] == ["gen_ai.client.inference.operation.details"] * events


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5)
    | st.sampled_from(["message", "function_call", "reasoning", "web_search_call", "mcp_call",
                       "input_image", "input_file", "input_audio", "refusal", "assistant", "tool",
                       "data:x;base64,AA", "text", "file", "blob", "uri", "tool_call",
                       "compaction", "image_generation_call", "computer_call_output"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["type", "role", "content", "tool_calls", "function", "arguments", "name",
                         "call_id", "output", "summary", "image_url", "file", "input_audio",
                         "message", "finish_reason", "status", "incomplete_details", "text",
                         "result", "file_data", "instructions", "model", "id", "audio",
                         "modality", "transcript", "mime_type", "file_id", "detail"]),
        inner, max_size=5),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(["generation", "response"]), _JSON, _JSON, _JSON)
def test_any_content_converts_without_raising(kind: str, inp: Any, out: Any, resp: Any) -> None:
    data = {"type": kind, "model": "m", "input": inp, "output": out, "response": resp}
    attrs = convert_span(_span(data), ON).attributes
    for key, check in (("gen_ai.input.messages", input_messages_errors),
                       ("gen_ai.output.messages", output_messages_errors),
                       ("gen_ai.system_instructions", system_instructions_errors)):
        if key in attrs:
            assert check(json.loads(str(attrs[key]))) == []
