"""Offload mode: the pipeline in a child process, checked end to end with a real receiver."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

agents_tracing = pytest.importorskip("agents.tracing")

import agent_otlp  # noqa: E402
from agent_otlp.core.config.errors import ConfigError  # noqa: E402
from agent_otlp.core.convert.ids import span_id_for, workflow_span_id_for  # noqa: E402
from agent_otlp.core.pipeline.intake import INTAKE_WAIT  # noqa: E402
from agent_otlp.core.plugins.manager import AdapterManager  # noqa: E402
from agent_otlp.factory import exporter_from_config, offload_requested  # noqa: E402
from agent_otlp.offload import parent as offload  # noqa: E402
from agent_otlp.offload.entries import span_entry  # noqa: E402
from agent_otlp.offload.frames import CHILD_NICE, SPAN, OffloadConfig  # noqa: E402
from agent_otlp.offload.group import OffloadGroup, merged  # noqa: E402
from agent_otlp.offload.lane import ChildLane  # noqa: E402
from agent_otlp.offload.parent import OffloadExporter  # noqa: E402
from agent_otlp.testing import OTLPReceiver, ReceivedSpan, Reply  # noqa: E402
from agent_otlp.workloads import DemoResult, record_demo_items, run_demo_workflow  # noqa: E402

pytestmark = pytest.mark.usefixtures("sdk_processors")

SECRET = "Bearer s3cr3t-offload-7f1e"


@pytest.fixture
def exporters() -> Iterator[list[Any]]:
    """Offload exporters made by a test; shut down (and their child reaped) afterwards."""
    made: list[Any] = []
    yield made
    for exporter in made:
        exporter.shutdown(5)


def _offload_exporter(
    receiver: OTLPReceiver, made: list[Any], offload_count: int = 1, **kwargs: Any
) -> Any:
    exporter = agent_otlp.create_exporter(
        "otlp", endpoint=receiver.endpoint, env={}, schedule_delay=0.02,
        offload=offload_count, **kwargs
    )
    assert isinstance(exporter, OffloadExporter if offload_count == 1 else OffloadGroup)
    made.append(exporter)
    return exporter


def _lane(exporter: OffloadExporter) -> ChildLane:
    lane = exporter._lane
    assert lane is not None
    return lane


def _child(exporter: OffloadExporter) -> subprocess.Popen[bytes]:
    """The child process of ``exporter``."""
    return _lane(exporter).process.popen


def _check_tree(result: DemoResult, spans: dict[str, ReceivedSpan]) -> None:
    hex_trace = result.trace_id.removeprefix("trace_")
    workflow = spans[workflow_span_id_for(result.trace_id).hex()]
    assert workflow.name == "invoke_workflow Customer support"
    assert workflow.parent_span_id == ""
    assert workflow.attributes["gen_ai.conversation.id"] == "conv_demo_0001"
    assert workflow.attributes["openai_agents.metadata.customer_tier"] == "gold"
    for expected in result.expected:
        span = spans[span_id_for(result.span_ids[expected.key]).hex()]
        assert span.trace_id == hex_trace
        parent = (
            span_id_for(result.span_ids[expected.parent_key]).hex()
            if expected.parent_key else workflow.span_id
        )
        assert span.parent_span_id == parent, expected.key
        assert span.attributes["openai_agents.span_type"] == expected.sdk_type
        assert workflow.start_ns <= span.start_ns <= span.end_ns <= workflow.end_ns
        if expected.sdk_type == "generation":
            assert "gen_ai.input.messages" not in span.attributes  # content off by default


def _spans_of(receiver: OTLPReceiver, result: DemoResult) -> dict[str, ReceivedSpan]:
    hex_trace = result.trace_id.removeprefix("trace_")
    return {s.span_id: s for s in receiver.spans() if s.trace_id == hex_trace}


def test_instrument_with_env_var_delivers_the_demo_tree(otlp_receiver: OTLPReceiver) -> None:
    env = {"AGENT_OTLP_OFFLOAD": "true"}
    processor = agent_otlp.instrument_openai_agents(
        adapters="otlp", endpoint=otlp_receiver.endpoint, env=env, schedule_delay=0.02,
        replace_openai_exporter=True,
    )
    exporter = processor.exporter  # type: ignore[attr-defined]
    try:
        assert isinstance(exporter, OffloadExporter)
        assert exporter.child_pid != os.getpid()
        result = run_demo_workflow()
        processor.force_flush()
        spans = _spans_of(otlp_receiver, result)
        assert len(spans) == result.span_count + 1 == 14
        _check_tree(result, spans)
    finally:
        report = exporter.shutdown(10)
    assert report.delivered


def test_offload_switch_values() -> None:
    assert offload_requested({}) == 0
    assert offload_requested({"AGENT_OTLP_OFFLOAD": "on"}) == 1
    assert offload_requested({"AGENT_OTLP_OFFLOAD": "0"}) == 0
    assert offload_requested({"AGENT_OTLP_OFFLOAD": " 3 "}) == 3
    for bad in ("maybe", "9", "-2", "1.5"):
        with pytest.raises(ConfigError, match="AGENT_OTLP_OFFLOAD"):
            offload_requested({"AGENT_OTLP_OFFLOAD": bad})
    for bad_count in (-1, 9, 2.0):
        with pytest.raises(ConfigError, match="offload"):
            agent_otlp.create_exporter("otlp", env={}, offload=bad_count)
    # several children would each write the one store: refused, from the argument or the env
    with pytest.raises(ConfigError, match="span store"):
        agent_otlp.create_exporter("otlp", env={}, offload=2, store=True)
    with pytest.raises(ConfigError, match="span store"):
        agent_otlp.create_exporter("otlp", env={"AGENT_OTLP_STORE": "on"}, offload=2)
    with pytest.raises(ConfigError, match="offload"):
        agent_otlp.create_exporter("otlp", env={}, offload=True, manager=AdapterManager(env={}))
    # settings are validated in the agent process, before any child is started
    with pytest.raises(ConfigError):
        agent_otlp.create_exporter("otlp", env={}, offload=True, protocol="carrier-pigeon")


def test_force_flush_round_trip_and_stats(
    otlp_receiver: OTLPReceiver, exporters: list[Any]
) -> None:
    exporter = _offload_exporter(otlp_receiver, exporters)
    agents_tracing.set_trace_processors([agent_otlp.make_processor(exporter)])
    result = run_demo_workflow()
    report = exporter.force_flush(10)
    assert report.delivered and report.pending == 0
    assert [d.name for d in report.destinations] == ["otlp"]
    # the flush answered after delivery: the spans are at the receiver, no waiting
    assert len(_spans_of(otlp_receiver, result)) == 14
    snapshot = exporter.stats.snapshot()
    assert snapshot["converted_spans"] == 13
    assert snapshot["destinations"]["otlp"]["exported"] == 14
    assert snapshot["dropped_intake_full"] == 0
    assert snapshot["offload"]["mode"] == "child process"
    assert snapshot["offload"]["child_pid"] == exporter.child_pid
    assert snapshot["offload"]["child_pids"] == [exporter.child_pid]
    assert snapshot["offload"]["processes"] == 1
    assert snapshot["offload"]["child_maxrss_kb"] > 0
    assert exporter.pending() == 0
    assert not exporter.is_full()


def test_shutdown_delivers_and_stops_the_child(
    otlp_receiver: OTLPReceiver, exporters: list[Any]
) -> None:
    exporter = _offload_exporter(otlp_receiver, exporters)
    processor = agent_otlp.make_processor(exporter)
    agents_tracing.set_trace_processors([processor])
    result = run_demo_workflow()
    errors = exporter.submit_items([*record_demo_items(), {"object": "trace.span", "id": 5}])
    assert len(errors) == 1
    report = exporter.shutdown(10)
    assert report.delivered, exporter.stats.snapshot()
    _check_tree(result, _spans_of(otlp_receiver, result))
    assert len(otlp_receiver.spans()) == 28  # the live trace and the submitted one
    assert _child(exporter).poll() is not None
    # after shutdown: nothing raises, drops are counted, shutdown is idempotent
    processor.on_span_end(object())
    exporter.end_trace("trace_x")
    assert exporter.shutdown(1).delivered
    assert exporter.stats.snapshot()["dropped_intake_full"] >= 1


def test_secrets_stay_off_the_command_line_and_out_of_logs(
    otlp_receiver: OTLPReceiver,
    exporters: list[Any],
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="agent_otlp")
    # the backend echoes the token in a permanent error: the child logs the failure
    otlp_receiver.respond_with(Reply(status=400, message=f"bad credentials {SECRET}"))
    exporter = _offload_exporter(otlp_receiver, exporters, headers={"Authorization": SECRET})
    pid = exporter.child_pid
    with open(f"/proc/{pid}/cmdline", "rb") as fh:
        cmdline = fh.read()
    with open(f"/proc/{pid}/environ", "rb") as fh:
        environ = fh.read()
    token = SECRET.split()[1].encode()
    assert token not in cmdline and token not in environ
    agents_tracing.set_trace_processors([agent_otlp.make_processor(exporter)])
    run_demo_workflow()
    exporter.force_flush(10)
    run_demo_workflow()
    assert exporter.shutdown(10).delivered
    assert otlp_receiver.requests[-1].headers["authorization"] == SECRET
    out, err = capfd.readouterr()
    assert "failing" in err and "****" in err  # the child's log line, redacted
    assert SECRET.split()[1] not in out + err + caplog.text
    assert SECRET.split()[1] not in str(exporter.stats.snapshot())


def test_child_killed_mid_stream_falls_back_in_process(
    otlp_receiver: OTLPReceiver,
    exporters: list[Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="agent_otlp")
    exporter = _offload_exporter(otlp_receiver, exporters)
    agents_tracing.set_trace_processors([agent_otlp.make_processor(exporter)])
    first = run_demo_workflow()
    assert exporter.force_flush(10).delivered
    in_flight = run_demo_workflow()  # not flushed: in the queue, the pipe or the child
    os.kill(exporter.child_pid or 0, signal.SIGKILL)
    _child(exporter).wait(5)
    after = [run_demo_workflow() for _ in range(3)]  # the agent code must not notice
    report = exporter.shutdown(10)
    snapshot = exporter.stats.snapshot()
    assert snapshot["offload"]["child_lost"] is True
    assert snapshot["offload"]["mode"] == "in-process fallback"
    lost = snapshot["offload"]["possibly_lost_in_child"]
    assert 0 <= lost <= in_flight.span_count
    assert report.delivered is (lost == 0)
    for result in [first, *after]:
        spans = _spans_of(otlp_receiver, result)
        assert len(spans) == 14, result.trace_id
        _check_tree(result, spans)
    warnings = [r for r in caplog.records if "ended unexpectedly" in r.getMessage()]
    assert len(warnings) == 1


def test_two_processes_each_export_whole_traces(
    otlp_receiver: OTLPReceiver, exporters: list[Any]
) -> None:
    exporter = _offload_exporter(otlp_receiver, exporters, offload_count=2)
    assert isinstance(exporter, OffloadGroup)
    pids = [lane.child_pid for lane in exporter.lanes]
    assert len(set(pids)) == 2 and None not in pids
    # one budget for the frames waiting in this process, shared by the children
    assert [_lane(lane).writer.max_bytes for lane in exporter.lanes] == [offload.MAX_PENDING_BYTES // 2] * 2
    agents_tracing.set_trace_processors([agent_otlp.make_processor(exporter)])
    results = [run_demo_workflow() for _ in range(24)]
    # items from a file take the same routes: trace by trace (the errors keep their index)
    items = record_demo_items()
    errors = exporter.submit_items([*items[:5], {"object": "trace.span", "id": 5}, *items[5:]])
    assert [getattr(e, "index", None) for e in errors] == [5]
    report = exporter.force_flush(10)
    assert report.delivered and report.pending == 0
    assert [(d.name, d.delivered, d.pending) for d in report.destinations] == [("otlp", True, 0)]
    for result in results:
        spans = _spans_of(otlp_receiver, result)
        assert len(spans) == 14, result.trace_id
        _check_tree(result, spans)  # one child saw the whole trace: one workflow span
    # the submitted trace has no end: its workflow span waits for the idle timeout or shutdown
    assert len(otlp_receiver.spans()) == 25 * 14 - 1
    snapshot = exporter.stats.snapshot()
    assert snapshot["converted_spans"] == 25 * 13
    assert snapshot["destinations"]["otlp"]["exported"] == 25 * 14 - 1
    assert snapshot["destinations"]["otlp"]["breaker"] == "closed"
    assert snapshot["offload"]["processes"] == 2
    assert snapshot["offload"]["child_pids"] == pids
    assert snapshot["offload"]["mode"] == "child process"
    # both children did part of the work (24 traces all in one: a 2**-23 chance)
    per_child = [lane.stats.snapshot()["converted_spans"] for lane in exporter.lanes]
    assert all(per_child) and sum(per_child) == 25 * 13
    assert exporter.pending() == 0 and not exporter.is_full()
    exporter.on_sdk_span_end(object())  # no trace_id: one child counts it, nothing raises
    assert exporter.stats.snapshot()["invalid_items"] == 2  # with the submitted bad item
    assert exporter.shutdown(10).delivered
    assert len(otlp_receiver.spans()) == 25 * 14
    assert all(_child(lane).poll() is not None for lane in exporter.lanes)
    assert exporter.shutdown(1).delivered  # idempotent


def test_children_run_below_the_agents_priority(
    otlp_receiver: OTLPReceiver, exporters: list[Any]
) -> None:
    exporter = _offload_exporter(otlp_receiver, exporters)
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    assert os.getpriority(os.PRIO_PROCESS, exporter.child_pid or 0) == min(19, ours + CHILD_NICE)


def test_full_queue_waits_a_bounded_time_then_drops(
    otlp_receiver: OTLPReceiver, exporters: list[Any]
) -> None:
    config = OffloadConfig("otlp", None, None, None,
                           {"endpoint": otlp_receiver.endpoint, "schedule_delay": 0.02}, {})
    exporter = OffloadExporter(config, exporter_from_config, max_pending_bytes=100_000)
    exporters.append(exporter)
    pid = exporter.child_pid or 0
    os.kill(pid, signal.SIGSTOP)  # a stalled child: the pipe fills, then the frames here
    try:
        started = time.monotonic()
        for i in range(600):  # 12 MB: more than the pipe (1 MB) and the 100 kB allowed here
            item = {"object": "trace", "id": f"trace_{i:032x}", "workflow_name": f"{i:05d}" * 4000}
            exporter.submit_items([item])
        elapsed = time.monotonic() - started
        dropped = exporter.stats.dropped_intake_full
        assert dropped > 0
        # one bounded wait, then drops at once during the cool-down
        assert elapsed < INTAKE_WAIT + 2.0
        assert exporter.is_full()
    finally:
        os.kill(pid, signal.SIGCONT)
    report = exporter.shutdown(10)
    assert report.delivered
    snapshot = exporter.stats.snapshot()
    assert snapshot["dropped_intake_full"] == dropped
    assert snapshot["received_items"] + dropped == 600  # every item delivered or counted


def test_span_entry_matches_the_in_process_record() -> None:
    """The fields sent to the child rebuild the record the in-process fast path makes."""
    from agent_otlp.core.convert.records import parse_timestamp
    from agent_otlp.core.convert.sdk import sdk_span_record

    captured: list[Any] = []

    class Keep(agents_tracing.TracingProcessor):  # type: ignore[misc, name-defined]
        def on_trace_start(self, trace: Any) -> None: ...
        def on_trace_end(self, trace: Any) -> None: ...
        def on_span_start(self, span: Any) -> None: ...
        def on_span_end(self, span: Any) -> None:
            captured.append(span)
        def shutdown(self) -> None: ...
        def force_flush(self) -> None: ...

    agents_tracing.set_trace_processors([Keep()])
    with agents_tracing.trace("plain"), agents_tracing.function_span("lookup", input="{}"):
        pass
    (span,) = captured
    entry = span_entry(span, False)
    assert entry[0] == SPAN
    _, span_id, trace_id, parent_id, started, ended, data, error = entry
    record = sdk_span_record(span, False)
    assert (record.id, record.trace_id, record.parent_id, record.data, record.error) == (
        span_id, trace_id, parent_id, data, error)
    assert record.data["type"] == "function" and record.data["name"] == "lookup"
    assert (record.started_ns, record.ended_ns) == (
        parse_timestamp(started, "started_at", span_id), parse_timestamp(ended, "ended_at", span_id))


def test_merged_statistics_of_several_children() -> None:
    combined = merged([
        {"exported": 3, "child_lost": False, "last_error": "", "breaker": "closed",
         "dropped": {"failed": 1}},
        {"exported": 4, "child_lost": True, "last_error": "503", "breaker": "open",
         "dropped": {"rejected": 2}},
        {"exported": 0, "child_lost": False, "last_error": "timeout", "breaker": "half-open",
         "dropped": {}},
    ])
    assert combined == {"exported": 7, "child_lost": True, "last_error": "503", "breaker": "open",
                      "dropped": {"failed": 1, "rejected": 2}}


def test_pending_is_zero_right_after_a_flush(
    otlp_receiver: OTLPReceiver, exporters: list[Any]
) -> None:
    """A frame the writer thread has not let go of yet was read by the child once the child
    answered a later request: it is not pending (counting it made ``pending()`` report 1 in
    about one flush in 16)."""
    exporter = _offload_exporter(otlp_receiver, exporters, offload_count=2)
    agents_tracing.set_trace_processors([agent_otlp.make_processor(exporter)])
    for _ in range(40):
        run_demo_workflow()
        assert exporter.force_flush(10).delivered
        assert exporter.pending() == 0
