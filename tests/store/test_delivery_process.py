"""Delivery from the span store in a process of its own (``delivery="process"``,
``AGENT_OTLP_DELIVERY=process``): the writer commits, the delivery process reads the store,
sends, and reports its cursor moves and counters back; it is started again when it dies and
ends with its writer."""

from __future__ import annotations

import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest

import store_child
from agent_otlp import create_exporter
from agent_otlp.core.config.errors import ConfigError
from agent_otlp.core.convert.ids import span_id_for
from agent_otlp.core.convert.spans import ConvertOptions
from agent_otlp.core.pipeline.exporter import AgentExporter
from agent_otlp.sources.bridge import INGEST_PATH, BridgeServer
from agent_otlp.store.delivery_process import RemoteDestination
from agent_otlp.store.outbox import stored_records
from agent_otlp.store.sqlite import SpanStore
from agent_otlp.testing import OTLPReceiver


def request_body(trace: int, spans: int) -> bytes:
    tid = f"trace_{trace:032x}"
    items: list[dict[str, Any]] = [{"object": "trace", "id": tid, "workflow_name": "delivery"}]
    items += [{"object": "trace.span", "id": span_id(trace, n), "trace_id": tid, "parent_id": None,
               "started_at": "2026-01-02T03:04:05.000001+00:00", "ended_at": "2026-01-02T03:04:05.5+00:00",
               "span_data": {"type": "function", "name": f"step {n}", "input": "{}", "output": "ok"},
               "error": None} for n in range(spans)]
    return json.dumps({"data": items}).encode()


def span_id(trace: int, n: int) -> str:
    return f"span_{trace:012x}{n:012x}"


def otel_span_ids(receiver: OTLPReceiver) -> set[str]:
    return {s.span_id for s in receiver.spans()}


def stored_span_ids(path: Path) -> set[str]:
    """The OpenTelemetry span ids of every span stored at ``path``."""
    store = SpanStore(path, read_only=True)
    try:
        return {stored_records(i, ConvertOptions()).span_id.hex()
                for i in store.read_after(0, 100_000) if i.kind == 0}
    finally:
        store.close()


def post(port: int, body: bytes) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", INGEST_PATH, body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def wait_until(check: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def remote(exporter: AgentExporter) -> RemoteDestination:
    destination = exporter.destinations[0]
    assert isinstance(destination, RemoteDestination)
    return destination


def process_exporter(store: Path, endpoint: str) -> AgentExporter:
    exporter: AgentExporter = create_exporter("otlp", endpoint=endpoint, env={}, store=store,
                                              delivery="process", schedule_delay=0.05, batch_size=50)
    return exporter


def test_the_delivery_process_delivers_what_the_bridge_commits_and_reports_its_figures(
    tmp_path: Path, otlp_receiver: OTLPReceiver
) -> None:
    exporter = process_exporter(tmp_path / "s.db", otlp_receiver.endpoint)
    destination = remote(exporter)
    delivery_pid = destination._process.pid
    assert delivery_pid not in (0, os.getpid())
    with BridgeServer(exporter, port=0) as bridge:
        for trace in range(6):
            assert post(bridge.port, request_body(trace, 40)) == 200
        assert otlp_receiver.wait_for_spans(240, timeout=30)
        assert exporter.force_flush(10).delivered
        # the writer sent nothing itself: the counters are the delivery process's
        assert wait_until(lambda: exporter.stats.destinations["otlp"].exported >= 240)
        with urllib.request.urlopen(f"{bridge.url}/metrics", timeout=10) as response:
            metrics = response.read().decode()
        exported = exporter.stats.destinations["otlp"].exported
        assert f'agent_otlp_destination_exported_spans_total{{destination="otlp"}} {exported}' in metrics
        assert destination.cursor > 0 and destination.pending == 0
    expected = stored_span_ids(tmp_path / "s.db")
    assert len(expected) == 240 and otel_span_ids(otlp_receiver) >= expected
    assert not destination._process.alive  # stopped with the exporter
    store = SpanStore(tmp_path / "s.db")
    (cursor,) = [c for c in store.cursors() if c.destination == "otlp"]
    assert cursor.seq == store.last_seq()  # every move it reported is written
    # and the last figures it reported: the workflow spans finished at shutdown included
    assert cursor.delivered == exporter.stats.destinations["otlp"].exported == 246
    store.close()


def test_a_killed_delivery_process_is_started_again_and_reported(
    tmp_path: Path, otlp_receiver: OTLPReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    exporter = process_exporter(tmp_path / "s.db", otlp_receiver.endpoint)
    destination = remote(exporter)
    process = destination._process
    try:
        assert exporter.submit_items_durable(json.loads(request_body(1, 30))["data"]).problem is None
        assert otlp_receiver.wait_for_spans(30, timeout=30)
        first = process.pid
        os.kill(first, signal.SIGKILL)
        assert wait_until(lambda: process.restarts == 1 and process.alive and process.pid != first)
        assert "ended with exit status -9" in exporter.stats.destinations["otlp"].last_error
        assert "delivery process" in caplog.text
        assert exporter.submit_items_durable(json.loads(request_body(2, 30))["data"]).problem is None
        assert exporter.force_flush(20).delivered
        expected = stored_span_ids(tmp_path / "s.db")
        assert len(expected) == 60 and otel_span_ids(otlp_receiver) >= expected
    finally:
        exporter.shutdown(10)
    assert not process.alive



def test_healthz_is_degraded_while_the_delivery_process_is_down(
    tmp_path: Path, otlp_receiver: OTLPReceiver
) -> None:
    """Between the death of the delivery process and its restart, ``/healthz`` says so."""
    exporter = process_exporter(tmp_path / "s.db", otlp_receiver.endpoint)
    process = remote(exporter)._process
    answers: list[tuple[int, dict[str, Any]]] = []

    def health(port: int) -> tuple[int, dict[str, Any]]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            conn.request("GET", "/healthz")
            response = conn.getresponse()
            return response.status, json.loads(response.read())
        finally:
            conn.close()

    with BridgeServer(exporter, port=0) as bridge:
        assert health(bridge.port) == (200, {"status": "ok"})
        first = process.pid
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (process.alive and process.pid != first):
            answers.append(health(bridge.port))
            time.sleep(0.005)
        assert process.alive and process.pid != first
        assert health(bridge.port) == (200, {"status": "ok"})
    degraded = [body for status, body in answers if status == 503]
    assert degraded, answers[-3:]
    assert degraded[0]["status"] == "degraded"
    assert "delivery process is not running" in degraded[0]["delivery"]


_WRITER = """
import sys, time
from agent_otlp import create_exporter
exporter = create_exporter("otlp", endpoint=sys.argv[2], env={}, store=sys.argv[1], delivery="process")
print(exporter.destinations[0]._process.pid, flush=True)
time.sleep(60)
"""


def test_the_delivery_process_ends_when_its_writer_is_killed(tmp_path: Path, otlp_receiver: OTLPReceiver) -> None:
    writer = subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path / "s.db"), otlp_receiver.endpoint],
                              stdout=subprocess.PIPE, text=True)
    assert writer.stdout is not None
    child = int(writer.stdout.readline())
    writer.send_signal(signal.SIGKILL)
    writer.wait(10)

    def gone() -> bool:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return True
        with open(f"/proc/{child}/stat") as stat:  # ended, not yet reaped by init
            return stat.read().split(") ")[1].startswith("Z")

    assert wait_until(gone, 10)


def test_an_unknown_delivery_mode_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        create_exporter("otlp", env={"AGENT_OTLP_DELIVERY": "fork"}, store=tmp_path / "s.db")
    assert "AGENT_OTLP_DELIVERY" in str(caught.value) and "'fork'" in str(caught.value)


def serve_delivering_apart(store: Path, port: int, endpoint: str) -> subprocess.Popen[str]:
    """``agent-otlp serve --store`` with a delivery process, answering on ``port``."""
    command = [sys.executable, "-c", "from agent_otlp.cli import main; main()", "serve", "--store", str(store),
               "--port", str(port), "--adapter", "otlp", "--endpoint", endpoint]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENT_OTLP_", "OTEL_"))}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=dict(env, AGENT_OTLP_DELIVERY="process", COLUMNS="200"))

    def answers() -> bool:
        assert process.poll() is None, process.communicate()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return True
        except OSError:
            return False

    assert wait_until(answers, 30)
    children = psutil.Process(process.pid).children()
    assert any("delivery_child" in " ".join(child.cmdline()) for child in children)
    return process


@pytest.mark.parametrize("run", range(2))
def test_sigkill_of_serve_delivering_apart_loses_no_acknowledged_span(
    tmp_path: Path, otlp_receiver: OTLPReceiver, run: int
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    first = serve_delivering_apart(tmp_path / "s.db", port, otlp_receiver.endpoint)
    acknowledged: list[int] = []
    stop = threading.Event()

    def client(number: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for trace in range(number * 100_000, number * 100_000 + 100_000):
            if stop.is_set():
                return
            body = json.dumps({"data": store_child.trace_items(trace)}).encode()
            try:
                conn.request("POST", INGEST_PATH, body=body, headers={"Content-Type": "application/json"})
                response = conn.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                return
            if response.status == 200:
                acknowledged.append(trace)

    clients = [threading.Thread(target=client, args=(n,)) for n in range(3)]
    for thread in clients:
        thread.start()
    time.sleep(random.uniform(0.4, 1.0))
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    stop.set()
    for thread in clients:
        thread.join(15)
    assert acknowledged, "no request was answered before the kill"
    expected = {span_id_for(store_child.span_id(t, n)).hex()
                for t in acknowledged for n in range(store_child.SPANS_PER_TRACE)}
    second = serve_delivering_apart(tmp_path / "s.db", port, otlp_receiver.endpoint)
    try:
        wait_until(lambda: expected <= otel_span_ids(otlp_receiver), 30)
    finally:
        second.send_signal(signal.SIGTERM)
        second.communicate(timeout=30)
    missing = expected - otel_span_ids(otlp_receiver)
    assert not missing, f"{len(missing)} of {len(expected)} acknowledged spans lost"


def test_a_page_read_from_the_store_decodes_as_its_rows_one_by_one(tmp_path: Path) -> None:
    from agent_otlp.store.reader import StoreSource

    store = SpanStore(tmp_path / "s.db")
    items = json.loads(request_body(7, 5))["data"]
    rows: list[tuple[int, str, str, int | None, bytes]] = [
        (0, "trace_x", f"span_{n}", 1, json.dumps(item).encode()) for n, item in enumerate(items[1:])]
    rows.insert(2, (0, "trace_x", "span_bad", 1, b'{"object": "trace.span", "id": '))  # damaged
    store.append(rows)
    source = StoreSource(store, "d", ConvertOptions())
    source.read_seq, source.latest = 0, store.last_seq()
    read = source.read(100)
    assert source.unreadable == 1
    expected = [stored_records(i, ConvertOptions()) for i in store.read_after(0, 100) if i.item_id != "span_bad"]
    assert read == expected and len(read) == 5
    store.close()


def test_a_commit_is_announced_once_its_writers_are_answered(tmp_path: Path) -> None:
    from agent_otlp.store.committer import Batch, GroupCommitter

    store = SpanStore(tmp_path / "s.db")
    seen: list[tuple[int, bool]] = []
    batch = Batch([(0, "trace_x", "span_1", 1, b'{"object": "trace.span"}')])
    committer = GroupCommitter(store, lambda group, last, problem: None,
                               answered=lambda last: seen.append((last, batch.done)))
    committer.submit(batch)
    assert committer.wait(batch) is None
    assert seen == [(store.last_seq(), True)]  # the writer was answered first
    store.close()
