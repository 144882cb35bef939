"""Historical export: from the store or JSONL files, by time range, resumable, without moving
the live cursors."""

from __future__ import annotations

import json
import sqlite3
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from agent_otlp.core.convert.ids import span_id_for, workflow_span_id_for
from agent_otlp.core.convert.records import AgentSpan, AgentTrace, parse_item
from agent_otlp.historical import ExportInterrupted, HistoricalExport, parse_time, resolve_target
from agent_otlp.store.outbox import span_row, trace_row, trace_start_row
from agent_otlp.store.sqlite import SpanStore
from agent_otlp.testing import OTLPReceiver, ReceivedRequest, Reply

sys.path.insert(0, str(Path(__file__).parent))
import store_child


def fill(store: SpanStore, n_traces: int) -> None:
    """Stored like the exporter stores them: trace start, spans, finished trace."""
    rows = []
    for index in range(n_traces):
        trace, *spans = [parse_item(i) for i in store_child.trace_items(index)]
        assert isinstance(trace, AgentTrace)
        rows.append(trace_start_row(trace))
        rows.extend(span_row(s) for s in spans if isinstance(s, AgentSpan))
        ends = [(s.started_ns, s.ended_ns) for s in spans if isinstance(s, AgentSpan)]
        rows.append(trace_row(trace, min(e[0] or 0 for e in ends), max(e[1] or 0 for e in ends), False))
    store.append(rows)


def expected(indexes: range) -> set[str]:
    out = set()
    for index in indexes:
        out.add(workflow_span_id_for(store_child.trace_id(index)).hex())
        out.update(span_id_for(store_child.span_id(index, n)).hex() for n in range(10))
    return out


def engine(store: SpanStore, receiver: OTLPReceiver, **kwargs: object) -> HistoricalExport:
    target = resolve_target("otlp", store=store, env={}, endpoint=receiver.endpoint, retry_deadline=0.3)
    return HistoricalExport(target, store, **kwargs)  # type: ignore[arg-type]


def test_parse_time() -> None:
    assert parse_time("1970-01-01T00:00:01Z") == 1_000_000_000
    assert parse_time("2024-05-01") == parse_time("2024-05-01T00:00:00+00:00")
    assert parse_time("2024-05-01T02:00:00+02:00") == parse_time("2024-05-01")
    now = parse_time("now")
    assert abs(now - parse_time("2h") - 7_200_000_000_000) < 10_000_000_000


def test_store_range_export_sends_spans_and_workflow_roots(tmp_path: Path, otlp_receiver: OTLPReceiver) -> None:
    store = SpanStore(tmp_path / "s.db")
    live_cursor = store.cursor("otlp")  # a live destination of the same name
    fill(store, 200)  # trace i ends in second i of 10:00
    since, until = parse_time("2024-05-01T10:00:50Z"), parse_time("2024-05-01T10:01:40Z")
    job = engine(store, otlp_receiver, batch_size=64)
    assert job.count_store(store, since, until) == 50 * 11
    result = job.from_store(store, since, until)
    assert (result.sent, result.failed, result.total) == (550, 0, 550)
    ids = [s.span_id for s in otlp_receiver.spans()]
    assert len(ids) == 550 and set(ids) == expected(range(50, 100))
    roots = [s for s in otlp_receiver.spans() if not s.parent_span_id]
    assert len(roots) == 50 and all(r.name == "invoke_workflow crash test" for r in roots)
    assert store.cursor("otlp") == live_cursor  # the live cursor did not move
    again = job.from_store(store, since, until)
    assert again.already_done and otlp_receiver.span_count() == 550


def test_store_export_resumes_after_an_interruption(tmp_path: Path, otlp_receiver: OTLPReceiver) -> None:
    store = SpanStore(tmp_path / "s.db")
    fill(store, 100)
    with pytest.raises(ExportInterrupted) as stopped:
        engine(store, otlp_receiver, batch_size=50, stop_after=3).from_store(store)
    assert stopped.value.result.sent == otlp_receiver.span_count() > 0
    result = engine(store, otlp_receiver, batch_size=50).from_store(store)
    assert result.resumed_from > 0 and result.sent == 1100
    ids = [s.span_id for s in otlp_receiver.spans()]
    assert len(ids) == 1100 and set(ids) == expected(range(100))


def test_a_failing_receiver_interrupts_and_a_rerun_continues(tmp_path: Path, otlp_receiver: OTLPReceiver) -> None:
    store = SpanStore(tmp_path / "s.db")
    fill(store, 100)
    seen = []

    def fail_after_five(request: ReceivedRequest) -> Reply | None:
        seen.append(request)
        return Reply(status=503, message="maintenance") if len(seen) > 5 else None

    otlp_receiver.set_handler(fail_after_five)
    with pytest.raises(ExportInterrupted, match="maintenance"):
        engine(store, otlp_receiver, batch_size=40).from_store(store)
    delivered = otlp_receiver.span_count()
    assert 0 < delivered < 1100
    otlp_receiver.set_handler(None)
    engine(store, otlp_receiver, batch_size=40).from_store(store)
    counts = Counter(s.span_id for s in otlp_receiver.spans())
    assert set(counts) == expected(range(100))
    assert sum(counts.values()) - len(counts) <= 40  # at most the batch in flight


def test_file_export_with_range_resume_and_synthesized_roots(tmp_path: Path, otlp_receiver: OTLPReceiver) -> None:
    path = tmp_path / "t.jsonl"
    lines = [json.dumps(item) for item in store_child.items(60)]
    orphan = {"object": "trace.span", "id": "span_orphan", "trace_id": "trace_" + "f" * 32, "parent_id": None,
              "started_at": "2024-05-01T10:00:30+00:00", "ended_at": "2024-05-01T10:00:31+00:00",
              "span_data": {"type": "custom", "name": "alone", "data": {}}}
    lines += [json.dumps(orphan), "not json"]
    path.write_text("\n".join(lines) + "\n")
    store = SpanStore(tmp_path / "jobs.db")
    since, until = parse_time("2024-05-01T10:00:10Z"), parse_time("2024-05-01T10:00:40Z")
    job = engine(store, otlp_receiver, batch_size=25)
    assert job.count_files([path], since, until) == 30 * 11 + 2
    with pytest.raises(ExportInterrupted):
        engine(store, otlp_receiver, batch_size=25, stop_after=4).from_files([path], since, until)
    assert otlp_receiver.span_count() == 100
    result = job.from_files([path], since, until)
    assert result.sent == 30 * 11 + 2 and result.invalid == 1
    spans = otlp_receiver.spans()
    ids = Counter(s.span_id for s in spans)
    want = expected(range(10, 40)) | {span_id_for("span_orphan").hex(),
                                      workflow_span_id_for("trace_" + "f" * 32).hex()}
    assert set(ids) == want and len(spans) == len(want)
    root = next(s for s in spans if s.span_id == workflow_span_id_for(store_child.trace_id(12)).hex())
    children = [s for s in spans if s.trace_id == root.trace_id and s.span_id != root.span_id]
    assert root.start_ns == min(c.start_ns for c in children)
    assert root.end_ns == max(c.end_ns for c in children)
    synthesized = next(s for s in spans if s.span_id == workflow_span_id_for("trace_" + "f" * 32).hex())
    assert synthesized.attributes["agent_otlp.workflow.synthesized"] is True


def test_file_export_reads_files_the_way_send_does(tmp_path: Path, otlp_receiver: OTLPReceiver) -> None:
    """A JSON document over several lines and a JSON Lines line holding an array are read
    as ``agent-otlp send`` reads them: item by item, an unreadable line counted invalid."""
    items = list(store_child.items(3))
    document = tmp_path / "doc.json"
    document.write_text(json.dumps({"data": items[:11]}, indent=2))
    arrays = tmp_path / "arrays.jsonl"
    arrays.write_text(json.dumps(items[11:22]) + "\nnot json\n" + json.dumps({"data": items[22:]}) + "\n")
    store = SpanStore(tmp_path / "jobs.db")
    job = engine(store, otlp_receiver, batch_size=10)
    assert job.count_files([document, arrays], None, None) == 33
    result = job.from_files([document, arrays])
    assert (result.sent, result.invalid, result.failed) == (33, 1, 0)
    assert {s.span_id for s in otlp_receiver.spans()} == expected(range(3))


def test_several_requests_in_flight_and_positions_saved_in_order(tmp_path: Path, otlp_receiver: OTLPReceiver) -> None:
    store = SpanStore(tmp_path / "s.db")
    fill(store, 40)  # 440 spans in batches of at most 50
    lock, active, most = threading.Lock(), [0], [0]

    def slow(request: ReceivedRequest) -> Reply | None:
        with lock:
            active[0] += 1
            most[0] = max(most[0], active[0])
        time.sleep(0.2)
        with lock:
            active[0] -= 1
        return None

    otlp_receiver.set_handler(slow)
    seen: list[int] = []
    job = engine(store, otlp_receiver, batch_size=50, progress=lambda done, total: seen.append(done))
    assert job.in_flight == 4
    started = time.monotonic()
    result = job.from_store(store)
    elapsed = time.monotonic() - started
    assert result.sent == 440 and result.batches >= 9
    assert most[0] == 4 and elapsed < result.batches * 0.2 * 0.6  # sent one by one: batches x 0.2 s
    assert seen == sorted(seen) and seen[-1] == 440
    assert Counter(s.span_id for s in otlp_receiver.spans()) == Counter(expected(range(40)))


def test_a_busy_jobs_store_does_not_hold_back_sending(tmp_path: Path, otlp_receiver: OTLPReceiver) -> None:
    """Positions are written behind the pages: while another process holds the jobs store's
    write lock, every page is still sent; the newest position is written once it is free."""
    source = SpanStore(tmp_path / "spans.db")
    fill(source, 10)  # 110 spans, 10 pages of 11
    jobs = SpanStore(tmp_path / "jobs.db")
    jobs.save_job("warm-up", 0, 0)  # the tables exist
    job = engine(jobs, otlp_receiver, batch_size=11)
    outcome: list[Any] = []
    holder = sqlite3.connect(tmp_path / "jobs.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer: the store waits (busy_timeout)
    runner = threading.Thread(target=lambda: outcome.append(job.from_store(source)))
    try:
        runner.start()
        all_sent = otlp_receiver.wait_for_spans(110, timeout=5)
        waiting = runner.is_alive()
    finally:
        holder.execute("COMMIT")
        holder.close()
        runner.join(15)
    assert all_sent, "the export stopped sending while the jobs store was busy"
    assert waiting  # the export ends only once its position is written
    assert outcome and outcome[0].sent == 110
    assert job.job_state(outcome[0].job) == (outcome[0].position, 110, True)
