"""Between the exporter and the store: agent items to stored rows, stored rows to spans.

Stored payloads are the SDK's export format, so the store can be read back by any tool that
reads that format. A span item is stored as the bridge's client sent it (its JSON text, when
that is strict JSON and valid UTF-8 and the span needed no repair); other items are written
anew (ISO 8601 times, microsecond precision). A finished trace is stored with the times its
workflow span covers.

Live tail: after a commit, the exporter offers the committed rows (with the spans it parsed)
to each :class:`StoreSource`, which keeps a run of consecutive commits in memory (up to
:data:`TAIL_ROWS` rows and :data:`TAIL_BYTES` bytes) and hands them out without reading them
back from the store. A source that is behind (a restart, an outage, a full tail) reads the
store up to the start of that run, then goes on with the run; offers that do not extend the
run are refused while it is not empty (those rows are read from the store). Either way, its
items come in seq order, each once.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import deque
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final, NamedTuple

from agent_otlp.core.convert.flatten import clean_str, safe_json
from agent_otlp.core.convert.records import AgentSpan, AgentTrace, SpanRecord, parse_item
from agent_otlp.core.convert.spans import ConvertOptions, convert_span, convert_trace
from agent_otlp.store.committer import Batch
from agent_otlp.store.sqlite import (
    KIND_SPAN,
    KIND_TRACE,
    KIND_TRACE_START,
    SpanStore,
    StoredItem,
    time_column,
)

__all__ = [
    "END",
    "TAIL_BYTES",
    "TAIL_ROWS",
    "Committed",
    "StoreSource",
    "committed_rows",
    "iso",
    "span_row",
    "stored_records",
    "trace_row",
    "trace_start_row",
]

logger = logging.getLogger("agent_otlp.store")
#: Queue entry marking the end of a trace (a tuple ``(END, trace_id)``).
END: Final = "end"

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)

Row = tuple[int, str, str, int | None, bytes]
#: Most rows (and payload bytes) a source keeps in its live tail.
TAIL_ROWS: Final = 16_384
TAIL_BYTES: Final = 16 << 20


class Committed(NamedTuple):
    """Rows just committed, seqs ``first`` to ``last`` (contiguous, in order), with the
    span parsed for each row stored as sent (``None`` for the others: read from the row)."""

    first: int
    last: int
    rows: list[Row]
    spans: list[AgentSpan | None]
    size: int


def committed_rows(group: Sequence[Batch], last: int) -> Committed:
    """The rows of a group just committed, ``last`` the seq of its last one: they took the
    seqs before it, in order (one transaction holding the store's write lock)."""
    rows: list[Row] = []
    spans: list[AgentSpan | None] = []
    for batch in group:
        rows.extend(batch.rows)
        spans.extend(batch.parsed if len(batch.parsed) == len(batch.rows) else [None] * len(batch.rows))
    return Committed(last - len(rows) + 1, last, rows, spans, sum(len(row[4]) for row in rows))


def iso(ns: int | None) -> str | None:
    """Unix nanoseconds as ISO 8601 UTC text with microseconds (exact, no float), as
    ``datetime.isoformat`` writes it. The text of the last second is kept: the spans of a
    batch mostly end in the same second."""
    global _last_second
    if ns is None:
        return None
    second, micros = divmod(ns // 1000, 1_000_000)
    known, prefix = _last_second
    if known != second:
        prefix = (_EPOCH + timedelta(seconds=second)).isoformat()[:-6]  # without "+00:00"
        _last_second = (second, prefix)
    return f"{prefix}.{micros:06d}+00:00" if micros else f"{prefix}+00:00"


_last_second: tuple[int | None, str] = (None, "")



def span_row(span: AgentSpan, raw: bytes | None = None) -> Row:
    """The stored row of ``span``: ``raw`` as its payload when given (the item's JSON text
    as received, which reads back to ``span``), else the span serialized."""
    ended = span.ended_ns or span.started_ns
    if raw is not None:
        return (KIND_SPAN, clean_str(span.trace_id), clean_str(span.id), time_column(ended), raw)
    payload = {
        "object": "trace.span",
        "id": span.id,
        "trace_id": span.trace_id,
        "parent_id": span.parent_id,
        "started_at": iso(span.started_ns),
        "ended_at": iso(span.ended_ns),
        "span_data": span.data,
        "error": span.error,
    }
    if span.metadata:
        payload["metadata"] = span.metadata
    if span.repairs:  # how a broken id or parent link was repaired (core.repair)
        payload["agent_otlp"] = span.repairs
    body = safe_json(payload).encode("utf-8", "surrogatepass")
    # ids may hold lone surrogates (Python callers): SQLite text must be valid UTF-8
    return (KIND_SPAN, clean_str(span.trace_id), clean_str(span.id), time_column(ended), body)


def trace_row(trace: AgentTrace, start_ns: int, end_ns: int, synthesized: bool) -> Row:
    payload: dict[str, Any] = {
        "object": "trace",
        "id": trace.id,
        "workflow_name": trace.workflow_name,
        "group_id": trace.group_id,
        "metadata": trace.metadata,
        "started_at": iso(start_ns),
        "ended_at": iso(end_ns),
    }
    if synthesized:
        payload["synthesized"] = True
    body = safe_json(payload).encode("utf-8", "surrogatepass")
    return (KIND_TRACE, clean_str(trace.id), clean_str(trace.id), time_column(end_ns), body)


def trace_start_row(trace: AgentTrace) -> Row:
    """The trace object as first seen: lets a restarted exporter finish traces left open."""
    payload = {
        "object": "trace",
        "id": trace.id,
        "workflow_name": trace.workflow_name,
        "group_id": trace.group_id,
        "metadata": trace.metadata,
    }
    body = safe_json(payload).encode("utf-8", "surrogatepass")
    return (KIND_TRACE_START, clean_str(trace.id), clean_str(trace.id), None, body)


def stored_records(item: StoredItem, options: ConvertOptions) -> SpanRecord:
    """The OpenTelemetry span of one stored item (a span, or a trace's workflow span)."""
    return payload_record(item.payload, item.seq, options)


def payload_record(payload: bytes, seq: int, options: ConvertOptions) -> SpanRecord:
    """The OpenTelemetry span of a stored payload, with its ``seq``."""
    parsed = parse_item(json.loads(payload))
    if isinstance(parsed, AgentTrace):
        start = parsed.started_ns or 0
        record = convert_trace(parsed, start, parsed.ended_ns or start)
        if b'"synthesized":true' in payload:
            record.attributes["agent_otlp.workflow.synthesized"] = True
    else:
        record = convert_span(parsed, options)
    record.seq = seq
    return record


class _Tail:
    """Rows committed after everything a source has read, in seq order (see the module doc):
    chunks ``[first seq, rows, spans, next index, bytes left]``, and their row and byte counts."""

    def __init__(self) -> None:
        self.chunks: deque[list[Any]] = deque()
        self.rows = 0
        self.bytes = 0
        self.end = 0  # the last seq held, when any

    @property
    def first(self) -> int:
        """The first seq held (when any)."""
        chunk = self.chunks[0]
        return int(chunk[0] + chunk[3])

    def add(self, committed: Committed) -> None:
        self.chunks.append([committed.first, committed.rows, committed.spans, 0, committed.size])
        self.rows += len(committed.rows)
        self.bytes += committed.size
        self.end = committed.last

    def take(self, limit: int) -> list[tuple[int, list[Row], list[AgentSpan | None]]]:
        """Up to ``limit`` rows from the front: runs of (seq of the first, rows, spans)."""
        taken: list[tuple[int, list[Row], list[AgentSpan | None]]] = []
        chunks = self.chunks
        count = 0
        while chunks and count < limit:
            chunk = chunks[0]
            first, rows, spans, index, size = chunk
            stop = min(len(rows), index + limit - count)
            if index == 0 and stop == len(rows):
                part_rows, part_spans, part_size = rows, spans, size
            else:
                part_rows, part_spans = rows[index:stop], spans[index:stop]
                part_size = sum(len(row[4]) for row in part_rows)
            taken.append((first + index, part_rows, part_spans))
            count += stop - index
            self.bytes -= part_size
            if stop == len(rows):
                chunks.popleft()
            else:
                chunk[3], chunk[4] = stop, size - part_size
        self.rows -= count
        return taken


class StoreSource:
    """A destination's reading side of the store: items after its cursor, as spans.

    ``read_seq`` runs ahead of the cursor by what has been read but not yet delivered; the
    cursor moves (:meth:`advance`) only to just below the oldest span still outstanding.
    """

    def __init__(self, store: SpanStore, destination: str, options: ConvertOptions) -> None:
        self.store = store
        self.destination = destination
        self.options = options
        self.cursor = store.cursor(destination)
        self.read_seq = self.cursor
        self.latest = store.last_seq()
        self.unreadable = 0
        self._tail = _Tail()
        #: guards ``read_seq`` and the tail; ``_reading`` while the store is read with no
        #: bound (the tail empty): no run may start then
        self._lock = threading.Lock()
        self._reading = False

    def notify(self, last_seq: int) -> None:
        self.latest = max(self.latest, last_seq)

    def offer(self, committed: Committed) -> bool:
        """Keep ``committed`` in the live tail when they extend its run (or start one, the
        tail empty) and the tail has room; returns whether they were kept (else they are
        read from the store)."""
        if not committed.rows:
            self.notify(committed.last)
            return True
        with self._lock:
            tail = self._tail
            follows = committed.first == tail.end + 1 if tail.rows else (
                not self._reading and committed.first > self.read_seq)
            kept = (
                follows
                and tail.rows + len(committed.rows) <= TAIL_ROWS
                and tail.bytes + committed.size <= TAIL_BYTES
            )
            if kept:
                tail.add(committed)
            self.latest = max(self.latest, committed.last)
        return kept

    def has_unread(self) -> bool:
        return self.latest > self.read_seq

    def unread(self) -> int:
        if not self.has_unread():
            return 0
        with self._lock:
            tail = self._tail
            if tail.rows and tail.first == self.read_seq + 1 and tail.end >= self.latest:
                return tail.rows
        return self.store.count(after=self.read_seq)

    def read(self, limit: int) -> list[Any]:
        """Up to ``limit`` items as queue entries: span records, and ``(END, trace_id)``
        after each finished trace's workflow span. From the live tail when it holds the
        next ones, else from the store (up to the tail's first)."""
        with self._lock:
            tail = self._tail
            upto = tail.first - 1 if tail.rows else None
            live = tail.take(limit) if upto == self.read_seq else None
            self._reading = upto is None
            if live:
                first, rows, _ = live[-1]
                self.read_seq = first + len(rows) - 1
        entries: list[Any] = []
        if live is not None:
            for first, rows, spans in live:
                self._add_live(entries, first, rows, spans)
            return entries
        try:
            items = self.store.read_after(self.read_seq, limit, upto_seq=upto)
            for item in items:
                self._add(entries, item.seq, item.kind, item.trace_id, item.payload)
                self.read_seq = item.seq
            if upto is not None and len(items) < limit:
                self.read_seq = upto  # rows before the tail that are gone were evicted
        finally:
            with self._lock:
                self._reading = False
                self.latest = max(self.latest, self.read_seq)
        return entries

    def _add_live(self, entries: list[Any], first: int, rows: list[Row],
                  spans: list[AgentSpan | None]) -> None:
        """The queue entries of consecutive rows from the tail, ``first`` the seq of the first."""
        options = self.options
        for seq, row, span in zip(range(first, first + len(rows)), rows, spans, strict=True):
            if span is None:
                self._add(entries, seq, row[0], row[1], row[4])
                continue
            try:
                record = convert_span(span, options)
            except Exception:  # as for a stored item: counted, never blocking the others
                self._add(entries, seq, row[0], row[1], row[4])
                continue
            record.seq = seq
            entries.append(record)

    def _add(self, entries: list[Any], seq: int, kind: int, trace_id: str, payload: bytes) -> None:
        """The queue entries of one stored item (none for a trace's first sight)."""
        if kind == KIND_TRACE_START:
            return
        try:
            record = payload_record(payload, seq, self.options)
        except Exception:  # stored items were validated; a corrupt row must not block
            self.unreadable += 1
            logger.error("agent-otlp: unreadable stored item seq=%d skipped", seq)
            return
        entries.append(record)
        if kind == KIND_TRACE:
            entries.append((END, trace_id))

    def advance(self, outstanding_min: int | None, delivered: int, failed: int) -> None:
        """Move the cursor below the oldest outstanding span (or to what was read)."""
        target = self.read_seq if outstanding_min is None else outstanding_min - 1
        if target > self.cursor or delivered or failed:
            self.store.advance(self.destination, max(target, self.cursor), delivered=delivered, failed=failed)
            self.cursor = max(target, self.cursor)
