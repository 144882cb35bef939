"""Spans whose type says more than their data: RAAF's ``response`` span (a formatting step,
at most a ``response_id``) and its marker for a span too large to upload are not model
calls; custom (pipeline, job) spans keep their data as RAAF stringified it."""

from __future__ import annotations

from typing import Any

import pytest

import raaf_payloads as raaf
from agent_otlp.core.convert.records import AgentSpan, SpanKind, parse_item
from agent_otlp.core.convert.spans import ConvertOptions, convert_span


def _convert(span_data: dict[str, Any]) -> Any:
    span = parse_item(raaf.span(raaf.trace_id(), raaf.span_id(), raaf.span_id(), span_data))
    assert isinstance(span, AgentSpan)
    return convert_span(span, ConvertOptions(capture_content=True))


@pytest.mark.parametrize("span_data", [raaf.response_data(), {"type": "response", "response_id": "resp_1"}],
                         ids=["bare", "response_id"])
def test_a_response_without_a_call_is_not_a_chat(span_data: dict[str, Any]) -> None:
    record = _convert(span_data)
    assert record.name == "response"
    assert record.kind == SpanKind.INTERNAL
    assert "gen_ai.operation.name" not in record.attributes
    assert "gen_ai.provider.name" not in record.attributes
    assert "gen_ai.request.model" not in record.attributes


@pytest.mark.parametrize(
    ("marker", "name"),
    [
        (raaf.oversized_marker("generation", 48_213), "generation"),
        (raaf.oversized_marker("response", 9_344), "response"),
        (raaf.oversized_marker("function", 20_000), "function"),
        (raaf.oversized_marker("custom", 12_000, "pipeline.MarketResearch"), "pipeline.MarketResearch"),
    ],
    ids=["generation", "response", "function", "custom"],
)
def test_the_oversized_span_marker_is_not_mapped_as_its_type(marker: dict[str, Any], name: str) -> None:
    record = _convert(marker)
    assert record.name == name
    assert record.kind == SpanKind.INTERNAL
    attrs = record.attributes
    assert "gen_ai.operation.name" not in attrs
    assert "gen_ai.provider.name" not in attrs
    assert "gen_ai.tool.name" not in attrs
    assert attrs["openai_agents.span_type"] == marker["type"]
    assert attrs["openai_agents.span_data.data.truncated"] is True
    assert attrs["openai_agents.span_data.data.original_size"] == marker["data"]["original_size"]


def test_custom_span_data_is_kept_as_it_comes() -> None:
    data = raaf.custom_data("pipeline.MarketResearch", {
        "pipeline.name": "MarketResearch", "pipeline.agent_count": 3, "pipeline.success": True,
        "duration_ms": 1523.42, "pipeline.agents_executed": "[\"Scout\", \"Analyst\"]",
    })
    record = _convert(data)
    assert record.name == "pipeline.MarketResearch"
    assert record.kind == SpanKind.INTERNAL
    prefix = "openai_agents.span_data.data."
    assert {k.removeprefix(prefix): v for k, v in record.attributes.items() if k.startswith(prefix)} == {
        "pipeline.name": "MarketResearch", "pipeline.agent_count": "3", "pipeline.success": "true",
        "duration_ms": "1523.42", "pipeline.agents_executed": "[\"Scout\", \"Analyst\"]",
    }
