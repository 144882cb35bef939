"""Entries of the offload wire (:mod:`agent_otlp.offload.frames`): made from SDK objects and
parsed records in the agent process, fed into an exporter in the child (or into the
in-process exporter that takes over when the child is gone)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from agent_otlp.core.config.errors import InputError
from agent_otlp.core.convert.records import AgentSpan, AgentTrace, parse_item
from agent_otlp.core.convert.sdk import sdk_span_fields, sdk_span_item, span_from_fields
from agent_otlp.core.pipeline.api import Exporter, IngestEntry
from agent_otlp.core.pipeline.intake import (
    INGEST_END_ALL,
    INGEST_END_TRACE,
    INGEST_ITEM,
    INGEST_TRACE_END,
    INGEST_TRACE_START,
)
from agent_otlp.offload.frames import (
    END_ALL,
    END_TRACE,
    GRACE,
    IDLE,
    ITEM,
    SPAN,
    SPAN_ITEM,
    TRACE_END,
    TRACE_START,
)

__all__ = ["feed", "ingest_entries", "span_entry", "span_record"]


# --- agent process ---------------------------------------------------------------------------


def span_entry(span: Any, capture_content: bool) -> tuple[Any, ...]:
    """A live SDK span as a marshal-able entry: its fields when the shared fast path takes it
    (:func:`~agent_otlp.core.convert.sdk.sdk_span_fields`), else its export format, which
    the child validates like any item (raises what ``span.export()`` raises)."""
    fields = sdk_span_fields(span)
    if fields is not None:
        return (SPAN, *fields)
    return (SPAN_ITEM, sdk_span_item(span, capture_content))


def ingest_entries(entries: Iterable[IngestEntry]) -> list[tuple[Any, ...]]:
    """:meth:`~agent_otlp.core.pipeline.api.Exporter.ingest` entries as wire entries: parsed
    records in the export format (the child validates them again; their timestamps become
    the child's), SDK trace objects exported."""
    out: list[tuple[Any, ...]] = []
    for kind, payload, when in entries:
        if kind == INGEST_ITEM:
            out.append((ITEM, _record_item(payload)))
        elif kind == INGEST_TRACE_START:
            out.append((TRACE_START, payload.export(), when))
        elif kind == INGEST_TRACE_END:
            out.append((TRACE_END, payload.export(), when))
        elif kind == INGEST_END_TRACE:
            out.append((END_TRACE, payload))
        elif kind == INGEST_END_ALL:
            out.append((END_ALL,))
    return out


def _record_item(record: AgentSpan | AgentTrace) -> dict[str, Any]:
    """A parsed record back in the export format (timestamps as Unix nanoseconds)."""
    if isinstance(record, AgentTrace):
        return {
            "object": "trace", "id": record.id, "workflow_name": record.workflow_name,
            "group_id": record.group_id, "metadata": record.metadata,
            "started_at": record.started_ns, "ended_at": record.ended_ns,
        }
    item: dict[str, Any] = {
        "object": "trace.span", "id": record.id, "trace_id": record.trace_id,
        "parent_id": record.parent_id, "started_at": record.started_ns,
        "ended_at": record.ended_ns, "span_data": record.data, "error": record.error,
        "metadata": record.metadata,
    }
    if record.repairs:
        item["agent_otlp"] = record.repairs
    return item


# --- child process (and the in-process takeover) --------------------------------------------


class _ExportedTrace:
    """Stands in for an SDK trace object: the exporter only calls ``export()``."""

    __slots__ = ("_data",)

    def __init__(self, data: Any) -> None:
        self._data = data

    def export(self) -> Any:
        return self._data


def span_record(entry: Any) -> AgentSpan:
    """The :class:`AgentSpan` of a ``SPAN`` entry (raises :class:`InputError` on a bad
    timestamp)."""
    return span_from_fields(*entry[1:])


def _span_item(entry: Any) -> dict[str, Any]:
    _, span_id, trace_id, parent_id, started, ended, data, error = entry
    return {
        "object": "trace.span", "id": span_id, "trace_id": trace_id, "parent_id": parent_id,
        "started_at": started, "ended_at": ended, "span_data": data, "error": error,
    }


def feed(exporter: Exporter, entries: Iterable[Any]) -> None:
    """Data entries (a frame's, in order) into ``exporter`` through ``ingest``, on this
    thread. Invalid items are reported by ``submit_items`` (which queues nothing for them);
    control entries are not data and are skipped."""
    batch: list[IngestEntry] = []
    now = time.time_ns()
    for entry in entries:
        kind = entry[0]
        if kind == SPAN:
            try:
                batch.append((INGEST_ITEM, span_record(entry), now))
            except InputError:  # the validated path reports it
                exporter.submit_items([_span_item(entry)])
        elif kind in (SPAN_ITEM, ITEM):
            try:
                parsed = parse_item(entry[1])
            except Exception:  # the validated path reports it
                exporter.submit_items([entry[1]])
                continue
            batch.append((INGEST_ITEM, parsed, now))
        elif kind == TRACE_START:
            batch.append((INGEST_TRACE_START, _ExportedTrace(entry[1]), entry[2]))
        elif kind == TRACE_END:
            batch.append((INGEST_TRACE_END, _ExportedTrace(entry[1]), entry[2]))
        elif kind == END_TRACE:
            batch.append((INGEST_END_TRACE, entry[1], now))
        elif kind == END_ALL:
            batch.append((INGEST_END_ALL, None, now))
        elif kind == IDLE:
            exporter.set_trace_idle_timeout(entry[1])
        elif kind == GRACE:
            exporter.set_trace_end_grace(entry[1])
    if batch:
        exporter.ingest(batch)
