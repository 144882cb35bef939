"""The exporter: agent traces in, converted spans out to every destination.

Threads: the caller's (agent code) only appends to a bounded intake
(:mod:`agent_otlp.core.pipeline.intake`) and returns; one dispatcher thread
(:mod:`agent_otlp.core.pipeline.dispatch`) validates and converts items and tracks traces
(:mod:`agent_otlp.core.pipeline.assembler`); each destination has its own worker (see
:mod:`agent_otlp.core.pipeline.destination`).

Public entry points never raise into the caller: bad items are counted and reported (and
returned by :meth:`AgentExporter.submit_items`).

Backpressure (``docs/performance.md``): the intake holds at most ``max_intake`` items
(:data:`MAX_INTAKE`). When it is full the caller waits for room for at most
:data:`INTAKE_WAIT` seconds (the dispatcher is converting meanwhile); if there is still no
room the item is dropped and counted (``dropped_intake_full``) and, for
:data:`INTAKE_COOLDOWN` seconds, further items are dropped at once instead of waiting again.
The dispatcher waits for healthy destinations that are behind (:data:`DISPATCH_WAIT`).

With a durable outbox (:class:`~agent_otlp.core.pipeline.outbox.Outbox`, the span store),
rows reach it through a group commit together with the open-trace records, and destinations
hear of them only once committed (:mod:`agent_otlp.core.pipeline.sinks`).
:meth:`AgentExporter.submit_items_durable` (the bridge) returns only when its items are
committed, or says why they could not be kept; items the dispatcher could not store (disk
full) are counted as dropped, reason ``store_full``.
"""

from __future__ import annotations

import atexit
import functools
import logging
import threading
import time
import weakref
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from agent_otlp.core.config.errors import InputError
from agent_otlp.core.convert.producer import Producer, claims_producer
from agent_otlp.core.convert.records import parse_item
from agent_otlp.core.convert.spans import ConvertOptions
from agent_otlp.core.pipeline.assembler import Assembler, InputErrorLog
from agent_otlp.core.pipeline.at_exit import shutdown_at_exit
from agent_otlp.core.pipeline.destination import FlushResult, Target
from agent_otlp.core.pipeline.dispatch import DISPATCH_WAIT, Dispatcher
from agent_otlp.core.pipeline.intake import (
    END_ALL,
    END_TRACE,
    INGEST_END_ALL,
    INGEST_END_TRACE,
    INGEST_ITEM,
    INGEST_TRACE_END,
    INGEST_TRACE_START,
    INTAKE_COOLDOWN,
    INTAKE_WAIT,
    ITEM,
    MAX_INTAKE,
    SDK_SPAN,
    SDK_TRACE_END,
    SDK_TRACE_START,
    Intake,
    Room,
)
from agent_otlp.core.pipeline.outbox import Outbox
from agent_otlp.core.pipeline.sinks import DurableSink, MemorySink, Sink
from agent_otlp.core.pipeline.stats import ExporterStats
from agent_otlp.core.pipeline.traces import TRACE_END_GRACE, TRACE_IDLE_TIMEOUT, TraceTable

__all__ = [
    "DISPATCH_WAIT",
    "INGEST_END_ALL",
    "INGEST_END_TRACE",
    "INGEST_ITEM",
    "INGEST_TRACE_END",
    "INGEST_TRACE_START",
    "INTAKE_COOLDOWN",
    "INTAKE_WAIT",
    "MAX_INTAKE",
    "TRACE_END_GRACE",
    "TRACE_IDLE_TIMEOUT",
    "AgentExporter",
    "FlushReport",
    "Room",
    "Submission",
]

logger = logging.getLogger("agent_otlp.export")


@dataclass(frozen=True, slots=True)
class FlushReport:
    """Outcome of :meth:`AgentExporter.force_flush` / :meth:`AgentExporter.shutdown`."""

    delivered: bool
    pending: int
    destinations: tuple[FlushResult, ...] = ()


@dataclass(frozen=True, slots=True)
class Submission:
    """Outcome of :meth:`AgentExporter.submit_items_durable`.

    :param errors: the invalid items (each with its ``index``); they cost nothing else.
    :param problem: why the valid items were not kept (``database or disk is full``);
        ``None`` when every valid item is committed to the store (or queued, without one).
    """

    errors: list[InputError]
    problem: str | None = None


class AgentExporter:
    """Receives agent traces and spans and delivers them to its destinations.

    :param outbox: a durable outbox (the span store, wired by ``create_exporter``): items
        are written there and every destination reads them back after its own cursor.
    """

    def __init__(
        self,
        destinations: Sequence[Target],
        *,
        max_intake: int = MAX_INTAKE,
        trace_idle_timeout: float = TRACE_IDLE_TIMEOUT,
        exit_timeout: float = 10.0,
        outbox: Outbox[Any] | None = None,
    ) -> None:
        self.destinations: list[Target] = list(destinations)
        destinations = self.destinations
        self.stats = ExporterStats(destinations={d.name: d.stats for d in destinations})
        self._outbox = outbox
        #: The durable store under the outbox, when on (``None`` without one).
        self.store: Any = outbox.store if outbox is not None else None
        capture = any(d.settings.capture_content for d in destinations)
        legacy = any(d.settings.legacy_attributes for d in destinations)
        self._traces = TraceTable()
        self._traces.idle_timeout = trace_idle_timeout
        self._durable: DurableSink | None = None
        sink: Sink
        if outbox is not None:
            sink = self._durable = DurableSink(outbox, destinations, self.stats, self._traces)
        else:
            sink = MemorySink(destinations, ConvertOptions(capture, legacy))
        self._errors = InputErrorLog(self.stats)
        self._assembler = Assembler(sink, self.stats, self._errors, self._traces, capture)
        if outbox is not None:
            self._assembler.reopen(outbox.open_traces())
        self._intake = Intake(max_intake)
        self._dispatcher = Dispatcher(self._intake, self._assembler, sink, destinations)
        self._unkept_reported = 0
        self._lock = threading.Lock()
        self._dispatcher.start()
        self._exit_timeout = exit_timeout
        # One callback per exporter, so that shutdown() can unregister exactly this one.
        self._at_exit = functools.partial(shutdown_at_exit, weakref.ref(self))
        atexit.register(self._at_exit)

    @property
    def closed(self) -> bool:
        """True once :meth:`shutdown` has run: new items are dropped."""
        return self._intake.closed

    # --- input: cheap, thread-safe, never raise ------------------------------------------

    def on_sdk_span_end(self, span: Any) -> None:
        if not self._intake.put(SDK_SPAN, span):
            self.stats.dropped_intake_full += 1

    def on_sdk_trace_start(self, trace: Any) -> None:
        if not self._intake.put(SDK_TRACE_START, trace):
            self.stats.dropped_intake_full += 1

    def on_sdk_trace_end(self, trace: Any) -> None:
        if not self._intake.put(SDK_TRACE_END, trace):
            self.stats.dropped_intake_full += 1

    def submit_items(self, items: Iterable[Any], producer: Producer | None = None) -> list[InputError]:
        """Validate items of the SDK's export format and queue the valid ones.

        Returns the errors of the invalid ones (each with its ``index``), without their
        tracebacks (a flood of bad items costs a small object each); they cost nothing else.
        ``producer``: whose items they are (the bridge's producer tokens): their spans go out
        under its resource, to its destinations.
        """
        errors: list[InputError] = []
        self._queue(self._parsed(items, errors, producer))  # queued as read: a stream is not held whole
        return errors

    def submit_items_durable(self, items: Iterable[Any], raw: list[bytes | None] | None = None,
                             producer: Producer | None = None) -> Submission:
        """Validate items of the SDK's export format and, with a span store, return once
        the valid ones are committed to it (a crash of the process keeps them from then on).

        ``raw`` (the bridge) gives, for each item, its JSON text as received (UTF-8, strict
        JSON) or ``None``: a span needing no repair is stored as that text, not serialized
        again.

        Concurrent callers share one transaction (group commit). When the store cannot
        write, :attr:`Submission.problem` says why and none of the batch that failed is
        kept (a caller with several thousand items may have had earlier batches kept).
        Without a store the valid items are queued like :meth:`submit_items` does.
        """
        items = items if isinstance(items, list) else list(items)
        parsed, errors = self._validate(items, producer)
        sink, outbox = self._durable, self._outbox
        if sink is None or outbox is None:
            self._queue(parsed)
            return Submission(errors)
        texts: list[bytes | None] = [None] * len(parsed)
        if raw is not None:
            refused = {getattr(e, "index", None) for e in errors}
            kept = [None if claims_producer(items[index]) else text  # stored anew, without it
                    for index, text in enumerate(raw) if index not in refused]
            texts = kept if len(kept) == len(parsed) else texts  # not one per item: unused
        dispatcher, assembler = self._dispatcher, self._assembler
        dispatcher.await_destinations(durable=True)
        now = time.time_ns()
        with dispatcher.lock:
            if self.closed:
                self.stats.dropped_intake_full += len(parsed)
                return Submission(errors, "the exporter is shut down")
            sink.collect = []
            try:
                for item, assembler.raw in zip(parsed, texts, strict=True):
                    dispatcher.handle(ITEM, item, now)
                assembler.raw = None
                sink.deliver()
            finally:
                batches, sink.collect = sink.collect, None
                assembler.raw = None
        problem = None
        for batch in batches:
            problem = outbox.wait(batch) or problem
        return Submission(errors, problem)

    def _queue(self, parsed: Iterable[Any]) -> None:
        put = self._intake.put
        for item in parsed:
            if not put(ITEM, item):
                self.stats.dropped_intake_full += 1

    def _validate(self, items: Iterable[Any], producer: Producer | None = None) -> tuple[list[Any], list[InputError]]:
        """The parsed valid items, and the errors (with ``index``) of the others."""
        errors: list[InputError] = []
        return list(self._parsed(items, errors, producer)), errors

    def _parsed(self, items: Iterable[Any], errors: list[InputError],
                producer: Producer | None = None) -> Iterator[Any]:
        """Each valid item parsed, as it is read; the error (with ``index``, no traceback)
        of each other one appended to ``errors``, and noted once they are all read."""
        first_error = len(errors)
        for index, item in enumerate(items):
            try:
                parsed = parse_item(item)
            except InputError as exc:
                error = exc
            except Exception as exc:  # hostile objects: never let them escape
                error = InputError("item", type(item).__name__, f"unreadable: {exc!r}")
            else:
                if producer is not None:
                    parsed.producer = producer
                yield parsed
                continue
            error.__traceback__ = error.__context__ = None
            error.index = index  # type: ignore[attr-defined]
            errors.append(error)
        if len(errors) > first_error:
            self._errors.note_all(errors[first_error:])

    def ingest(self, entries: Iterable[tuple[int, Any, int]]) -> None:
        """Handle already-parsed entries on the caller's thread, in order, without the
        intake: what the dispatcher thread would do with them, minus the hand-off.

        For a single feeder that is not the agent's thread (offload mode's child process:
        one thread per span less to share the interpreter with). Entries are
        ``(kind, payload, unix_ns)`` with the ``INGEST_*`` kinds; the timestamp stands for
        when the producer saw the item. It waits (not drops) while a healthy destination
        is behind, like the dispatcher. Items queued with the other methods before this
        call may be handled after these ones. After :meth:`shutdown` entries are dropped
        and counted as ``dropped_intake_full``.
        """
        dispatcher = self._dispatcher
        with dispatcher.lock:
            for kind, payload, when in entries:
                if self.closed:
                    self.stats.dropped_intake_full += 1
                    continue
                dispatcher.handle(kind, payload, when)
            dispatcher.sink.deliver()

    def delivery_problem(self) -> str | None:
        """Why a destination cannot deliver at all right now (its delivery process is not
        running), else ``None``."""
        return next((f"{d.name}: {p}" for d in self.destinations if (p := d.problem())), None)

    def pending(self) -> int:
        """Items not yet delivered by the slowest destination (intake included)."""
        backlog = max((d.pending for d in self.destinations), default=0)
        return len(self._intake) + backlog

    def is_full(self) -> bool:
        """True when new items would be dropped: the intake is full, or the store's
        undelivered budget is used up."""
        if len(self._intake) >= self._intake.size or self.closed:
            return True
        return self._outbox is not None and self._outbox.is_full()

    def store_problem(self) -> str | None:
        """Why the span store cannot write at the moment (``database or disk is full``);
        ``None`` when it can, or without a store."""
        return self._outbox.write_problem if self._outbox is not None else None

    def forward_at_once(self) -> None:
        """Fleet mode (docs/scale-out.md): spans are forwarded as they come and no trace is
        kept open; a trace object makes its workflow span at once, and none is synthesized
        for a trace whose object never came. Call before feeding anything. Traces a previous
        process left open in the store are finished at once."""
        with self._dispatcher.lock:
            self._assembler.fleet = True
            for state in self._traces.open.values():
                state.touched = float("-inf")

    def set_trace_idle_timeout(self, seconds: float) -> None:
        """Seconds a trace fed from files or the bridge may stay quiet before it is finished
        (while its root spans have not all ended; see :meth:`set_trace_end_grace`)."""
        self._traces.idle_timeout = seconds

    def set_trace_end_grace(self, seconds: float) -> None:
        """Seconds such a trace may stay quiet once the root spans (no parent) it has had
        ended (:data:`TRACE_END_GRACE`); the idle timeout still applies when shorter."""
        self._traces.end_grace = seconds

    def end_trace(self, trace_id: str) -> None:
        """Say that trace ``trace_id`` is complete: its workflow span is sent now."""
        if not self._intake.put(END_TRACE, trace_id):
            self.stats.dropped_intake_full += 1

    def end_all_traces(self) -> None:
        """Finalize every open trace (end of a file, shutdown)."""
        if not self._intake.put(END_ALL, None):
            self.stats.dropped_intake_full += 1

    # --- lifecycle -----------------------------------------------------------------------

    def force_flush(self, timeout: float = 30.0) -> FlushReport:
        """Deliver everything queued so far, waiting at most ``timeout`` seconds."""
        if self.closed:
            return FlushReport(True, 0)
        deadline = time.monotonic() + timeout
        self._intake.drain(deadline)
        tickets = [(d, d.request_flush()) for d in self.destinations]
        results = tuple(d.wait_flush(t, deadline) for d, t in tickets)
        pending = len(self._intake) + sum(r.pending for r in results)
        # spans the store could not keep since the last report: not delivered, ever
        unkept = self._durable.unkept if self._durable is not None else 0
        unkept, self._unkept_reported = unkept - self._unkept_reported, unkept
        delivered = all(r.delivered for r in results) and pending == 0 and not unkept
        return FlushReport(delivered, pending, results)

    def shutdown(self, timeout: float = 30.0) -> FlushReport:
        """Finalize open traces, deliver what is queued, stop. Idempotent."""
        with self._lock:
            if self.closed:
                return FlushReport(True, 0)
            atexit.unregister(self._at_exit)
            self.end_all_traces()
            report = self.force_flush(timeout)
            self._intake.closed = True
        self._dispatcher.stop(1.0)
        results = tuple(
            d.close(r) for d, r in zip(self.destinations, report.destinations, strict=True)
        )
        pending = len(self._intake) + sum(r.pending for r in results)
        if pending:
            logger.warning(
                "agent-otlp: shutdown left %d spans undelivered (timeout %.1fs)", pending, timeout
            )
        return FlushReport(report.delivered and pending == 0, pending, results)
