"""Spans whose parent never arrives: when its trace finishes, each such parent gets a stand-in
under the workflow span, with the id its children name; a parent that arrives later than its
children but before the trace finishes gets none. With and without the span store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import agent_otlp
import raaf_payloads as raaf
from agent_otlp.core.convert.ids import span_id_for, workflow_span_id_for
from agent_otlp.testing import OTLPReceiver, ReceivedSpan

STAND_IN = "missing_parent"


def _export(receiver: OTLPReceiver, posts: list[list[dict[str, Any]]], store: Path | None) -> list[ReceivedSpan]:
    kwargs: dict[str, Any] = {"schedule_delay": 0.02}
    if store is not None:
        kwargs["store"] = str(store)
    exporter = agent_otlp.create_exporter("otlp", endpoint=receiver.endpoint, env={}, **kwargs)
    for post in posts:  # one request each, as RAAF's processor sends a batch
        assert exporter.submit_items(post) == []
    assert exporter.shutdown(20).delivered
    return receiver.spans()


def _stand_ins(spans: list[ReceivedSpan]) -> list[ReceivedSpan]:
    return [s for s in spans if s.attributes.get("agent_otlp.repair") == STAND_IN]


@pytest.mark.parametrize("durable", [False, True], ids=["memory", "store"])
def test_raafs_unsent_trace_root_gets_a_stand_in_under_the_workflow_span(
        otlp_receiver: OTLPReceiver, tmp_path: Path, durable: bool) -> None:
    trace, root = raaf.trace_id(), raaf.span_id()  # the :trace root span RAAF never sends
    agent, tool, later_agent = raaf.span_id(), raaf.span_id(), raaf.span_id()
    posts = [
        [raaf.trace_object(trace),  # spans are sent as they end: the child first
         raaf.span(trace, tool, agent, {"type": "function", "name": "search", "input": "{}",
                                         "output": "ok"}, start=2, end=3)],
        [raaf.trace_object(trace),
         raaf.span(trace, agent, root, raaf.agent_data("Researcher"), start=1, end=5),
         raaf.span(trace, later_agent, root, raaf.agent_data("Writer"), start=6, end=9)],
    ]
    spans = _export(otlp_receiver, posts, tmp_path / "s.db" if durable else None)
    by_id = {s.span_id: s for s in spans}
    workflow = by_id[workflow_span_id_for(trace).hex()]
    (stand_in,) = _stand_ins(spans)  # one, for the root; none for the agent that came late
    assert stand_in.span_id == span_id_for(root).hex()
    assert stand_in.parent_span_id == workflow.span_id
    assert stand_in.name == "missing parent"
    assert stand_in.attributes["openai_agents.span_id"] == root
    assert (stand_in.start_ns, stand_in.end_ns) == (by_id[span_id_for(agent).hex()].start_ns,
                                                    by_id[span_id_for(later_agent).hex()].end_ns)
    assert by_id[span_id_for(tool).hex()].parent_span_id == span_id_for(agent).hex()
    assert by_id[span_id_for(agent).hex()].parent_span_id == stand_in.span_id
    assert by_id[span_id_for(agent).hex()].attributes["openai_agents.parent_id"] == root
    assert len(spans) == 5  # workflow, stand-in, three spans


def test_an_sdk_span_whose_parent_is_lost_hangs_under_a_stand_in(otlp_receiver: OTLPReceiver) -> None:
    trace = "trace_" + "5" * 32
    items: list[dict[str, Any]] = [
        {"object": "trace", "id": trace, "workflow_name": "support"},
        {"object": "trace.span", "id": "span_" + "a" * 24, "trace_id": trace, "parent_id": None,
         "started_at": "2025-03-01T10:00:00+00:00", "ended_at": "2025-03-01T10:00:09+00:00",
         "span_data": {"type": "agent", "name": "Triage"}},
        {"object": "trace.span", "id": "span_" + "b" * 24, "trace_id": trace,
         "parent_id": "span_" + "c" * 24,  # its parent was refused or dropped on the way
         "started_at": "2025-03-01T10:00:02+00:00", "ended_at": "2025-03-01T10:00:03+00:00",
         "span_data": {"type": "function", "name": "lookup"}},
    ]
    spans = _export(otlp_receiver, [items], None)
    (stand_in,) = _stand_ins(spans)
    assert stand_in.span_id == span_id_for("span_" + "c" * 24).hex()
    assert stand_in.parent_span_id == workflow_span_id_for(trace).hex()
    assert (stand_in.start_ns, stand_in.end_ns) == next(
        (s.start_ns, s.end_ns) for s in spans if s.name == "execute_tool lookup")


def test_a_whole_tree_in_any_order_gets_no_stand_in(otlp_receiver: OTLPReceiver) -> None:
    trace, ids = raaf.trace_id(), [raaf.span_id() for _ in range(4)]
    chain = [raaf.span(trace, ids[i], ids[i - 1] if i else None, raaf.agent_data(f"a{i}"), i, 10 - i)
             for i in range(4)]
    spans = _export(otlp_receiver, [[raaf.trace_object(trace)], chain[::-1]], None)
    assert len(spans) == 5
    assert not _stand_ins(spans)


def test_a_parent_later_than_its_trace_takes_no_stand_ins_id(otlp_receiver: OTLPReceiver) -> None:
    trace, agent, tool = raaf.trace_id(), raaf.span_id(), raaf.span_id()
    exporter = agent_otlp.create_exporter("otlp", endpoint=otlp_receiver.endpoint, env={},
                                          schedule_delay=0.02)
    exporter.submit_items([raaf.trace_object(trace),
                           raaf.span(trace, tool, agent, {"type": "function", "name": "search"}, 2, 3)])
    exporter.end_trace(trace)  # e.g. quiet for longer than the idle timeout
    exporter.submit_items([raaf.span(trace, agent, None, raaf.agent_data("Researcher"), 1, 5)])
    assert exporter.shutdown(10).delivered
    spans = otlp_receiver.spans()
    assert len({s.span_id for s in spans}) == len(spans) == 4  # workflow, stand-in, tool, agent
    (stand_in,) = _stand_ins(spans)
    assert stand_in.span_id == span_id_for(agent).hex()
    (late,) = [s for s in spans if s.name == "invoke_agent Researcher"]
    assert late.span_id == span_id_for(agent + "#2").hex()
    assert late.attributes["agent_otlp.original_span_id"] == agent
