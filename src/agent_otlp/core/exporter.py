"""The exporter: agent traces in, converted spans out to every destination.

Threads: the caller's (agent code) only appends to a bounded intake and returns; one
dispatcher thread validates and converts items and tracks traces; each destination has its
own worker (see :mod:`agent_otlp.core.destination`).

Public entry points never raise into the caller: bad items are counted and reported (and
returned by :meth:`AgentExporter.submit_items`).

Backpressure (``docs/performance.md``): the intake holds at most ``max_intake`` items
(:data:`MAX_INTAKE`). When it is full the caller waits for room for at most
:data:`INTAKE_WAIT` seconds (the dispatcher is converting meanwhile); if there is still no
room the item is dropped and counted (``dropped_intake_full``) and, for
:data:`INTAKE_COOLDOWN` seconds, further items are dropped at once instead of waiting again:
a stalled pipeline costs the agent at most one bounded wait per cool-down. Likewise the
dispatcher waits (at most :data:`DISPATCH_WAIT` per chunk) while a destination that
delivers at full speed has more than its high-water mark queued, so memory stays small when
the producer outruns delivery; a failing destination or a slow backend is not waited for
(its own queue absorbs, up to ``max_queue_size``, then drops as ``queue_full``).

With a span store, rows reach the store through a group committer
(:mod:`agent_otlp.store.committer`) together with the open-trace records, and destinations
hear of them only once committed. :meth:`AgentExporter.submit_items_durable` (the bridge)
returns only when its items are committed, or says why they could not be kept; items the
dispatcher could not store (disk full) are counted as dropped, reason ``store_full``.
"""

from __future__ import annotations

import atexit
import functools
import json
import logging
import threading
import time
import weakref
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from agent_otlp.core.config.errors import InputError
from agent_otlp.core.config.secrets import redact_text
from agent_otlp.core.convert.flatten import clean_str
from agent_otlp.core.convert.records import (
    AgentSpan,
    AgentTrace,
    SpanRecord,
    parse_item,
    parse_timestamp,
)
from agent_otlp.core.convert.repair import TraceLinks
from agent_otlp.core.convert.spans import ConvertOptions, convert_span, convert_trace
from agent_otlp.core.destination import Destination, FlushResult
from agent_otlp.core.pipeline.stats import ExporterStats
from agent_otlp.store.committer import Batch, GroupCommitter
from agent_otlp.store.outbox import committed_rows, span_row, trace_row, trace_start_row

if TYPE_CHECKING:
    from agent_otlp.store.sqlite import SpanStore

__all__ = ["AgentExporter", "FlushReport", "Submission"]

logger = logging.getLogger("agent_otlp.export")
_monotonic = time.monotonic

#: Seconds a trace fed from files or the bridge may stay quiet before it is finalized.
TRACE_IDLE_TIMEOUT: Final = 30.0
#: Seconds such a trace may stay quiet once every root span (no parent) it has had ended.
TRACE_END_GRACE: Final = 5.0
#: Seconds a live trace (started through the SDK) may stay open at most.
TRACE_MAX_OPEN: Final = 3600.0
#: Seconds between two retention passes over the store.
PRUNE_EVERY: Final = 60.0
_WAKE_AT: Final = 256
#: Default intake size (live SDK span objects waiting for the dispatcher).
MAX_INTAKE: Final = 1024
#: Longest a caller waits for room in a full intake, in seconds.
INTAKE_WAIT: Final = 1.0
#: After a wait that found no room, seconds during which full-intake items drop at once.
INTAKE_COOLDOWN: Final = 1.0
#: Longest the dispatcher waits per chunk for a healthy destination to drain, in seconds.
DISPATCH_WAIT: Final = 0.5
_CHUNK: Final = 512
#: Ended trace ids remembered (late spans of these are ignored); bounded for memory.
_REMEMBERED_ENDED: Final = 4096

# intake entry kinds
_SDK_SPAN: Final = 0
_SDK_TRACE_START: Final = 1
_SDK_TRACE_END: Final = 2
_ITEM: Final = 3
_END_TRACE: Final = 4
_END_ALL: Final = 5
_BARRIER: Final = 6

#: Entry kinds for :meth:`AgentExporter.ingest`: a parsed :class:`AgentSpan` or
#: :class:`AgentTrace`; an SDK trace object (anything with ``export()``) starting or ending;
#: a trace id to finish; finish every open trace (payload ``None``).
INGEST_ITEM: Final = _ITEM
INGEST_TRACE_START: Final = _SDK_TRACE_START
INGEST_TRACE_END: Final = _SDK_TRACE_END
INGEST_END_TRACE: Final = _END_TRACE
INGEST_END_ALL: Final = _END_ALL


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


@dataclass(slots=True)
class _OpenTrace:
    trace: AgentTrace | None = None
    start_ns: int | None = None
    end_ns: int | None = None
    live: bool = False
    touched: float = field(default_factory=time.monotonic)
    #: ``trace`` as stored in the open-traces record (computed once per trace object)
    payload: bytes | None = None
    payload_of: AgentTrace | None = None
    #: root spans (no parent) seen ended, and those seen not yet ended
    roots_ended: int = 0
    roots_open: set[str] = field(default_factory=set)
    #: span ids seen, to repair duplicates and parent loops (docs/conversion.md)
    links: TraceLinks = field(default_factory=TraceLinks)

    def note_root(self, span_id: str, *, ended: bool) -> None:
        if ended:
            self.roots_open.discard(span_id)
            self.roots_ended += 1
        else:
            self.roots_open.add(span_id)

    def start_payload(self) -> bytes | None:
        trace = self.trace
        if trace is not None and trace is not self.payload_of:
            self.payload, self.payload_of = trace_start_row(trace)[4], trace
        return self.payload if trace is not None else None

    def cover(self, start: int, end: int) -> None:
        first = self.start_ns
        if first is None or start < first:
            self.start_ns = start
        last = self.end_ns
        if last is None or end > last:
            self.end_ns = end
        self.touched = _monotonic()


def sdk_span_item(span: Any, capture_content: bool) -> dict[str, Any]:
    """A live SDK span in the export format, plus what ``export()`` leaves out of responses."""
    item: dict[str, Any] = span.export()
    data = span.span_data
    if getattr(data, "type", None) == "response":
        response = getattr(data, "response", None)
        span_data = item["span_data"] = dict(item["span_data"])
        if response is not None and getattr(response, "model", None):
            span_data["model"] = response.model
        if capture_content:
            span_data["input"] = getattr(data, "input", None)
            output = getattr(response, "output", None)
            if output is not None:
                span_data["output"] = [
                    o.model_dump() if hasattr(o, "model_dump") else o for o in output
                ]
    return item


def sdk_span_record(span: Any, capture_content: bool) -> AgentSpan:
    """A live SDK span as an :class:`AgentSpan`, read from the span object's attributes.

    Same result as ``parse_item(sdk_span_item(span, capture_content))`` without building
    and re-validating the export dict (the SDK's objects are typed). Anything unusual (a
    response span, metadata, unexpected types) goes through that validated path instead.
    """
    try:
        span_id = span.span_id
        trace_id = span.trace_id
        parent_id = span.parent_id
        data_object = span.span_data
        error = span.error
        fast = (
            type(span_id) is str
            and span_id
            and type(trace_id) is str
            and trace_id
            and (parent_id is None or type(parent_id) is str)
            and (error is None or type(error) is dict)
            and getattr(span, "trace_metadata", None) is None
            and getattr(data_object, "metadata", None) is None
        )
        data = data_object.export() if fast else None
    except Exception:
        fast, data = False, None
    if not fast or type(data) is not dict or type(data.get("type")) is not str or data["type"] == "response":
        parsed = parse_item(sdk_span_item(span, capture_content))
        assert isinstance(parsed, AgentSpan)
        return parsed
    return AgentSpan(
        span_id,
        trace_id,
        parent_id or None,
        parse_timestamp(span.started_at, "started_at", span_id),
        parse_timestamp(span.ended_at, "ended_at", span_id),
        data,
        dict(error) if error is not None else None,
        None,
    )


class Room:
    """The wait for room in a full queue: at most :data:`INTAKE_WAIT` seconds, then the
    caller drops and counts, and for :data:`INTAKE_COOLDOWN` seconds the next callers drop
    at once instead of waiting again. The consumer calls :meth:`notify` when it made room."""

    def __init__(self) -> None:
        self.cond = threading.Condition(threading.Lock())
        self.waiting = 0
        self._no_wait_until = 0.0

    def wait(self, has_room: Callable[[], bool], wake: Callable[[], None]) -> bool:
        """Wait (bounded) until ``has_room()``; ``wake`` nudges the consumer first."""
        if time.monotonic() < self._no_wait_until:
            return False
        with self.cond:
            self.waiting += 1
            wake()
            try:
                room = self.cond.wait_for(has_room, INTAKE_WAIT)
            finally:
                self.waiting -= 1
        if not room:
            self._no_wait_until = time.monotonic() + INTAKE_COOLDOWN
        return room

    def notify(self) -> None:
        if self.waiting:
            with self.cond:
                self.cond.notify_all()


class AgentExporter:
    """Receives agent traces and spans and delivers them to its destinations."""

    def __init__(
        self,
        destinations: list[Destination],
        *,
        max_intake: int = MAX_INTAKE,
        trace_idle_timeout: float = TRACE_IDLE_TIMEOUT,
        exit_timeout: float = 10.0,
        store: SpanStore | None = None,
    ) -> None:
        self.destinations = destinations
        #: The durable store, when on: items are written there and every destination
        #: reads them back after its own cursor.
        self.store = store
        self._rows: list[tuple[int, str, str, int | None, bytes]] = []
        #: for each row, its span when the row stores it as sent (see :class:`Batch`)
        self._row_spans: list[AgentSpan | None] = []
        #: the JSON text of the item being handled, as its client sent it (the bridge)
        self._raw: bytes | None = None
        #: open traces changed, and traces finished, since the last batch (store mode)
        self._touched: dict[str, None] = {}
        self._finished: dict[str, tuple[str, _OpenTrace]] = {}
        #: batches built by :meth:`submit_items_durable` (waited for after the lock)
        self._collect: list[Batch] | None = None
        #: failed batches whose trace bookkeeping the dispatcher restores
        self._failed: deque[Batch] = deque()
        self._unkept = self._unkept_reported = 0
        self._committer = GroupCommitter(store, self._committed) if store is not None else None
        self._next_prune = time.monotonic() + PRUNE_EVERY
        self.stats = ExporterStats(destinations={d.name: d.stats for d in destinations})
        self._options = ConvertOptions(
            capture_content=any(d.settings.capture_content for d in destinations),
            legacy_attributes=any(d.settings.legacy_attributes for d in destinations),
        )
        self._max_intake = max_intake
        self._idle_timeout = trace_idle_timeout
        self._end_grace = TRACE_END_GRACE
        self._intake: deque[tuple[int, Any, int]] = deque()
        self._wake = threading.Event()
        self._room = Room()
        self._barrier_done = threading.Condition()
        self._barriers_seen = 0
        self._barriers_sent = 0
        self._open: dict[str, _OpenTrace] = {}
        self._ended: OrderedDict[str, None] = OrderedDict()
        if store is not None:
            self._reopen_traces(store)
        self._closed = False
        self._lock = threading.Lock()
        #: Held while trace state changes: by the dispatcher thread, and by :meth:`ingest`.
        self._dispatch_lock = threading.RLock()
        self._errors_logged = 0
        self._thread = threading.Thread(target=self._run, name="agent-otlp-dispatch", daemon=True)
        self._thread.start()
        self._exit_timeout = exit_timeout
        # One callback per exporter, so that shutdown() can unregister exactly this one.
        self._at_exit = functools.partial(_shutdown_at_exit, weakref.ref(self))
        atexit.register(self._at_exit)

    # --- input: cheap, thread-safe, never raise ------------------------------------------

    def _put(self, kind: int, payload: Any) -> None:
        intake = self._intake
        if (len(intake) >= self._max_intake and not self._wait_for_room()) or self._closed:
            self.stats.dropped_intake_full += 1
            return
        intake.append((kind, payload, time.time_ns()))
        # Trace starts and ends ride with the spans: the dispatcher's own 50 ms timer picks
        # them up; waking it for each would hand it the GIL for tiny batches.
        if (len(intake) >= _WAKE_AT or kind >= _END_TRACE) and not self._wake.is_set():
            self._wake.set()

    def _wait_for_room(self) -> bool:
        """Bounded wait for the dispatcher to make room in the intake (see module doc)."""
        if self._closed or threading.current_thread() is self._thread:
            return False
        low = self._max_intake * 3 // 4
        room = self._room.wait(lambda: len(self._intake) <= low or self._closed, self._wake.set)
        return room and not self._closed

    def on_sdk_span_end(self, span: Any) -> None:
        self._put(_SDK_SPAN, span)

    def on_sdk_trace_start(self, trace: Any) -> None:
        self._put(_SDK_TRACE_START, trace)

    def on_sdk_trace_end(self, trace: Any) -> None:
        self._put(_SDK_TRACE_END, trace)

    def submit_items(self, items: Iterable[Any]) -> list[InputError]:
        """Validate items of the SDK's export format and queue the valid ones.

        Returns the errors of the invalid ones, without their tracebacks (a flood of bad
        items costs a small object each); they cost nothing else.
        """
        errors: list[InputError] = []
        for index, item in enumerate(items):
            try:
                parsed = parse_item(item)
            except InputError as exc:
                error = exc
            except Exception as exc:  # hostile objects: never let them escape
                error = InputError("item", type(item).__name__, f"unreadable: {exc!r}")
            else:
                self._put(_ITEM, parsed)
                continue
            error.__traceback__ = error.__context__ = None
            error.index = index  # type: ignore[attr-defined]
            errors.append(error)
        if errors:
            self._note_input_errors(errors)
        return errors

    def submit_items_durable(self, items: Iterable[Any], raw: list[bytes | None] | None = None) -> Submission:
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
        parsed, errors = self._validate(items)
        committer = self._committer
        if committer is None:
            for item in parsed:
                self._put(_ITEM, item)
            return Submission(errors)
        texts: list[bytes | None] = [None] * len(parsed)
        if raw is not None:
            refused = {getattr(e, "index", None) for e in errors}
            kept = [text for index, text in enumerate(raw) if index not in refused]
            texts = kept if len(kept) == len(parsed) else texts  # not one per item: unused
        out: list[SpanRecord] = []
        ends: list[str] = []
        self._await_destinations(durable=True)
        now = time.time_ns()
        with self._dispatch_lock:
            if self._closed:
                self.stats.dropped_intake_full += len(parsed)
                return Submission(errors, "the exporter is shut down")
            self._collect = []
            try:
                for item, self._raw in zip(parsed, texts, strict=True):
                    self._dispatch_one(_ITEM, item, now, out, ends)
                self._raw = None
                self._deliver(out, ends)
            finally:
                batches, self._collect = self._collect, None
                self._raw = None
        problem = None
        for batch in batches:
            problem = committer.wait(batch) or problem
        return Submission(errors, problem)

    def _validate(self, items: Iterable[Any]) -> tuple[list[Any], list[InputError]]:
        """The parsed valid items, and the errors (with ``index``) of the others."""
        parsed: list[Any] = []
        errors: list[InputError] = []
        for index, item in enumerate(items):
            try:
                parsed.append(parse_item(item))
                continue
            except InputError as exc:
                error = exc
            except Exception as exc:  # hostile objects: never let them escape
                error = InputError("item", type(item).__name__, f"unreadable: {exc!r}")
            error.__traceback__ = error.__context__ = None
            error.index = index  # type: ignore[attr-defined]
            errors.append(error)
        if errors:
            self._note_input_errors(errors)
        return parsed, errors

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
        out: list[SpanRecord] = []
        ends: list[str] = []
        with self._dispatch_lock:
            for kind, payload, when in entries:
                if self._closed:
                    self.stats.dropped_intake_full += 1
                    continue
                self._dispatch_one(kind, payload, when, out, ends)
            self._deliver(out, ends)

    def pending(self) -> int:
        """Items not yet delivered by the slowest destination (intake included)."""
        backlog = max((d.pending for d in self.destinations), default=0)
        return len(self._intake) + backlog

    def is_full(self) -> bool:
        """True when new items would be dropped: the intake is full, or the store's
        undelivered budget is used up."""
        if len(self._intake) >= self._max_intake or self._closed:
            return True
        return self.store is not None and self.store.is_full()

    def store_problem(self) -> str | None:
        """Why the span store cannot write at the moment (``database or disk is full``);
        ``None`` when it can, or without a store."""
        return self.store.write_problem if self.store is not None else None

    def set_trace_idle_timeout(self, seconds: float) -> None:
        """Seconds a trace fed from files or the bridge may stay quiet before it is finished
        (while its root spans have not all ended; see :meth:`set_trace_end_grace`)."""
        self._idle_timeout = seconds

    def set_trace_end_grace(self, seconds: float) -> None:
        """Seconds such a trace may stay quiet once the root spans (no parent) it has had
        ended (:data:`TRACE_END_GRACE`); the idle timeout still applies when shorter."""
        self._end_grace = seconds

    def end_trace(self, trace_id: str) -> None:
        """Say that trace ``trace_id`` is complete: its workflow span is sent now."""
        self._put(_END_TRACE, trace_id)

    def end_all_traces(self) -> None:
        """Finalize every open trace (end of a file, shutdown)."""
        self._put(_END_ALL, None)

    # --- lifecycle -----------------------------------------------------------------------

    def force_flush(self, timeout: float = 30.0) -> FlushReport:
        """Deliver everything queued so far, waiting at most ``timeout`` seconds."""
        if self._closed:
            return FlushReport(True, 0)
        deadline = time.monotonic() + timeout
        self._drain_intake(deadline)
        tickets = [(d, d.request_flush()) for d in self.destinations]
        results = tuple(d.wait_flush(t, deadline) for d, t in tickets)
        pending = len(self._intake) + sum(r.pending for r in results)
        # spans the store could not keep since the last report: not delivered, ever
        unkept, self._unkept_reported = self._unkept - self._unkept_reported, self._unkept
        delivered = all(r.delivered for r in results) and pending == 0 and not unkept
        return FlushReport(delivered, pending, results)

    def shutdown(self, timeout: float = 30.0) -> FlushReport:
        """Finalize open traces, deliver what is queued, stop. Idempotent."""
        with self._lock:
            if self._closed:
                return FlushReport(True, 0)
            atexit.unregister(self._at_exit)
            self.end_all_traces()
            report = self.force_flush(timeout)
            self._closed = True
        self._wake.set()
        self._thread.join(1.0)
        results = tuple(
            d.close(r) for d, r in zip(self.destinations, report.destinations, strict=True)
        )
        pending = len(self._intake) + sum(r.pending for r in results)
        if pending:
            logger.warning(
                "agent-otlp: shutdown left %d spans undelivered (timeout %.1fs)", pending, timeout
            )
        return FlushReport(report.delivered and pending == 0, pending, results)

    def _drain_intake(self, deadline: float) -> None:
        with self._barrier_done:
            self._barriers_sent += 1
            ticket = self._barriers_sent
        self._intake.append((_BARRIER, ticket, 0))
        self._wake.set()
        with self._barrier_done:
            while self._barriers_seen < ticket and self._thread.is_alive():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                self._barrier_done.wait(remaining)

    # --- dispatcher ----------------------------------------------------------------------

    def _note_input_error(self, error: InputError) -> None:
        self.stats.invalid_items += 1
        self.stats.last_input_error = redact_text(str(error))
        if self._errors_logged < 10:
            self._errors_logged += 1
            logger.warning("agent-otlp: skipped invalid item: %s", self.stats.last_input_error)

    def _note_input_errors(self, errors: list[InputError]) -> None:
        """Count a batch of refused items; only the last one's text is kept, and the first
        ones of the exporter's life are logged."""
        self.stats.invalid_items += len(errors)
        self.stats.last_input_error = redact_text(str(errors[-1]))
        for error in errors[: max(10 - self._errors_logged, 0)]:
            self._errors_logged += 1
            logger.warning("agent-otlp: skipped invalid item: %s", redact_text(str(error)))

    def _run(self) -> None:
        while True:
            self._wake.wait(0.05)
            self._wake.clear()
            try:
                with self._dispatch_lock:
                    self._restore_failed()
                    self._dispatch_available()
                    self._expire_idle()
                    self._maintain_store()
            except Exception:  # pragma: no cover - a converter bug must not kill export
                logger.exception("agent-otlp: dispatcher error")
            if self._closed and not self._intake:
                return

    def _dispatch_available(self) -> None:
        intake = self._intake
        out: list[SpanRecord] = []
        ends: list[str] = []
        while intake:
            kind, payload, when = intake.popleft()
            if kind == _BARRIER:
                self._deliver(out, ends)
                out, ends = [], []
                with self._barrier_done:
                    self._barriers_seen = max(self._barriers_seen, payload)
                    self._barrier_done.notify_all()
                continue
            self._dispatch_one(kind, payload, when, out, ends)
            if len(intake) % 64 == 0:
                self._room.notify()
        self._deliver(out, ends)
        self._room.notify()

    def _dispatch_one(self, kind: int, payload: Any, when: int, out: list[SpanRecord],
                      ends: list[str]) -> None:
        """Handle one entry into ``out``/``ends``; a full chunk is delivered (and the lists
        emptied) here, then the dispatcher waits for destinations that are behind."""
        if kind in (_SDK_SPAN, _SDK_TRACE_START, _ITEM):  # not trace ends or commands
            self.stats.received_items += 1
        try:
            self._handle(kind, payload, when, out, ends)
        except InputError as exc:
            self._note_input_error(exc)
        except Exception as exc:
            self._note_input_error(InputError("item", type(payload).__name__, f"unconvertible: {exc!r}"))
        if len(out) >= _CHUNK or len(self._rows) >= 2048:
            self._deliver(out, ends)  # destinations copy what they keep
            out.clear()
            ends.clear()
            self._await_destinations()

    def _await_destinations(self, durable: bool = False) -> None:
        """Hold off converting while a healthy destination is behind (memory bound).

        With a store only a client waiting for its items (``durable``) holds off: a
        destination kept near the head of the store reads its live tail, where one left
        behind reads every item back from the store, which costs more than the wait."""
        if self.store is not None and not durable:
            return
        deadline = time.monotonic() + DISPATCH_WAIT
        for destination in self.destinations:
            destination.wait_below_high_water(deadline)

    def _handle(self, kind: int, payload: Any, when: int, out: list[SpanRecord], ends: list[str]) -> None:
        if kind == _SDK_SPAN:
            payload = sdk_span_record(payload, self._options.capture_content)
        elif kind in (_SDK_TRACE_START, _SDK_TRACE_END):
            trace = parse_item(payload.export())
            assert isinstance(trace, AgentTrace)
            state = self._open.get(trace.id)
            if state is None:
                if trace.id in self._ended:
                    return
                state = self._open[trace.id] = self._new_trace(trace.id, trace)
            state.trace = trace
            state.live = True
            if kind == _SDK_TRACE_START:
                state.cover(when, when)
                if self.store is not None:
                    self._touched[trace.id] = None
            else:
                state.cover(when, when)
                self._finish(trace.id, out, ends)
            return
        elif kind == _END_TRACE:
            self._finish(payload, out, ends)
            return
        elif kind == _END_ALL:
            for trace_id in list(self._open):
                self._finish(trace_id, out, ends)
            return
        if isinstance(payload, AgentTrace):
            state = self._open.get(payload.id)
            if state is None:
                if payload.id in self._ended:
                    return
                state = self._open[payload.id] = self._new_trace(payload.id, payload)
            elif state.trace is None and self.store is not None:
                self._keep_row(trace_start_row(payload))
            state.trace = payload
            if payload.started_ns is not None:
                state.cover(payload.started_ns, payload.ended_ns or payload.started_ns)
            if self.store is not None:
                self._touched[payload.id] = None
            return
        assert isinstance(payload, AgentSpan)
        state = self._open.get(payload.trace_id)
        if state is None and payload.trace_id not in self._ended:
            state = self._open[payload.trace_id] = self._new_trace(payload.trace_id, None)
        root_id = payload.id if payload.parent_id is None else None  # as sent, before repairs
        if state is not None:
            state.links.check(payload)  # before it is stored or converted
        if self.store is not None:
            raw = self._raw if payload.repairs is None else None
            self._keep_row(span_row(payload, raw), payload if raw is not None else None)
            start = payload.started_ns if payload.started_ns is not None else payload.ended_ns
            end = payload.ended_ns if payload.ended_ns is not None else start
            if start is not None and end is not None and end < start:
                end = start
        else:
            record = convert_span(payload, self._options)
            out.append(record)
            start, end = record.start_ns, record.end_ns  # end >= start
        self.stats.converted_spans += 1
        if state is not None:
            if start is not None and end is not None:
                state.cover(start, end)
            if root_id is not None:
                state.note_root(root_id, ended=payload.ended_ns is not None)
            if self.store is not None:
                self._touched[payload.trace_id] = None

    def _finish(self, trace_id: str, out: list[SpanRecord], ends: list[str]) -> None:
        state = self._open.pop(trace_id, None)
        if state is None:
            return
        self._ended[trace_id] = None
        if len(self._ended) > _REMEMBERED_ENDED:
            self._ended.popitem(last=False)
        trace = state.trace or AgentTrace(id=trace_id, workflow_name="Agent workflow")
        start = trace.started_ns if trace.started_ns is not None else state.start_ns
        end = trace.ended_ns if trace.ended_ns is not None else state.end_ns
        now = time.time_ns()
        start = start if start is not None else now
        end = end if end is not None else now
        if self.store is not None:
            row = trace_row(trace, start, max(start, end), state.trace is None)
            self._keep_row(row)
            self._touched.pop(trace_id, None)
            self._finished[trace_id] = (row[1], state)
            return
        record = convert_trace(trace, start, end)
        if state.trace is None:
            record.attributes["agent_otlp.workflow.synthesized"] = True
        out.append(record)
        ends.append(trace_id)

    def _new_trace(self, trace_id: str, trace: AgentTrace | None) -> _OpenTrace:
        if trace is not None and self.store is not None:
            self._keep_row(trace_start_row(trace))
        return _OpenTrace(trace=trace)

    def _reopen_traces(self, store: SpanStore) -> None:
        """Traces a previous process left open (it stopped before they ended) are finished
        like quiet bridge traces: after the idle timeout or at shutdown."""
        for trace_id, start_payload, first, last in store.open_traces():
            trace = None
            if start_payload is not None:
                try:
                    parsed = parse_item(json.loads(start_payload))
                    trace = parsed if isinstance(parsed, AgentTrace) else None
                except (ValueError, InputError):
                    trace = None
            state = self._open[trace_id] = _OpenTrace(trace=trace)
            if first is not None and last is not None:
                state.cover(first, last)

    def _maintain_store(self) -> None:
        if self.store is None or time.monotonic() < self._next_prune:
            return
        self._next_prune = time.monotonic() + PRUNE_EVERY
        self.store.prune()

    def _expire_idle(self) -> None:
        if not self._open:
            return
        now = time.monotonic()
        out: list[SpanRecord] = []
        ends: list[str] = []
        for trace_id, state in list(self._open.items()):
            if state.live:
                limit = TRACE_MAX_OPEN
            elif state.roots_ended and not state.roots_open:  # its agents are done
                limit = min(self._end_grace, self._idle_timeout)
            else:
                limit = self._idle_timeout
            if now - state.touched >= limit:
                self._finish(trace_id, out, ends)
        self._deliver(out, ends)

    def _deliver(self, records: list[SpanRecord], ends: list[str]) -> None:
        if self._committer is not None:
            stored = self._store_batch()
            if stored is None:
                return
            self._committer.submit(stored)
            if self._collect is not None:
                self._collect.append(stored)  # waited for once the dispatch lock is released
            else:
                self._committer.wait(stored)
            return
        if not records and not ends:
            return
        destinations = self.destinations
        for index, destination in enumerate(destinations):
            batch = records if index == len(destinations) - 1 else [r.copy() for r in records]
            destination.put(batch)
            for trace_id in ends:
                destination.end_trace(trace_id)


    # --- store mode: batches, commits, failures ------------------------------------------

    def _keep_row(self, row: tuple[int, str, str, int | None, bytes], span: AgentSpan | None = None) -> None:
        """A row for the next batch; ``span`` when its payload reads back to that span."""
        self._rows.append(row)
        self._row_spans.append(span)

    def _store_batch(self) -> Batch | None:
        """The rows and open-trace changes since the last batch (under the dispatch lock)."""
        if not self._rows and not self._touched and not self._finished:
            return None
        opened = {}
        for trace_id in self._touched:
            state = self._open.get(trace_id)
            if state is not None:
                opened[trace_id] = (clean_str(trace_id), state.start_payload(), state.start_ns, state.end_ns)
        batch = Batch(self._rows, opened, self._finished, answered=self._collect is not None,
                      parsed=self._row_spans)
        self._rows, self._row_spans, self._touched, self._finished = [], [], {}, {}
        return batch

    def _committed(self, group: list[Batch], last: int | None, problem: str | None) -> None:
        """After each group commit (any thread): tell the destinations, or count the loss."""
        if problem is None and last is not None:
            self.stats.store_problem = ""
            committed = committed_rows(group, last)
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
            self._unkept += lost
            for destination in self.destinations:
                destination.stats.drop("store_full", lost)

    def _restore_failed(self) -> None:
        """Trace bookkeeping of batches that were not stored: traces they finished are open
        again (finished again later), the records of those they touched are written again."""
        while self._failed:
            batch = self._failed.popleft()
            for trace_id in batch.opened:
                if trace_id in self._open:
                    self._touched[trace_id] = None
            for trace_id, (_key, state) in batch.finished.items():
                if trace_id not in self._open:
                    self._ended.pop(trace_id, None)
                    state.touched = _monotonic()
                    self._open[trace_id] = state
                self._touched[trace_id] = None


def _shutdown_at_exit(ref: weakref.ReferenceType[AgentExporter]) -> None:
    exporter = ref()
    if exporter is not None and not exporter._closed:
        try:
            exporter.shutdown(exporter._exit_timeout)
        except Exception:  # pragma: no cover - never fail interpreter exit
            logger.exception("agent-otlp: error while flushing at exit")

