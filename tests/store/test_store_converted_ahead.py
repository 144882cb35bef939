"""Spans converted by the thread that stores them: the live tail hands those records to the one
destination's worker (which then only encodes and sends), and what arrives is what reading the
stored rows back gives."""

from __future__ import annotations

import http.client
import json
from pathlib import Path

from agent_otlp import create_exporter
from agent_otlp.core.convert.records import AgentSpan, SpanRecord, parse_item
from agent_otlp.core.convert.spans import ConvertOptions, convert_span
from agent_otlp.sources.bridge import INGEST_PATH, BridgeServer
from agent_otlp.store.outbox import Committed, span_row, stored_records
from agent_otlp.store.reader import StoreSource
from agent_otlp.store.sqlite import SpanStore
from agent_otlp.testing import OTLPReceiver

OPTIONS = ConvertOptions()


def item(n: int) -> bytes:
    data = ({"type": "generation", "model": "gpt-4o-mini", "usage": {"input_tokens": n, "output_tokens": 2}}
            if n % 2 else {"type": "function", "name": f"step {n}", "input": '{"a": 1}', "output": "ok"})
    return json.dumps({
        "object": "trace.span", "id": f"span_{n:024x}", "trace_id": "trace_" + "a" * 32,
        "parent_id": None, "started_at": "2026-01-02T03:04:05.000001+00:00",
        "ended_at": "2026-01-02T03:04:06.5+00:00", "span_data": data, "error": None,
    }).encode()


def committed_ahead(store: SpanStore, numbers: range, options: ConvertOptions) -> Committed:
    """Store spans as sent, with the records a writer converted for ``options``."""
    spans: list[AgentSpan | None] = []
    records: list[SpanRecord | None] = []
    rows = []
    for n in numbers:
        span = parse_item(json.loads(item(n)))
        assert isinstance(span, AgentSpan)
        rows.append(span_row(span, item(n)))
        spans.append(span)
        records.append(convert_span(span, options))
    last = store.append(rows)
    size = sum(len(r[4]) for r in rows)
    return Committed(last - len(rows) + 1, last, rows, spans, size, records, options)


def test_records_converted_by_the_writer_are_handed_out_with_their_seqs(tmp_path: Path) -> None:
    store = SpanStore(tmp_path / "s.db")
    source = StoreSource(store, "d", OPTIONS)
    committed = committed_ahead(store, range(6), OPTIONS)
    assert source.offer(committed)
    read = source.read(4) + source.read(10)
    assert committed.records is not None
    assert all(r is c for r, c in zip(read, committed.records, strict=True))  # not converted again
    assert [r.seq for r in read] == list(range(committed.first, committed.last + 1))
    assert read == [stored_records(i, OPTIONS) for i in store.read_after(0, 100)]


def test_records_converted_another_way_are_not_used(tmp_path: Path) -> None:
    store = SpanStore(tmp_path / "s.db")
    source = StoreSource(store, "d", OPTIONS)
    committed = committed_ahead(store, range(4), ConvertOptions(capture_content=True))
    assert source.offer(committed)
    read = source.read(10)
    assert committed.records is not None
    assert not any(r is c for r, c in zip(read, committed.records, strict=True))
    assert read == [stored_records(i, OPTIONS) for i in store.read_after(0, 100)]


def test_spans_posted_to_the_bridge_arrive_as_their_stored_rows_read_back(
    tmp_path: Path, otlp_receiver: OTLPReceiver
) -> None:
    exporter = create_exporter("otlp", endpoint=otlp_receiver.endpoint, env={},
                               store=tmp_path / "s.db", schedule_delay=0.05)
    with BridgeServer(exporter, port=0) as bridge:
        for request in range(5):
            body = b'{"data": [' + b",".join(item(request * 20 + n) for n in range(20)) + b"]}"
            conn = http.client.HTTPConnection("127.0.0.1", bridge.port, timeout=30)
            conn.request("POST", INGEST_PATH, body=body, headers={"Content-Type": "application/json"})
            assert conn.getresponse().status == 200
            conn.close()
        assert otlp_receiver.wait_for_spans(100, timeout=30)
        assert exporter.force_flush(10).delivered
    store = SpanStore(tmp_path / "s.db")
    expected = {r.span_id.hex(): r for r in (stored_records(i, OPTIONS) for i in store.read_after(0, 1000)
                                                if i.kind == 0)}
    received = {s.span_id: s for s in otlp_receiver.spans()}
    assert expected.keys() <= received.keys()  # and the workflow span, if the trace was finished
    for span_id, record in expected.items():
        got = received[span_id]
        assert (got.name, got.start_ns, got.end_ns, got.parent_span_id) == (
            record.name, record.start_ns, record.end_ns, record.parent_span_id.hex())
        assert {k: got.attributes[k] for k in record.attributes} == record.attributes
    store.close()
    exporter.shutdown(5)
