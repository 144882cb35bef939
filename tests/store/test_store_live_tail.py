"""The live tail of a store source: commits handed to a destination that is caught up, the
store read by one that is behind, each item once and in seq order either way."""

from __future__ import annotations

import http.client
import json
import sqlite3
import threading
from pathlib import Path

import pytest

from agent_otlp import create_exporter
from agent_otlp.core.convert.records import AgentSpan, parse_item
from agent_otlp.core.convert.spans import ConvertOptions
from agent_otlp.sources.bridge import INGEST_PATH, BridgeServer
from agent_otlp.store import reader
from agent_otlp.store.outbox import Committed, span_row, stored_records
from agent_otlp.store.reader import StoreSource
from agent_otlp.store.sqlite import SpanStore
from agent_otlp.testing import OTLPReceiver

OPTIONS = ConvertOptions()


def item(n: int) -> bytes:
    return json.dumps({
        "object": "trace.span", "id": f"span_{n}", "trace_id": "trace_tail", "parent_id": None,
        "started_at": "2026-01-02T03:04:05.000001+00:00", "ended_at": "2026-01-02T03:04:06+00:00",
        "span_data": {"type": "function", "name": f"step {n}"}, "error": None,
    }).encode()


def commit(store: SpanStore, numbers: range) -> Committed:
    """Store the spans ``numbers`` as sent, as the exporter does; what it offers after."""
    spans: list[AgentSpan | None] = []
    rows = []
    for n in numbers:
        parsed = parse_item(json.loads(item(n)))
        assert isinstance(parsed, AgentSpan)
        rows.append(span_row(parsed, item(n)))
        spans.append(parsed)
    last = store.append(rows)
    return Committed(last - len(rows) + 1, last, rows, spans, sum(len(r[4]) for r in rows))


def forget_rows(path: Path, first: int, last: int) -> None:
    """Delete rows behind the store's back: only a source's memory still has them."""
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("DELETE FROM items WHERE seq BETWEEN ? AND ?", (first, last))
    conn.close()


def seqs(entries: list[object]) -> list[int]:
    return [e.seq for e in entries if not isinstance(e, tuple)]  # type: ignore[attr-defined]


def test_a_caught_up_source_hands_out_commits_from_memory_as_the_store_would(tmp_path: Path) -> None:
    store = SpanStore(tmp_path / "s.db")
    source = StoreSource(store, "d", OPTIONS)
    committed = commit(store, range(5))
    expected = [stored_records(i, OPTIONS) for i in store.read_after(0, 100)]
    assert source.offer(committed)
    forget_rows(tmp_path / "s.db", 1, 5)
    assert source.unread() == 5
    assert source.read(3) == expected[:3]
    assert source.read(100) == expected[3:]
    assert (source.read_seq, source.has_unread(), source.read(100)) == (5, False, [])
    source.advance(None, 5, 0)
    assert store.cursor("d") == 5


def test_a_source_behind_reads_the_store_up_to_its_tail_then_the_tail(tmp_path: Path) -> None:
    store = SpanStore(tmp_path / "s.db")
    source = StoreSource(store, "d", OPTIONS)
    missed = commit(store, range(4))  # never offered: a restart, an outage
    source.notify(missed.last)
    assert source.offer(commit(store, range(4, 7)))  # starts a run after what it has not read
    assert source.offer(commit(store, range(7, 9)))  # extends it
    source.notify(commit(store, range(9, 10)).last)  # not offered (say, the tail was full)
    assert not source.offer(commit(store, range(10, 11)))  # leaves a gap after the tail: refused
    forget_rows(tmp_path / "s.db", 5, 9)  # the run: only in memory
    read: list[object] = []
    for _ in range(10):
        read += source.read(3)
    assert seqs(read) == list(range(1, 12))
    assert [r.source_span_id for r in read] == [f"span_{n}" for n in range(11)]  # type: ignore[attr-defined]
    assert not source.has_unread()


def test_rows_gone_from_the_store_before_the_tail_are_skipped(tmp_path: Path) -> None:
    store = SpanStore(tmp_path / "s.db")
    source = StoreSource(store, "d", OPTIONS)
    source.notify(commit(store, range(3)).last)
    assert source.offer(commit(store, range(3, 5)))
    forget_rows(tmp_path / "s.db", 2, 3)  # evicted over the undelivered budget
    read = source.read(10) + source.read(10)
    assert seqs(read) == [1, 4, 5]


def test_a_full_tail_refuses_and_the_refused_rows_come_from_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reader, "TAIL_ROWS", 4)
    store = SpanStore(tmp_path / "s.db")
    source = StoreSource(store, "d", OPTIONS)
    assert source.offer(commit(store, range(3)))
    assert not source.offer(commit(store, range(3, 5)))  # 5 rows would not fit
    assert not source.offer(commit(store, range(5, 6)))  # does not follow the tail: refused
    assert source.unread() == 6
    assert seqs(source.read(100)) == [1, 2, 3]
    assert source.offer(commit(store, range(6, 8)))  # tail empty: a new run starts
    read = source.read(100) + source.read(100)
    assert seqs(read) == [4, 5, 6, 7, 8]


def test_no_run_starts_while_the_store_is_read_without_a_bound(tmp_path: Path) -> None:
    store = SpanStore(tmp_path / "s.db")
    source = StoreSource(store, "d", OPTIONS)
    source.notify(commit(store, range(2)).last)
    offered: list[bool] = []
    original = store.read_after

    def read_after_with_a_commit_meanwhile(seq: int, limit: int, **bounds: object) -> object:
        rows = original(seq, limit, **bounds)  # type: ignore[arg-type]
        offered.append(source.offer(commit(store, range(2, 4))))  # committed while reading
        return rows

    store.read_after = read_after_with_a_commit_meanwhile  # type: ignore[method-assign]
    first = source.read(100)
    store.read_after = original  # type: ignore[method-assign]
    assert offered == [False]
    assert seqs(first + source.read(100)) == [1, 2, 3, 4]


def post_concurrently(bridge: BridgeServer, requests: int, spans: int) -> None:
    bodies = []
    for r in range(requests):
        trace = f"trace_{r:032x}"
        items = [{"object": "trace", "id": trace, "workflow_name": "tail"}] + [
            {"object": "trace.span", "id": f"span_{r:012x}{i:012x}", "trace_id": trace,
             "parent_id": None, "started_at": "2026-01-02T03:04:05+00:00",
             "ended_at": "2026-01-02T03:04:06+00:00", "span_data": {"type": "custom"}, "error": None}
            for i in range(spans)]
        bodies.append(json.dumps({"data": items}).encode())
    lock = threading.Lock()
    statuses: list[int] = []

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", bridge.port, timeout=30)
        while True:
            with lock:
                if not bodies:
                    return
                body = bodies.pop()
            conn.request("POST", INGEST_PATH, body=body, headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            statuses.append(response.status)

    threads = [threading.Thread(target=client) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * requests


def test_the_bridge_delivers_every_committed_span_once_and_the_cursor_ends_at_the_last(
    tmp_path: Path, otlp_receiver: OTLPReceiver
) -> None:
    exporter = create_exporter("otlp", endpoint=otlp_receiver.endpoint, env={},
                               store=tmp_path / "s.db", schedule_delay=0.05)
    with BridgeServer(exporter, port=0) as bridge:
        post_concurrently(bridge, 40, 50)
        assert otlp_receiver.wait_for_spans(40 * 50, timeout=30)
        exporter.end_all_traces()
        assert otlp_receiver.wait_for_spans(40 * 51, timeout=30)
        assert exporter.force_flush(10).delivered
    store = SpanStore(tmp_path / "s.db")
    ids = [s.span_id for s in otlp_receiver.spans()]
    assert len(ids) == len(set(ids)) == 40 * 51
    (cursor,) = store.cursors()
    assert (cursor.seq, cursor.queued, cursor.delivered) == (store.last_seq(), 0, 40 * 51)
