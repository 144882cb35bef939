"""The trace assembler: intake entries in, spans and finished traces out to a sink.

Tracks the open traces (:class:`~agent_otlp.core.pipeline.traces.TraceTable`): the times
each covers, its root spans, the span links to repair (docs/conversion.md); finishes a trace
when it ends, when asked, or when it has been quiet for too long (:meth:`Assembler.expire_idle`),
with a synthesized workflow span when its trace object never came, and a stand-in under the
workflow span for each parent its spans named that never arrived. A trace object without
times opens no trace: it waits (bounded) for the trace's first span, so the same object sent
again and again after its trace is done (RAAF does) makes no workflow span of its own. What
it produces goes to a :class:`~agent_otlp.core.pipeline.sinks.Sink`. Used under the
exporter's dispatch lock.
"""

from __future__ import annotations

import json
import logging
import time
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any, Final

from agent_otlp.core.config.errors import InputError
from agent_otlp.core.config.secrets import redact_text
from agent_otlp.core.convert.producer import stored_producer
from agent_otlp.core.convert.records import CONVERSATION_TYPES, AgentSpan, AgentTrace, parse_item
from agent_otlp.core.convert.repair import TraceLinks, renamed_after_stand_in, stand_in
from agent_otlp.core.convert.sdk import sdk_span_record
from agent_otlp.core.pipeline.intake import (
    END_ALL,
    END_TRACE,
    ITEM,
    SDK_SPAN,
    SDK_TRACE_END,
    SDK_TRACE_START,
)
from agent_otlp.core.pipeline.outbox import OpenTraceRecord
from agent_otlp.core.pipeline.sinks import Sink
from agent_otlp.core.pipeline.stats import ExporterStats
from agent_otlp.core.pipeline.traces import OpenTrace, TraceTable

__all__ = ["Assembler", "InputErrorLog"]

logger = logging.getLogger("agent_otlp.export")

#: Entry kinds counted as received: not trace ends or commands.
_RECEIVED: Final = (SDK_SPAN, SDK_TRACE_START, ITEM)
#: Invalid items logged over an exporter's life (the others are only counted).
_LOGGED_ERRORS = 10
#: Trace objects without times kept until their trace's first span (the oldest forgotten).
_WAITING_OBJECTS: Final = 4096


class InputErrorLog:
    """Counts refused items; keeps the last one's text, logs the first ones (redacted)."""

    def __init__(self, stats: ExporterStats) -> None:
        self.stats = stats
        self._logged = 0

    def note(self, error: InputError) -> None:
        self.stats.invalid_items += 1
        self.stats.last_input_error = redact_text(str(error))
        if self._logged < _LOGGED_ERRORS:
            self._logged += 1
            logger.warning("agent-otlp: skipped invalid item: %s", self.stats.last_input_error)

    def note_all(self, errors: list[InputError]) -> None:
        """Count a batch of refused items; only the last one's text is kept."""
        self.stats.invalid_items += len(errors)
        self.stats.last_input_error = redact_text(str(errors[-1]))
        for error in errors[: max(_LOGGED_ERRORS - self._logged, 0)]:
            self._logged += 1
            logger.warning("agent-otlp: skipped invalid item: %s", redact_text(str(error)))


class Assembler:
    """Entries to spans and finished traces, into ``sink`` (see the module doc)."""

    def __init__(self, sink: Sink, stats: ExporterStats, errors: InputErrorLog, traces: TraceTable,
                 capture_content: bool) -> None:
        self.sink = sink
        self.stats = stats
        self.errors = errors
        self.traces = traces
        self.capture_content = capture_content
        #: the JSON text of the item being handled, as its client sent it (the bridge)
        self.raw: bytes | None = None
        #: trace objects without times whose trace has no span yet, by trace id
        self._waiting: OrderedDict[str, AgentTrace] = OrderedDict()
        #: ids that stand-ins took, by trace, for recently finished traces
        self._stood_in: OrderedDict[str, frozenset[str]] = OrderedDict()
        #: fleet mode (docs/scale-out.md): no trace kept open, see :meth:`_forward`
        self.fleet = False

    def add(self, kind: int, payload: Any, when: int) -> bool:
        """Handle one entry; ``True`` when the sink's chunk is full (deliver it now)."""
        if kind in _RECEIVED:
            self.stats.received_items += 1
        try:
            self._handle(kind, payload, when)
        except InputError as exc:
            self.errors.note(exc)
        except Exception as exc:
            self.errors.note(InputError("item", type(payload).__name__, f"unconvertible: {exc!r}"))
        return self.sink.full()

    def _handle(self, kind: int, payload: Any, when: int) -> None:
        if kind == SDK_SPAN:
            self._span(sdk_span_record(payload, self.capture_content))
        elif kind == ITEM:
            if isinstance(payload, AgentTrace):
                self._trace(payload)
            else:
                assert isinstance(payload, AgentSpan)
                self._span(payload)
        elif kind in (SDK_TRACE_START, SDK_TRACE_END):
            self._sdk_trace(payload, when, ended=kind == SDK_TRACE_END)
        elif kind == END_TRACE:
            self.finish(payload)
        elif kind == END_ALL:
            for trace_id in list(self.traces.open):
                self.finish(trace_id)

    def _sdk_trace(self, sdk_trace: Any, when: int, *, ended: bool) -> None:
        trace = parse_item(sdk_trace.export())
        assert isinstance(trace, AgentTrace)
        state = self.traces.open.get(trace.id)
        if state is None:
            if trace.id in self.traces.ended:
                return
            state = self.traces.open[trace.id] = self._new_trace(trace)
        state.trace = trace
        state.live = True
        state.cover(when, when)
        if ended:
            self.finish(trace.id)
        else:
            self.sink.touch(trace.id)

    def _trace(self, trace: AgentTrace) -> None:
        if self.fleet:
            self._forward_trace(trace)
            return
        state = self.traces.open.get(trace.id)
        if state is None:
            if trace.id in self.traces.ended:
                return
            if trace.started_ns is None and trace.ended_ns is None:
                self._wait(trace)  # opens nothing until a span of it comes
                return
            state = self.traces.open[trace.id] = self._new_trace(trace)
        elif state.trace is None:
            self.sink.started(trace)
        state.trace = trace
        if trace.started_ns is not None:
            state.cover(trace.started_ns, trace.ended_ns or trace.started_ns)
        self.sink.touch(trace.id)

    def _span(self, span: AgentSpan) -> None:
        if self.fleet:  # forwarded as it comes: another bridge may hold the rest of its trace
            self.sink.span(span, self.raw)
            self.stats.converted_spans += 1
            return
        traces = self.traces
        state = traces.open.get(span.trace_id)
        if state is None and span.trace_id not in traces.ended:
            trace = self._waiting.pop(span.trace_id, None)
            state = traces.open[span.trace_id] = self._new_trace(trace)
            state.producer = span.producer
        root_id = span.id if span.parent_id is None else None  # as sent, before repairs
        if state is not None:
            state.links.check(span)  # before it is stored or converted
            if state.trace is not None and state.trace.group_id and span.type in CONVERSATION_TYPES:
                span.conversation_id = state.trace.group_id
        elif span.id in self._stood_in.get(span.trace_id, ()):
            renamed_after_stand_in(span)  # a parent later than its trace's end
        start, end = self.sink.span(span, self.raw)
        self.stats.converted_spans += 1
        if state is not None:
            if start is not None and end is not None:
                state.cover(start, end)
            if root_id is not None:
                state.note_root(root_id, ended=span.ended_ns is not None)
            self.sink.touch(span.trace_id)

    def _forward_trace(self, trace: AgentTrace) -> None:
        """Fleet mode: a trace object makes its workflow span from itself alone (its own
        times, else now), once per bridge, at the dispatcher's next look at the open traces
        (within half a second: finishing it here, on the client's thread, would serialize
        the clients); no span of its trace opens anything."""
        if trace.id in self.traces.ended or trace.id in self.traces.open:
            return
        state = self.traces.open[trace.id] = self._new_trace(trace)
        if trace.started_ns is not None:
            state.cover(trace.started_ns, trace.ended_ns or trace.started_ns)
        state.touched = float("-inf")  # due now
        self.sink.touch(trace.id)

    def _new_trace(self, trace: AgentTrace | None) -> OpenTrace:
        if trace is not None:
            self.sink.started(trace)
        return OpenTrace(trace=trace)

    def _wait(self, trace: AgentTrace) -> None:
        waiting = self._waiting
        waiting[trace.id] = trace
        waiting.move_to_end(trace.id)
        if len(waiting) > _WAITING_OBJECTS:
            waiting.popitem(last=False)

    def finish(self, trace_id: str) -> None:
        """Finish an open trace: its workflow span (synthesized without a trace object)
        covers the trace object's times, else what its spans covered, else now."""
        state = self.traces.pop(trace_id)
        if state is None:
            return
        trace = state.trace or AgentTrace(id=trace_id, workflow_name="Agent workflow",
                                          producer=state.producer)
        start = trace.started_ns if trace.started_ns is not None else state.start_ns
        end = trace.ended_ns if trace.ended_ns is not None else state.end_ns
        now = time.time_ns()
        start = start if start is not None else now
        end = end if end is not None else now
        self._stand_ins(trace, state, start, end)
        self.sink.finish(trace_id, trace, start, end, state)

    def _stand_ins(self, trace: AgentTrace, state: OpenTrace, start: int, end: int) -> None:
        """A stand-in under the workflow span for each parent that never arrived."""
        missing = state.links.missing()
        for parent_id, first, last in missing:
            filler = stand_in(trace.id, parent_id, first if first is not None else start,
                              last if last is not None else end)
            filler.producer = trace.producer
            self.sink.span(filler, None)
        if missing:  # a parent arriving after the trace finished must not reuse those ids
            self._stood_in[trace.id] = frozenset(parent_id for parent_id, _, _ in missing)
            if len(self._stood_in) > _WAITING_OBJECTS:
                self._stood_in.popitem(last=False)

    def expire_idle(self) -> None:
        """Finish the traces quiet for too long (:meth:`TraceTable.expired`), and deliver."""
        if not self.traces.open:
            return
        for trace_id in self.traces.expired(time.monotonic()):
            self.finish(trace_id)
        self.sink.deliver()

    def reopen(self, records: Iterable[OpenTraceRecord]) -> None:
        """Traces a previous process left open (it stopped before they ended) are finished
        like quiet bridge traces: after the idle timeout or at shutdown. One that covers no
        time (only its trace object was seen) waits for a span like a new trace object.
        Their spans before the restart are not known here: no stand-ins for their parents."""
        for trace_id, start_payload, first, last in records:
            trace = None
            if start_payload is not None:
                try:
                    value = json.loads(start_payload)
                    parsed = parse_item(value)
                    trace = parsed if isinstance(parsed, AgentTrace) else None
                    if trace is not None:
                        trace.producer = stored_producer(value)
                except (ValueError, InputError):
                    trace = None
            if first is None and last is None:
                if trace is not None:
                    self._wait(trace)
                continue
            state = self.traces.open[trace_id] = OpenTrace(trace=trace, links=TraceLinks(complete=False))
            if first is not None and last is not None:
                state.cover(first, last)
