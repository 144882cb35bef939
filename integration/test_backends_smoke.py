"""Smoke tests for the backend harness, using only the OpenTelemetry SDK and OTLP exporters."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcSpanExporter,
)
from opentelemetry.exporter.otlp.proto.http import Compression as HttpCompression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as HttpSpanExporter,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

from integration.configs import header_attribute


def _emit(exporter: SpanExporter, service: str) -> str:
    """Send a parent + child span through ``exporter``; return the trace id (hex)."""
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("agent-otlp.smoke", "0.0.1")
    with tracer.start_as_current_span("agent.run", kind=SpanKind.SERVER) as parent:
        parent.set_attribute("smoke.number", 7)
        parent.set_attribute("smoke.flag", True)
        parent.add_event("started", {"step": "one"})
        with tracer.start_as_current_span("tool.call", kind=SpanKind.CLIENT) as child:
            child.set_attribute("smoke.tool", "search")
            child.set_status(Status(StatusCode.ERROR, "tool failed"))
        trace_id = format(parent.get_span_context().trace_id, "032x")
    assert provider.force_flush(10_000)
    provider.shutdown()
    return trace_id


def _check_roundtrip(spans: list[dict[str, Any]], trace_id: str, service: str) -> None:
    by_name = {s["name"]: s for s in spans}
    assert set(by_name) == {"agent.run", "tool.call"}
    parent, child = by_name["agent.run"], by_name["tool.call"]
    assert parent["trace_id"] == child["trace_id"] == trace_id
    assert parent["parent_span_id"] == ""
    assert child["parent_span_id"] == parent["span_id"]
    assert parent["kind"] == "SERVER"
    assert child["kind"] == "CLIENT"
    assert parent["attributes"]["smoke.number"] == 7
    assert parent["attributes"]["smoke.flag"] is True
    assert [e["name"] for e in parent["events"]] == ["started"]
    assert parent["events"][0]["attributes"] == {"step": "one"}
    assert child["attributes"]["smoke.tool"] == "search"
    assert child["status_code"] == "ERROR"
    assert child["status_message"] == "tool failed"
    assert parent["resource"]["service.name"] == service
    assert parent["scope_name"] == "agent-otlp.smoke"
    assert child["end_time_unix_nano"] >= child["start_time_unix_nano"] > 0


def test_jaeger_otlp_http_roundtrip(jaeger: Any) -> None:
    exporter = HttpSpanExporter(endpoint=jaeger.otlp_http_traces, timeout=10)
    trace_id = _emit(exporter, "smoke-http")
    spans = jaeger.query.get_trace(trace_id, timeout=20, min_spans=2)
    _check_roundtrip(spans, trace_id, "smoke-http")
    assert "smoke-http" in jaeger.query.services()


def test_jaeger_otlp_grpc_roundtrip(jaeger: Any) -> None:
    exporter = GrpcSpanExporter(endpoint=jaeger.otlp_grpc, insecure=True, timeout=10)
    trace_id = _emit(exporter, "smoke-grpc")
    spans = jaeger.query.get_trace(trace_id, timeout=20, min_spans=2)
    _check_roundtrip(spans, trace_id, "smoke-grpc")
    assert jaeger.query.span_counts([trace_id]) == {trace_id: 2}
    assert jaeger.query.count_spans([trace_id, "0" * 31 + "1"]) == 2


def test_collector_http_gzip_headers(collector_spans: Any) -> None:
    exporter = HttpSpanExporter(
        endpoint=collector_spans.otlp_http_traces,
        headers={"x-scope-orgid": "t1", "x-honeycomb-dataset": "agents"},
        compression=HttpCompression.Gzip,
        timeout=10,
    )
    trace_id = _emit(exporter, "smoke-collector-http")
    spans = collector_spans.wait_for_spans(2, timeout=20)
    _check_roundtrip(spans, trace_id, "smoke-collector-http")
    for span in spans:
        assert span["attributes"][header_attribute("x-scope-orgid")] == "t1"
        assert span["attributes"][header_attribute("x-honeycomb-dataset")] == "agents"
        assert span["attributes"][header_attribute("content-encoding")] == "gzip"
        assert "OTel-OTLP-Exporter-Python" in span["attributes"][header_attribute("user-agent")]
        assert header_attribute("authorization") not in span["attributes"]


def test_collector_grpc_gzip_headers(collector_spans: Any) -> None:
    exporter = GrpcSpanExporter(
        endpoint=collector_spans.otlp_grpc,
        insecure=True,
        headers={"x-scope-orgid": "t2", "x-honeycomb-team": "key-123"},
        compression=grpc.Compression.Gzip,
        timeout=10,
    )
    trace_id = _emit(exporter, "smoke-collector-grpc")
    spans = collector_spans.wait_for_spans(2, timeout=20)
    _check_roundtrip(spans, trace_id, "smoke-collector-grpc")
    for span in spans:
        assert span["attributes"][header_attribute("x-scope-orgid")] == "t2"
        assert span["attributes"][header_attribute("x-honeycomb-team")] == "key-123"
        assert "grpc-python" in span["attributes"][header_attribute("user-agent")]


@pytest.mark.timeout(120)
def test_restart_keeps_ports(jaeger: Any) -> None:
    before = (jaeger.otlp_http, jaeger.otlp_grpc, jaeger.query_url)
    jaeger.restart(downtime=0.5)
    assert (jaeger.otlp_http, jaeger.otlp_grpc, jaeger.query_url) == before
    exporter = HttpSpanExporter(endpoint=jaeger.otlp_http_traces, timeout=10)
    trace_id = _emit(exporter, "smoke-restart")
    jaeger.query.get_trace(trace_id, timeout=20, min_spans=2)
    assert jaeger.logs().count("=== jaeger run ") >= 2


def test_tempo_roundtrip(tempo: Any) -> None:
    """Container-only: skipped unless a Docker engine answers."""
    exporter = HttpSpanExporter(endpoint=tempo.otlp_http_traces, timeout=10)
    trace_id = _emit(exporter, "smoke-tempo")
    spans = tempo.query().get_trace(trace_id, timeout=60, min_spans=2)
    _check_roundtrip(spans, trace_id, "smoke-tempo")
