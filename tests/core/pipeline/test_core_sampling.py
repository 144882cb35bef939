"""Whole-trace sampling buffer and idle-trace finalization."""

from __future__ import annotations

from typing import Any

import agent_otlp
from agent_otlp.core.convert.records import SpanRecord, StatusCode
from agent_otlp.core.pipeline.sampling import (
    RATE_ATTRIBUTE,
    SamplingDecision,
    TraceBuffer,
    TraceSummary,
    ratio_keeps,
)
from agent_otlp.testing import OTLPReceiver


def record(trace: str, *, error: bool = False, guardrail: bool | None = None) -> SpanRecord:
    attrs: dict[str, Any] = {}
    if guardrail is not None:  # what the conversion writes for an SDK guardrail span
        attrs = {"gen_ai.guardrail.component.name": "pii",
                 "gen_ai.guardrail.result.type": "tripwire_triggered",
                 "gen_ai.guardrail.result.value": "true" if guardrail else "false"}
    return SpanRecord(
        b"\x01" * 16, b"\x02" * 8, b"", "s", 1, 1, 2, attrs,
        status_code=StatusCode.ERROR if error else StatusCode.UNSET,
        source_trace_id=trace,
    )


class Decider:
    def __init__(self, keep: bool, rate: int = 1) -> None:
        self.keep, self.rate = keep, rate
        self.seen: list[TraceSummary] = []

    def __call__(self, summary: TraceSummary) -> SamplingDecision:
        self.seen.append(summary)
        return SamplingDecision(self.keep, self.rate)


def test_decides_once_per_trace_and_late_spans_follow() -> None:
    decide = Decider(True, 4)
    buffer = TraceBuffer(decide, max_spans=100)
    out: list[SpanRecord] = []
    buffer.add(record("t1"), out)
    buffer.add(record("t1", error=True), out)
    buffer.add(record("t1", guardrail=True), out)
    assert out == [] and buffer.held == 3
    buffer.end("t1", out)
    assert len(out) == 3 and buffer.held == 0
    (summary,) = decide.seen
    assert (summary.span_count, summary.error_count, summary.guardrail_tripped) == (3, 1, True)
    buffer.add(record("t1"), out)  # late span: decided already, no second decision
    assert len(out) == 4 and len(decide.seen) == 1
    assert all(s.attributes[RATE_ATTRIBUTE] == 4 for s in out)


def test_only_a_tripped_guardrail_marks_the_trace() -> None:
    decide = Decider(True)
    buffer = TraceBuffer(decide, max_spans=100)
    out: list[SpanRecord] = []
    buffer.add(record("calm", guardrail=False), out)
    buffer.end("calm", out)
    buffer.add(record("tripped", guardrail=True), out)
    buffer.end("tripped", out)
    assert [s.guardrail_tripped for s in decide.seen] == [False, True]


def test_dropped_traces_are_counted() -> None:
    buffer = TraceBuffer(Decider(False), max_spans=100)
    out: list[SpanRecord] = []
    for _ in range(3):
        buffer.add(record("t"), out)
    buffer.end("t", out)
    buffer.add(record("t"), out)
    assert out == [] and buffer.sampled_out == 4


def test_expiry_by_clock_and_everything() -> None:
    now = [0.0]
    buffer = TraceBuffer(Decider(True), max_spans=100, timeout=10, clock=lambda: now[0])
    out: list[SpanRecord] = []
    buffer.add(record("old"), out)
    now[0] = 5
    buffer.add(record("new"), out)
    now[0] = 10
    buffer.expire(out)
    assert [s.source_trace_id for s in out] == ["old"]
    buffer.expire(out, everything=True)
    assert [s.source_trace_id for s in out] == ["old", "new"]
    assert buffer.held == 0


def test_overflow_decides_the_oldest_trace() -> None:
    buffer = TraceBuffer(Decider(True), max_spans=2)
    out: list[SpanRecord] = []
    buffer.add(record("a"), out)
    buffer.add(record("b"), out)
    buffer.add(record("c"), out)
    assert [s.source_trace_id for s in out] == ["a"]
    assert buffer.held == 2


def test_ratio_is_deterministic() -> None:
    assert ratio_keeps(b"\xff" * 16, 1.0)
    assert not ratio_keeps(b"\x00" * 16, 0.0)
    assert ratio_keeps(b"\x00" * 16, 0.01)
    assert not ratio_keeps(b"\xff" * 16, 0.99)


def test_idle_file_traces_are_finalized(otlp_receiver: OTLPReceiver) -> None:
    exporter = agent_otlp.create_exporter(
        "otlp", endpoint=otlp_receiver.endpoint, env={}, schedule_delay=0.02
    )
    exporter.set_trace_idle_timeout(0.1)
    exporter.submit_items([{"object": "trace.span", "id": "span_1", "trace_id": "trace_idle",
                            "span_data": {"type": "custom", "name": "c"}}])
    assert otlp_receiver.wait_for_spans(2, timeout=5)
    assert any(s.parent_span_id == "" for s in otlp_receiver.spans())
    exporter.shutdown(2)
    assert otlp_receiver.span_count() == 2  # finalized once only
