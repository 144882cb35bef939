"""Offload mode honours the same exporter contract as the in-process exporter
(:class:`agent_otlp.core.pipeline.api.Exporter`): the same SDK spans accepted and rejected,
``ingest`` and the trace settings working, checked with a real receiver and real children."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

agents_tracing = pytest.importorskip("agents.tracing")

import agent_otlp  # noqa: E402
from agent_otlp.core.config.errors import ConfigError, InputError  # noqa: E402
from agent_otlp.core.convert import sdk  # noqa: E402
from agent_otlp.core.convert.records import AgentSpan, parse_item  # noqa: E402
from agent_otlp.core.pipeline.api import Exporter  # noqa: E402
from agent_otlp.core.pipeline.exporter import AgentExporter  # noqa: E402
from agent_otlp.core.pipeline.intake import INGEST_END_TRACE, INGEST_ITEM  # noqa: E402
from agent_otlp.factory import exporter_from_config  # noqa: E402
from agent_otlp.offload.entries import span_entry, span_record  # noqa: E402
from agent_otlp.offload.frames import SPAN, OffloadConfig  # noqa: E402
from agent_otlp.offload.group import OffloadGroup  # noqa: E402
from agent_otlp.offload.parent import OffloadExporter  # noqa: E402
from agent_otlp.testing import OTLPReceiver  # noqa: E402
from agent_otlp.workloads import (  # noqa: E402
    RecordingProcessor,
    produce_benchmark_traces,
    record_demo_items,
    recording_processors,
    run_demo_workflow,
)

pytestmark = pytest.mark.usefixtures("sdk_processors")


@pytest.fixture
def made() -> Iterator[list[Any]]:
    """Exporters made by a test; shut down (children reaped) afterwards."""
    exporters: list[Any] = []
    yield exporters
    for exporter in exporters:
        exporter.shutdown(5)


def _exporter(receiver: OTLPReceiver, made: list[Any], offload: bool | int) -> Any:
    exporter = agent_otlp.create_exporter(
        "otlp", endpoint=receiver.endpoint, env={}, schedule_delay=0.02, offload=offload
    )
    made.append(exporter)
    return exporter


def _one_trace_with_an_empty_span_id(exporter: Any) -> str:
    """A real SDK trace of two function spans, the second given an empty ``span_id`` before
    it ends (as a custom id generator could); returns the trace id."""
    agents_tracing.set_trace_processors([agent_otlp.make_processor(exporter)])
    with agents_tracing.trace("empty ids") as trace:
        with agents_tracing.function_span("fine", input="{}"):
            pass
        with agents_tracing.function_span("no id", input="{}") as span:
            span._span_id = ""
    agents_tracing.set_trace_processors([])
    trace_id: str = trace.trace_id
    return trace_id


@pytest.mark.parametrize("offload", [False, True, 2], ids=["in-process", "offload", "offload=2"])
def test_sdk_span_with_empty_span_id_is_rejected_in_every_mode(
    otlp_receiver: OTLPReceiver, made: list[Any], offload: bool | int
) -> None:
    exporter = _exporter(otlp_receiver, made, offload)
    trace_id = _one_trace_with_an_empty_span_id(exporter)
    assert exporter.force_flush(10).delivered
    snapshot = exporter.stats.snapshot()
    assert snapshot["invalid_items"] == 1
    assert snapshot["converted_spans"] == 1
    names = sorted(s.name for s in otlp_receiver.spans()
                   if s.trace_id == trace_id.removeprefix("trace_"))
    assert len(names) == 2 and not any("no id" in name for name in names), names


@pytest.mark.parametrize("offload", [False, True, 2], ids=["in-process", "offload", "offload=2"])
def test_ingest_delivers_parsed_records_in_every_mode(
    otlp_receiver: OTLPReceiver, made: list[Any], offload: bool | int
) -> None:
    exporter = _exporter(otlp_receiver, made, offload)
    assert isinstance(exporter, Exporter)
    assert isinstance(exporter, (AgentExporter, OffloadExporter, OffloadGroup))
    records = [parse_item(item) for item in record_demo_items()]
    trace_id = next(r.trace_id for r in records if isinstance(r, AgentSpan))
    exporter.ingest([(INGEST_ITEM, record, 0) for record in records])
    exporter.ingest([(INGEST_END_TRACE, trace_id, 0)])
    exporter.set_trace_idle_timeout(60.0)
    exporter.set_trace_end_grace(60.0)
    assert exporter.force_flush(10).delivered
    spans = [s for s in otlp_receiver.spans() if s.trace_id == trace_id.removeprefix("trace_")]
    assert len(spans) == 14  # 13 spans and the workflow span the end of the trace sent
    assert exporter.stats.snapshot()["invalid_items"] == 0
    assert not exporter.closed
    exporter.shutdown(10)
    assert exporter.closed  # public, in every mode: the SDK processor reads it


@pytest.mark.parametrize("capture", [False, True])
def test_shared_sdk_fast_path_matches_the_validated_path_and_the_wire(capture: bool) -> None:
    keep = RecordingProcessor()
    with recording_processors([keep]):
        run_demo_workflow()
        run_demo_workflow(metadata={"tenant": "acme"})
        produce_benchmark_traces(2)
    wired = 0
    for span in keep.spans:
        record = sdk.sdk_span_record(span, capture)
        assert record == parse_item(sdk.sdk_span_item(span, capture))
        entry = span_entry(span, capture)
        if entry[0] == SPAN:  # what the child rebuilds from the wire
            assert span_record(entry) == record
            wired += 1
    assert wired > 0


def test_shared_sdk_fast_path_rejects_an_empty_span_id() -> None:
    keep = RecordingProcessor()
    with (recording_processors([keep]), agents_tracing.trace("empty"),
          agents_tracing.function_span("x") as span):
        span._span_id = ""
    (span,) = keep.spans
    assert sdk.sdk_span_fields(span) is None
    with pytest.raises(InputError, match="id"):
        sdk.sdk_span_record(span, False)


def test_the_child_builder_must_be_importable_by_name() -> None:
    config = OffloadConfig("otlp", None, None, None, {}, {})
    with pytest.raises(ConfigError, match="build_in_process"):
        OffloadExporter(config, lambda c: agent_otlp.create_exporter("console", env={}))


def test_a_child_that_does_not_answer_in_time_leaves_an_in_process_exporter(
    otlp_receiver: OTLPReceiver, made: list[Any], caplog: pytest.LogCaptureFixture
) -> None:
    config = OffloadConfig("otlp", None, None, None,
                           {"endpoint": otlp_receiver.endpoint, "schedule_delay": 0.02}, {})
    exporter = OffloadExporter(config, exporter_from_config, start_timeout=0.0)
    made.append(exporter)
    assert "did not start" in caplog.text
    assert exporter.child_pid is None and not exporter.in_child
    writers = [t for t in threading.enumerate() if t.name == "agent-otlp-offload-writer"]
    for thread in writers:
        thread.join(2.0)
    assert not any(t.is_alive() for t in writers)
    records = [parse_item(item) for item in record_demo_items()]
    exporter.ingest([(INGEST_ITEM, record, 0) for record in records])
    exporter.end_all_traces()
    assert exporter.force_flush(10).delivered
    assert len(otlp_receiver.spans()) == 14
    snapshot = exporter.stats.snapshot()
    assert snapshot["offload"]["mode"] == "in-process fallback"
    assert snapshot["converted_spans"] == 13
