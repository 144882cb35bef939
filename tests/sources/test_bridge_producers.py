"""Producer tokens: one bridge serving several applications apart. Items posted with a
producer's token go out under its resource (with the request's User-Agent) and only to the
destinations it names, with or without the span store, and across a restart on the store."""

from __future__ import annotations

import http.client
import json
import logging
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from _reliability import record
from agent_otlp import create_exporter
from agent_otlp.core.config.errors import ConfigError
from agent_otlp.core.pipeline.exporter import AgentExporter
from agent_otlp.sources.bridge import BridgeServer
from agent_otlp.sources.bridge.producers import USER_AGENT_ATTRIBUTE, load_tokens
from agent_otlp.testing import OTLPReceiver
from agent_otlp.testing.pytest_plugin import ReceiverFactory

CHECKOUT = "tok-checkout-5d1f0a93"
SUPPORT = "tok-support-7b2e44c1"
BRIDGE = "tok-bridge-9a0c3e55"
TOKENS = f"""
["{CHECKOUT}"]
resource = {{ "service.name" = "checkout", "deployment.environment.name" = "prod" }}
destinations = ["audit"]

["{SUPPORT}"]
resource = {{ "service.name" = "support" }}
"""


def trace_items(name: str, spans: int = 2) -> list[dict[str, Any]]:
    trace = "trace_" + name.encode().hex().ljust(32, "0")[:32]
    items: list[dict[str, Any]] = [{"object": "trace", "id": trace, "workflow_name": name}]
    for i in range(spans):
        items.append({"object": "trace.span", "id": f"span_{name}_{i}", "trace_id": trace, "parent_id": None,
                      "started_at": "2025-01-01T00:00:00+00:00", "ended_at": "2025-01-01T00:00:01+00:00",
                      "span_data": {"type": "custom", "name": f"{name} {i}", "data": {}}})
    return items


def post(port: int, items: list[dict[str, Any]], token: str, user_agent: str | None = None,
         escape: bool = False) -> tuple[int, Any]:
    body = json.dumps({"data": items})
    if escape:  # the member's name as a client may spell it: an escape in place of "."
        body = body.replace('"agent_otlp.producer"', '"agent_otlp\\u002eproducer"')
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    if user_agent is not None:
        headers["User-Agent"] = user_agent
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", "/v1/traces/ingest", body=body.encode(), headers=headers)
        reply = conn.getresponse()
        return reply.status, json.loads(reply.read())
    finally:
        conn.close()


def exporter_for(tmp_path: Path, main: str, audit: str, **kw: Any) -> AgentExporter:
    config = tmp_path / "agent-otlp.toml"
    config.write_text(f'adapters = ["main", "audit"]\nschedule_delay = 0.05\n'
                      f'[destination.main]\nadapter = "otlp"\nendpoint = "{main}"\n'
                      f'[destination.audit]\nadapter = "otlp"\nendpoint = "{audit}"\n', encoding="utf-8")
    exporter: AgentExporter = create_exporter(config_file=config, env={}, **kw)
    return exporter


def bridge_for(exporter: AgentExporter, tmp_path: Path) -> BridgeServer:
    tokens = tmp_path / "tokens.toml"
    tokens.write_text(TOKENS, encoding="utf-8")
    producers = load_tokens(tokens, destinations=[d.name for d in exporter.destinations])
    return BridgeServer(exporter, port=0, token=BRIDGE, producers=producers).start()


def by_service(receiver: OTLPReceiver) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for span in receiver.spans():
        found.setdefault(span.resource["service.name"], []).append(span)
    return found


def check_delivery(main: OTLPReceiver, audit: OTLPReceiver) -> None:
    # checkout: 2 spans + its workflow span, to audit only; support and the bridge's own: both
    assert audit.wait_for_spans(9, timeout=15)
    assert main.wait_for_spans(6, timeout=15)
    audit_spans, main_spans = by_service(audit), by_service(main)
    assert sorted(len(v) for v in audit_spans.values()) == [3, 3, 3]
    assert "checkout" not in main_spans and len(main.spans()) == 6
    checkout = audit_spans["checkout"][0].resource
    assert checkout["deployment.environment.name"] == "prod"
    assert checkout[USER_AGENT_ATTRIBUTE] == "Agents/JavaScript 0.20.0"
    assert not any(k.startswith("process.") for k in checkout)
    assert USER_AGENT_ATTRIBUTE not in audit_spans["support"][0].resource
    own = next(s for s in audit_spans if s not in ("checkout", "support"))
    assert USER_AGENT_ATTRIBUTE not in audit_spans[own][0].resource
    for spans in audit_spans.values():  # each workflow span under its trace's producer
        assert len({s.trace_id for s in spans}) == 1


def test_each_producer_gets_its_resource_and_destinations(
    tmp_path: Path, otlp_receiver_factory: ReceiverFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    main, audit = otlp_receiver_factory(), otlp_receiver_factory()
    exporter = exporter_for(tmp_path, main.endpoint, audit.endpoint)
    bridge = bridge_for(exporter, tmp_path)
    try:
        assert post(bridge.port, trace_items("checkout"), CHECKOUT, "Agents/JavaScript 0.20.0") == (200, {"accepted": 3})
        assert post(bridge.port, trace_items("support"), SUPPORT) == (200, {"accepted": 3})
        assert post(bridge.port, trace_items("own"), BRIDGE, "curl/8.0") == (200, {"accepted": 3})
        assert post(bridge.port, trace_items("nobody"), "tok-unknown-00000000")[0] == 401
        exporter.end_all_traces()
        check_delivery(main, audit)
    finally:
        bridge.stop(timeout=5.0)
    for token in (CHECKOUT, SUPPORT, BRIDGE):
        assert token not in caplog.text and token not in repr(bridge.ingest.__dict__)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_producers_survive_a_restart_on_the_store(tmp_path: Path, otlp_receiver_factory: ReceiverFactory) -> None:
    ports = free_port(), free_port()
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    store = tmp_path / "spans.db"
    exporter = exporter_for(tmp_path, *urls, store=store, retry_deadline=0.2)
    bridge = bridge_for(exporter, tmp_path)
    assert post(bridge.port, trace_items("checkout"), CHECKOUT, "Agents/JavaScript 0.20.0") == (200, {"accepted": 3})
    assert post(bridge.port, trace_items("support"), SUPPORT) == (200, {"accepted": 3})
    # a client cannot name a producer itself: the member where the store keeps it is ignored
    spoofed = [dict(item, **{"agent_otlp.producer": {"resource": {"service.name": "checkout"},
                                                      "destinations": ["audit"]}})
               for item in trace_items("own")]
    assert post(bridge.port, spoofed, BRIDGE, escape=True) == (200, {"accepted": 3})
    bridge.stop(timeout=1.0)  # nobody listens: everything stays in the store
    main, audit = (otlp_receiver_factory(port=p) for p in ports)
    again = exporter_for(tmp_path, *urls, store=store)
    try:
        check_delivery(main, audit)
    finally:
        again.shutdown(5.0)
    record(
        "bridge.producer_spoof",
        fault="items posted with the bridge's own token that name a producer themselves (the member "
              "the store keeps producers in, spelled with a \\u002e escape), beside two producers' "
              "items, all left in the store and delivered by a restarted exporter",
        cases=9,
        outcome="the spoofing items went out under the bridge's own resource to every destination; "
                "each producer's spans under its own resource, only to its destinations, after the restart",
        lost=0,
        method="`test_producers_survive_a_restart_on_the_store` posts to a BridgeServer whose "
               "destinations are down, stops it, and checks two in-process receivers after a restart.",
    )


def test_tokens_file_errors_name_the_entry_not_the_token(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    cases = [
        ({CHECKOUT: {"resource": {"deployment.environment.name": "prod"}}}, "service.name"),
        ({CHECKOUT: {"resource": {"service.name": "x"}, "destinations": ["nowhere"]}}, "'nowhere'"),
        ({CHECKOUT: {"resource": {"service.name": "x"}, "route": 1}}, "unknown key 'route'"),
    ]
    for content, expected in cases:
        path.write_text(json.dumps(content), encoding="utf-8")
        with pytest.raises(ConfigError) as error:
            load_tokens(path, destinations=["audit"])
        assert expected in str(error.value) and CHECKOUT not in str(error.value)
        assert "--tokens" in str(error.value) and str(path) in str(error.value)
    path.write_text('{"' + CHECKOUT + '": ', encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_tokens(path)
    assert CHECKOUT not in str(error.value)


def test_a_destination_passed_over_still_moves_its_cursor(
    tmp_path: Path, otlp_receiver_factory: ReceiverFactory
) -> None:
    main, audit = otlp_receiver_factory(), otlp_receiver_factory()
    exporter = exporter_for(tmp_path, main.endpoint, audit.endpoint, store=tmp_path / "spans.db")
    bridge = bridge_for(exporter, tmp_path)
    try:
        assert post(bridge.port, trace_items("checkout"), CHECKOUT) == (200, {"accepted": 3})
        exporter.end_all_traces()
        assert audit.wait_for_spans(3, timeout=15)
        store = exporter.store
        deadline = time.monotonic() + 10
        # a delivered batch's cursor move may ride the store's next commit: wait for both
        while (min(store.cursor("main"), store.cursor("audit")) < store.last_seq()
               and time.monotonic() < deadline):
            time.sleep(0.05)
        # nothing was for "main": its cursor is past the checkout items all the same, so the
        # store does not count them as waiting for it
        assert store.cursor("main") == store.last_seq() == store.cursor("audit")
        assert main.spans() == []
    finally:
        bridge.stop(timeout=5.0)
