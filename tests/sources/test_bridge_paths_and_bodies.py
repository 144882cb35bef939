"""The paths producers post to (RAAF builds it from a base URL with or without ``/v1``, the
SDKs take it whole), and the bodies they send: the JavaScript Agents SDK's whole buffer in one
POST within the default body limit, and a 413 that says how to raise the limit."""

from __future__ import annotations

import http.client
import json
from typing import Any

import pytest

from agent_otlp import create_exporter
from agent_otlp.sources.bridge import DEFAULT_MAX_BODY, BridgeServer
from agent_otlp.sources.bridge.routes import is_ingest, request_path
from agent_otlp.testing import OTLPReceiver

TRACE = "trace_" + "cd" * 16


def post(port: int, path: str, body: bytes) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": "application/json",
                                                       "User-Agent": "Agents/JavaScript 0.20.0"})
        reply = conn.getresponse()
        return reply.status, json.loads(reply.read())
    finally:
        conn.close()


@pytest.fixture
def bridge(otlp_receiver: OTLPReceiver) -> Any:
    exporter = create_exporter("otlp", endpoint=otlp_receiver.endpoint, env={}, schedule_delay=0.05)
    server = BridgeServer(exporter, port=0).start()
    yield server
    server.stop(timeout=5.0)


@pytest.mark.parametrize("path", [
    "/v1/traces/ingest",                       # the SDKs' default, RAAF with a bare base URL
    "/traces/ingest",                          # a base URL ending in /v1 plus /traces/ingest
    "/v1/v1/traces/ingest",                    # RAAF: base_url "http://host:4319/v1"
    "//v1/traces/ingest",                      # RAAF: base_url "http://host:4319/"
    "/v1/traces/ingest/?x=1",
    "http://127.0.0.1:4319/v1/traces/ingest",  # absolute form, as through a proxy
])
def test_ingest_paths_producers_compose(bridge: BridgeServer, path: str) -> None:
    assert post(bridge.port, path, b'{"data": []}') == (200, {"accepted": 0})


def test_other_paths_are_not_found_and_name_the_ingest_paths(bridge: BridgeServer) -> None:
    status, answer = post(bridge.port, "/v2/traces/ingest", b'{"data": []}')
    assert status == 404
    assert "/v1/traces/ingest" in answer["error"] and "/traces/ingest" in answer["error"]
    assert not is_ingest(request_path("/v1/v1/v1/traces/ingest"))
    assert not is_ingest(request_path("/v1/traces"))


def js_sdk_flush(items: int, text: int) -> bytes:
    """A flush as the JavaScript SDK sends it: its buffer in one ``{"data": [...]}``, each
    generation's input and output cut at ``text`` characters."""
    data: list[dict[str, Any]] = [{"object": "trace", "id": TRACE, "workflow_name": "js flush"}]
    for i in range(items):
        data.append({
            "object": "trace.span", "id": f"span_js_{i:016d}", "trace_id": TRACE, "parent_id": None,
            "started_at": "2025-01-01T00:00:00.000Z", "ended_at": "2025-01-01T00:00:01.000Z",
            "span_data": {"type": "generation", "model": "gpt-4o",
                          "input": [{"role": "user", "content": "i" * text}],
                          "output": [{"role": "assistant", "content": "o" * text}]},
        })
    return json.dumps({"data": data}).encode()


def test_a_js_sdk_flush_of_12_mb_fits_the_default_limit(
    bridge: BridgeServer, otlp_receiver: OTLPReceiver
) -> None:
    body = js_sdk_flush(124, 50_000)
    assert 12_000_000 < len(body) < DEFAULT_MAX_BODY
    assert post(bridge.port, "/v1/traces/ingest", body) == (200, {"accepted": 125})
    bridge.exporter.end_all_traces()
    assert otlp_receiver.wait_for_spans(125, timeout=30)


def test_413_says_how_to_raise_the_limit(otlp_receiver: OTLPReceiver) -> None:
    exporter = create_exporter("otlp", endpoint=otlp_receiver.endpoint, env={})
    server = BridgeServer(exporter, port=0, max_body=100_000).start()
    try:
        status, answer = post(server.port, "/v1/traces/ingest", js_sdk_flush(2, 50_000))
    finally:
        server.stop(timeout=5.0)
    assert status == 413
    assert "100000" in answer["error"]
    assert "--max-body" in answer["error"] and "AGENT_OTLP_BRIDGE_MAX_BODY" in answer["error"]
