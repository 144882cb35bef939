"""The bridge with the span store: 429 once the undelivered budget is used up, not growth."""

from __future__ import annotations

import http.client
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from agent_otlp import create_exporter
from agent_otlp.sources.bridge import INGEST_PATH, BridgeServer, QueueBackpressure
from agent_otlp.testing import OTLPReceiver

pytest.importorskip("agents")

from agent_otlp.workloads import DEMO_SPAN_COUNT, record_demo_items


def post(url: str, items: list[Any]) -> tuple[int, dict[str, str]]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        conn.request("POST", INGEST_PATH, body=json.dumps({"data": items}).encode(),
                     headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}
    finally:
        conn.close()


def stored_size(items: list[Any], path: Path) -> int:
    """Bytes the store keeps for ``items`` posted to the bridge (spans as the client sent them)."""
    exporter = create_exporter("otlp", endpoint="http://127.0.0.1:9", env={}, store=path)
    bridge = BridgeServer(exporter, port=0, shutdown_exporter=False).start()
    try:
        assert post(bridge.url, items)[0] == 200
    finally:
        bridge.stop(timeout=5)
    exporter.force_flush(0.2)
    assert exporter.store is not None
    size = exporter.store.undelivered_bytes
    exporter.shutdown(0.1)
    return size


def test_bridge_answers_429_when_the_store_budget_is_used_up(
    tmp_path: Path, otlp_receiver: OTLPReceiver, sdk_processors: list[Any]
) -> None:
    items = record_demo_items()
    budget = int(stored_size(items, tmp_path / "probe.db") / 0.95)  # one request: 95% of it
    otlp_receiver.stop()
    exporter = create_exporter(
        "otlp", endpoint=otlp_receiver.endpoint, env={"AGENT_OTLP_STORE_BUDGET": str(budget)},
        store=tmp_path / "s.db", retry_deadline=300, schedule_delay=0.05,
    )
    bridge = BridgeServer(exporter, port=0, retry_after=2).start()
    assert not isinstance(bridge.is_full, QueueBackpressure)
    try:
        assert post(bridge.url, items)[0] == 200
        deadline = time.monotonic() + 10
        while not exporter.is_full() and time.monotonic() < deadline:
            time.sleep(0.02)
        status, headers = post(bridge.url, items)
        assert (status, headers["retry-after"]) == (429, "2")
        assert exporter.store is not None
        assert exporter.store.counter("evicted_undelivered") == 0  # refused, nothing lost
        otlp_receiver.restart()
        assert otlp_receiver.wait_for_spans(DEMO_SPAN_COUNT, timeout=30)
        deadline = time.monotonic() + 30
        while exporter.is_full() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert post(bridge.url, items)[0] == 200  # room again once delivered
    finally:
        bridge.stop(timeout=10)
    # the same trace posted twice: its spans twice, one workflow span when it is finished
    assert otlp_receiver.span_count() == 2 * DEMO_SPAN_COUNT + 1


def test_bridge_without_store_keeps_the_queue_limit(otlp_receiver: OTLPReceiver) -> None:
    exporter = create_exporter("otlp", endpoint=otlp_receiver.endpoint, env={}, store=False)
    bridge = BridgeServer(exporter, port=0, max_pending=7)
    assert isinstance(bridge.is_full, QueueBackpressure) and bridge.is_full.max_pending == 7
    exporter.shutdown(1)
