"""The demo workflow through the ``phoenix`` adapter into a real Arize Phoenix.

The trace comes from the OpenAI Agents SDK's tracing API (``run_demo_workflow``), goes over
OTLP/HTTP or OTLP/gRPC to a ``phoenix serve`` started by the harness, and is read back through
Phoenix's REST API (``GET /v1/projects/{project}/spans``): what Phoenix stored and shows,
kinds included. The endpoint and project come from Phoenix's own variables
(``PHOENIX_COLLECTOR_ENDPOINT``, ``PHOENIX_GRPC_PORT``, ``PHOENIX_PROJECT_NAME``), as a user
of Phoenix's OTel helper would set them. Each test uses its own project and group id.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import pytest

agents_tracing = pytest.importorskip("agents.tracing")

import agent_otlp  # noqa: E402
from agent_otlp.core.convert.ids import span_id_for, workflow_span_id_for  # noqa: E402
from agent_otlp.workloads import DEMO_MODEL, DemoResult, run_demo_workflow  # noqa: E402

pytestmark = pytest.mark.usefixtures("sdk_processors")

PROTOCOLS = ("http", "grpc")
QUESTION = "Hi, my order A-1001 arrived with a cracked screen. Can I get my money back?"
# SDK span type -> the OpenInference kind Phoenix must show
_KINDS = {
    "agent": "AGENT",
    "generation": "LLM",
    "function": "TOOL",
    "guardrail": "GUARDRAIL",
    "handoff": "CHAIN",
    "mcp_tools": "CHAIN",
    "custom": "CHAIN",
}
_USAGE = {"gen_1": (120, 18), "gen_2": (196, 14), "gen_3": (164, 31), "gen_4": (231, 42)}


def _export_demo(
    phoenix: Any, protocol: str, *, capture_content: bool = True, latency: float = 0.0,
    **options: Any,
) -> tuple[DemoResult, str, dict[str, dict[str, Any]]]:
    """Run the demo into ``phoenix``; return it, its project and Phoenix's spans by span id."""
    project = f"agent-otlp-{uuid.uuid4().hex[:12]}"
    env = {
        "PHOENIX_COLLECTOR_ENDPOINT": phoenix.otlp_http,
        "PHOENIX_GRPC_PORT": phoenix.otlp_grpc.rsplit(":", 1)[1],
        "PHOENIX_PROJECT_NAME": project,
    }
    if protocol == "grpc":
        env["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"] = "grpc"
    exporter = agent_otlp.create_exporter(
        "phoenix", env=env, schedule_delay=0.05, capture_content=capture_content,
        options=options,
    )
    settings = exporter.destinations[0].settings
    if protocol == "grpc":
        assert (settings.protocol, settings.endpoint) == ("grpc", f"http://{phoenix.otlp_grpc}")
    else:
        assert (settings.protocol, settings.endpoint) == ("http/protobuf", phoenix.otlp_http_traces)
    agents_tracing.set_trace_processors([agent_otlp.make_processor(exporter)])
    try:
        result = run_demo_workflow(group_id=f"conv_{uuid.uuid4().hex[:12]}", latency=latency)
    finally:
        agents_tracing.set_trace_processors([])
        report = exporter.shutdown(20)
    assert report.delivered, exporter.stats.snapshot()
    hex_id = result.trace_id.removeprefix("trace_")
    spans = phoenix.query.wait_for_trace(project, hex_id, result.span_count + 1)
    by_id = {s["context"]["span_id"]: s for s in spans}
    assert len(by_id) == len(spans) == result.span_count + 1
    return result, project, by_id


def _sid(result: DemoResult, key: str) -> str:
    return span_id_for(result.span_ids[key]).hex()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_demo_in_phoenix(phoenix: Any, protocol: str) -> None:
    result, _, spans = _export_demo(phoenix, protocol, latency=1.0)
    root_id = workflow_span_id_for(result.trace_id).hex()

    # Every span typed (no UNKNOWN), under the right parent.
    root = spans[root_id]
    assert root["span_kind"] == "CHAIN" and root["parent_id"] is None
    for exp in result.expected:
        span = spans[_sid(result, exp.key)]
        assert span["span_kind"] == _KINDS[exp.sdk_type], (exp.key, span["span_kind"])
        parent = _sid(result, exp.parent_key) if exp.parent_key else root_id
        assert span["parent_id"] == parent, exp.key

    # The root shows the question, the answer, the session and the metadata.
    attrs = root["attributes"]
    assert attrs["input.value"] == QUESTION
    assert attrs["input.mime_type"] == "text/plain"
    assert "original payment method" in attrs["output.value"]
    assert attrs["session.id"] == result.group_id
    for key, value in result.metadata.items():
        assert attrs[f"metadata.{key}"] == value

    # Model calls: model, provider, token counts (Phoenix also sums them), messages.
    for key, (prompt, completion) in _USAGE.items():
        llm = spans[_sid(result, key)]["attributes"]
        assert llm["llm.model_name"] == DEMO_MODEL
        assert llm["llm.provider"] == "openai"
        assert llm["llm.token_count.prompt"] == prompt
        assert llm["llm.token_count.completion"] == completion
        assert llm["llm.token_count.total"] == prompt + completion
        assert json.loads(llm["llm.invocation_parameters"])["temperature"] == 0.2
        assert llm["llm.input_messages.0.message.role"] == "system"
        assert llm["llm.input_messages.1.message.content"] == QUESTION
        started, ended = (datetime.fromisoformat(spans[_sid(result, key)][k])
                          for k in ("start_time", "end_time"))
        assert (ended - started).total_seconds() >= 0.1  # a model call's duration

    # Tools show input and output; the failing one its error.
    lookup = spans[_sid(result, "lookup_tool")]
    assert lookup["attributes"]["tool.name"] == "lookup_order"
    assert json.loads(lookup["attributes"]["input.value"]) == {"order_id": "A-1001"}
    assert json.loads(lookup["attributes"]["output.value"])["status"] == "delivered"
    failing = spans[_sid(result, "failing_tool")]
    assert failing["status_code"] == "ERROR"
    assert failing["status_message"] == "Payment gateway timeout"
    assert [e["name"] for e in failing["events"]] == ["exception"]
    assert all(s["status_code"] != "ERROR" for sid, s in spans.items() if s is not failing)

    # Agents as graph nodes, the refund agent under the agent that handed off to it.
    refund = spans[_sid(result, "refund_agent")]["attributes"]
    assert refund["agent.name"] == refund["graph.node.id"] == "Refund Agent"
    assert refund["graph.node.parent_id"] == "Triage Agent"


def test_content_off_reaches_phoenix_without_content(phoenix: Any) -> None:
    result, _, spans = _export_demo(phoenix, "http", capture_content=False)
    text = json.dumps(list(spans.values()))
    for secret in ("cracked screen", "A-1001", "card numbers", "Acme Store"):
        assert secret not in text
    root = spans[workflow_span_id_for(result.trace_id).hex()]
    assert root["span_kind"] == "CHAIN" and "input.value" not in root["attributes"]
    assert spans[_sid(result, "gen_1")]["attributes"]["llm.token_count.prompt"] == 120


def test_openinference_only(phoenix: Any) -> None:
    result, _, spans = _export_demo(phoenix, "http", conventions="openinference")
    llm = spans[_sid(result, "gen_1")]["attributes"]
    assert llm["llm.model_name"] == DEMO_MODEL
    assert not [k for span in spans.values() for k in span["attributes"] if k.startswith("gen_ai.")]
