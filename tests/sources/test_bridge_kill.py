"""``agent-otlp serve --store`` killed with SIGKILL while clients post: every span it answered
200 for is delivered by the next process on the same store, and every trace it left open
gets its workflow span."""

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
from pathlib import Path

import pytest

import store_child
from _reliability import record
from agent_otlp.core.convert.ids import span_id_for, workflow_span_id_for
from agent_otlp.sources.bridge import INGEST_PATH
from agent_otlp.testing import OTLPReceiver

CLIENTS = 4
TRACES_PER_POST = 2


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(store: Path, port: int, endpoint: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-c", "from agent_otlp.cli import main; main()", "serve",
               "--store", str(store), "--port", str(port), "--adapter", "otlp", "--endpoint", endpoint]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=dict(os.environ, COLUMNS="200"))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise AssertionError("serve did not start")


def client(number: int, port: int, acknowledged: list[int], stop: threading.Event) -> None:
    """Post traces until the bridge goes away; note those answered 200."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    sequence = 0
    while not stop.is_set():
        first = number * 1_000_000 + sequence
        items = [i for index in range(first, first + TRACES_PER_POST) for i in store_child.trace_items(index)]
        try:
            conn.request("POST", INGEST_PATH, body=json.dumps({"data": items}).encode(),
                         headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            return
        if response.status == 200:
            acknowledged.extend(range(first, first + TRACES_PER_POST))
        sequence += TRACES_PER_POST


@pytest.mark.parametrize("run", range(5))
def test_sigkill_of_serve_loses_no_acknowledged_span(tmp_path: Path, run: int) -> None:
    store = tmp_path / "spans.db"
    with OTLPReceiver() as receiver:
        port = free_port()
        first = serve(store, port, receiver.endpoint)
        stop = threading.Event()
        acknowledged: list[list[int]] = [[] for _ in range(CLIENTS)]
        threads = [threading.Thread(target=client, args=(n, port, acknowledged[n], stop))
                   for n in range(CLIENTS)]
        for thread in threads:
            thread.start()
        time.sleep(random.uniform(0.4, 1.2))
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        stop.set()
        for thread in threads:
            thread.join(15)
        traces = [index for done in acknowledged for index in done]
        assert traces, "no request was answered before the kill"

        expected = {span_id_for(store_child.span_id(i, n)).hex()
                    for i in traces for n in range(store_child.SPANS_PER_TRACE)}
        second = serve(store, port, receiver.endpoint)
        try:
            deadline = time.monotonic() + 30
            while not expected <= {s.span_id for s in receiver.spans()} and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            second.send_signal(signal.SIGTERM)  # finishes the traces the killed process left open
            second.communicate(timeout=30)
        received = {s.span_id for s in receiver.spans()}
    missing = expected - received
    roots = {workflow_span_id_for(store_child.trace_id(i)).hex() for i in traces}
    record(
        "store.kill9.serve",
        fault=f"SIGKILL of `agent-otlp serve --store` at a random moment while {CLIENTS} clients "
              f"post {TRACES_PER_POST} traces (22 items) a request; restart on the same store",
        cases=len(expected),
        outcome=f"{len(traces)} traces answered 200 before the kill; after the restart every "
                f"acknowledged span ({len(expected - missing)} of {len(expected)}) and "
                f"{len(roots & received)} of {len(roots)} workflow spans arrived",
        lost=len(missing) + len(roots - received),
        method="`test_sigkill_of_serve_loses_no_acknowledged_span` (5 runs) kills a real `serve` "
               "subprocess, restarts it, stops it with SIGTERM and looks for every acknowledged "
               "span id at the in-process receiver.",
    )
    assert not missing, f"{len(missing)} of {len(expected)} acknowledged spans lost (run {run})"
    assert roots <= received, f"{len(roots - received)} of {len(roots)} workflow spans missing"
