"""Delivery from the span store survives a SIGKILL and a backend outage: every span arrives,
at most the batch in flight at the kill twice."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import store_child
from _paths import TESTS
from agent_otlp import create_exporter
from agent_otlp.core.convert.ids import span_id_for, workflow_span_id_for
from agent_otlp.testing import OTLPReceiver, ReceivedRequest, Reply

CHILD = str(TESTS / "store_child.py")
N_TRACES = 10_000


def expected_ids(n_traces: int) -> set[str]:
    out = set()
    for index in range(n_traces):
        out.add(workflow_span_id_for(store_child.trace_id(index)).hex())
        for number in range(store_child.SPANS_PER_TRACE):
            out.add(span_id_for(store_child.span_id(index, number)).hex())
    return out


def test_sigkill_mid_stream_then_resume_delivers_everything(tmp_path: Path) -> None:
    store = str(tmp_path / "spans.db")
    total = N_TRACES * (store_child.SPANS_PER_TRACE + 1)
    gate = threading.Event()

    def slow(request: ReceivedRequest) -> Reply:
        gate.wait(60)  # nothing is accepted until every item is in the store
        return Reply(delay=0.01)

    with OTLPReceiver() as receiver:
        receiver.set_handler(slow)
        child = subprocess.Popen(
            [sys.executable, CHILD, "produce", store, receiver.endpoint, str(N_TRACES)],
            stdout=subprocess.PIPE, text=True,
        )
        try:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "STORED"
            gate.set()
            assert receiver.wait_for_spans(total * 2 // 5, timeout=60)
            child.send_signal(signal.SIGKILL)
            child.wait(10)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
        at_kill = receiver.span_count()
        assert 0 < at_kill < total, "the kill must land mid-stream"

        resumed = subprocess.run(
            [sys.executable, CHILD, "resume", store, receiver.endpoint],
            capture_output=True, text=True, timeout=120,
        )
        assert resumed.returncode == 0, resumed.stderr
        assert "DONE pending=0" in resumed.stdout
        ids = [s.span_id for s in receiver.spans()]

    counts = Counter(ids)
    duplicates = len(ids) - len(counts)
    print(f"at kill {at_kill}/{total}; after resume {len(ids)} spans, {duplicates} duplicates")
    assert set(counts) == expected_ids(N_TRACES)
    assert len(counts) == total
    assert duplicates <= store_child.BATCH_SIZE


def test_backend_outage_loses_nothing(tmp_path: Path) -> None:
    receiver = OTLPReceiver().start()
    endpoint = receiver.endpoint
    receiver.stop()  # down from the start
    exporter = create_exporter(
        "otlp", endpoint=endpoint, env={}, store=tmp_path / "s.db", batch_size=50,
        schedule_delay=0.02, retry_deadline=1, timeout=2,
    )
    try:
        errors = exporter.submit_items(store_child.items(30))
        assert errors == []
        exporter.end_all_traces()
        report = exporter.force_flush(1.5)
        assert not report.delivered and report.pending > 0
        receiver.restart()
        deadline = time.monotonic() + 60
        while exporter.pending() and time.monotonic() < deadline:
            exporter.force_flush(2)
        assert receiver.wait_for_spans(30 * 11, timeout=30)
    finally:
        exporter.shutdown(10)
        receiver.stop()
    assert {s.span_id for s in receiver.spans()} == expected_ids(30)


def test_kill_before_any_delivery_resumes_all(tmp_path: Path) -> None:
    """Traces left open by the killed process are finished by the next one."""
    store = tmp_path / "s.db"
    with OTLPReceiver() as receiver:
        receiver.stop()
        here = str(TESTS)
        code = (
            f"import sys, time; sys.path.insert(0, {here!r}); import store_child;"
            "from agent_otlp import create_exporter;"
            f"e = create_exporter('otlp', endpoint={receiver.endpoint!r}, env={{}}, store={str(store)!r},"
            " retry_deadline=600);"
            "e.submit_items(store_child.items(5)); e.force_flush(0.5);"
            "print('STORED', e.store.count(), flush=True); time.sleep(60)"
        )
        child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        try:
            assert child.stdout is not None
            line = child.stdout.readline().split()
            assert line[0] == "STORED" and int(line[1]) == 5 * 11  # spans and trace starts
        finally:
            child.kill()
            child.wait()
        receiver.restart()
        exporter = create_exporter("otlp", endpoint=receiver.endpoint, env={}, store=store)
        report = exporter.shutdown(20)  # finishes the traces the killed process left open
        assert report.delivered
        spans = receiver.spans()
    assert {s.span_id for s in spans} == expected_ids(5)
    roots = [s for s in spans if s.name.startswith("invoke_workflow")]
    assert len(roots) == 5 and all(s.name == "invoke_workflow crash test" for s in roots)
