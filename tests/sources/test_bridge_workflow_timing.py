"""When the bridge sends a trace's workflow span: a short grace period after its root spans
(no parent) have ended, the longer idle timeout while they have not."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent_otlp import create_exporter
from agent_otlp.sources.bridge import INGEST_PATH, BridgeServer
from agent_otlp.testing import OTLPReceiver
from agent_otlp.workloads import DEMO_SPAN_COUNT, record_demo_items
from test_bridge import post_items

GRACE = 0.5


@pytest.fixture
def bridge(otlp_receiver: OTLPReceiver) -> Iterator[BridgeServer]:
    exporter = create_exporter("otlp", endpoint=otlp_receiver.endpoint, env={}, schedule_delay=0.05)
    exporter.set_trace_idle_timeout(60.0)
    exporter.set_trace_end_grace(GRACE)
    server = BridgeServer(exporter, port=0).start()
    yield server
    server.stop(timeout=2.0)


def _workflow_spans(receiver: OTLPReceiver) -> list[Any]:
    return [s for s in receiver.spans() if s.name.startswith("invoke_workflow")]


def test_workflow_span_follows_the_end_of_its_root_spans(
    bridge: BridgeServer, otlp_receiver: OTLPReceiver
) -> None:
    items = record_demo_items()
    roots = [i for i in items if i["object"] == "trace.span" and i.get("parent_id") is None]
    others = [i for i in items if i not in roots]
    assert roots and others

    assert post_items(bridge.url, others).status == 200
    assert otlp_receiver.wait_for_spans(len(others) - 1, timeout=10)
    time.sleep(4 * GRACE)  # root spans not ended yet: the idle timeout (60 s) holds the trace
    assert _workflow_spans(otlp_receiver) == []

    assert post_items(bridge.url, roots).status == 200
    posted = time.monotonic()
    assert otlp_receiver.wait_for_spans(DEMO_SPAN_COUNT + 1, timeout=10)
    waited = time.monotonic() - posted
    assert GRACE * 0.8 <= waited < GRACE + 1.5, waited
    (workflow,) = _workflow_spans(otlp_receiver)
    root_spans = [s for s in otlp_receiver.spans() if s.parent_span_id == workflow.span_id]
    assert len(root_spans) == len(roots)
    assert workflow.end_ns >= max(s.end_ns for s in root_spans)


def test_open_root_span_keeps_the_trace_open(bridge: BridgeServer, otlp_receiver: OTLPReceiver) -> None:
    items = record_demo_items()
    roots = [i for i in items if i["object"] == "trace.span" and i.get("parent_id") is None]
    last = roots[-1]
    started = dict(last, ended_at=None)  # a client that posts span starts too
    assert post_items(bridge.url, [*(i for i in items if i is not last), started]).status == 200
    time.sleep(4 * GRACE)
    assert _workflow_spans(otlp_receiver) == []
    assert post_items(bridge.url, [last]).status == 200
    assert otlp_receiver.wait_for_spans(DEMO_SPAN_COUNT + 2, timeout=GRACE + 2)
    assert len(_workflow_spans(otlp_receiver)) == 1



def test_serve_option_sets_the_grace(otlp_receiver: OTLPReceiver, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENT_OTLP_", "OTEL_"))}
    env.update(PYTHONUNBUFFERED="1", COLUMNS="200")
    command = [sys.executable, "-c", "from agent_otlp.cli import main; main()", "serve",
               "--adapter", "otlp", "--endpoint", otlp_receiver.endpoint, "--port", "0",
               "--no-store", "--trace-end-grace", str(GRACE)]
    proc = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().split("POST ", 1)[1].split(INGEST_PATH)[0]
        assert post_items(url, record_demo_items()).status == 200
        # sent by the grace period, long before the idle timeout (120 s) or the stop
        assert otlp_receiver.wait_for_spans(DEMO_SPAN_COUNT + 1, timeout=GRACE + 3)
        assert len(_workflow_spans(otlp_receiver)) == 1
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
