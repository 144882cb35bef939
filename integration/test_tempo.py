"""The demo multi-agent workflow through the ``tempo`` adapter into Grafana Tempo.

Tempo runs only as a container: without a Docker engine these tests are skipped (also in
CI) by the ``tempo`` fixture, with the reason.
"""

from __future__ import annotations

from typing import Any

import pytest

agents_tracing = pytest.importorskip("agents.tracing")

import agent_otlp  # noqa: E402
from agent_otlp.core.convert.ids import span_id_for, workflow_span_id_for  # noqa: E402
from agent_otlp.workloads import run_demo_workflow  # noqa: E402

pytestmark = pytest.mark.usefixtures("sdk_processors")

# SDK span type -> OTel span name for the demo's name hint
_NAMES = {
    "agent": "invoke_agent {}",
    "mcp_tools": "tools/list",  # the MCP method alone
    "guardrail": "guardrail {}",
    "generation": "chat {}",
    "function": "execute_tool {}",
    "handoff": "handoff {}",
    "custom": "{}",
}


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_demo_in_tempo(tempo: Any, protocol: str) -> None:
    endpoint = tempo.otlp_http if protocol == "http" else f"http://{tempo.otlp_grpc}"
    exporter = agent_otlp.create_exporter(
        "tempo",
        endpoint=endpoint,
        protocol="grpc" if protocol == "grpc" else "http/protobuf",
        env={},
        schedule_delay=0.05,
        service_name=f"agent-otlp-tempo-{protocol}",
    )
    agents_tracing.set_trace_processors([agent_otlp.make_processor(exporter)])
    try:
        result = run_demo_workflow()
    finally:
        agents_tracing.set_trace_processors([])
        report = exporter.shutdown(15)
    assert report.delivered, exporter.stats.snapshot()

    hex_id = result.trace_id.removeprefix("trace_")
    expected = result.span_count + 1  # the SDK's spans plus the workflow root
    spans = tempo.query().get_trace(hex_id, timeout=60, min_spans=expected)

    assert len(spans) == expected == 14
    assert {s["trace_id"] for s in spans} == {hex_id}
    assert len({s["span_id"] for s in spans}) == expected

    names = sorted(s["name"] for s in spans)
    wanted = sorted(
        ["invoke_workflow Customer support"]
        + [_NAMES[e.sdk_type].format(e.name_hint) for e in result.expected]
    )
    assert names == wanted

    by_id = {s["span_id"]: s for s in spans}
    workflow_id = workflow_span_id_for(result.trace_id).hex()
    assert by_id[workflow_id]["parent_span_id"] == ""
    for exp in result.expected:
        span = by_id[span_id_for(result.span_ids[exp.key]).hex()]
        parent = (
            span_id_for(result.span_ids[exp.parent_key]).hex() if exp.parent_key else workflow_id
        )
        assert span["parent_span_id"] == parent, exp.key
        assert span["status_code"] == ("ERROR" if exp.error else "UNSET"), exp.key
    assert {s["resource"]["service.name"] for s in spans} == {f"agent-otlp-tempo-{protocol}"}
