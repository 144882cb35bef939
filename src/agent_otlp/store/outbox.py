"""Between the exporter and the store: agent items to stored rows, stored rows to spans.

Stored payloads are the SDK's export format, so the store can be read back by any tool that
reads that format. A span item is stored as the bridge's client sent it (its JSON text, when
that is strict JSON and valid UTF-8 and the span needed no repair); other items are written
anew (ISO 8601 times, microsecond precision). A finished trace is stored with the times its
workflow span covers. A destination reads rows back through :mod:`agent_otlp.store.reader`.

:class:`StoreOutbox` is the pipeline's durable outbox
(:class:`agent_otlp.core.pipeline.outbox.Outbox`) over a :class:`SpanStore`: these row
functions and a group committer (:mod:`agent_otlp.store.committer`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final, NamedTuple

import orjson

from agent_otlp.core.convert.flatten import clean_str, safe_json
from agent_otlp.core.convert.producer import Producer, stored_producer, with_producer
from agent_otlp.core.convert.records import (
    CONVERSATION_NOTE,
    AgentSpan,
    AgentTrace,
    SpanRecord,
    parse_item,
)
from agent_otlp.core.convert.spans import ConvertOptions, convert_span, convert_trace
from agent_otlp.core.pipeline.outbox import CommitListener, OpenTraceRecord
from agent_otlp.store.committer import Batch, GroupCommitter
from agent_otlp.store.sqlite import (
    KIND_SPAN,
    KIND_TRACE,
    KIND_TRACE_START,
    SpanStore,
    StoredItem,
    time_column,
)

__all__ = [
    "Committed",
    "StoreOutbox",
    "committed_rows",
    "decode_payloads",
    "iso",
    "span_row",
    "stored_records",
    "trace_row",
    "trace_start_row",
]

logger = logging.getLogger("agent_otlp.store")

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)

Row = tuple[int, str, str, int | None, bytes]


class Committed(NamedTuple):
    """Rows just committed, seqs ``first`` to ``last`` (contiguous, in order), with the
    span parsed for each row stored as sent (``None`` for the others: read from the row)
    and, when the writer converted them already, those spans as records converted with
    ``options`` (``None`` for a row whose span is to be converted by its reader)."""

    first: int
    last: int
    rows: list[Row]
    spans: list[AgentSpan | None]
    size: int
    records: list[SpanRecord | None] | None = None
    options: ConvertOptions | None = None


def committed_rows(group: Sequence[Batch], last: int) -> Committed:
    """The rows of a group just committed, ``last`` the seq of its last one: they took the
    seqs before it, in order (one transaction holding the store's write lock)."""
    rows: list[Row] = []
    spans: list[AgentSpan | None] = []
    records: list[SpanRecord | None] = []
    options = group[0].options if group else None
    for batch in group:
        count = len(batch.rows)
        rows.extend(batch.rows)
        spans.extend(batch.parsed if len(batch.parsed) == count else [None] * count)
        converted = len(batch.records) == count and batch.options == options
        records.extend(batch.records if converted else [None] * count)
    size = sum(len(row[4]) for row in rows)
    if options is None:
        return Committed(last - len(rows) + 1, last, rows, spans, size)
    return Committed(last - len(rows) + 1, last, rows, spans, size, records, options)


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
    notes: dict[str, str] = dict(span.repairs) if span.repairs else {}
    if span.conversation_id:  # its trace's group_id, which its own item does not carry
        notes[CONVERSATION_NOTE] = span.conversation_id
    if notes:  # how a broken id or parent link was repaired (core.repair)
        payload["agent_otlp"] = notes
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


def payload_record(payload: bytes, seq: int, options: ConvertOptions, value: Any = None) -> SpanRecord:
    """The OpenTelemetry span of a stored payload, with its ``seq`` (``value``: the payload
    decoded already, see :func:`decode_payloads`)."""
    value = json.loads(payload) if value is None else value
    parsed = parse_item(value)
    parsed.producer = stored_producer(value)
    if isinstance(parsed, AgentTrace):
        start = parsed.started_ns or 0
        record = convert_trace(parsed, start, parsed.ended_ns or start)
        if b'"synthesized":true' in payload:
            record.attributes["agent_otlp.workflow.synthesized"] = True
    else:
        record = convert_span(parsed, options)
    record.seq = seq
    return record


#: Every digit to ``0``, anything else to a space: a page with 19 digits in a row (an integer
#: ``orjson`` would not read exactly, or such a run in a string) shows ``_LONG_RUN``.
_DIGITS: Final = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x20 for byte in range(256))
_LONG_RUN: Final = b"0" * 19


def decode_payloads(payloads: list[bytes]) -> list[Any] | None:
    """Stored payloads decoded together, as one JSON array: a call of ``json.loads`` costs
    about as much as decoding a span, so a page of them decoded at once costs about half.
    ``orjson`` reads the page (about half the standard parser's time) unless it may hold an
    integer of 19 digits or more, which ``orjson`` reads as a float; that page, and one it
    refuses (a lone surrogate, a number past the double's range), is read by :mod:`json`:
    the values are the standard parser's either way. ``None`` when they do not decode that
    way (a damaged row: decode them one by one)."""
    if not payloads:
        return []
    page = b"[" + b",".join(payloads) + b"]"
    try:
        if _LONG_RUN in page.translate(_DIGITS):
            raise ValueError("maybe an integer orjson would read as a float")
        values = orjson.loads(page)
    except ValueError:  # orjson.JSONDecodeError too
        try:
            values = json.loads(page)
        except ValueError:
            return None
    return values if isinstance(values, list) and len(values) == len(payloads) else None


def producer_row(row: Row, producer: Producer | None) -> Row:
    """``row`` with the producer of its item (an application posting through the bridge
    with a token of its own) kept in its payload; ``row`` itself without one. Read back by
    :func:`payload_record` (:mod:`agent_otlp.core.convert.producer`)."""
    if producer is None:
        return row
    kind, trace_id, item_id, ended, payload = row
    return (kind, trace_id, item_id, ended, with_producer(payload, producer))


class StoreOutbox:
    """The pipeline's durable outbox (:class:`agent_otlp.core.pipeline.outbox.Outbox`) over
    one :class:`SpanStore`: the row functions of this module, and a :class:`GroupCommitter`
    whose commits are reported with their :class:`Committed` rows (unless ``live_tail`` is
    false: the destinations read the store from another process); ``answered(last_seq)`` is
    called after each commit once its writers are woken."""

    def __init__(self, store: SpanStore, *, live_tail: bool = True,
                 answered: Callable[[int], None] | None = None) -> None:
        self._store = store
        #: whether commits are reported with their rows (for destinations' live tails);
        #: not when the destinations run in a delivery process
        self.live_tail = live_tail
        self._listener: CommitListener | None = None
        self._committer = GroupCommitter(store, self._committed, answered)

    @property
    def store(self) -> SpanStore:
        return self._store

    @property
    def write_problem(self) -> str | None:
        return self._store.write_problem

    def listen(self, committed: CommitListener) -> None:
        self._listener = committed

    def span_row(self, span: AgentSpan, raw: bytes | None = None) -> Row:
        return producer_row(span_row(span, raw), span.producer)

    def trace_row(self, trace: AgentTrace, start_ns: int, end_ns: int, synthesized: bool) -> Row:
        return producer_row(trace_row(trace, start_ns, end_ns, synthesized), trace.producer)

    def trace_start_row(self, trace: AgentTrace) -> Row:
        return producer_row(trace_start_row(trace), trace.producer)

    def batch(
        self, rows: list[Row], opened: dict[str, Any], finished: dict[str, Any], *,
        answered: bool, parsed: list[AgentSpan | None],
        records: list[SpanRecord | None] | None = None, options: ConvertOptions | None = None,
    ) -> Batch:
        return Batch(rows, opened, finished, answered=answered, parsed=parsed,
                     records=records or [], options=options)

    def submit(self, batch: Batch) -> None:
        self._committer.submit(batch)

    def wait(self, batch: Batch) -> str | None:
        return self._committer.wait(batch)

    def open_traces(self) -> Iterable[OpenTraceRecord]:
        return self._store.open_traces()

    def prune(self) -> None:
        self._store.prune()

    def is_full(self) -> bool:
        return self._store.is_full()

    def _committed(self, group: list[Batch], last: int | None, problem: str | None) -> None:
        listener = self._listener
        if listener is None:
            return
        tail = self.live_tail and problem is None and last is not None
        committed = committed_rows(group, last) if tail and last is not None else None
        listener(group, last, committed, problem)
