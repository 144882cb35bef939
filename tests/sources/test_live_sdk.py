"""The real OpenAI Agents SDK tracing API, through agent-otlp's processor, into a receiver."""

from __future__ import annotations

import json
from typing import Any

import pytest

agents_tracing = pytest.importorskip("agents.tracing")

import agent_otlp  # noqa: E402
from agent_otlp.core.convert.ids import span_id_for, workflow_span_id_for  # noqa: E402
from agent_otlp.core.convert.records import SpanKind, StatusCode  # noqa: E402
from agent_otlp.testing import OTLPReceiver, ReceivedSpan  # noqa: E402
from agent_otlp.workloads import DEMO_MODEL, RecordingProcessor, run_demo_workflow  # noqa: E402

pytestmark = pytest.mark.usefixtures("sdk_processors")


def _name(sdk_type: str, hint: str) -> tuple[str, int]:
    return {
        "agent": (f"invoke_agent {hint}", SpanKind.INTERNAL),
        "mcp_tools": ("tools/list", SpanKind.CLIENT),
        "guardrail": (f"guardrail {hint}", SpanKind.INTERNAL),
        "generation": (f"chat {hint}", SpanKind.CLIENT),
        "function": (f"execute_tool {hint}", SpanKind.INTERNAL),
        "handoff": (f"handoff {hint}", SpanKind.INTERNAL),
        "custom": (hint, SpanKind.INTERNAL),
    }[sdk_type]


def _run(receiver: OTLPReceiver, **kwargs: Any) -> tuple[Any, dict[str, ReceivedSpan]]:
    if receiver.protocol == "grpc":
        kwargs["protocol"] = "grpc"
    exporter = agent_otlp.create_exporter(
        "otlp", endpoint=receiver.endpoint, env={}, schedule_delay=0.02, **kwargs
    )
    processor = agent_otlp.instrument_openai_agents(exporter, replace_openai_exporter=True)
    result = run_demo_workflow()
    processor.force_flush()
    report = exporter.shutdown(10)
    assert report.delivered, exporter.stats.snapshot()
    spans = {s.span_id: s for s in receiver.spans()}
    return result, spans


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_demo_tree(otlp_receiver_factory: Any, protocol: str) -> None:
    receiver = otlp_receiver_factory(protocol)
    result, spans = _run(receiver)
    hex_trace = result.trace_id.removeprefix("trace_")
    assert len(spans) == result.span_count + 1 == 14
    assert {s.trace_id for s in spans.values()} == {hex_trace}

    workflow = spans[workflow_span_id_for(result.trace_id).hex()]
    assert workflow.name == "invoke_workflow Customer support"
    assert workflow.parent_span_id == ""
    assert workflow.kind == SpanKind.INTERNAL
    assert workflow.attributes["gen_ai.operation.name"] == "invoke_workflow"
    assert workflow.attributes["gen_ai.conversation.id"] == "conv_demo_0001"
    assert workflow.attributes["openai_agents.metadata.customer_tier"] == "gold"
    assert workflow.attributes["openai_agents.trace_id"] == result.trace_id

    for expected in result.expected:
        span = spans[span_id_for(result.span_ids[expected.key]).hex()]
        name, kind = _name(expected.sdk_type, expected.name_hint)
        assert (span.name, span.kind) == (name, kind), expected.key
        parent = (
            span_id_for(result.span_ids[expected.parent_key]).hex()
            if expected.parent_key else workflow.span_id
        )
        assert span.parent_span_id == parent, expected.key
        assert workflow.start_ns <= span.start_ns <= span.end_ns <= workflow.end_ns
        assert span.attributes["openai_agents.span_id"] == result.span_ids[expected.key]
        assert span.attributes["openai_agents.span_type"] == expected.sdk_type
        if expected.error:
            assert span.status_code == StatusCode.ERROR
            assert span.status_message == "Payment gateway timeout"
            (event,) = [e for e in span.events if e.name == "exception"]
            assert event.attributes["exception.message"] == "Payment gateway timeout"
            assert event.attributes["openai_agents.error.data.order_id"] == "A-1001"
        else:
            assert span.status_code == StatusCode.UNSET
            assert not [e for e in span.events if e.name == "exception"]

        a = span.attributes
        if expected.sdk_type == "agent":
            assert a["gen_ai.agent.name"] == expected.name_hint
            assert a["gen_ai.operation.name"] == "invoke_agent"
            assert "gen_ai.provider.name" not in a  # an agent span names no model
        elif expected.sdk_type == "generation":
            assert a["gen_ai.operation.name"] == "chat"
            assert a["gen_ai.provider.name"] == "openai"
            assert a["gen_ai.request.model"] == DEMO_MODEL
            assert "gen_ai.response.model" not in a  # the SDK does not record it
            assert a["gen_ai.request.temperature"] == 0.2
            assert a["gen_ai.request.max_tokens"] == 512
            assert a["gen_ai.request.top_p"] == 1.0
            assert a["gen_ai.usage.input_tokens"] > 0
            assert a["gen_ai.usage.output_tokens"] > 0
            assert "gen_ai.response.finish_reasons" not in a  # the outputs name none
            assert "gen_ai.input.messages" not in a  # content is off by default
        elif expected.sdk_type == "function":
            assert a["gen_ai.tool.name"] == expected.name_hint
            assert a["gen_ai.operation.name"] == "execute_tool"
            assert "gen_ai.tool.call.arguments" not in a
        elif expected.sdk_type == "handoff":
            assert a["openai_agents.handoff.from_agent"] == "Triage Agent"
            assert a["openai_agents.handoff.to_agent"] == "Refund Agent"
        elif expected.sdk_type == "mcp_tools":
            assert a["mcp.method.name"] == "tools/list"
        elif expected.sdk_type == "guardrail":
            triggered = expected.key == "tripped_guardrail"
            assert a["gen_ai.guardrail.result.value"] == str(triggered).lower()
            (event,) = [e for e in span.events if e.name == "gen_ai.guardrail.result"]
            assert event.attributes["gen_ai.guardrail.result.type"] == "tripwire_triggered"
            assert event.attributes["gen_ai.guardrail.result.value"] == str(triggered).lower()
            assert event.attributes["gen_ai.guardrail.component.name"] == expected.name_hint


def test_content_capture_live(otlp_receiver: OTLPReceiver) -> None:
    result, spans = _run(otlp_receiver, capture_content=True)
    gen = spans[span_id_for(result.span_ids["gen_1"]).hex()]
    messages = json.loads(gen.attributes["gen_ai.input.messages"])
    assert [m["role"] for m in messages] == ["system", "user"]  # the history as sent
    assert "Acme" in messages[0]["parts"][0]["content"]
    tool = spans[span_id_for(result.span_ids["lookup_tool"]).hex()]
    assert json.loads(tool.attributes["gen_ai.tool.call.arguments"]) == {"order_id": "A-1001"}
    assert "delivered" in tool.attributes["gen_ai.tool.call.result"]


def _installed() -> list[Any]:
    return list(agents_tracing.get_trace_provider()._multi_processor._processors)


def test_replace_vs_add_beside(otlp_receiver: OTLPReceiver) -> None:
    recorder = RecordingProcessor()
    agents_tracing.set_trace_processors([recorder])
    exporter = agent_otlp.create_exporter("otlp", endpoint=otlp_receiver.endpoint, env={},
                                          schedule_delay=0.02)
    beside = agent_otlp.instrument_openai_agents(exporter)
    assert _installed() == [recorder, beside]
    run_demo_workflow()
    assert recorder.items  # the other processor still sees everything
    replacing = agent_otlp.instrument_openai_agents(exporter, replace_openai_exporter=True)
    assert _installed() == [replacing]
    exporter.shutdown(10)
    assert otlp_receiver.span_count() == 14


def test_instrument_builds_its_exporter_from_config(otlp_receiver: OTLPReceiver) -> None:
    processor = agent_otlp.instrument_openai_agents(
        replace_openai_exporter=True, adapters="otlp", endpoint=otlp_receiver.endpoint, env={},
        schedule_delay=0.02,
    )
    run_demo_workflow()
    processor.shutdown()
    assert otlp_receiver.span_count() == 14
    processor.shutdown()  # idempotent, never raises


def test_processor_callbacks_never_raise(otlp_receiver: OTLPReceiver) -> None:
    exporter = agent_otlp.create_exporter("otlp", endpoint=otlp_receiver.endpoint, env={})
    processor = agent_otlp.make_processor(exporter)
    for garbage in (None, object(), "x"):
        processor.on_trace_start(garbage)
        processor.on_span_start(garbage)
        processor.on_span_end(garbage)
        processor.on_trace_end(garbage)
    processor.force_flush()
    exporter.shutdown(2)
    assert exporter.stats.invalid_items == 9

