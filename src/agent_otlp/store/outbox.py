"""Between the exporter and the store: agent items to stored rows, stored rows to spans.

Stored payloads are the SDK's export format (ISO 8601 times, microsecond precision), so the
store can be read back by any tool that reads that format. A finished trace is stored with
the times its workflow span covers.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from agent_otlp.core.convert import ConvertOptions, convert_span, convert_trace
from agent_otlp.core.flatten import clean_str, safe_json
from agent_otlp.core.records import AgentSpan, AgentTrace, SpanRecord, parse_item
from agent_otlp.store.sqlite import (
    KIND_SPAN,
    KIND_TRACE,
    KIND_TRACE_START,
    SpanStore,
    StoredItem,
    time_column,
)

__all__ = ["END", "StoreSource", "iso", "span_row", "stored_records", "trace_row", "trace_start_row"]

logger = logging.getLogger("agent_otlp.store")
#: Queue entry marking the end of a trace (a tuple ``(END, trace_id)``).
END: Final = "end"

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)

Row = tuple[int, str, str, int | None, bytes]


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



def span_row(span: AgentSpan) -> Row:
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
    ended = span.ended_ns or span.started_ns
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
    parsed = parse_item(json.loads(item.payload))
    if isinstance(parsed, AgentTrace):
        start = parsed.started_ns or 0
        record = convert_trace(parsed, start, parsed.ended_ns or start)
        if b'"synthesized":true' in item.payload:
            record.attributes["agent_otlp.workflow.synthesized"] = True
    else:
        record = convert_span(parsed, options)
    record.seq = item.seq
    return record


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

    def notify(self, last_seq: int) -> None:
        self.latest = max(self.latest, last_seq)

    def has_unread(self) -> bool:
        return self.latest > self.read_seq

    def unread(self) -> int:
        return self.store.count(after=self.read_seq) if self.has_unread() else 0

    def read(self, limit: int) -> list[Any]:
        """Up to ``limit`` items as queue entries: span records, and ``(END, trace_id)``
        after each finished trace's workflow span."""
        entries: list[Any] = []
        for item in self.store.read_after(self.read_seq, limit):
            self.read_seq = item.seq
            if item.kind == KIND_TRACE_START:
                continue
            try:
                record = stored_records(item, self.options)
            except Exception:  # stored items were validated; a corrupt row must not block
                self.unreadable += 1
                logger.error("agent-otlp: unreadable stored item seq=%d skipped", item.seq)
                continue
            entries.append(record)
            if item.kind == KIND_TRACE:
                entries.append((END, item.trace_id))
        self.latest = max(self.latest, self.read_seq)
        return entries

    def advance(self, outstanding_min: int | None, delivered: int, failed: int) -> None:
        """Move the cursor below the oldest outstanding span (or to what was read)."""
        target = self.read_seq if outstanding_min is None else outstanding_min - 1
        if target > self.cursor or delivered or failed:
            self.store.advance(self.destination, max(target, self.cursor), delivered=delivered, failed=failed)
            self.cursor = max(target, self.cursor)
