"""RAAF's POSTs to the ingest bridge, with the span store as ``agent-otlp serve`` runs it:
every item is taken (no ``error`` shape refused), the unsent trace root gets one stand-in, the
repeated stale trace object no span of its own and no name for another run's trace, the
provider comes from the model."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import raaf_payloads as raaf
from agent_otlp import create_exporter
from agent_otlp.core.convert.ids import span_id_for, workflow_span_id_for
from agent_otlp.sources.bridge import BridgeServer
from agent_otlp.testing import OTLPReceiver
from test_bridge import post_items


def deliver(receiver: OTLPReceiver, store: Path, posts: list[list[dict[str, Any]]]) -> None:
    """``posts`` through a store-backed bridge, each taken whole, every trace delivered."""
    exporter = create_exporter("otlp", endpoint=receiver.endpoint, env={}, schedule_delay=0.05,
                               store=str(store))
    bridge = BridgeServer(exporter, port=0).start()
    try:
        for post in posts:
            reply = post_items(bridge.ingest_url, post)
            assert (reply.status, reply.json["accepted"]) == (200, len(post)), reply.json
        exporter.end_all_traces()
        assert exporter.force_flush(10).delivered
    finally:
        bridge.stop(timeout=2.0)
        exporter.shutdown(10)


def workflow_names(receiver: OTLPReceiver) -> dict[str, str]:
    return {s.trace_id: s.name for s in receiver.spans() if s.name.startswith("invoke_workflow")}


def test_raaf_posts_through_the_bridge(otlp_receiver: OTLPReceiver, tmp_path: Path) -> None:
    first, trace, root = raaf.trace_id(), raaf.trace_id(), raaf.span_id()
    agent, llm, tool = raaf.span_id(), raaf.span_id(), raaf.span_id()
    posts = [
        [raaf.trace_object(first), raaf.span(first, raaf.span_id(), None, raaf.agent_data("Old"))],
        [raaf.trace_object(first),  # stale: the first trace's object, this trace's spans
         raaf.span(trace, llm, agent, raaf.generation_data("claude-3-5-sonnet-20241022"), 2, 3),
         raaf.span(trace, tool, agent, {"type": "function", "name": "search"}, 3, 4,
                   error="Faraday::TimeoutError"),
         raaf.span(trace, raaf.span_id(), agent, raaf.response_data(), 4, 5),
         raaf.span(trace, raaf.span_id(), agent, raaf.oversized_marker("generation", 31_000), 5, 6,
                   error=True)],
        [raaf.trace_object(first),
         raaf.span(trace, agent, root, raaf.agent_data("Researcher"), 1, 7)],
    ]
    deliver(otlp_receiver, tmp_path / "s.db", posts)
    spans = [s for s in otlp_receiver.spans() if s.trace_id == trace.removeprefix("trace_")]
    by_id = {s.span_id: s for s in spans}
    assert len(by_id) == len(spans) == 7  # workflow, stand-in, five spans
    workflow = by_id[workflow_span_id_for(trace).hex()]
    assert workflow.name == "invoke_workflow Agent workflow"  # the stale object named another trace
    stand_in = by_id[span_id_for(root).hex()]
    assert (stand_in.name, stand_in.parent_span_id) == ("missing parent", workflow.span_id)
    assert by_id[span_id_for(agent).hex()].parent_span_id == stand_in.span_id
    chat = by_id[span_id_for(llm).hex()]
    assert chat.attributes["gen_ai.provider.name"] == "anthropic"
    assert "server.address" not in chat.attributes  # RAAF's stand-in URL is not the server
    assert by_id[span_id_for(tool).hex()].status_message == "Faraday::TimeoutError"
    names = sorted(s.name for s in spans)
    assert names == sorted(["invoke_workflow Agent workflow", "missing parent", "invoke_agent Researcher",
                            "chat claude-3-5-sonnet-20241022", "execute_tool search", "response",
                            "generation"])
    old = [s for s in otlp_receiver.spans() if s.name.startswith("invoke_workflow openai-agents-ruby")]
    assert len(old) == 1  # the first trace's, once


def test_a_stale_trace_object_names_no_run_of_a_post_holding_several(
    otlp_receiver: OTLPReceiver, tmp_path: Path
) -> None:
    """RAAF's first run, then a second, in one batch: the leading object carries the first
    run's id and the second run's workflow name, so it names neither."""
    first, second = raaf.trace_id(), raaf.trace_id()
    stale = {**raaf.trace_object(first), "workflow_name": "Triage"}  # the last trace root ended
    posts = [
        [stale, raaf.span(first, raaf.span_id(), raaf.span_id(), raaf.agent_data("Researcher")),
         raaf.span(second, raaf.span_id(), raaf.span_id(), raaf.agent_data("Triager"), 3, 4)],
        [stale, raaf.span(second, raaf.span_id(), None, raaf.agent_data("Closer"), 4, 5)],
    ]
    deliver(otlp_receiver, tmp_path / "s.db", posts)
    assert workflow_names(otlp_receiver) == {first.removeprefix("trace_"): "invoke_workflow Agent workflow",
                     second.removeprefix("trace_"): "invoke_workflow Agent workflow"}


def test_an_sdk_trace_object_beside_other_traces_spans_still_names_its_trace(
    otlp_receiver: OTLPReceiver, tmp_path: Path
) -> None:
    """The Python and JavaScript SDKs' span ids have 24 hex digits: their requests keep
    every trace object, though it carries no times."""
    named, other = raaf.trace_id(), raaf.trace_id()
    sdk_span = f"span_{secrets.token_hex(12)}"
    posts = [[{**raaf.trace_object(named), "workflow_name": "Planner"},
              raaf.span(other, f"span_{secrets.token_hex(12)}", None, raaf.agent_data("Other")),
              raaf.span(named, sdk_span, None, raaf.agent_data("Planner"), 2, 3)]]
    deliver(otlp_receiver, tmp_path / "s.db", posts)
    assert workflow_names(otlp_receiver)[named.removeprefix("trace_")] == "invoke_workflow Planner"
