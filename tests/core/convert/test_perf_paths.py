"""The fast paths give the same results as the validated, general ones."""

from __future__ import annotations

from typing import Any

import pytest

from agent_otlp.core.convert.ids import span_id_for
from agent_otlp.core.convert.records import AgentSpan, parse_item
from agent_otlp.core.convert.sdk import sdk_span_item, sdk_span_record
from agent_otlp.core.convert.spans import ConvertOptions, convert_span
from agent_otlp.factory import resolve_all
from agent_otlp.workloads import (
    RecordingProcessor,
    produce_benchmark_traces,
    recording_processors,
    run_demo_workflow,
)


def _live_spans(metadata: dict[str, str] | None = None) -> list[Any]:
    keep = RecordingProcessor()
    with recording_processors([keep]):
        run_demo_workflow(metadata=metadata)
        produce_benchmark_traces(2)
    assert keep.spans
    return keep.spans


@pytest.mark.parametrize("capture", [False, True])
@pytest.mark.parametrize("metadata", [None, {"tenant": "acme"}])
def test_sdk_fast_path_matches_export_and_parse(capture: bool, metadata: dict[str, str] | None) -> None:
    options = ConvertOptions(capture_content=capture)
    for span in _live_spans(metadata):
        fast = sdk_span_record(span, capture)
        slow = parse_item(sdk_span_item(span, capture))
        assert isinstance(slow, AgentSpan)
        assert fast == slow
        assert convert_span(fast, options) == convert_span(slow, options)


def test_span_id_cache_gives_the_mapping() -> None:
    for span in _live_spans():
        record = convert_span(sdk_span_record(span, False), ConvertOptions())
        assert record.span_id == span_id_for(span.span_id)
        if span.parent_id:
            assert record.parent_span_id == span_id_for(span.parent_id)


@pytest.mark.parametrize("adapter", ["otlp", "jaeger"])
def test_direct_hook_calls_match_pluggy(adapter: str) -> None:
    settings, hooks = resolve_all(adapter, endpoint="http://127.0.0.1:1", env={},
                                  capture_content=True, attribute_value_limit=20)[0]
    calls = hooks.map_attributes_calls()
    assert calls  # builtin limits at least
    for span in _live_spans():
        via_pluggy = convert_span(sdk_span_record(span, True), ConvertOptions(capture_content=True))
        direct = via_pluggy.copy()
        hooks.map_attributes(span=via_pluggy, settings=settings, state={})
        values = {"span": direct, "settings": settings, "state": {}}
        for function, argnames in calls:
            function(*[values[name] for name in argnames])
        assert direct == via_pluggy


def test_data_key_cache_keeps_equal_non_string_keys_apart() -> None:
    from agent_otlp.core.convert.records import AgentSpan

    def keys(data: dict[Any, Any]) -> set[str]:
        span = AgentSpan("span_1", "trace_1", None, 1, 2, {"type": "custom", **data})
        return {k for k in convert_span(span, ConvertOptions()).attributes if ".span_data." in k}

    assert keys({True: "a"}) == {"openai_agents.span_data.True"}
    assert keys({1: "a"}) == {"openai_agents.span_data.1"}
    assert keys({1.0: "a"}) == {"openai_agents.span_data.1.0"}
