"""``docs/conversion.md`` names every attribute and event the conversion writes, and every
``gen_ai.*`` name it mentions is one the registry defines."""

from __future__ import annotations

import re
from typing import Any

import pytest

from _paths import ROOT
from agent_otlp.core.convert.content import place_content
from agent_otlp.core.convert.records import AgentSpan, AgentTrace, SpanRecord, parse_item
from agent_otlp.core.convert.spans import ConvertOptions, convert_span, convert_trace
from conformance.rules import DEPRECATED, REGISTRY

DOC = (ROOT / "docs" / "conversion.md").read_text(encoding="utf-8")
#: Namespaces whose keys come from the input: the doc names them with a ``*``.
DYNAMIC = ("openai_agents.span_data.", "openai_agents.metadata.", "openai_agents.error.data.")
EVENTS = frozenset({"gen_ai.guardrail.result", "gen_ai.client.inference.operation.details"})
RESPONSE: dict[str, Any] = {
    "id": "resp_9", "object": "response", "model": "gpt-5", "status": "failed",
    "temperature": 1.0, "top_p": 0.5, "max_output_tokens": 100, "service_tier": "flex",
    "text": {"format": {"type": "text"}}, "conversation": {"id": "conv_9"},
    "reasoning": {"effort": "low"}, "instructions": "be kind",
    "output": [{"type": "message", "role": "assistant",
                "content": [{"type": "output_text", "text": "x"}]}],
}

SPAN_DATA: list[dict[str, Any]] = [
    {"type": "agent", "name": "A", "output_type": "Report", "handoffs": ["B"],
     "usage": {"input_tokens": 1, "output_tokens": 2}, "finish_reasons": ["stop"],
     "conversation_id": "conv_1"},
    {"type": "generation", "model": "gpt-4o", "input": [{"role": "user", "content": "hi"}],
     "model_config": {"temperature": 0.2, "max_tokens": 9, "top_p": 1, "top_k": 3,
                      "frequency_penalty": 0.1, "presence_penalty": 0.1, "seed": 7, "n": 2,
                      "stop": "END", "service_tier": "flex", "response_format": {"type": "json_object"},
                      "base_url": "https://api.openai.com/v1/"},
     "output": [{"role": "assistant", "content": "x", "finish_reason": "stop"}],
     "usage": {"input_tokens": 3, "output_tokens": 4, "input_tokens_details": {"cached_tokens": 1},
               "output_tokens_details": {"reasoning_tokens": 1}}},
    {"type": "response", "response_id": "resp_9", "response": RESPONSE, "input": "hi",
     "usage": {"input_tokens": 3, "output_tokens": 4}},
    {"type": "function", "name": "f", "input": "{}", "output": "ok", "call_id": "c",
     "mcp_data": {"server": "s"}},
    {"type": "handoff", "from_agent": "A", "to_agent": "B"},
    {"type": "guardrail", "name": "g", "triggered": True},
    {"type": "mcp_tools", "server": "s", "result": ["t"]},
    {"type": "custom", "name": "turn", "data": {"sdk_span_type": "turn", "agent_name": "A"}},
    {"type": "speech", "model": "tts-1", "input": "say", "output": "b64"},
    {"type": "transcription", "model": "whisper-1", "input": "b64", "output": "heard"},
    {"type": "speech_group", "input": "x"},
]


def _records() -> list[SpanRecord]:
    records = []
    for index, data in enumerate(SPAN_DATA):
        item = {"object": "trace.span", "id": f"span_{index}", "trace_id": "trace_1",
                "parent_id": f"span_{index}",  # a self-parent: repaired
                "started_at": 1.0, "ended_at": None if index == 0 else 2.0,
                "span_data": data, "metadata": {"k": "v"},
                "error": {"message": "boom", "data": {"type": "TimeoutError"}}}
        parsed = parse_item(item)
        assert isinstance(parsed, AgentSpan)
        for options in (ConvertOptions(True, False), ConvertOptions(True, True)):
            record = convert_span(parsed, options)
            place_content(record, "event_only")
            records.append(record)
    records.append(convert_trace(AgentTrace(id="trace_1", workflow_name="W", group_id="g",
                                            metadata={"k": "v"}), 1, 2))
    return records


def _documented(key: str) -> bool:
    for prefix in DYNAMIC:
        if key.startswith(prefix):
            return f"`{prefix}*`" in DOC
    return f"`{key}`" in DOC or f"`{key}=" in DOC


def test_every_key_the_conversion_writes_is_documented() -> None:
    keys: set[str] = set()
    for record in _records():
        keys.update(record.attributes)
        for event in record.events:
            keys.add(event.name)
            keys.update(event.attributes)
    assert "gen_ai.guardrail.result.value" in keys and "openai.response.service_tier" in keys
    undocumented = sorted(k for k in keys if not _documented(k)
                          and not k.startswith(("agent_otlp.original_", "exception.")))
    assert undocumented == []


@pytest.mark.parametrize("name", sorted(set(re.findall(r"`(gen_ai\.[a-z_.]*[a-z_])[`=]", DOC))))
def test_every_gen_ai_name_in_the_doc_is_in_the_registry(name: str) -> None:
    assert name in REGISTRY or name in DEPRECATED or name in EVENTS
