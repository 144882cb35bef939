"""The exporter end to end against the real in-process receiver: formats, telemetry, flush."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time
from typing import Any

import pytest

import agent_otlp
from agent_otlp.core.convert.ids import workflow_span_id_for
from agent_otlp.core.pipeline.exporter import AgentExporter
from agent_otlp.core.pipeline.sampling import RATE_ATTRIBUTE
from agent_otlp.testing import OTLPReceiver, Reply

TRACE = "trace_" + "ab" * 16


def items(n: int, trace: str = TRACE, *, times: bool = True, error_on: int | None = None,
          with_trace: bool = True) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if with_trace:
        out.append({"object": "trace", "id": trace, "workflow_name": "wf", "group_id": "conv_9",
                    "metadata": {"tier": "gold"}})
    for i in range(n):
        item: dict[str, Any] = {
            "object": "trace.span", "id": f"span_{i:024x}", "trace_id": trace,
            "parent_id": None, "span_data": {"type": "custom", "name": f"s{i}", "data": {}},
        }
        if times:
            item["started_at"] = f"2024-05-01T10:00:{i % 60:02d}.000000+00:00"
            item["ended_at"] = f"2024-05-01T10:00:{i % 60:02d}.500000+00:00"
        if i == error_on:
            item["error"] = {"message": "boom", "data": None}
        out.append(item)
    return out


def make(receiver: OTLPReceiver, adapters: Any = "otlp", **kwargs: Any) -> AgentExporter:
    kwargs.setdefault("schedule_delay", 0.02)
    if receiver.protocol == "grpc":
        kwargs.setdefault("protocol", "grpc")
    return agent_otlp.create_exporter(adapters, endpoint=receiver.endpoint, env={}, **kwargs)


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_exports_over_http_and_grpc(otlp_receiver_factory: Any, protocol: str) -> None:
    receiver = otlp_receiver_factory(protocol)
    exporter = make(receiver, service_name="svc", compression="gzip")
    assert exporter.submit_items(items(3)) == []
    report = exporter.shutdown(10)
    assert report.delivered and report.pending == 0
    spans = receiver.spans()
    assert len(spans) == 4
    assert {s.trace_id for s in spans} == {"ab" * 16}
    assert all(s.resource["service.name"] == "svc" for s in spans)
    request = receiver.requests[0]
    if protocol == "http":
        assert request.compression == "gzip"
        assert request.content_type == "application/x-protobuf"
    else:
        assert request.protocol == "grpc"  # gRPC servers do not see the compression


def test_compression_none(otlp_receiver: OTLPReceiver) -> None:
    exporter = make(otlp_receiver, compression="none")
    exporter.submit_items(items(1))
    exporter.shutdown(5)
    assert otlp_receiver.requests[0].compression is None


def test_workflow_root_covers_children_and_parents_them(otlp_receiver: OTLPReceiver) -> None:
    exporter = make(otlp_receiver)
    # children first, the trace object last: links still hold
    batch = items(3)
    exporter.submit_items(batch[1:] + batch[:1])
    exporter.shutdown(5)
    (root,) = otlp_receiver.by_name("invoke_workflow wf")
    children = [s for s in otlp_receiver.spans() if s is not root and s.name != root.name]
    assert root.parent_span_id == ""
    assert root.span_id == workflow_span_id_for(TRACE).hex()
    assert root.attributes["gen_ai.conversation.id"] == "conv_9"
    assert root.attributes["openai_agents.metadata.tier"] == "gold"
    for child in children:
        assert child.parent_span_id == root.span_id
        assert root.start_ns <= child.start_ns and child.end_ns <= root.end_ns
    assert root.start_ns == min(c.start_ns for c in children)
    assert root.end_ns == max(c.end_ns for c in children)


def test_trace_without_trace_object_gets_synthesized_root(otlp_receiver: OTLPReceiver) -> None:
    exporter = make(otlp_receiver)
    exporter.submit_items(items(2, with_trace=False))
    exporter.shutdown(5)
    (root,) = [s for s in otlp_receiver.spans() if s.parent_span_id == ""]
    assert root.attributes["agent_otlp.workflow.synthesized"] is True


def test_invalid_items_reported_valid_ones_exported(otlp_receiver: OTLPReceiver) -> None:
    exporter = make(otlp_receiver)
    good = items(2)
    bad = [
        {"object": "trace.span", "id": "x", "trace_id": TRACE, "span_data": {"type": 5}},
        "not an object",
        {"object": "trace.span", "id": "y", "trace_id": TRACE,
         "span_data": {"type": "custom"}, "started_at": "tomorrow"},
    ]
    errors = exporter.submit_items([good[0], bad[0], good[1], bad[1], good[2], bad[2]])
    assert [e.field for e in errors] == ["span_data.type", "item", "started_at"]
    assert [e.index for e in errors] == [1, 3, 5]  # type: ignore[attr-defined]
    exporter.shutdown(5)
    assert len(otlp_receiver.spans()) == 3
    stats = exporter.stats.snapshot()
    assert stats["invalid_items"] == 3
    assert "started_at" in stats["last_input_error"]


def test_self_telemetry_counters(otlp_receiver: OTLPReceiver) -> None:
    exporter = make(otlp_receiver, batch_size=2)
    exporter.submit_items(items(5))
    exporter.shutdown(5)
    stats = exporter.stats.snapshot()
    dest = stats["destinations"]["otlp"]
    assert stats["received_items"] == 6
    assert stats["converted_spans"] == 5
    assert stats["invalid_items"] == 0
    assert dest["received"] == dest["exported"] == 6
    assert dest["dropped_total"] == 0
    assert dest["requests"] == len(otlp_receiver.requests) >= 3
    assert all(r.span_count <= 2 for r in otlp_receiver.requests)
    assert dest["breaker"] == "closed"
    assert dest["queue_depth"] == 0


def test_partial_success_counts_rejected(otlp_receiver: OTLPReceiver) -> None:
    otlp_receiver.respond_with(Reply(partial_rejected=1, message="one bad span"))
    exporter = make(otlp_receiver)
    exporter.submit_items(items(2))
    report = exporter.shutdown(5)
    dest = exporter.stats.snapshot()["destinations"]["otlp"]
    assert dest["dropped"]["rejected"] == 1
    assert dest["exported"] == 2
    assert "one bad span" in dest["last_error"]
    assert not report.delivered


def test_capture_content_per_destination_and_limits(otlp_receiver_factory: Any) -> None:
    on, off = otlp_receiver_factory(), otlp_receiver_factory()
    exporter = agent_otlp.create_exporter(
        ["a", "b"], env={}, schedule_delay=0.02,
        manager=_two_otlp_destinations(),
        destinations={
            "a": {"endpoint": on.endpoint, "capture_content": True, "content_limit": 120},
            "b": {"endpoint": off.endpoint},
        },
    )
    exporter.submit_items([{
        "object": "trace.span", "id": "span_1", "trace_id": TRACE,
        "span_data": {"type": "generation", "model": "m",
                      "input": [{"role": "user", "content": "q" * 500}],
                      "output": [{"role": "assistant", "content": "a" * 10}]},
    }])
    exporter.shutdown(5)
    (with_content,) = on.by_name("chat m")
    (without,) = off.by_name("chat m")
    text = with_content.attributes["gen_ai.input.messages"]
    assert len(text.encode()) <= 120
    assert json.loads(text)[0]["role"] == "user"
    assert with_content.attributes["agent_otlp.truncated"] == ["gen_ai.input.messages"]
    assert "gen_ai.output.messages" in with_content.attributes
    assert not any(k.startswith("gen_ai.input") or k.startswith("gen_ai.output")
                   for k in without.attributes)


def _two_otlp_destinations() -> Any:
    from agent_otlp.adapters import otlp
    from agent_otlp.core.plugins.manager import AdapterManager

    manager = AdapterManager(load_entry_points=False, env={})
    manager.register_adapter("a", otlp)
    manager.register_adapter("b", type("B", (), {})())
    return manager


def test_attribute_count_limit(otlp_receiver: OTLPReceiver) -> None:
    exporter = make(otlp_receiver, attribute_count_limit=5)
    exporter.submit_items([{
        "object": "trace.span", "id": "span_1", "trace_id": TRACE,
        "span_data": {"type": "agent", "name": "A", **{f"k{i}": i for i in range(10)}},
    }])
    exporter.shutdown(5)
    (span,) = otlp_receiver.by_name("invoke_agent A")
    assert len(span.attributes) == 5
    assert span.dropped_attributes_count > 0
    assert span.attributes["gen_ai.agent.name"] == "A"


def test_sampling_keeps_whole_traces_and_errors(otlp_receiver: OTLPReceiver) -> None:
    exporter = make(otlp_receiver, sample_rate=0.0)
    exporter.submit_items(items(3, "trace_" + "1" * 32))
    exporter.submit_items(items(3, "trace_" + "2" * 32, error_on=1))
    exporter.shutdown(5)
    kept = {s.trace_id for s in otlp_receiver.spans()}
    assert kept == {"2" * 32}
    assert len(otlp_receiver.spans()) == 4
    dest = exporter.stats.snapshot()["destinations"]["otlp"]
    assert dest["dropped"]["sampled_out"] == 4


def test_sampling_rate_attribute(otlp_receiver: OTLPReceiver) -> None:
    exporter = make(otlp_receiver, sample_rate=0.5)
    for i in range(20):
        exporter.submit_items(items(1, f"trace_{i:032x}"))
    exporter.shutdown(5)
    spans = otlp_receiver.spans()
    assert spans
    assert all(s.attributes[RATE_ATTRIBUTE] == 2 for s in spans)
    by_trace: dict[str, int] = {}
    for s in spans:
        by_trace[s.trace_id] = by_trace.get(s.trace_id, 0) + 1
    assert set(by_trace.values()) == {2}  # never split


def test_garbage_never_raises_into_agent_code(otlp_receiver: OTLPReceiver) -> None:
    exporter = make(otlp_receiver)
    for garbage in (None, object(), 42, "span"):
        exporter.on_sdk_span_end(garbage)
        exporter.on_sdk_trace_start(garbage)
        exporter.on_sdk_trace_end(garbage)
    errors = exporter.submit_items([object(), {"object": "trace"}])
    assert len(errors) == 2
    exporter.end_trace("trace_unknown")
    report = exporter.shutdown(5)
    assert report.pending == 0
    assert exporter.stats.invalid_items >= 12


def test_submit_never_blocks_on_a_slow_receiver(otlp_receiver: OTLPReceiver) -> None:
    otlp_receiver.set_handler(lambda request: Reply(delay=1.0))
    exporter = make(otlp_receiver, batch_size=10)
    started = time.monotonic()
    exporter.submit_items(items(200))
    assert time.monotonic() - started < 0.9
    exporter.shutdown(0.2)


def test_flush_reports_pending_then_delivers(otlp_receiver: OTLPReceiver) -> None:
    otlp_receiver.respond_with(Reply(delay=1.0))
    exporter = make(otlp_receiver, batch_size=2)
    exporter.submit_items(items(5))
    report = exporter.force_flush(0.3)
    assert not report.delivered
    assert report.pending > 0
    final = exporter.shutdown(10)
    assert final.delivered and final.pending == 0
    assert otlp_receiver.span_count() == 6
    assert exporter.shutdown(1).delivered  # idempotent
    assert exporter.force_flush(1).delivered  # after shutdown: nothing to do


def test_closed_is_public_and_the_sdk_processor_follows_it(otlp_receiver: OTLPReceiver) -> None:
    from agent_otlp.core.pipeline.api import Exporter
    from agent_otlp.sources.openai_agents import make_processor

    exporter = make(otlp_receiver)
    processor = make_processor(exporter)
    assert isinstance(exporter, Exporter)
    assert not exporter.closed and not processor.closed
    exporter.shutdown(5)  # the exporter, not the processor: the processor sees it closed
    assert exporter.closed and processor.closed
    exporter.submit_items(items(1))
    assert exporter.stats.snapshot()["dropped_intake_full"] == 2


@pytest.mark.parametrize("max_in_flight", [1, 8])
def test_shutdown_timeout_counts_what_was_left(otlp_receiver: OTLPReceiver, max_in_flight: int) -> None:
    otlp_receiver.set_handler(lambda request: Reply(delay=1.5))
    exporter = make(otlp_receiver, batch_size=1, timeout=5, max_in_flight=max_in_flight)
    exporter.submit_items(items(4))
    report = exporter.shutdown(0.3)
    assert not report.delivered
    assert report.pending > 0
    # every span is accounted for exactly once (the one in flight may still land)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        dest = exporter.stats.snapshot()["destinations"]["otlp"]
        if dest["exported"] + dest["dropped_total"] == dest["received"]:
            break
        time.sleep(0.05)
    assert dest["exported"] + dest["dropped_total"] == dest["received"] == 5
    if max_in_flight == 1:  # one request out, the rest never started
        assert dest["dropped"]["shutdown"] >= 1
    else:  # all five requests were out at once: they land after the report
        assert dest["exported"] == 5 and dest["requests"] == 5


@pytest.mark.parametrize(
    ("protocol", "explicit"), [("http", False), ("grpc", False), ("http", True)]
)
def test_atexit_flushes(otlp_receiver_factory: Any, protocol: str, explicit: bool) -> None:
    receiver = otlp_receiver_factory(protocol)
    script = textwrap.dedent(f"""
        import agent_otlp
        exporter = agent_otlp.create_exporter(
            "otlp", endpoint={receiver.endpoint!r}, env={{}}, schedule_delay=5,
            protocol={"grpc" if protocol == "grpc" else "http/protobuf"!r})
        exporter.submit_items({items(3)!r})
        if {explicit!r}:
            assert exporter.shutdown(10).delivered
        # otherwise no shutdown(): the interpreter's exit must flush
    """)
    done = subprocess.run([sys.executable, "-c", script], timeout=60, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert receiver.wait_for_spans(4, timeout=5)
    assert sorted(s.name for s in receiver.spans()) == ["invoke_workflow wf", "s0", "s1", "s2"]


class _SlowBackend:
    """A receiver handler that answers after ``delay`` seconds and records the most
    requests it was answering at once (``peak``)."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.peak = 0
        self._active = 0
        self._lock = threading.Lock()

    def __call__(self, request: Any) -> None:
        with self._lock:
            self._active += 1
            self.peak = max(self.peak, self._active)
        time.sleep(self.delay)
        with self._lock:
            self._active -= 1


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_a_slow_backend_gets_several_requests_at_once(otlp_receiver_factory: Any, protocol: str) -> None:
    receiver = otlp_receiver_factory(protocol)
    slow = _SlowBackend(0.2)
    receiver.set_handler(slow)
    exporter = make(receiver, batch_size=10, max_in_flight=4)
    assert exporter.submit_items(items(199)) == []
    exporter.end_all_traces()
    report = exporter.shutdown(30)
    assert report.delivered and report.pending == 0
    assert receiver.span_count() == 200
    assert len({s.span_id for s in receiver.spans()}) == 200
    stats = exporter.stats.snapshot()["destinations"]["otlp"]
    assert stats["exported"] == stats["received"] == 200 and stats["requests"] == 20
    assert slow.peak == 4  # never more than max_in_flight, and that many while the queue is deep


def test_a_store_keeps_one_request_in_flight(otlp_receiver: OTLPReceiver, tmp_path: Any) -> None:
    slow = _SlowBackend(0.05)
    otlp_receiver.set_handler(slow)
    exporter = make(otlp_receiver, batch_size=10, max_in_flight=4, store=str(tmp_path / "s.db"))
    assert exporter.submit_items(items(59)) == []
    exporter.end_all_traces()
    assert exporter.shutdown(30).delivered
    assert otlp_receiver.span_count() == 60
    assert slow.peak == 1  # the cursor moves in order


def test_a_batch_too_large_for_one_request_is_split(otlp_receiver: OTLPReceiver) -> None:
    from agent_otlp.core.pipeline.destination import MAX_REQUEST_BYTES

    big = items(24)
    for item in big[1:]:  # the first item is the trace
        item["span_data"]["data"] = {"blob": "x" * 300_000}  # ~7 MB in one batch of 25
    exporter = make(otlp_receiver, batch_size=512, schedule_delay=0.05)
    assert exporter.submit_items(big) == []
    exporter.end_all_traces()
    assert exporter.shutdown(30).delivered
    sizes = [r.body_size for r in otlp_receiver.requests]
    assert len(sizes) >= 2 and max(sizes) <= MAX_REQUEST_BYTES, sizes
    assert otlp_receiver.span_count() == 25
    stats = exporter.stats.snapshot()["destinations"]["otlp"]
    assert stats["exported"] == 25 and stats["dropped_total"] == 0
