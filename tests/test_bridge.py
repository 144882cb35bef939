"""The ingest bridge against real servers: the Agents SDK's own exporter posts to it, and an
in-process OTLP receiver checks what comes out."""

from __future__ import annotations

import gzip
import http.client
import json
import logging
import time
import zlib
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

pytest.importorskip("agents")

from agents.tracing import set_trace_processors
from agents.tracing.processors import BackendSpanExporter, BatchTraceProcessor

from agent_otlp import create_exporter
from agent_otlp.core.convert.ids import span_id_for, workflow_span_id_for
from agent_otlp.core.pipeline.exporter import AgentExporter
from agent_otlp.sources.bridge import INGEST_PATH, BridgeServer
from agent_otlp.testing import OTLPReceiver
from agent_otlp.workloads import DEMO_SPAN_COUNT, record_demo_items, run_demo_workflow

TOKEN = "bridge-token-5f3a9c1e7d"


class Reply:
    def __init__(self, response: http.client.HTTPResponse) -> None:
        self.status = response.status
        self.headers = {k.lower(): v for k, v in response.getheaders()}
        self.raw = response.read()
        kind = self.headers.get("content-type", "")
        self.json: Any = json.loads(self.raw) if kind.startswith("application/json") else None


def request(
    url: str,
    method: str = "POST",
    path: str = INGEST_PATH,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> Reply:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout)
    try:
        conn.request(method, path, body=body,
                     headers={"Content-Type": "application/json", **(headers or {})})
        return Reply(conn.getresponse())
    finally:
        conn.close()


def post_items(
    url: str, items: list[Any], token: str | None = None, headers: dict[str, str] | None = None,
    **kw: Any,
) -> Reply:
    headers = {"Content-Type": "application/json", "OpenAI-Beta": "traces=v1", **(headers or {})}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return request(url, body=json.dumps({"data": items}).encode(), headers=headers, **kw)


BridgeFactory = Callable[..., tuple[BridgeServer, AgentExporter]]


@pytest.fixture
def make_bridge(otlp_receiver: OTLPReceiver) -> Iterator[BridgeFactory]:
    made: list[BridgeServer] = []

    def make(receiver: OTLPReceiver = otlp_receiver, **options: Any) -> tuple[BridgeServer, AgentExporter]:
        exporter = create_exporter("otlp", endpoint=receiver.endpoint, env={}, schedule_delay=0.05)
        bridge = BridgeServer(exporter, port=0, **options).start()
        made.append(bridge)
        return bridge, exporter

    yield make
    for bridge in made:
        bridge.stop(timeout=2.0)


def finish(exporter: AgentExporter) -> None:
    exporter.end_all_traces()
    assert exporter.force_flush(10).delivered


def test_sdk_backend_exporter_posts_through_the_bridge(
    make_bridge: BridgeFactory, otlp_receiver: OTLPReceiver, sdk_processors: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    bridge, exporter = make_bridge(read_timeout=30.0)
    sdk_exporter = BackendSpanExporter(api_key="sk-test-0123456789abcdef", endpoint=bridge.ingest_url)
    processor = BatchTraceProcessor(sdk_exporter, schedule_delay=60.0)
    set_trace_processors([processor])
    result = run_demo_workflow()
    processor.force_flush()
    set_trace_processors([])
    finish(exporter)

    assert otlp_receiver.wait_for_spans(DEMO_SPAN_COUNT + 1, timeout=10)
    spans = otlp_receiver.spans()
    assert len(spans) == DEMO_SPAN_COUNT + 1
    hex_id = result.trace_id.removeprefix("trace_")
    assert {s.trace_id for s in spans} == {hex_id}
    by_id = {s.span_id: s for s in spans}
    root_id = workflow_span_id_for(result.trace_id).hex()
    root = by_id[root_id]
    assert root.is_root and root.name.startswith("invoke_workflow")
    for expected in result.expected:
        span = by_id[span_id_for(result.span_ids[expected.key]).hex()]
        parent = (
            root_id if expected.parent_key is None
            else span_id_for(result.span_ids[expected.parent_key]).hex()
        )
        assert span.parent_span_id == parent, expected.key
        assert span.attributes["openai_agents.span_id"] == result.span_ids[expected.key]
        assert span.start_ns >= root.start_ns and span.end_ns <= root.end_ns
    # the SDK exporter was answered 2xx: it logged no warning or error
    sdk_logs = [r for r in caplog.records if r.name.startswith("openai.agents")]
    assert not [r for r in sdk_logs if r.levelno >= logging.WARNING], sdk_logs
    assert bridge.requests[200] >= 1 and set(bridge.requests) == {200}
    assert "sk-test-0123456789abcdef" not in caplog.text
    # the SDK client's kept-alive connection does not hold up the stop
    started = time.monotonic()
    bridge.stop(timeout=10.0)
    assert time.monotonic() - started < 5.0
    sdk_exporter.close() if hasattr(sdk_exporter, "close") else None


def test_mixed_valid_and_invalid_items(make_bridge: BridgeFactory, otlp_receiver: OTLPReceiver) -> None:
    bridge, exporter = make_bridge()
    items: list[Any] = record_demo_items()
    trace_id = items[0]["id"]
    bad_span = {"object": "trace.span", "id": "span_bad_data", "trace_id": trace_id, "span_data": "x"}
    bad_time = dict(items[3], id="span_bad_time", started_at="yesterday")
    bad_kind = {"object": "trace.event", "id": "evt_1"}
    mixed = [*items[:2], bad_span, *items[2:5], bad_time, 42, *items[5:], bad_kind]
    bad_at = {2: "span_bad_data", 6: "span_bad_time", 7: None, len(mixed) - 1: "evt_1"}

    reply = post_items(bridge.url, mixed)
    assert reply.status == 400
    assert reply.json["accepted"] == len(items)
    assert reply.json["rejected_count"] == 4
    rejected = reply.json["rejected"]
    assert {r["index"]: r["id"] for r in rejected} == bad_at
    fields = {r["index"]: r["field"] for r in rejected}
    assert fields[2] == "span_data" and fields[6] == "started_at" and fields[7] == "item"
    assert fields[len(mixed) - 1] == "object"
    assert all(r["error"] for r in rejected)

    finish(exporter)
    assert otlp_receiver.wait_for_spans(DEMO_SPAN_COUNT + 1, timeout=10)
    received = {s.attributes.get("openai_agents.span_id") for s in otlp_receiver.spans()}
    assert {i["id"] for i in items[1:]} <= received
    assert not received & {"span_bad_data", "span_bad_time"}
    assert bridge.items == {"accepted": len(items), "rejected": 4}



def test_an_invalid_item_whose_id_is_not_unicode_is_answered(make_bridge: BridgeFactory) -> None:
    """The id of a rejected item is quoted in the answer; one that is a lone surrogate (bytes
    that are not UTF-8) is escaped there, and the answer still comes."""
    bridge, _ = make_bridge()
    body = (b'{"data": [{"object": "trace", "id": "\xed\xa0\x80", "workflow_name": "w", '
            b'"group_id": false}]}')
    reply = request(bridge.url, body=body)
    assert reply.status == 400
    [rejected] = reply.json["rejected"]
    assert rejected["id"] == "\ud800" and rejected["field"] == "group_id"

def test_bearer_token(make_bridge: BridgeFactory, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    bridge, _ = make_bridge(token=TOKEN)
    items = record_demo_items()[:3]
    replies = [
        post_items(bridge.url, items),
        post_items(bridge.url, items, token="wrong-token"),
        post_items(bridge.url, items, token=TOKEN + "x"),
        post_items(bridge.url, items, headers={"Authorization": TOKEN}),
    ]
    assert [r.status for r in replies] == [401, 401, 401, 401]
    ok = post_items(bridge.url, items, token=TOKEN)
    assert ok.status == 200 and ok.json == {"accepted": 3}
    for reply in [*replies, ok, request(bridge.url, "GET", "/metrics")]:
        assert TOKEN not in reply.raw.decode() and TOKEN not in json.dumps(reply.headers)
    assert TOKEN not in caplog.text
    assert TOKEN not in repr(vars(bridge))


def test_sdk_exporter_with_token(
    make_bridge: BridgeFactory, otlp_receiver: OTLPReceiver, sdk_processors: Any
) -> None:
    bridge, exporter = make_bridge(token=TOKEN)
    processor = BatchTraceProcessor(BackendSpanExporter(api_key=TOKEN, endpoint=bridge.ingest_url))
    set_trace_processors([processor])
    run_demo_workflow()
    processor.force_flush()
    set_trace_processors([])
    finish(exporter)
    assert otlp_receiver.wait_for_spans(DEMO_SPAN_COUNT + 1, timeout=10)
    assert set(bridge.requests) == {200}


def test_body_limits_and_encodings(make_bridge: BridgeFactory, otlp_receiver: OTLPReceiver) -> None:
    bridge, exporter = make_bridge(max_body=64 * 1024)
    items = record_demo_items()
    body = json.dumps({"data": items}).encode()
    assert len(body) < 64 * 1024

    big = json.dumps({"data": [{"pad": "x" * 70_000}]}).encode()
    too_large = request(bridge.url, body=big)
    assert too_large.status == 413 and "limit" in too_large.json["error"]
    bomb = request(bridge.url, body=gzip.compress(b" " * 1_000_000 + big),
                   headers={"Content-Encoding": "gzip"})
    assert bomb.status == 413

    for bad, message in ((b"{not json", "not valid JSON"), (b'{"items": []}', "data"),
                         (b'[{"object": "trace"}]', "data"), (b'{"data": {}}', "data"),
                         (b"[" * 50_000, "JSON")):
        reply = request(bridge.url, body=bad)
        assert reply.status == 400, bad[:20]
        assert message in reply.json["error"]
    assert request(bridge.url, body=b"\x1f\x8b garbage", headers={"Content-Encoding": "gzip"}).status == 400
    assert request(bridge.url, body=body, headers={"Content-Encoding": "br"}).status == 415

    gz = request(bridge.url, body=gzip.compress(body), headers={"Content-Encoding": "gzip"})
    assert gz.status == 200 and gz.json == {"accepted": len(items)}
    finish(exporter)
    assert otlp_receiver.wait_for_spans(DEMO_SPAN_COUNT + 1, timeout=10)

    # deflate and chunked transfer encoding work too (the spans repeat: same ids, same trace)
    deflated = request(bridge.url, body=zlib.compress(body), headers={"Content-Encoding": "deflate"})
    assert deflated.status == 200
    parts = urlsplit(bridge.url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    conn.request("POST", INGEST_PATH, body=iter([body[:1000], body[1000:]]), encode_chunked=True,
                 headers={"Content-Type": "application/json"})
    chunked = Reply(conn.getresponse())
    conn.close()
    assert chunked.status == 200 and chunked.json == {"accepted": len(items)}


def test_routes(make_bridge: BridgeFactory) -> None:
    bridge, _ = make_bridge()
    assert request(bridge.url, "GET").status == 405
    assert request(bridge.url, path="/v1/traces").status == 404
    health = request(bridge.url, "GET", "/healthz")
    assert health.status == 200 and health.json == {"status": "ok"}
    assert post_items(bridge.url, [], path=INGEST_PATH + "/").json == {"accepted": 0}
