"""Broken traces (duplicate span ids, self-parents, parent cycles) are delivered as valid
trees, the original ids kept under ``agent_otlp.*``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import agent_otlp
from agent_otlp.core.convert.ids import span_id_for, workflow_span_id_for
from agent_otlp.core.convert.records import AgentSpan
from agent_otlp.core.convert.repair import TraceLinks
from agent_otlp.historical import HistoricalExport, resolve_target
from agent_otlp.store.sqlite import SpanStore
from agent_otlp.testing import OTLPReceiver
from agent_otlp.testing._model import ReceivedSpan

TRACE = "trace_" + "1c" * 16
WORKFLOW = workflow_span_id_for(TRACE).hex()


def span(span_id: str, parent: str | None, name: str, second: int) -> dict[str, Any]:
    return {"object": "trace.span", "id": span_id, "trace_id": TRACE, "parent_id": parent,
            "started_at": f"2025-12-05T08:00:{second:02d}+00:00",
            "ended_at": f"2025-12-05T08:00:{second + 1:02d}+00:00",
            "span_data": {"type": "custom", "name": name, "data": {}}}


def broken_trace() -> list[dict[str, Any]]:
    return [
        {"object": "trace", "id": TRACE, "workflow_name": "broken"},
        span("span_root", None, "root", 0),
        span("span_a", "span_c", "a", 1),  # a -> c -> b -> a
        span("span_b", "span_a", "b", 2),
        span("span_c", "span_b", "c", 3),  # closes the loop
        span("span_self", "span_self", "self", 4),
        span("span_dup", "span_root", "dup-first", 5),
        span("span_dup", "span_root", "dup-second", 6),
        span("span_kid", "span_dup", "kid", 7),
    ]


def assert_valid_tree(spans: list[ReceivedSpan]) -> dict[str, ReceivedSpan]:
    by_id = {s.span_id: s for s in spans}
    assert len(by_id) == len(spans), "duplicate span ids"
    for s in spans:
        seen = set()
        node = s
        while node.parent_span_id:
            assert node.parent_span_id != node.span_id, f"{node.name} is its own parent"
            assert node.span_id not in seen, f"{s.name} is in a parent cycle"
            seen.add(node.span_id)
            node = by_id[node.parent_span_id]
        assert node.span_id == WORKFLOW
    return {s.name: s for s in spans}


def assert_repaired(named: dict[str, ReceivedSpan]) -> None:
    c = named["c"]
    assert c.parent_span_id == WORKFLOW
    assert c.attributes["agent_otlp.repair"] == "parent_cycle"
    assert c.attributes["agent_otlp.original_parent_id"] == "span_b"
    assert named["b"].parent_span_id == span_id_for("span_a").hex()  # the rest of the loop stays
    assert named["a"].parent_span_id == span_id_for("span_c").hex()
    me = named["self"]
    assert me.parent_span_id == WORKFLOW
    assert me.attributes["agent_otlp.repair"] == "self_parent"
    assert me.attributes["agent_otlp.original_parent_id"] == "span_self"
    first, second = named["dup-first"], named["dup-second"]
    assert first.span_id == span_id_for("span_dup").hex() and "agent_otlp.repair" not in first.attributes
    assert second.span_id == span_id_for("span_dup#2").hex()
    assert second.attributes["agent_otlp.repair"] == "duplicate_span_id"
    assert second.attributes["agent_otlp.original_span_id"] == "span_dup"
    assert named["kid"].parent_span_id == first.span_id


@pytest.mark.parametrize("store", [False, True], ids=["memory", "store"])
def test_the_exporter_repairs_broken_traces(
    otlp_receiver: OTLPReceiver, tmp_path: Path, store: bool
) -> None:
    exporter = agent_otlp.create_exporter(
        "otlp", endpoint=otlp_receiver.endpoint, env={}, schedule_delay=0.02,
        store=str(tmp_path / "spans.db") if store else None,
    )
    assert exporter.submit_items(broken_trace()) == []
    exporter.end_all_traces()
    assert exporter.shutdown(10).delivered
    spans = otlp_receiver.spans()
    assert len(spans) == 9
    assert_repaired(assert_valid_tree(spans))


def test_historical_export_from_files_repairs_broken_traces(
    otlp_receiver: OTLPReceiver, tmp_path: Path
) -> None:
    import json

    source = tmp_path / "broken.jsonl"
    source.write_text("".join(json.dumps(item) + "\n" for item in broken_trace()))
    target = resolve_target("otlp", endpoint=otlp_receiver.endpoint, env={})
    jobs = SpanStore(tmp_path / "jobs.db")
    engine = HistoricalExport(target, jobs, batch_size=3)
    result = engine.from_files([source])
    engine.close()
    assert result.sent == 9
    assert_repaired(assert_valid_tree(otlp_receiver.spans()))


def _agent_span(span_id: str, parent: str | None) -> AgentSpan:
    return AgentSpan(span_id, TRACE, parent, 0, 1, {"type": "custom"})


def test_a_loop_closed_by_any_span_of_a_long_chain_is_broken_there() -> None:
    links = TraceLinks()
    chain = [_agent_span(f"s{i}", f"s{i + 1}") for i in range(5000)]
    for item in chain:
        links.check(item)
    assert all(item.repairs is None for item in chain)
    closing = _agent_span("s5000", "s0")  # the top of the chain names the bottom as parent
    links.check(closing)
    assert closing.parent_id is None
    assert closing.repairs == {"agent_otlp.original_parent_id": "s0", "agent_otlp.repair": "parent_cycle"}
    sibling = _agent_span("other", "s17")  # not a loop
    links.check(sibling)
    assert sibling.parent_id == "s17" and sibling.repairs is None


def test_a_trace_delivered_again_keeps_its_ids_and_repairs(otlp_receiver: OTLPReceiver) -> None:
    """A client that retries sends the same spans again: they are not duplicates."""
    exporter = agent_otlp.create_exporter("otlp", endpoint=otlp_receiver.endpoint, env={},
                                          schedule_delay=0.02)
    assert exporter.submit_items(broken_trace()) == []
    assert exporter.submit_items(broken_trace()[1:]) == []
    assert exporter.shutdown(10).delivered
    spans = otlp_receiver.spans()
    assert len(spans) == 1 + 2 * 8
    once = {s.span_id: s for s in spans}
    assert len(once) == 9
    assert_repaired(assert_valid_tree(list(once.values())))
    for copy in (s for s in spans if s.name in ("c", "dup-second")):
        assert copy.attributes == once[copy.span_id].attributes
