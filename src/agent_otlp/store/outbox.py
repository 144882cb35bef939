"""Between the exporter and the store: agent items to stored rows, stored rows to spans.

Stored payloads are the SDK's export format (ISO 8601 times, microsecond precision), so the
store can be read back by any tool that reads that format. A finished trace is stored with
the times its workflow span covers.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from agent_otlp.core.convert import ConvertOptions, convert_span, convert_trace
from agent_otlp.core.flatten import safe_json
from agent_otlp.core.records import AgentSpan, AgentTrace, SpanRecord, parse_item
from agent_otlp.store.sqlite import KIND_SPAN, KIND_TRACE, StoredItem

__all__ = ["iso", "span_row", "stored_records", "trace_row"]

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)

Row = tuple[int, str, str, int | None, bytes]


def iso(ns: int | None) -> str | None:
    """Unix nanoseconds as ISO 8601 UTC text with microseconds (exact, no float)."""
    if ns is None:
        return None
    return (_EPOCH + timedelta(microseconds=ns // 1000)).isoformat()


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
    body = safe_json(payload).encode("utf-8", "surrogatepass")
    return (KIND_SPAN, span.trace_id, span.id, span.ended_ns or span.started_ns, body)


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
    return (KIND_TRACE, trace.id, trace.id, end_ns, body)


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
