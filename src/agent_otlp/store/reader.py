"""A destination's reading side of the store: the items after its cursor, as spans.

:class:`StoreSource` implements :class:`agent_otlp.core.pipeline.queues.StoredItems`, through
which a destination's store-backed queue reads it (core never imports the store).

Live tail: after a commit, the exporter offers the committed rows (with the spans it parsed)
to each :class:`StoreSource`, which keeps a run of consecutive commits in memory (up to
:data:`TAIL_ROWS` rows and :data:`TAIL_BYTES` bytes) and hands them out without reading them
back from the store. A source that is behind (a restart, an outage, a full tail) reads the
store up to the start of that run, then goes on with the run; offers that do not extend the
run are refused while it is not empty (those rows are read from the store). Either way, its
items come in seq order, each once.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from typing import Any, Final

from agent_otlp.core.convert.records import AgentSpan, SpanRecord
from agent_otlp.core.convert.spans import ConvertOptions, convert_span
from agent_otlp.store.outbox import Committed, Row, decode_payloads, payload_record
from agent_otlp.store.sqlite import KIND_TRACE, KIND_TRACE_START, SpanStore

__all__ = ["END", "TAIL_BYTES", "TAIL_ROWS", "StoreSource"]

logger = logging.getLogger("agent_otlp.store")
#: Queue entry marking the end of a trace (a tuple ``(END, trace_id)``).
END: Final = "end"
#: Most rows (and payload bytes) a source keeps in its live tail.
TAIL_ROWS: Final = 16_384
TAIL_BYTES: Final = 16 << 20


#: A run of consecutive rows from the tail: (seq of the first, rows, spans, records).
Run = tuple[int, list[Row], list[AgentSpan | None], list[SpanRecord | None] | None]


class _Tail:
    """Rows committed after everything a source has read, in seq order (see the module doc):
    chunks ``[first seq, rows, spans, next index, bytes left, records]``, and their row and
    byte counts. ``records`` (the spans already converted for this source) may be ``None``."""

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

    def add(self, committed: Committed, records: list[SpanRecord | None] | None) -> None:
        self.chunks.append([committed.first, committed.rows, committed.spans, 0, committed.size, records])
        self.rows += len(committed.rows)
        self.bytes += committed.size
        self.end = committed.last

    def take(self, limit: int) -> list[Run]:
        """Up to ``limit`` rows from the front: runs of (seq of the first, rows, spans, records)."""
        taken: list[Run] = []
        chunks = self.chunks
        count = 0
        while chunks and count < limit:
            chunk = chunks[0]
            first, rows, spans, index, size, records = chunk
            stop = min(len(rows), index + limit - count)
            if index == 0 and stop == len(rows):
                part_rows, part_spans, part_records, part_size = rows, spans, records, size
            else:
                part_rows, part_spans = rows[index:stop], spans[index:stop]
                part_records = records[index:stop] if records is not None else None
                part_size = sum(len(row[4]) for row in part_rows)
            taken.append((first + index, part_rows, part_spans, part_records))
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
                # records converted by the writer serve this source when converted its way
                tail.add(committed, committed.records if committed.options == self.options else None)
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
                first, rows, _, _ = live[-1]
                self.read_seq = first + len(rows) - 1
        entries: list[Any] = []
        if live is not None:
            for run in live:
                self._add_live(entries, run)
            return entries
        try:
            items = self.store.read_after(self.read_seq, limit, upto_seq=upto)
            values = decode_payloads([item.payload for item in items if item.kind != KIND_TRACE_START])
            decoded = iter(values or ())
            for item in items:
                value = next(decoded) if values is not None and item.kind != KIND_TRACE_START else None
                self._add(entries, item.seq, item.kind, item.trace_id, item.payload, value)
                self.read_seq = item.seq
            if upto is not None and len(items) < limit:
                self.read_seq = upto  # rows before the tail that are gone were evicted
        finally:
            with self._lock:
                self._reading = False
                self.latest = max(self.latest, self.read_seq)
        return entries

    def _add_live(self, entries: list[Any], run: Run) -> None:
        """The queue entries of consecutive rows from the tail (a run starting at seq ``first``)."""
        first, rows, spans, records = run
        if records is not None:  # converted by the writer, each given to this source only
            for seq, row, span, record in zip(range(first, first + len(rows)), rows, spans, records, strict=True):
                if record is None:
                    self._add_live(entries, (seq, [row], [span], None))
                    continue
                record.seq = seq
                entries.append(record)
            return
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

    def _add(self, entries: list[Any], seq: int, kind: int, trace_id: str, payload: bytes,
             value: Any = None) -> None:
        """The queue entries of one stored item (none for a trace's first sight); ``value``:
        its payload decoded already."""
        if kind == KIND_TRACE_START:
            return
        try:
            record = payload_record(payload, seq, self.options, value)
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
