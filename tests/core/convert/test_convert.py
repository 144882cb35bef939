"""Conversion of every agent span type to OTel spans (GenAI semantic conventions)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_otlp.core.config.errors import InputError
from agent_otlp.core.convert.ids import span_id_for, trace_id_for, workflow_span_id_for
from agent_otlp.core.convert.records import (
    AgentSpan,
    AgentTrace,
    SpanKind,
    StatusCode,
    parse_item,
    parse_timestamp,
)
from agent_otlp.core.convert.spans import (
    CONTENT_ATTRIBUTES,
    INCOMPLETE,
    ConvertOptions,
    convert_span,
    convert_trace,
)

TRACE = "trace_" + "1" * 32
OFF = ConvertOptions()
ON = ConvertOptions(capture_content=True)


def span(data: dict[str, Any], **fields: Any) -> AgentSpan:
    item = {
        "object": "trace.span",
        "id": "span_" + "a" * 24,
        "trace_id": TRACE,
        "parent_id": "span_" + "b" * 24,
        "started_at": "2024-05-01T10:00:00.000001+00:00",
        "ended_at": "2024-05-01T10:00:01.000001+00:00",
        "span_data": data,
        **fields,
    }
    parsed = parse_item(item)
    assert isinstance(parsed, AgentSpan)
    return parsed


GENERATION: dict[str, Any] = {
    "type": "generation",
    "model": "gpt-4o-mini",
    "model_config": {"temperature": 0.2, "max_tokens": 512, "top_p": 1.0, "stop": "END",
                     "seed": None, "custom_knob": 3},
    "usage": {"input_tokens": 120, "output_tokens": 18,
              "input_tokens_details": {"cached_tokens": 7}},
    "input": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"},
        {"role": "tool", "tool_call_id": "call_1", "content": "42"},
    ],
    "output": [{"role": "assistant", "content": None,
                "tool_calls": [{"id": "call_2", "type": "function",
                                "function": {"name": "lookup", "arguments": "{}"}}]}],
}


def test_generation_default_has_no_content() -> None:
    rec = convert_span(span(GENERATION), OFF)
    a = rec.attributes
    assert rec.name == "chat gpt-4o-mini"
    assert rec.kind == SpanKind.CLIENT
    assert a["gen_ai.operation.name"] == "chat"
    assert a["gen_ai.provider.name"] == "openai"
    assert a["gen_ai.request.model"] == "gpt-4o-mini"
    assert "gen_ai.response.model" not in a  # the model asked for, not the one that answered
    assert a["openai.api.type"] == "chat_completions"
    assert a["gen_ai.usage.input_tokens"] == 120
    assert a["gen_ai.usage.output_tokens"] == 18
    assert a["gen_ai.usage.cache_read.input_tokens"] == 7
    assert a["gen_ai.request.temperature"] == 0.2
    assert a["gen_ai.request.max_tokens"] == 512
    assert a["gen_ai.request.top_p"] == 1.0
    assert a["gen_ai.request.stop_sequences"] == ["END"]
    assert a["openai_agents.span_data.model_config.custom_knob"] == 3
    assert "gen_ai.request.seed" not in a
    assert "gen_ai.response.finish_reasons" not in a  # the output names none: none guessed
    assert not CONTENT_ATTRIBUTES & set(a)
    assert not any(k.startswith("openai_agents.span_data.input") for k in a)
    assert not any(k.startswith("openai_agents.span_data.output") for k in a)
    assert "gen_ai.system" not in a
    assert "gen_ai.usage.prompt_tokens" not in a


def test_generation_with_content() -> None:
    a = convert_span(span(GENERATION), ON).attributes
    assert "gen_ai.system_instructions" not in a  # Chat Completions keeps it in the history
    inputs = json.loads(a["gen_ai.input.messages"])
    assert inputs[0] == {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]}
    assert inputs[1] == {"role": "user", "parts": [{"type": "text", "content": "hi"}]}
    assert inputs[2] == {"role": "tool", "parts": [
        {"type": "tool_call_response", "id": "call_1", "response": "42"}]}
    outputs = json.loads(a["gen_ai.output.messages"])
    assert outputs == [{"role": "assistant", "parts": [
        {"type": "tool_call", "id": "call_2", "name": "lookup", "arguments": {}}]}]


def test_legacy_attributes() -> None:
    a = convert_span(span(GENERATION), ConvertOptions(legacy_attributes=True)).attributes
    assert a["gen_ai.system"] == "openai"
    assert a["gen_ai.usage.prompt_tokens"] == 120
    assert a["gen_ai.usage.completion_tokens"] == 18


def test_response_span() -> None:
    data = {"type": "response", "response_id": "resp_1", "model": "gpt-5",
            "usage": {"input_tokens": 3, "output_tokens": 4,
                      "output_tokens_details": {"reasoning_tokens": 2}},
            "input": "hello", "output": [{"type": "message", "content": "x"}]}
    rec = convert_span(span(data), OFF)
    assert rec.name == "chat"  # the model asked for is not recorded on response spans
    assert rec.kind == SpanKind.CLIENT
    assert rec.attributes["gen_ai.response.model"] == "gpt-5"  # the Response's: it answered
    assert "gen_ai.request.model" not in rec.attributes
    assert rec.attributes["openai.api.type"] == "responses"
    assert rec.attributes["gen_ai.response.id"] == "resp_1"
    assert rec.attributes["gen_ai.usage.reasoning.output_tokens"] == 2
    assert "gen_ai.input.messages" not in rec.attributes
    on = convert_span(span(data), ON).attributes
    assert json.loads(on["gen_ai.input.messages"])[0]["parts"][0]["content"] == "hello"
    assert json.loads(on["gen_ai.output.messages"]) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "x"}]}]


def test_agent_span() -> None:
    data = {"type": "agent", "name": "Triage", "handoffs": ["Refund"], "tools": ["a", "b"],
            "output_type": "str"}
    rec = convert_span(span(data), OFF)
    assert rec.name == "invoke_agent Triage"
    assert rec.kind == SpanKind.INTERNAL
    assert rec.attributes["gen_ai.agent.name"] == "Triage"
    assert rec.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert rec.attributes["openai_agents.span_data.tools"] == ["a", "b"]
    assert rec.attributes["openai_agents.span_data.handoffs"] == ["Refund"]


def test_function_span() -> None:
    data = {"type": "function", "name": "lookup", "input": '{"id": 1}', "output": {"ok": True},
            "call_id": "call_9", "mcp_data": {"server": "x"}}
    rec = convert_span(span(data), OFF)
    a = rec.attributes
    assert rec.name == "execute_tool lookup"
    assert rec.kind == SpanKind.INTERNAL
    assert a["gen_ai.operation.name"] == "execute_tool"
    assert a["gen_ai.tool.name"] == "lookup"
    assert a["gen_ai.tool.call.id"] == "call_9"
    assert a["openai_agents.span_data.mcp_data.server"] == "x"
    assert a["mcp.method.name"] == "tools/call"  # a tool of an MCP server
    assert "gen_ai.tool.call.arguments" not in a
    on = convert_span(span(data), ON).attributes
    assert on["gen_ai.tool.call.arguments"] == '{"id": 1}'
    assert json.loads(on["gen_ai.tool.call.result"]) == {"ok": True}
    no_call = convert_span(span({"type": "function", "name": "f"}), OFF).attributes
    assert "gen_ai.tool.call.id" not in no_call
    assert "mcp.method.name" not in no_call


def test_handoff_has_source_and_target() -> None:
    rec = convert_span(span({"type": "handoff", "from_agent": "Triage", "to_agent": "Refund"}), OFF)
    assert rec.name == "handoff Refund"
    assert rec.attributes["gen_ai.agent.name"] == "Triage"
    assert rec.attributes["openai_agents.handoff.from_agent"] == "Triage"
    assert rec.attributes["openai_agents.handoff.to_agent"] == "Refund"


@pytest.mark.parametrize("triggered", [True, False])
def test_guardrail_event(triggered: bool) -> None:
    rec = convert_span(span({"type": "guardrail", "name": "pii", "triggered": triggered}), OFF)
    assert rec.name == "guardrail pii"
    result = {"gen_ai.guardrail.component.name": "pii",
              "gen_ai.guardrail.result.type": "tripwire_triggered",
              "gen_ai.guardrail.result.value": "true" if triggered else "false"}
    assert rec.attributes.items() >= result.items()
    assert rec.attributes["openai_agents.guardrail.triggered"] is triggered
    assert "gen_ai.guardrail.triggered" not in rec.attributes
    assert "gen_ai.guardrail.name" not in rec.attributes
    (event,) = rec.events
    assert event.name == "gen_ai.guardrail.result"
    assert event.attributes == result
    assert event.time_ns == rec.end_ns


def test_mcp_tools_span() -> None:
    rec = convert_span(span({"type": "mcp_tools", "server": "orders", "result": ["a", "b"]}), OFF)
    assert rec.name == "tools/list"  # the MCP method; the server is no low-cardinality target
    assert rec.kind == SpanKind.CLIENT
    assert rec.attributes["mcp.method.name"] == "tools/list"
    assert rec.attributes["openai_agents.span_data.server"] == "orders"
    assert rec.attributes["openai_agents.span_data.result"] == ["a", "b"]


def test_custom_task_and_turn() -> None:
    rec = convert_span(span({"type": "custom", "name": "policy", "data": {"x": 1}}), OFF)
    assert rec.name == "policy"
    assert rec.attributes["openai_agents.span_data.data.x"] == 1
    turn = convert_span(span({"type": "custom", "name": "turn",
                              "data": {"sdk_span_type": "turn", "agent_name": "A", "turn": 2}}), OFF)
    assert turn.attributes["gen_ai.agent.name"] == "A"
    assert turn.attributes["openai_agents.span_data.data.sdk_span_type"] == "turn"
    task = convert_span(span({"type": "custom", "name": "task",
                              "data": {"sdk_span_type": "task"}}), OFF)
    assert task.name == "task"
    assert task.attributes["openai_agents.span_data.data.sdk_span_type"] == "task"


@pytest.mark.parametrize(
    ("data", "name", "op", "content_key"),
    [
        ({"type": "speech", "model": "tts-1", "input": "say", "output": "b64"},
         "text_to_speech tts-1", "text_to_speech", "openai_agents.speech.input"),
        ({"type": "transcription", "model": "whisper", "input": "b64", "output": "heard"},
         "speech_to_text whisper", "speech_to_text", "openai_agents.transcription.output"),
    ],
)
def test_audio_spans(data: dict[str, Any], name: str, op: str, content_key: str) -> None:
    rec = convert_span(span(data), OFF)
    assert rec.name == name
    assert rec.kind == SpanKind.CLIENT
    assert "gen_ai.operation.name" not in rec.attributes  # not a GenAI operation name
    assert rec.attributes["openai_agents.operation.name"] == op
    assert content_key not in rec.attributes
    assert content_key in convert_span(span(data), ON).attributes


def test_speech_group_and_unknown_types() -> None:
    group = convert_span(span({"type": "speech_group", "input": "x"}), OFF)
    assert group.name == "speech_group"
    assert "openai_agents.span_data.input" not in group.attributes
    other = convert_span(span({"type": "brand_new", "name": "thing", "k": 1}), OFF)
    assert other.name == "thing"
    assert other.kind == SpanKind.INTERNAL
    assert other.attributes["openai_agents.span_data.k"] == 1


def test_ids_parents_and_originals() -> None:
    rec = convert_span(span({"type": "custom", "name": "x"}), OFF)
    assert rec.trace_id == trace_id_for(TRACE) == bytes.fromhex("1" * 32)
    assert rec.span_id == span_id_for("span_" + "a" * 24)
    assert rec.parent_span_id == span_id_for("span_" + "b" * 24)
    assert rec.attributes["openai_agents.span_id"] == "span_" + "a" * 24
    assert rec.attributes["openai_agents.trace_id"] == TRACE
    assert rec.attributes["openai_agents.parent_id"] == "span_" + "b" * 24
    root = convert_span(span({"type": "custom", "name": "x"}, parent_id=None), OFF)
    assert root.parent_span_id == workflow_span_id_for(TRACE)


def test_error_status_and_exception_event() -> None:
    rec = convert_span(
        span({"type": "function", "name": "f"},
             error={"message": "boom", "data": {"type": "TimeoutError", "retry": False}}),
        OFF,
    )
    assert rec.status_code == StatusCode.ERROR
    assert rec.status_message == "boom"
    assert rec.attributes["error.type"] == "TimeoutError"
    (event,) = rec.events
    assert event.name == "exception"
    assert event.attributes["exception.message"] == "boom"
    assert event.attributes["exception.type"] == "TimeoutError"
    assert event.attributes["openai_agents.error.data.retry"] is False


@pytest.mark.parametrize("data", [None, {"tool_name": "f"}, {"type": "Error running tool: boom"},
                                  {"type": "x" * 200}])
def test_error_type_is_low_cardinality(data: Any) -> None:
    error = {"message": "Error running tool (non-fatal)", "data": data}
    rec = convert_span(span({"type": "function", "name": "f"}, error=error), OFF)
    assert rec.attributes["error.type"] == "_OTHER"  # the conventions' fallback
    (event,) = rec.events
    assert "exception.type" not in event.attributes
    assert event.attributes["exception.message"] == "Error running tool (non-fatal)"


def test_timestamps_naive_is_utc_and_incomplete_flag() -> None:
    naive = span({"type": "custom", "name": "x"}, started_at="2024-05-01T10:00:00",
                 ended_at=None)
    rec = convert_span(naive, OFF)
    expected = int(datetime(2024, 5, 1, 10, tzinfo=UTC).timestamp()) * 10**9
    assert rec.start_ns == expected
    assert rec.end_ns == rec.start_ns
    assert rec.attributes[INCOMPLETE] is True
    done = convert_span(span({"type": "custom", "name": "x"}), OFF)
    assert INCOMPLETE not in done.attributes
    assert done.end_ns - done.start_ns == 10**9


def test_parse_timestamp() -> None:
    assert parse_timestamp("1970-01-01T00:00:01+00:00", "f") == 10**9
    assert parse_timestamp("1970-01-01T01:00:01+01:00", "f") == 10**9
    assert parse_timestamp(1.5, "f") == 1_500_000_000
    assert parse_timestamp(None, "f") is None
    with pytest.raises(InputError, match="started_at"):
        parse_timestamp("yesterday", "started_at")


_FORMS = [
    lambda t: t.isoformat(),  # the SDK's: 2024-05-01T10:00:00.000001+00:00
    lambda t: t.replace(tzinfo=None).isoformat(),  # naive: UTC
    lambda t: t.isoformat().replace("+00:00", "Z"),
    lambda t: t.isoformat(sep=" ", timespec="milliseconds"),
    lambda t: t.strftime("%Y%m%dT%H%M%S.%fZ"),  # basic format
    lambda t: t.astimezone(timezone(timedelta(hours=5, minutes=30))).isoformat(),
]


@settings(max_examples=300, deadline=None)
@given(st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2500, 1, 1),
                    timezones=st.just(UTC)), st.sampled_from(range(len(_FORMS))))
def test_parse_timestamp_is_exact(moment: datetime, form: int) -> None:
    """Unix nanoseconds of every ISO form, exactly (each text twice: nothing carries over
    from one call to the next)."""
    text = _FORMS[form](moment)
    expected = (datetime.fromisoformat(text).replace(tzinfo=None) - datetime(1970, 1, 1)
                if form in (1, 4) else datetime.fromisoformat(text) - datetime(1970, 1, 1, tzinfo=UTC))
    exact = expected // timedelta(microseconds=1) * 1000
    assert parse_timestamp(text, "f") == exact
    assert parse_timestamp(text, "f") == exact


def test_metadata_and_none_omitted() -> None:
    rec = convert_span(span({"type": "custom", "name": "x", "nothing": None},
                            metadata={"tenant": "t1"}), OFF)
    assert rec.attributes["openai_agents.metadata.tenant"] == "t1"
    assert "openai_agents.span_data.nothing" not in rec.attributes


def test_field_names_are_valid_utf8() -> None:
    """A span_data field name with a lone surrogate gets U+FFFD in its attribute key, like a
    nested key does (the same name twice: the second comes from the key cache)."""
    for _ in range(2):
        rec = convert_span(span({"type": "custom", "name": "x", "f\ud800": 1, 7: "seven"}), OFF)
        assert rec.attributes["openai_agents.span_data.f\ufffd"] == 1
        assert rec.attributes["openai_agents.span_data.7"] == "seven"


def test_workflow_span() -> None:
    trace = AgentTrace(TRACE, "Support", group_id="conv_1", metadata={"tier": "gold"})
    rec = convert_trace(trace, 100, 50)
    assert rec.name == "invoke_workflow Support"
    assert rec.parent_span_id == b""
    assert rec.span_id == workflow_span_id_for(TRACE)
    assert rec.start_ns == 100 and rec.end_ns == 100
    assert rec.attributes["gen_ai.operation.name"] == "invoke_workflow"
    assert rec.attributes["gen_ai.workflow.name"] == "Support"
    assert rec.attributes["gen_ai.conversation.id"] == "conv_1"
    assert rec.attributes["openai_agents.metadata.tier"] == "gold"


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"object": "nope"}, "object"),
        ({"object": "trace.span", "trace_id": TRACE, "span_data": {"type": "x"}}, "id"),
        ({"object": "trace.span", "id": "s", "trace_id": TRACE, "span_data": "x"}, "span_data"),
        ({"object": "trace.span", "id": "s", "trace_id": TRACE, "span_data": {}},
         "span_data.type"),
        ({"object": "trace.span", "id": "s", "trace_id": TRACE, "span_data": {"type": "x"},
          "started_at": "soon"}, "started_at"),
        ({"object": "trace", "id": TRACE, "workflow_name": 3}, "workflow_name"),
        ([1, 2], "item"),
    ],
)
def test_parse_item_errors_name_the_field(item: Any, field: str) -> None:
    with pytest.raises(InputError) as info:
        parse_item(item)
    assert info.value.field == field
    assert field in str(info.value)
