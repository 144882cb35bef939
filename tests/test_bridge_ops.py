"""The ingest bridge in operation: back-pressure, metrics, graceful stop, concurrent clients,
and the ``agent-otlp serve`` command."""

from __future__ import annotations

import http.client
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

pytest.importorskip("agents")

from agent_otlp import create_exporter
from agent_otlp.cli.serve_cmd import parse_size
from agent_otlp.core.config.errors import ConfigError
from agent_otlp.core.pipeline.exporter import AgentExporter
from agent_otlp.sources.bridge import INGEST_PATH, BridgeServer, QueueBackpressure
from agent_otlp.testing import OTLPReceiver
from agent_otlp.workloads import DEMO_SPAN_COUNT, record_demo_items


def call(url: str, method: str = "POST", path: str = INGEST_PATH, body: bytes | None = None,
         headers: dict[str, str] | None = None, timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout)
    try:
        conn.request(method, path, body=body,
                     headers={"Content-Type": "application/json", **(headers or {})})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def post(url: str, items: list[Any]) -> tuple[int, Any]:
    status, _, raw = call(url, body=json.dumps({"data": items}).encode())
    return status, json.loads(raw)


def wait_until(condition: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return bool(condition())


@pytest.fixture
def exporter(otlp_receiver: OTLPReceiver) -> Iterator[AgentExporter]:
    exp = create_exporter("otlp", endpoint=otlp_receiver.endpoint, env={}, schedule_delay=0.05)
    yield exp
    exp.shutdown(2.0)


def test_backpressure_answers_429(otlp_receiver: OTLPReceiver) -> None:
    exporter = create_exporter(
        "otlp", endpoint=otlp_receiver.endpoint, env={}, schedule_delay=0.05, retry_deadline=300
    )
    otlp_receiver.stop()  # nothing drains
    full = QueueBackpressure(exporter, max_pending=5)
    bridge = BridgeServer(exporter, port=0, is_full=full, retry_after=3).start()
    try:
        items = record_demo_items()
        assert post(bridge.url, items) == (200, {"accepted": len(items)})
        assert wait_until(lambda: full.pending() >= DEMO_SPAN_COUNT)
        status, headers, raw = call(bridge.url, body=json.dumps({"data": items}).encode())
        assert status == 429
        assert headers["retry-after"] == "3"
        assert "full" in json.loads(raw)["error"]
        assert call(bridge.url, "GET", "/healthz")[0] == 200
        metrics = call(bridge.url, "GET", "/metrics")[2].decode()
        assert 'agent_otlp_bridge_requests_total{status="429"} 1' in metrics
    finally:
        bridge.stop(timeout=0.5)


def test_offload_exporter_feeds_the_bridge(otlp_receiver: OTLPReceiver) -> None:
    """An offload-mode exporter (spans exported by a child process) serves the bridge through
    its public surface alone: hand-over, pending spans, back-pressure, health, stop."""
    exporter = create_exporter("otlp", endpoint=otlp_receiver.endpoint, env={},
                               schedule_delay=0.02, offload=1)
    assert not isinstance(exporter, AgentExporter)
    bridge = BridgeServer(exporter, port=0, max_pending=10_000).start()
    try:
        assert isinstance(bridge.is_full, QueueBackpressure)
        items = record_demo_items()
        assert post(bridge.url, items) == (200, {"accepted": len(items)})
        assert post(bridge.url, [{"object": "nope"}])[0] == 400
        exporter.end_all_traces()
        assert otlp_receiver.wait_for_spans(DEMO_SPAN_COUNT + 1, timeout=10)  # and the workflow
        assert wait_until(lambda: bridge.is_full.pending() == 0)  # type: ignore[attr-defined]
        metrics = call(bridge.url, "GET", "/metrics")[2].decode().splitlines()
        assert "agent_otlp_bridge_pending_spans 0" in metrics
        assert call(bridge.url, "GET", "/healthz")[2] == b'{"status": "ok"}'
    finally:
        report = bridge.stop(timeout=10)
    assert report is not None and report.delivered
    assert otlp_receiver.span_count() == DEMO_SPAN_COUNT + 1


def test_healthz_and_metrics(exporter: AgentExporter, otlp_receiver: OTLPReceiver) -> None:
    with BridgeServer(exporter, port=0) as bridge:
        items = record_demo_items()
        assert post(bridge.url, items)[0] == 200
        assert post(bridge.url, [*items[:2], {"object": "nope"}])[0] == 400
        exporter.end_all_traces()
        assert exporter.force_flush(10).delivered
        status, headers, raw = call(bridge.url, "GET", "/healthz")
        assert status == 200 and json.loads(raw) == {"status": "ok"}
        status, headers, raw = call(bridge.url, "GET", "/metrics")
        assert status == 200 and headers["content-type"].startswith("text/plain; version=0.0.4")
        text = raw.decode()
    lines = set(text.splitlines())
    assert 'agent_otlp_bridge_requests_total{status="200"} 2' in lines  # ingest + healthz
    assert 'agent_otlp_bridge_requests_total{status="400"} 1' in lines
    assert f'agent_otlp_bridge_items_total{{result="accepted"}} {len(items) + 2}' in lines
    assert 'agent_otlp_bridge_items_total{result="rejected"} 1' in lines
    assert f'agent_otlp_destination_exported_spans_total{{destination="otlp"}} {otlp_receiver.span_count()}' in lines
    assert 'agent_otlp_destination_queue_depth{destination="otlp"} 0' in lines
    assert "agent_otlp_bridge_pending_spans 0" in lines
    assert "# TYPE agent_otlp_destination_dropped_spans_total counter" in lines
    for line in lines:  # every sample is "name{labels} number"
        if line and not line.startswith("#"):
            float(line.rsplit(" ", 1)[1])


def test_stop_finishes_in_flight_requests_and_flushes(
    exporter: AgentExporter, otlp_receiver: OTLPReceiver
) -> None:
    bridge = BridgeServer(exporter, port=0, read_timeout=30.0).start()
    items = record_demo_items(n_traces=2)
    first, second = items[:14], items[14:]
    assert post(bridge.url, first)[0] == 200  # posted just before stop, never flushed by the test

    # a request whose body is still on its way when the stop begins
    body = json.dumps({"data": second}).encode()
    sock = socket.create_connection((bridge.host, bridge.port), timeout=10)
    sock.sendall(
        f"POST {INGEST_PATH} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n".encode() + body[:100]
    )
    idle = socket.create_connection((bridge.host, bridge.port), timeout=10)  # kept-alive, idle
    assert wait_until(lambda: bridge._in_flight == 1 and len(bridge._connections) == 2)
    reports: queue.Queue[Any] = queue.Queue()
    stopper = threading.Thread(target=lambda: reports.put(bridge.stop(timeout=20)))
    stopper.start()
    assert wait_until(lambda: not _accepts(bridge)), "still accepting during stop"
    assert stopper.is_alive()
    sock.sendall(body[100:])
    answer = sock.recv(65536).decode()
    assert answer.startswith("HTTP/1.1 200") and "Connection: close" in answer
    sock.close()
    stopper.join(20)
    report = reports.get_nowait()
    assert report.delivered
    assert idle.recv(10) == b""  # the idle connection was closed, not waited for
    idle.close()
    assert otlp_receiver.span_count() == 2 * (DEMO_SPAN_COUNT + 1)


def _accepts(bridge: BridgeServer) -> bool:
    try:
        socket.create_connection((bridge.host, bridge.port), timeout=1).close()
    except OSError:
        return False
    return True


def test_concurrent_clients(exporter: AgentExporter, otlp_receiver: OTLPReceiver) -> None:
    traces = record_demo_items(n_traces=8)
    per_trace = [traces[i * 14:(i + 1) * 14] for i in range(8)]
    errors: list[str] = []

    with BridgeServer(exporter, port=0, max_body=1024 * 1024) as bridge:
        def client(items: list[Any]) -> None:
            try:
                for round_ in range(5):
                    chunk = items[round_ * 3:(round_ + 1) * 3]
                    status, reply = post(bridge.url, [*chunk, {"object": "bad", "id": f"bad{round_}"}])
                    if status != 400 or reply["accepted"] != len(chunk) or len(reply["rejected"]) != 1:
                        errors.append(f"mixed: {status} {reply}")
                    status, _, _ = call(bridge.url, body=b"{broken")
                    if status != 400:
                        errors.append(f"broken: {status}")
            except Exception as exc:
                errors.append(repr(exc))

        threads = [threading.Thread(target=client, args=(items,)) for items in per_trace]
        for thread in threads:
            thread.start()
        health_times = []
        while any(t.is_alive() for t in threads):
            started = time.monotonic()
            assert call(bridge.url, "GET", "/healthz", timeout=5)[0] == 200
            health_times.append(time.monotonic() - started)
        for thread in threads:
            thread.join(30)
        assert not errors, errors[:5]
        assert bridge.items == {"accepted": 8 * 14, "rejected": 8 * 5}
        exporter.end_all_traces()
        assert exporter.force_flush(10).delivered
    assert otlp_receiver.wait_for_spans(8 * (DEMO_SPAN_COUNT + 1), timeout=10)
    assert otlp_receiver.span_count() == 8 * (DEMO_SPAN_COUNT + 1)
    assert max(health_times) < 2.0


def test_serve_command(otlp_receiver: OTLPReceiver, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENT_OTLP_", "OTEL_"))}
    env.update(PYTHONUNBUFFERED="1", COLUMNS="200", AGENT_OTLP_BRIDGE_TOKEN="cli-token-8c2e41")
    command = [sys.executable, "-c", "from agent_otlp.cli import main; main()", "serve",
               "--adapter", "otlp", "--endpoint", otlp_receiver.endpoint, "--port", "0",
               "--max-body", "1MiB", "--max-pending", "1000"]
    proc = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "POST http://127.0.0.1:" in line, line
        url = line.split("POST ", 1)[1].split(INGEST_PATH)[0]
        items = record_demo_items()
        body = json.dumps({"data": items}).encode()
        assert call(url, body=body)[0] == 401
        status, _, raw = call(url, body=body, headers={"Authorization": "Bearer cli-token-8c2e41"})
        assert (status, json.loads(raw)) == (200, {"accepted": len(items)})
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "cli-token-8c2e41" not in out + err
    # SIGTERM finalized the open trace and flushed everything
    assert otlp_receiver.span_count() == DEMO_SPAN_COUNT + 1


def test_parse_size() -> None:
    assert parse_size("8MiB") == 8 * 1024 * 1024
    assert parse_size("8388608") == 8388608
    assert parse_size("512k") == 512_000
    assert parse_size("1.5 MB") == 1_500_000
    assert parse_size("64KiB") == 65536
    for bad in ("", "lots", "-1", "0", "5 TB"):
        with pytest.raises(ConfigError, match="max-body"):
            parse_size(bad)
