"""The ``otel-sdk`` transport sends through opentelemetry-exporter-otlp's own exporters, and
puts exactly the spans agent-otlp's own sender puts on the wire."""

from __future__ import annotations

from typing import Any

import pytest

import agent_otlp
from agent_otlp.testing import OTLPReceiver, ReceivedSpan
from agent_otlp.workloads import record_demo_items


def _received(receiver: OTLPReceiver, items: list[dict[str, Any]], **settings: Any) -> dict[str, ReceivedSpan]:
    if receiver.protocol == "grpc":
        settings["protocol"] = "grpc"
    exporter = agent_otlp.create_exporter(
        "otlp", endpoint=receiver.endpoint, env={}, schedule_delay=0.02, **settings
    )
    assert not exporter.submit_items(items)
    exporter.end_all_traces()
    report = exporter.shutdown(15)
    assert report.delivered, exporter.stats.snapshot()
    return {s.span_id: s for s in receiver.spans()}


def _wire_view(span: ReceivedSpan) -> tuple[Any, ...]:
    events = tuple((e.name, e.time_ns, tuple(sorted(e.attributes.items()))) for e in span.events)
    return (
        span.trace_id, span.parent_span_id, span.name, span.kind, span.start_ns, span.end_ns,
        span.status_code, span.status_message, events, span.resource, span.scope_name,
        span.scope_version,
        {k: tuple(v) if isinstance(v, list) else v for k, v in span.attributes.items()},
    )


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_same_spans_as_the_native_sender(otlp_receiver_factory: Any, protocol: str) -> None:
    items = record_demo_items()
    native = _received(otlp_receiver_factory(protocol), items, capture_content=True)
    receiver = otlp_receiver_factory(protocol)
    official = _received(receiver, items, capture_content=True, transport="otel-sdk",
                         compression="gzip")
    assert len(native) == 14
    assert native.keys() == official.keys()
    for span_id, span in native.items():
        assert _wire_view(official[span_id]) == _wire_view(span), span.name
    if protocol == "http":  # the official exporter's own client, gzip as configured
        request = receiver.requests[0]
        assert request.compression == "gzip"
        assert "OTel-OTLP-Exporter-Python" in request.headers.get("user-agent", "")


def test_unknown_transport_is_refused() -> None:
    with pytest.raises(agent_otlp.ConfigError, match="transport"):
        agent_otlp.create_exporter("otlp", env={}, transport="carrier-pigeon")
