"""An outage in the middle of a stream: Jaeger stops, comes back, and every span arrives.

A background thread produces agent traces with the OpenAI Agents SDK (10 SDK spans each, plus
the workflow span agent-otlp adds) while Jaeger is stopped and restarted on the same ports.
The exporter runs in memory (no span store): while the breaker is open it keeps its queue and
delivers once Jaeger answers again. Jaeger uses badger storage, so what it stored before the
outage is still there afterwards, and every span is counted through the query API.

Delivery is at least once: a request that failed on our side may still have been stored, and
is then sent again. The documented bound is one in-flight batch per failed request, so
duplicates are at most ``batch_size`` times the number of failed requests. Spans are counted
as stored (``raw_traces=true``), without the query service's adjusters, which would hide
repeated span ids. (Jaeger's badger store keys a span by trace id, start time and span id,
so an identical re-sent span overwrites the first copy: duplicates cannot pile up there.)
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

agents_tracing = pytest.importorskip("agents.tracing")

from agents.tracing import TracingProcessor  # noqa: E402
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (  # noqa: E402
    ExportTraceServiceRequest,
)

import agent_otlp  # noqa: E402
from agent_otlp.core.config.settings import Settings  # noqa: E402
from agent_otlp.core.convert.ids import span_id_for, trace_id_for, workflow_span_id_for  # noqa: E402
from agent_otlp.core.plugins import builtin  # noqa: E402
from agent_otlp.core.wire.transport import SendResult, Transport  # noqa: E402
from agent_otlp.workloads import SPANS_PER_BENCHMARK_TRACE, produce_benchmark_traces  # noqa: E402

pytestmark = pytest.mark.usefixtures("sdk_processors")

TRACES = 300
SPANS_PER_TRACE = SPANS_PER_BENCHMARK_TRACE + 1  # the SDK's spans plus the workflow span
BATCH_SIZE = 100
PACE = 0.02  # seconds between traces: the stream lasts about TRACES * PACE = 6 s
STOP_AFTER = TRACES // 3  # traces produced before Jaeger stops
DOWNTIME = 3.0  # seconds Jaeger stays down


class CountingTransport(Transport):
    """The adapter's own OTLP transport, counting requests, failures and spans re-sent."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.requests = 0
        self.failures = 0
        #: spans of failed requests (each one is sent again later)
        self.failed_spans = 0
        #: why requests failed: "status message" -> count
        self.reasons: dict[str, int] = {}
        self._lock = threading.Lock()

    def send(self, body: bytes, timeout: float) -> SendResult:
        result = self.inner.send(body, timeout)
        with self._lock:
            self.requests += 1
            if not result.ok:
                self.failures += 1
                self.failed_spans += _span_count(body)
                reason = f"{result.status} {result.message}".strip()[:60]
                self.reasons[reason] = self.reasons.get(reason, 0) + 1
        return result

    def close(self) -> None:
        self.inner.close()


class SpanIds(TracingProcessor):
    """Records the SDK trace and span ids of the stream."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.spans: dict[str, set[str]] = {}

    def on_trace_start(self, trace: Any) -> None:
        with self._lock:
            self.spans.setdefault(trace.trace_id, set())

    def on_trace_end(self, trace: Any) -> None:
        return None

    def on_span_start(self, span: Any) -> None:
        return None

    def on_span_end(self, span: Any) -> None:
        with self._lock:
            self.spans.setdefault(span.trace_id, set()).add(span.span_id)

    def shutdown(self) -> None:
        return None

    def force_flush(self) -> None:
        return None


def _span_count(body: bytes) -> int:
    request = ExportTraceServiceRequest.FromString(body)
    return sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)


def _expected_ids(sdk_spans: dict[str, set[str]]) -> dict[str, set[str]]:
    """OTel trace id (hex) -> OTel span ids (hex) the stream must produce in Jaeger."""
    out: dict[str, set[str]] = {}
    for trace_id, span_ids in sdk_spans.items():
        ids = {span_id_for(s).hex() for s in span_ids}
        ids.add(workflow_span_id_for(trace_id).hex())
        out[trace_id_for(trace_id).hex()] = ids
    return out


def _stored(jaeger: Any, trace_ids: list[str]) -> dict[str, list[str]]:
    """Span ids (with repeats) Jaeger returns now for each trace."""
    found: dict[str, list[str]] = {}
    for trace_id in trace_ids:
        spans = jaeger.query.fetch_trace(trace_id, raw=True) or []
        found[trace_id] = [s["span_id"] for s in spans]
    return found


@pytest.mark.timeout(180)
@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_every_span_arrives_across_a_jaeger_restart(
    jaeger_badger: Any, protocol: str, record_property: Any
) -> None:
    jaeger = jaeger_badger
    transports: list[CountingTransport] = []

    def transport_factory(settings: Settings) -> Transport:
        transport = CountingTransport(builtin.agent_otlp_make_transport(settings))
        transports.append(transport)
        return transport

    endpoint = jaeger.otlp_http if protocol == "http" else f"http://{jaeger.otlp_grpc}"
    exporter = agent_otlp.create_exporter(
        "jaeger",
        endpoint=endpoint,
        protocol="grpc" if protocol == "grpc" else "http/protobuf",
        env={},
        schedule_delay=0.05,
        batch_size=BATCH_SIZE,
        timeout=5.0,
        transport_factory=transport_factory,
        store=False,  # in memory: the queue alone carries the outage
    )
    (transport,) = transports
    recorder = SpanIds()
    agents_tracing.set_trace_processors([agent_otlp.make_processor(exporter), recorder])

    outage_due = threading.Event()
    errors: list[BaseException] = []

    def paced(index: int) -> None:
        if index + 1 == STOP_AFTER:
            outage_due.set()
        time.sleep(PACE)

    def produce() -> None:
        try:
            produce_benchmark_traces(TRACES, on_trace_done=paced)
        except BaseException as exc:  # reported by the test below
            errors.append(exc)
            outage_due.set()

    producer = threading.Thread(target=produce, name="agent-stream", daemon=True)
    producer.start()
    try:
        assert outage_due.wait(60), "the stream did not start"
        delivered_before = exporter.stats.destinations["jaeger"].exported
        jaeger.stop()
        time.sleep(DOWNTIME)
        failures_while_down = transport.failures
        jaeger.start()
        producer.join(60)
        assert not producer.is_alive(), "the stream did not finish"
        assert not errors, errors
        report = exporter.force_flush(90)
    finally:
        agents_tracing.set_trace_processors([])
        if not jaeger.running:
            jaeger.start()
    stats = exporter.stats.destinations["jaeger"].snapshot()
    exporter.shutdown(10)
    assert report.delivered, stats

    expected = _expected_ids(recorder.spans)
    assert len(expected) == TRACES
    sent = sum(len(ids) for ids in expected.values())
    assert sent == TRACES * SPANS_PER_TRACE

    # The outage really happened in the middle of the stream.
    assert 0 < delivered_before < sent
    assert failures_while_down > 0, "no request failed while Jaeger was down"
    assert stats["breaker_opened"] >= 1
    assert stats["dropped"] == {}
    assert stats["exported"] == sent

    # Every span arrives (Jaeger's writes are asynchronous: poll briefly).
    trace_ids = sorted(expected)
    deadline = time.monotonic() + 30
    while True:
        stored = _stored(jaeger, trace_ids)
        missing = {t: expected[t] - set(stored[t]) for t in trace_ids}
        missing = {t: ids for t, ids in missing.items() if ids}
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert not missing, f"{sum(map(len, missing.values()))} spans missing in {len(missing)} traces"
    for trace_id in trace_ids:
        assert set(stored[trace_id]) == expected[trace_id], trace_id  # nothing foreign

    received = sum(len(ids) for ids in stored.values())
    unique = sum(len(set(ids)) for ids in stored.values())
    duplicates = received - unique
    bound = BATCH_SIZE * transport.failures
    figures = {
        "protocol": protocol,
        "spans_sent": sent,
        "spans_received": received,
        "unique_spans": unique,
        "duplicates": duplicates,
        "requests": transport.requests,
        "failed_requests": transport.failures,
        "spans_in_failed_requests": transport.failed_spans,
        "failure_reasons": transport.reasons,
        "breaker_opened": stats["breaker_opened"],
        "duplicate_bound": bound,
    }
    for key, value in figures.items():
        record_property(key, value)
    print(f"recovery figures: {figures}")
    assert unique == sent
    assert duplicates <= bound
