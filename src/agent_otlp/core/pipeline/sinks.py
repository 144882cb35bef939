"""Where the assembler's output goes: straight to the destinations, or through an outbox.

:class:`MemorySink` converts spans and hands the records to every destination.
:class:`DurableSink` turns items into rows of a durable :class:`~agent_otlp.core.pipeline.outbox.Outbox`
(with the open-trace records that go with them), submits them in batches (group commit) and
tells the destinations of rows once committed; a batch that could not be stored gives its
trace bookkeeping back (:meth:`DurableSink.restore_failed`) and, unless a client was told, is
counted as dropped (``store_full``).

Both are used under the exporter's dispatch lock only (the commit listener aside).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from typing import Any, Final, Protocol

from agent_otlp.core.convert.flatten import clean_str
from agent_otlp.core.convert.producer import routed
from agent_otlp.core.convert.records import AgentSpan, AgentTrace, SpanRecord
from agent_otlp.core.convert.spans import ConvertOptions, convert_span, convert_trace
from agent_otlp.core.pipeline.destination import Target
from agent_otlp.core.pipeline.outbox import Outbox, Row
from agent_otlp.core.pipeline.stats import ExporterStats
from agent_otlp.core.pipeline.traces import OpenTrace, TraceTable

__all__ = ["PRUNE_EVERY", "DurableSink", "MemorySink", "Sink"]

#: Seconds between two retention passes over the store.
PRUNE_EVERY: Final = 60.0
#: Records a memory chunk holds before it is delivered (then the dispatcher may wait).
CHUNK: Final = 512
#: Rows a durable batch holds before it is committed.
BATCH_ROWS: Final = 2048


class Sink(Protocol):
    """What the assembler hands its output to."""

    durable: bool

    def started(self, trace: AgentTrace) -> None:
        """A trace object seen first (its open-trace record, with an outbox)."""

    def touch(self, trace_id: str) -> None:
        """An open trace changed (its open-trace record is written with the next batch)."""

    def span(self, span: AgentSpan, raw: bytes | None) -> tuple[int | None, int | None]:
        """Take ``span`` (``raw``: its JSON text as received); return the times it covers."""
        ...

    def finish(self, trace_id: str, trace: AgentTrace, start: int, end: int, state: OpenTrace) -> None:
        """Trace ``trace_id`` is done: its workflow span covers ``start``..``end``."""

    def full(self) -> bool:
        """True when the pending chunk should be delivered now."""
        ...

    def deliver(self) -> None:
        """Hand on what is pending."""

    def restore_failed(self) -> None:
        """Give back the trace bookkeeping of what could not be kept."""

    def maintain(self) -> None:
        """Periodic housekeeping (the dispatcher calls it between chunks)."""


class MemorySink:
    """Records converted now and put in every destination's queue."""

    durable = False

    def __init__(self, destinations: Sequence[Target], options: ConvertOptions) -> None:
        self.destinations = destinations
        self.options = options
        self.records: list[SpanRecord] = []
        self.ends: list[str] = []

    def started(self, trace: AgentTrace) -> None:
        return None

    def touch(self, trace_id: str) -> None:
        return None

    def span(self, span: AgentSpan, raw: bytes | None) -> tuple[int | None, int | None]:
        record = convert_span(span, self.options)
        self.records.append(record)
        return record.start_ns, record.end_ns  # end >= start

    def finish(self, trace_id: str, trace: AgentTrace, start: int, end: int, state: OpenTrace) -> None:
        record = convert_trace(trace, start, end)
        if state.trace is None:
            record.attributes["agent_otlp.workflow.synthesized"] = True
        self.records.append(record)
        self.ends.append(trace_id)

    def full(self) -> bool:
        return len(self.records) >= CHUNK

    def deliver(self) -> None:
        records, ends = self.records, self.ends
        if not records and not ends:
            return
        self.records, self.ends = [], []
        destinations = self.destinations
        last = len(destinations) - 1
        for index, destination in enumerate(destinations):
            # destinations keep what they are given: all but the last get copies
            mine = routed(records, destination.name)
            destination.put(mine if index == last else [r.copy() for r in mine])
            for trace_id in ends:
                destination.end_trace(trace_id)

    def restore_failed(self) -> None:
        return None

    def maintain(self) -> None:
        return None


class DurableSink:
    """Rows to a durable outbox, committed in groups; destinations hear of them once
    committed (see the module doc).

    With one destination, a span stored as sent is also converted here, on the writer's
    thread, the way that destination's reader converts it: the records go with the committed
    rows to the destination's live tail, so that its worker only encodes and sends them (the
    work shared between the threads that write, as without an outbox). With several, each
    reader converts its own."""

    durable = True

    def __init__(self, outbox: Outbox[Any], destinations: Sequence[Target], stats: ExporterStats,
                 traces: TraceTable) -> None:
        self.outbox = outbox
        self.destinations = destinations
        self.stats = stats
        self.traces = traces
        self._rows: list[Row] = []
        #: for each row, its span when the row stores it as sent (read back without parsing)
        self._row_spans: list[AgentSpan | None] = []
        #: for each row, that span converted (``None`` when not) with ``_options``
        self._row_records: list[SpanRecord | None] = []
        self._options = (ConvertOptions(destinations[0].settings.capture_content,
                                        destinations[0].settings.legacy_attributes)
                         if len(destinations) == 1 and destinations[0].converts_ahead else None)
        #: the trace objects first seen since the last batch, with their stored payloads
        self._start_rows: dict[str, tuple[AgentTrace, bytes]] = {}
        #: open traces changed, and traces finished, since the last batch
        self._touched: dict[str, None] = {}
        self._finished: dict[str, tuple[str, OpenTrace]] = {}
        #: batches built for a waiting client (it waits for them after the dispatch lock)
        self.collect: list[Any] | None = None
        #: failed batches whose trace bookkeeping the dispatcher restores
        self._failed: deque[Any] = deque()
        #: spans the outbox could not keep (never delivered)
        self.unkept = 0
        self._next_prune = time.monotonic() + PRUNE_EVERY
        outbox.listen(self._committed)

    def started(self, trace: AgentTrace) -> None:
        row = self.outbox.trace_start_row(trace)
        self._keep(row)
        self._start_rows[trace.id] = (trace, row[4])  # its open-trace record stores the same

    def touch(self, trace_id: str) -> None:
        self._touched[trace_id] = None

    def span(self, span: AgentSpan, raw: bytes | None) -> tuple[int | None, int | None]:
        raw = raw if span.repairs is None and span.conversation_id is None else None
        if raw is None:
            self._keep(self.outbox.span_row(span, raw))
        else:
            self._keep(self.outbox.span_row(span, raw), span, self._convert(span))
        start = span.started_ns if span.started_ns is not None else span.ended_ns
        end = span.ended_ns if span.ended_ns is not None else start
        if start is not None and end is not None and end < start:
            end = start
        return start, end

    def finish(self, trace_id: str, trace: AgentTrace, start: int, end: int, state: OpenTrace) -> None:
        row = self.outbox.trace_row(trace, start, max(start, end), state.trace is None)
        self._keep(row)
        self._touched.pop(trace_id, None)
        self._finished[trace_id] = (row[1], state)

    def full(self) -> bool:
        return len(self._rows) >= BATCH_ROWS

    def deliver(self) -> None:
        batch = self._batch()
        if batch is None:
            return
        self.outbox.submit(batch)
        if self.collect is not None:
            self.collect.append(batch)  # waited for once the dispatch lock is released
        else:
            self.outbox.wait(batch)

    def maintain(self) -> None:
        if time.monotonic() < self._next_prune:
            return
        self._next_prune = time.monotonic() + PRUNE_EVERY
        self.outbox.prune()

    def _keep(self, row: Row, span: AgentSpan | None = None, record: SpanRecord | None = None) -> None:
        """A row for the next batch; ``span`` when its payload reads back to that span, or
        ``record`` when that span is converted already (the span is then not kept: the live
        tail holds one or the other)."""
        self._rows.append(row)
        self._row_spans.append(span if record is None else None)
        self._row_records.append(record)

    def _convert(self, span: AgentSpan) -> SpanRecord | None:
        """``span`` converted for the one destination's reader, or ``None`` (it converts)."""
        options = self._options
        if options is None:
            return None
        try:
            return convert_span(span, options)
        except Exception:  # the reader meets it again, and counts it
            return None

    def _batch(self) -> Any:
        """The rows and open-trace changes since the last batch, or ``None``."""
        if not self._rows and not self._touched and not self._finished:
            return None
        opened = {}
        encode = self._start_payload
        for trace_id in self._touched:
            state = self.traces.open.get(trace_id)
            if state is not None:
                opened[trace_id] = (clean_str(trace_id), state.start_payload(encode), state.start_ns, state.end_ns)
        batch = self.outbox.batch(self._rows, opened, self._finished, answered=self.collect is not None,
                                  parsed=self._row_spans, records=self._row_records, options=self._options)
        self._rows, self._row_spans, self._row_records, self._touched, self._finished = [], [], [], {}, {}
        self._start_rows = {}
        return batch

    def _start_payload(self, trace: AgentTrace) -> bytes:
        known = self._start_rows.get(trace.id)
        if known is not None and known[0] is trace:
            return known[1]
        return self.outbox.trace_start_row(trace)[4]

    def _committed(self, group: list[Any], last: int | None, committed: Any, problem: str | None) -> None:
        """After each group commit (any thread): tell the destinations, or count the loss."""
        if problem is None and last is not None:
            self.stats.store_problem = ""
            for destination in self.destinations:
                destination.notify_stored(last, committed)
            return
        self.stats.store_write_errors += 1
        self.stats.store_problem = problem or ""
        for batch in group:
            self._failed.append(batch)
            if batch.answered:  # refused to the client, who sends it again
                continue
            lost = batch.spans()
            self.unkept += lost
            for destination in self.destinations:
                destination.stats.drop("store_full", lost)

    def restore_failed(self) -> None:
        """Trace bookkeeping of batches that were not stored: traces they finished are open
        again (finished again later), the records of those they touched are written again."""
        traces = self.traces
        while self._failed:
            batch = self._failed.popleft()
            for trace_id in batch.opened:
                if trace_id in traces.open:
                    self._touched[trace_id] = None
            for trace_id, (_key, state) in batch.finished.items():
                traces.reopen(trace_id, state)
                self._touched[trace_id] = None
