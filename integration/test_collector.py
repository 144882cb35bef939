"""The ``tempo``, ``honeycomb`` and ``collector`` adapters against a real OpenTelemetry Collector.

The collector's OTLP receiver keeps request metadata and its attributes processor copies the
request headers into span attributes (``http.request.header.<name>``), so the file exporter's
output shows what each adapter put on the wire: headers, compression, and the size and
count limits applied before sending. Each test runs over OTLP/HTTP and OTLP/gRPC.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import agent_otlp
from agent_otlp.core.convert.content import MARK
from agent_otlp.core.convert.records import AgentSpan, parse_item
from agent_otlp.core.convert.spans import ConvertOptions, convert_span
from integration.configs import HEADER_ATTRIBUTE_PREFIX, header_attribute

PROTOCOLS = ("http", "grpc")
CLASSIC_KEY = "0123456789abcdef0123456789abcdef"  # Honeycomb Classic configuration key shape
ENVIRONMENT_KEY = "hcaik_" + "0" * 58  # Honeycomb Environment ingest key shape
_T0 = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def _stamp(offset_ms: int) -> str:
    return (_T0 + timedelta(milliseconds=offset_ms)).isoformat()


class _Trace:
    """Items of one agent trace in the SDK's export format."""

    def __init__(self, workflow: str) -> None:
        self.hex = uuid.uuid4().hex
        self.id = f"trace_{self.hex}"
        self.items: list[dict[str, Any]] = [
            {"object": "trace", "id": self.id, "workflow_name": workflow, "group_id": None,
             "metadata": None}
        ]
        self._n = 0

    def span(
        self, span_data: dict[str, Any], *, parent: str | None = None,
        error: dict[str, Any] | None = None,
    ) -> str:
        self._n += 1
        span_id = f"span_{uuid.uuid4().hex[:24]}"
        self.items.append(
            {
                "object": "trace.span",
                "id": span_id,
                "trace_id": self.id,
                "parent_id": parent,
                "started_at": _stamp(self._n * 10),
                "ended_at": _stamp(self._n * 10 + 5),
                "span_data": span_data,
                "error": error,
            }
        )
        return span_id


def _send(adapter: str, collector: Any, protocol: str, trace: _Trace, **settings: Any) -> Any:
    endpoint = collector.otlp_http if protocol == "http" else f"http://{collector.otlp_grpc}"
    exporter = agent_otlp.create_exporter(
        adapter,
        endpoint=endpoint,
        protocol="grpc" if protocol == "grpc" else "http/protobuf",
        schedule_delay=0.05,
        **settings,
    )
    assert exporter.destinations[0].settings.compression == "gzip"
    assert exporter.submit_items(trace.items) == []
    exporter.end_trace(trace.id)
    report = exporter.shutdown(15)
    assert report.delivered, exporter.stats.snapshot()
    expected = len(trace.items)  # one span per SDK span, plus the workflow span
    spans = collector.wait_for_spans(expected, timeout=20)
    assert len(spans) == expected
    assert {s["trace_id"] for s in spans} == {trace.hex}
    return spans


def _by_name(spans: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    by_name = {s["name"]: s for s in spans}
    assert len(by_name) == len(spans), "span names are unique in these traces"
    return by_name


def _check_gzip(spans: list[dict[str, Any]], protocol: str) -> None:
    # gRPC's grpc-encoding is consumed by the server and never reaches the metadata;
    # the collector decoding the gzip body at all is what shows it was accepted.
    encoding = header_attribute("content-encoding")
    for span in spans:
        if protocol == "http":
            assert span["attributes"][encoding] == "gzip"
        else:
            assert encoding not in span["attributes"]


def _own_attributes(span: dict[str, Any]) -> dict[str, Any]:
    """Attributes the exporter sent (without the collector's header copies)."""
    return {
        k: v for k, v in span["attributes"].items() if not k.startswith(HEADER_ATTRIBUTE_PREFIX)
    }


# --- tempo --------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_tempo_tenant_and_attribute_cap(collector_spans: Any, protocol: str) -> None:
    trace = _Trace("Tempo limits")
    agent = trace.span({"type": "agent", "name": "Writer"})
    big_user_text = "Please summarise: " + "lorem ipsum " * 500  # ~6 KB of message content
    trace.span(
        {
            "type": "generation",
            "model": "gpt-4o-mini",
            "input": [{"role": "user", "content": big_user_text}],
            "output": [{"role": "assistant", "content": "Short answer."}],
            "usage": {"input_tokens": 1500, "output_tokens": 3},
        },
        parent=agent,
    )
    blob = "é" * 3000  # 6000 UTF-8 bytes, 3000 characters
    trace.span({"type": "custom", "name": "blob_step", "data": {"blob": blob}}, parent=agent)
    trace.span(
        {"type": "function", "name": "fetch_report", "input": "{}", "output": None},
        parent=agent,
        error={"message": "report too large", "data": {"detail": "z" * 5000}},
    )
    spans = _send(
        "tempo", collector_spans, protocol, trace,
        env={}, options={"tenant": "team-a"}, capture_content=True,
    )

    for span in spans:
        assert span["attributes"][header_attribute("x-scope-orgid")] == "team-a"
        assert header_attribute("x-honeycomb-team") not in span["attributes"]
        assert span["resource"]["service.name"] == "unknown_service:python"
    _check_gzip(spans, protocol)

    by_name = _by_name(spans)
    # Message content: cut to 2048 bytes, still valid JSON, listed as truncated.
    generation = by_name["chat gpt-4o-mini"]["attributes"]
    messages = generation["gen_ai.input.messages"]
    assert len(messages.encode()) <= 2048
    assert len(messages.encode()) > 1500  # cut near the limit, not emptied
    parsed = json.loads(messages)
    assert parsed[0]["role"] == "user"
    assert parsed[0]["parts"][0]["content"].startswith("Please summarise: lorem ipsum")
    assert generation["agent_otlp.truncated"] == ["gen_ai.input.messages"]
    assert json.loads(generation["gen_ai.output.messages"])[0]["parts"][0]["content"] == (
        "Short answer."
    )

    # A plain string value: cut on a character boundary within 2048 bytes, marked.
    custom = by_name["blob_step"]["attributes"]
    cut_blob = custom["openai_agents.span_data.data.blob"]
    assert len(cut_blob.encode()) <= 2048
    assert cut_blob.endswith(MARK)
    assert cut_blob.removesuffix(MARK) == blob[: len(cut_blob) - len(MARK)]
    assert custom["agent_otlp.truncated"] == ["openai_agents.span_data.data.blob"]

    # Event values are capped too (Tempo would cut them blindly).
    failing = by_name["execute_tool fetch_report"]
    assert failing["status_code"] == "ERROR"
    assert failing["status_message"] == "report too large"
    (exception,) = [e for e in failing["events"] if e["name"] == "exception"]
    detail = exception["attributes"]["openai_agents.error.data.detail"]
    assert len(detail.encode()) <= 2048
    assert detail.endswith(MARK)
    assert "event:exception" in failing["attributes"]["agent_otlp.truncated"]

    # Nothing that arrived is above the cap.
    for span in spans:
        for value in _own_attributes(span).values():
            if isinstance(value, str):
                assert len(value.encode()) <= 2048
    # Spans with nothing to cut carry no marker.
    assert "agent_otlp.truncated" not in by_name["invoke_agent Writer"]["attributes"]
    assert "agent_otlp.truncated" not in by_name["invoke_workflow Tempo limits"]["attributes"]


# --- honeycomb ----------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_honeycomb_classic_key_dataset_and_limits(collector_spans: Any, protocol: str) -> None:
    trace = _Trace("Honeycomb limits")
    agent = trace.span({"type": "agent", "name": "Researcher"})
    wide_data = {f"field_{i:04d}": i for i in range(2100)}
    trace.span({"type": "custom", "name": "wide_step", "data": wide_data}, parent=agent)
    huge = "h" * 100_000
    trace.span({"type": "custom", "name": "huge_step", "data": {"text": huge}}, parent=agent)
    spans = _send(
        "honeycomb", collector_spans, protocol, trace,
        env={"HONEYCOMB_API_KEY": CLASSIC_KEY}, options={"dataset": "agent-traces"},
    )

    for span in spans:
        assert span["attributes"][header_attribute("x-honeycomb-team")] == CLASSIC_KEY
        assert span["attributes"][header_attribute("x-honeycomb-dataset")] == "agent-traces"
        assert header_attribute("x-scope-orgid") not in span["attributes"]
    _check_gzip(spans, protocol)

    by_name = _by_name(spans)
    # At most 2000 attributes per span; the rest dropped and counted.
    wide = by_name["wide_step"]
    (wide_item,) = [i for i in trace.items if i.get("span_data", {}).get("name") == "wide_step"]
    parsed = parse_item(wide_item)
    assert isinstance(parsed, AgentSpan)
    converted = convert_span(parsed, ConvertOptions())
    total = len(converted.attributes)
    assert total > 2100
    own = _own_attributes(wide)
    assert len(own) == 2000
    assert wide["dropped_attributes_count"] == total - 2000
    assert set(own) < set(converted.attributes)  # dropped, never renamed or invented

    # At most 64 KB per string value.
    huge_attrs = by_name["huge_step"]["attributes"]
    text = huge_attrs["openai_agents.span_data.data.text"]
    assert len(text.encode()) <= 65536
    assert len(text.encode()) > 65000
    assert text.endswith(MARK)
    assert huge_attrs["agent_otlp.truncated"] == ["openai_agents.span_data.data.text"]
    assert by_name["huge_step"]["dropped_attributes_count"] == 0
    assert by_name["invoke_agent Researcher"]["dropped_attributes_count"] == 0


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_honeycomb_environment_key_sends_no_dataset(collector_spans: Any, protocol: str) -> None:
    trace = _Trace("Honeycomb environment key")
    trace.span({"type": "agent", "name": "Solo"})
    spans = _send(
        "honeycomb", collector_spans, protocol, trace,
        env={"HONEYCOMB_API_KEY": ENVIRONMENT_KEY}, options={"dataset": "ignored"},
        service_name="agent-dataset",
    )
    for span in spans:
        assert span["attributes"][header_attribute("x-honeycomb-team")] == ENVIRONMENT_KEY
        assert header_attribute("x-honeycomb-dataset") not in span["attributes"]
        assert span["resource"]["service.name"] == "agent-dataset"  # Honeycomb's dataset


# --- collector ----------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_collector_adapter_headers(collector_spans: Any, protocol: str) -> None:
    trace = _Trace("Collector headers")
    trace.span({"type": "agent", "name": "Gateway user"})
    spans = _send(
        "collector", collector_spans, protocol, trace,
        env={}, headers={"authorization": "Bearer gateway-token"},
    )
    for span in spans:
        assert span["attributes"][header_attribute("authorization")] == "Bearer gateway-token"
        assert header_attribute("x-scope-orgid") not in span["attributes"]
    _check_gzip(spans, protocol)
