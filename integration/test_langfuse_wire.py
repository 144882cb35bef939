"""The ``langfuse`` adapter's wire, through a real OpenTelemetry Collector.

Langfuse itself needs Postgres, ClickHouse, Redis and object storage, so a Collector stands
in for its ingestion endpoint as it does for Honeycomb: its OTLP/HTTP receiver takes traces
on Langfuse's path (``/api/public/otel/v1/traces``, nothing on ``/v1/traces``) and copies the
request headers into span attributes, so the file it writes shows what Langfuse would have
received: the Basic authorization, the path, the protobuf body and the attributes.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import requests

import agent_otlp
from integration.configs import header_attribute
from integration.test_collector import _Trace

PUBLIC = "pk-lf-11111111-2222-3333-4444-555555555555"
SECRET = "sk-lf-66666666-7777-8888-9999-000000000000"


def test_langfuse_path_auth_and_attributes(langfuse_collector: Any) -> None:
    # Only Langfuse's path takes traces on this receiver.
    assert requests.post(f"{langfuse_collector.otlp_http}/v1/traces", data=b"",
                         headers={"Content-Type": "application/x-protobuf"},
                         timeout=5).status_code == 404

    trace = _Trace("Refund desk")
    trace.items[0]["group_id"] = group = f"conv-{uuid.uuid4().hex[:8]}"
    trace.items[0]["metadata"] = {"user_id": "customer-17", "channel": "email"}
    agent = trace.span({"type": "agent", "name": "Refund Agent"})
    trace.span({"type": "generation", "model": "gpt-4o-mini",
                "input": [{"role": "user", "content": "Refund order 7, please."}],
                "output": [{"role": "assistant", "content": "Refunded."}],
                "usage": {"input_tokens": 40, "output_tokens": 4}}, parent=agent)
    trace.span({"type": "function", "name": "issue_refund", "input": '{"order": 7}',
                "output": None}, parent=agent, error={"message": "gateway timeout", "data": None})

    exporter = agent_otlp.create_exporter(
        "langfuse",
        env={"LANGFUSE_HOST": langfuse_collector.otlp_http,
             "LANGFUSE_PUBLIC_KEY": PUBLIC, "LANGFUSE_SECRET_KEY": SECRET},
        capture_content=True, schedule_delay=0.05,
    )
    settings = exporter.destinations[0].settings
    assert settings.endpoint == langfuse_collector.otlp_http + "/api/public/otel/v1/traces"
    assert exporter.submit_items(trace.items) == []
    exporter.end_trace(trace.id)
    assert exporter.shutdown(15).delivered, exporter.stats.snapshot()

    spans = langfuse_collector.wait_for_spans(len(trace.items), timeout=20)
    token = base64.b64encode(f"{PUBLIC}:{SECRET}".encode()).decode()
    assert {s["attributes"][header_attribute("authorization")] for s in spans} == {
        f"Basic {token}"}
    by_type = {s["attributes"]["openai_agents.span_type"]: s["attributes"] for s in spans}
    root = by_type["trace"]
    assert root["langfuse.trace.name"] == "Refund desk"
    assert root["session.id"] == group and root["user.id"] == "customer-17"
    assert root["langfuse.trace.metadata.channel"] == "email"
    assert root["langfuse.trace.input"] == "Refund order 7, please."
    assert root["langfuse.trace.output"] == "Refunded."
    generation = by_type["generation"]
    assert generation["langfuse.observation.type"] == "generation"
    assert generation["langfuse.observation.model.name"] == "gpt-4o-mini"
    assert json.loads(generation["langfuse.observation.usage_details"])["total"] == 44
    tool = by_type["function"]
    assert tool["langfuse.observation.type"] == "tool"
    assert tool["langfuse.observation.level"] == "ERROR"
    assert tool["langfuse.observation.input"] == '{"order": 7}'
