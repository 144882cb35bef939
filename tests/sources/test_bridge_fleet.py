"""Fleet mode of the ingest bridge (``serve --fleet``): two bridges given different parts of
one trace forward every span at once and, between them, send one workflow span whose id and
times do not depend on which bridge got which part."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agent_otlp import create_exporter
from agent_otlp.core.convert.ids import workflow_span_id_for
from agent_otlp.core.pipeline.exporter import AgentExporter
from agent_otlp.sources.bridge import BridgeServer
from agent_otlp.sources.bridge.fleet import enable_fleet, time_trace_objects
from agent_otlp.testing import OTLPReceiver
from agent_otlp.workloads import DEMO_SPAN_COUNT, record_demo_items
from test_bridge import post_items

FleetFactory = Callable[[OTLPReceiver], BridgeServer]


@pytest.fixture
def fleet_bridge(tmp_path: Path) -> Iterator[FleetFactory]:
    """Bridges in fleet mode, each with its own span store, as ``serve --fleet`` runs them."""
    made: list[BridgeServer] = []

    def make(receiver: OTLPReceiver) -> BridgeServer:
        exporter = create_exporter("otlp", endpoint=receiver.endpoint, env={}, schedule_delay=0.05,
                                   store=tmp_path / f"bridge-{len(made)}.db")
        exporter.set_trace_idle_timeout(60.0)  # nothing may wait for it in fleet mode
        bridge = BridgeServer(exporter, port=0)
        enable_fleet(bridge, exporter)
        made.append(bridge.start())
        return bridge

    yield make
    for bridge in made:
        bridge.stop(timeout=5.0)


def _workflows(receiver: OTLPReceiver) -> list[Any]:
    return [s for s in receiver.spans() if s.name.startswith("invoke_workflow")]


def _halves(items: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The trace object with every other span, and the remaining spans (the root among them)."""
    trace = [i for i in items if i["object"] == "trace"]
    spans = [i for i in items if i["object"] == "trace.span"]
    roots = [s for s in spans if s.get("parent_id") is None]
    children = [s for s in spans if s.get("parent_id") is not None]
    return trace + children[::2], roots + children[1::2]


def test_two_bridges_with_halves_of_a_trace_send_one_workflow_span(
    fleet_bridge: FleetFactory, otlp_receiver: OTLPReceiver
) -> None:
    items = record_demo_items()
    first, second = _halves(items)
    one, two = fleet_bridge(otlp_receiver), fleet_bridge(otlp_receiver)
    assert post_items(one.url, first).status == 200
    assert post_items(two.url, second).status == 200
    # forwarded at once: no idle timeout (60 s) or end grace is waited for
    assert otlp_receiver.wait_for_spans(DEMO_SPAN_COUNT + 1, timeout=10)
    spans = otlp_receiver.spans()
    ids = [s.span_id for s in spans]
    assert len(ids) == len(set(ids)) == DEMO_SPAN_COUNT + 1
    (workflow,) = _workflows(otlp_receiver)
    trace_id = items[0]["id"]
    assert workflow.span_id == workflow_span_id_for(trace_id).hex()
    assert workflow.name == f"invoke_workflow {items[0]['workflow_name']}"
    # every parent named is there: the workflow span parents the root spans
    assert all(not s.parent_span_id or s.parent_span_id in set(ids) for s in spans)


def test_the_workflow_span_is_the_same_whichever_bridge_gets_the_trace_object(
    fleet_bridge: FleetFactory, otlp_receiver_factory: Callable[..., OTLPReceiver]
) -> None:
    items = record_demo_items()
    receivers = [otlp_receiver_factory("http"), otlp_receiver_factory("http")]
    for receiver in receivers:
        assert post_items(fleet_bridge(receiver).url, items).status == 200
        assert receiver.wait_for_spans(DEMO_SPAN_COUNT + 1, timeout=10)
    a, b = (_workflows(r)[0] for r in receivers)
    assert (a.span_id, a.start_ns, a.end_ns, a.name) == (b.span_id, b.start_ns, b.end_ns, b.name)
    # the times are those the request's root spans cover
    roots = [s for s in receivers[0].spans() if s.parent_span_id == a.span_id]
    assert roots
    assert (a.start_ns, a.end_ns) == (min(s.start_ns for s in roots), max(s.end_ns for s in roots))


def test_trace_objects_get_the_times_of_their_request() -> None:
    trace = {"object": "trace", "id": "trace_" + "a" * 32, "workflow_name": "w"}
    span = {"object": "trace.span", "id": "span_" + "b" * 24, "trace_id": trace["id"],
            "parent_id": "span_" + "c" * 24, "started_at": "2025-01-02T03:04:05.000001+00:00",
            "ended_at": "2025-01-02T03:04:06.5+00:00", "span_data": {"type": "custom"}}
    timed = {**trace, "id": "trace_" + "d" * 32, "started_at": "2025-01-01T00:00:00+00:00"}
    alone = {**trace, "id": "trace_" + "e" * 32}
    items: list[Any] = [trace, span, timed, alone]
    raw: list[bytes | None] = [b"{}", b"{}", b"{}", b"{}"]
    assert time_trace_objects(items, raw, received_ns=1_700_000_000_123_456_000) == 2
    assert (items[0]["started_at"], items[0]["ended_at"]) == (
        "2025-01-02T03:04:05.000001+00:00", "2025-01-02T03:04:06.500000+00:00")
    assert items[2] is timed  # its own times are kept
    assert items[3]["started_at"] == items[3]["ended_at"] == "2023-11-14T22:13:20.123456+00:00"
    assert raw == [None, b"{}", b"{}", None]  # stored as timed, not as the client sent it


def test_fleet_refuses_a_destination_that_samples(tmp_path: Path, otlp_receiver: OTLPReceiver) -> None:
    result = subprocess.run(
        [sys.executable, "-c", "from agent_otlp.cli import main; main()", "serve", "--fleet",
         "--no-store", "--port", "0", "--adapter", "otlp", "--endpoint", otlp_receiver.endpoint],
        capture_output=True, text=True, timeout=60, check=False,
        env={"PATH": "/usr/bin:/bin", "AGENT_OTLP_SAMPLE_RATE": "0.5", "HOME": str(tmp_path)},
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "--fleet" in result.stderr and "collector-config --fleet" in result.stderr


def test_exporter_forwarding_at_once_keeps_no_trace_open(otlp_receiver: OTLPReceiver) -> None:
    exporter: AgentExporter = create_exporter("otlp", endpoint=otlp_receiver.endpoint, env={},
                                              schedule_delay=0.05)
    exporter.forward_at_once()
    items = record_demo_items()
    exporter.submit_items([i for i in items if i["object"] == "trace.span"])
    assert otlp_receiver.wait_for_spans(DEMO_SPAN_COUNT, timeout=10)
    exporter.shutdown(5.0)
    assert _workflows(otlp_receiver) == []  # none synthesized for a trace object never seen
