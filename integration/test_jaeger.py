"""The demo multi-agent workflow through the ``jaeger`` adapter into a real Jaeger v2.

The trace is produced by the OpenAI Agents SDK's tracing API (``run_demo_workflow``), fed
to agent-otlp by its SDK processor, exported over OTLP/HTTP or OTLP/gRPC and read back from
Jaeger's query API (``/api/v3/traces/{id}``): what Jaeger stored, not what we sent.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

agents_tracing = pytest.importorskip("agents.tracing")

import agent_otlp  # noqa: E402
from agent_otlp.core.convert.content import MARK  # noqa: E402
from agent_otlp.core.convert.ids import span_id_for, workflow_span_id_for  # noqa: E402
from agent_otlp.offload.group import OffloadGroup  # noqa: E402
from agent_otlp.workloads import DEMO_MODEL, DemoResult, run_demo_workflow  # noqa: E402

pytestmark = pytest.mark.usefixtures("sdk_processors")

PROTOCOLS = ("http", "grpc")
SERVICE = "agent-workflows"  # the jaeger adapter's default service.name
ERROR_MESSAGE = "Payment gateway timeout"

# SDK span type -> (OTel span name for a name hint, kind as Jaeger returns it)
_NAMES = {
    "agent": ("invoke_agent {}", "INTERNAL"),
    "mcp_tools": ("tools/list", "CLIENT"),  # the MCP method alone
    "guardrail": ("guardrail {}", "INTERNAL"),
    "generation": ("chat {}", "CLIENT"),
    "function": ("execute_tool {}", "INTERNAL"),
    "handoff": ("handoff {}", "INTERNAL"),
    "custom": ("{}", "INTERNAL"),
}
# Demo span key -> expected usage tokens (input, output), as the demo reports them.
_USAGE = {"gen_1": (120, 18), "gen_2": (196, 14), "gen_3": (164, 31), "gen_4": (231, 42)}


def _exporter(jaeger: Any, protocol: str, **settings: Any) -> agent_otlp.AgentExporter:
    endpoint = jaeger.otlp_http if protocol == "http" else f"http://{jaeger.otlp_grpc}"
    return agent_otlp.create_exporter(
        "jaeger",
        endpoint=endpoint,
        protocol="grpc" if protocol == "grpc" else "http/protobuf",
        env={},
        schedule_delay=0.05,
        **settings,
    )


def _export_demo(
    jaeger: Any, protocol: str, *, metadata: dict[str, str] | None = None, **settings: Any
) -> tuple[DemoResult, dict[str, dict[str, Any]]]:
    """Run the demo through the SDK processor into Jaeger; return it and Jaeger's spans by id."""
    exporter = _exporter(jaeger, protocol, **settings)
    agents_tracing.set_trace_processors([agent_otlp.make_processor(exporter)])
    try:
        result = run_demo_workflow(metadata=metadata)
    finally:
        agents_tracing.set_trace_processors([])
        report = exporter.shutdown(15)
    assert report.delivered, exporter.stats.snapshot()
    hex_id = result.trace_id.removeprefix("trace_")
    spans = jaeger.query.get_trace(hex_id, timeout=20, min_spans=result.span_count + 1)
    by_id = {s["span_id"]: s for s in spans}
    assert len(by_id) == len(spans), "Jaeger returned a span twice"
    return result, by_id


def _sid(result: DemoResult, key: str) -> str:
    return span_id_for(result.span_ids[key]).hex()


def _expected_tree(result: DemoResult) -> dict[str, tuple[str, str, str]]:
    """Span id -> (name, kind, parent id) of the demo trace, the workflow span included."""
    workflow_id = workflow_span_id_for(result.trace_id).hex()
    tree = {workflow_id: ("invoke_workflow Customer support", "INTERNAL", "")}
    for exp in result.expected:
        template, kind = _NAMES[exp.sdk_type]
        parent = _sid(result, exp.parent_key) if exp.parent_key else workflow_id
        tree[_sid(result, exp.key)] = (template.format(exp.name_hint), kind, parent)
    return tree


def _tree(spans: dict[str, dict[str, Any]]) -> dict[str, tuple[str, str, str]]:
    return {sid: (s["name"], s["kind"], s["parent_span_id"]) for sid, s in spans.items()}


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_demo_tree_in_jaeger(jaeger: Any, protocol: str) -> None:
    result, spans = _export_demo(jaeger, protocol)
    hex_id = result.trace_id.removeprefix("trace_")

    # One trace, its id the SDK's trace_<hex> id, 13 SDK spans + the workflow root.
    assert len(spans) == result.span_count + 1 == 14
    assert {s["trace_id"] for s in spans.values()} == {hex_id}
    assert "trace_" + hex_id == result.trace_id

    # The exact tree: every span's id, name, kind and parent.
    workflow_id = workflow_span_id_for(result.trace_id).hex()
    assert _tree(spans) == _expected_tree(result)
    # Spelled out for the spans that matter most.
    triage, refund = _sid(result, "triage_agent"), _sid(result, "refund_agent")
    assert spans[triage]["parent_span_id"] == spans[refund]["parent_span_id"] == workflow_id
    assert spans[_sid(result, "handoff")]["parent_span_id"] == triage
    assert spans[_sid(result, "failing_tool")]["parent_span_id"] == refund

    # Resource and scope survive Jaeger's storage.
    for span in spans.values():
        assert span["resource"]["service.name"] == SERVICE
        assert span["resource"]["telemetry.sdk.name"] == "agent-otlp"
        assert span["scope_name"] == "agent_otlp"
    assert SERVICE in jaeger.query.services()

    # Timing: children inside the workflow span, the demo's start order preserved.
    workflow = spans[workflow_id]
    starts = []
    for exp in result.expected:
        span = spans[_sid(result, exp.key)]
        start, end = span["start_time_unix_nano"], span["end_time_unix_nano"]
        assert workflow["start_time_unix_nano"] <= start <= end <= workflow["end_time_unix_nano"]
        starts.append(start)
    assert starts == sorted(starts)

    # Status and errors: only the failing tool is an error, with its message and event.
    for sid, span in spans.items():
        if sid == _sid(result, "failing_tool"):
            continue
        assert span["status_code"] == "UNSET", span["name"]
        assert span["status_message"] == ""
        assert "error.type" not in span["attributes"]
        assert not [e for e in span["events"] if e["name"] == "exception"], span["name"]
    failing = spans[_sid(result, "failing_tool")]
    assert failing["status_code"] == "ERROR"
    assert failing["status_message"] == ERROR_MESSAGE
    assert failing["attributes"]["error.type"] == "_OTHER"  # the error names no type
    assert "error" not in failing["attributes"]  # Jaeger derives its own error tag
    (exception,) = [e for e in failing["events"] if e["name"] == "exception"]
    assert exception["attributes"]["exception.message"] == ERROR_MESSAGE
    assert "exception.type" not in exception["attributes"]
    assert exception["attributes"]["openai_agents.error.data.order_id"] == "A-1001"
    assert exception["attributes"]["openai_agents.error.data.retry"] is False
    assert exception["time_unix_nano"] == failing["end_time_unix_nano"]

    # Guardrails: one result event each, triggered false then true.
    for key, name, triggered in (
        ("passed_guardrail", "jailbreak_check", False),
        ("tripped_guardrail", "pii_filter", True),
    ):
        span = spans[_sid(result, key)]
        result_attributes = {
            "gen_ai.guardrail.component.name": name,
            "gen_ai.guardrail.result.type": "tripwire_triggered",
            "gen_ai.guardrail.result.value": str(triggered).lower(),
        }
        assert span["attributes"].items() >= result_attributes.items()
        (event,) = span["events"]
        assert event["name"] == "gen_ai.guardrail.result"
        assert event["attributes"] == result_attributes

    # Key gen_ai.* attributes.
    wf = workflow["attributes"]
    assert wf["gen_ai.operation.name"] == "invoke_workflow"
    assert wf["gen_ai.workflow.name"] == "Customer support"
    assert wf["gen_ai.conversation.id"] == "conv_demo_0001"
    assert wf["openai_agents.trace_id"] == result.trace_id
    assert wf["openai_agents.metadata.customer_tier"] == "gold"
    for exp in result.expected:
        a = spans[_sid(result, exp.key)]["attributes"]
        assert a["openai_agents.span_id"] == result.span_ids[exp.key]
        assert a["openai_agents.trace_id"] == result.trace_id
        assert a["openai_agents.span_type"] == exp.sdk_type
        if exp.sdk_type == "agent":
            assert a["gen_ai.operation.name"] == "invoke_agent"
            assert "gen_ai.provider.name" not in a  # an agent span names no provider
            assert a["gen_ai.agent.name"] == exp.name_hint
        elif exp.sdk_type == "generation":
            assert a["gen_ai.operation.name"] == "chat"
            assert a["gen_ai.provider.name"] == "openai"
            assert a["gen_ai.request.model"] == DEMO_MODEL
            assert "gen_ai.response.model" not in a  # the demo records the model asked for
            assert a["gen_ai.request.temperature"] == 0.2
            assert a["gen_ai.request.max_tokens"] == 512
            tokens = (a["gen_ai.usage.input_tokens"], a["gen_ai.usage.output_tokens"])
            assert tokens == _USAGE[exp.key]
            assert "gen_ai.input.messages" not in a  # content capture is off by default
        elif exp.sdk_type == "function":
            assert a["gen_ai.operation.name"] == "execute_tool"
            assert a["gen_ai.tool.name"] == exp.name_hint
            assert "gen_ai.tool.call.arguments" not in a
        elif exp.sdk_type == "handoff":
            assert a["gen_ai.agent.name"] == "Triage Agent"
            assert a["openai_agents.handoff.from_agent"] == "Triage Agent"
            assert a["openai_agents.handoff.to_agent"] == "Refund Agent"
        elif exp.sdk_type == "mcp_tools":
            assert a["mcp.method.name"] == "tools/list"
            assert a["openai_agents.span_data.server"] == "orders-mcp"
    # Content off: no content events anywhere, nothing cut.
    for span in spans.values():
        assert not [e for e in span["events"] if e["name"] == "gen_ai.content"]
        assert "agent_otlp.truncated" not in span["attributes"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_content_event_and_tag_limit_in_jaeger(jaeger: Any, protocol: str) -> None:
    long_note = "customer note: " + "n" * 600
    result, spans = _export_demo(
        jaeger,
        protocol,
        metadata={"note": long_note},
        capture_content=True,
        content_limit=300,
    )

    # A searchable (non-content) value is cut to 256 characters, marked and listed.
    workflow = spans[workflow_span_id_for(result.trace_id).hex()]["attributes"]
    note = workflow["openai_agents.metadata.note"]
    assert len(note) == 256
    assert note == long_note[: 256 - len(MARK)] + MARK
    assert workflow["agent_otlp.truncated"] == ["openai_agents.metadata.note"]
    for span in spans.values():
        for key, value in span["attributes"].items():
            if isinstance(value, str):
                assert len(value) <= 256, (span["name"], key)

    # Content is a span event (a Jaeger "log"), never a tag; values capped, JSON valid.
    for span in spans.values():
        content_keys = {
            "gen_ai.input.messages",
            "gen_ai.output.messages",
            "gen_ai.system_instructions",
            "gen_ai.tool.call.arguments",
            "gen_ai.tool.call.result",
        }
        assert not content_keys & set(span["attributes"]), span["name"]

    gen_1 = spans[_sid(result, "gen_1")]
    (content,) = [e for e in gen_1["events"] if e["name"] == "gen_ai.content"]
    assert content["time_unix_nano"] == gen_1["end_time_unix_nano"]
    messages = json.loads(content["attributes"]["gen_ai.input.messages"])
    assert [m["role"] for m in messages] == ["system", "user"]  # the history as sent
    assert "Acme" in messages[0]["parts"][0]["content"]
    assert "cracked screen" in messages[1]["parts"][0]["content"]
    output = json.loads(content["attributes"]["gen_ai.output.messages"])
    assert output[0]["parts"][0]["name"] == "lookup_order"

    lookup = spans[_sid(result, "lookup_tool")]
    (content,) = [e for e in lookup["events"] if e["name"] == "gen_ai.content"]
    assert json.loads(content["attributes"]["gen_ai.tool.call.arguments"]) == {
        "order_id": "A-1001"
    }
    assert json.loads(content["attributes"]["gen_ai.tool.call.result"])["status"] == "delivered"

    # The failing tool keeps its exception event next to the content event.
    failing = spans[_sid(result, "failing_tool")]
    assert sorted(e["name"] for e in failing["events"]) == ["exception", "gen_ai.content"]

    # gen_2 carries > 300 bytes of input messages: cut to the content limit, still JSON.
    gen_2 = spans[_sid(result, "gen_2")]
    (content,) = [e for e in gen_2["events"] if e["name"] == "gen_ai.content"]
    cut_input = content["attributes"]["gen_ai.input.messages"]
    assert len(cut_input.encode()) <= 300
    json.loads(cut_input)
    assert "gen_ai.input.messages" in gen_2["attributes"]["agent_otlp.truncated"]
    for span in spans.values():
        for event in span["events"]:
            if event["name"] != "gen_ai.content":
                continue
            for key, value in event["attributes"].items():
                assert len(value.encode()) <= 300, (span["name"], key)
                json.loads(value)


def test_two_export_processes_deliver_whole_traces(jaeger: Any) -> None:
    """``offload=2``: each trace goes to one of two child processes; Jaeger gets every
    trace whole (one workflow span, every parent link), and both children did part."""
    exporter = _exporter(jaeger, "http", offload=2)
    assert isinstance(exporter, OffloadGroup)
    agents_tracing.set_trace_processors([agent_otlp.make_processor(exporter)])
    try:
        results = [run_demo_workflow() for _ in range(16)]
    finally:
        agents_tracing.set_trace_processors([])
        per_child = [lane.stats.snapshot()["converted_spans"] for lane in exporter.lanes]
        report = exporter.shutdown(15)
    assert report.delivered, exporter.stats.snapshot()
    assert all(per_child), per_child  # all 16 traces in one child: a 2**-15 chance
    for result in results:
        hex_id = result.trace_id.removeprefix("trace_")
        spans = jaeger.query.get_trace(hex_id, timeout=20, min_spans=result.span_count + 1)
        by_id = {s["span_id"]: s for s in spans}
        assert len(by_id) == len(spans) == 14, result.trace_id
        assert _tree(by_id) == _expected_tree(result)
