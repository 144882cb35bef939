"""One destination: its own queue, worker thread, sampling, hooks, retries and breaker.

A slow or dead backend only fills its own queue; other destinations never wait for it.
Overflow policy: when the queue holds ``max_queue_size`` spans, new spans for this
destination are dropped and counted as ``queue_full``.

The worker takes entries from the queue (:mod:`~agent_otlp.core.pipeline.queues`: in memory,
or read from the store), prepares batches one at a time (:mod:`~agent_otlp.core.pipeline.
batches`: hooks see one batch at a time) and hands each request to the sending chain
(:mod:`~agent_otlp.core.pipeline.sending`). Without a store and with a thread-safe
transport, up to ``max_in_flight`` encoded requests are sent at once by sender threads
started on demand, so a backend far away still receives at the rate spans are produced;
with a store the worker sends itself, one request at a time, so the cursor only ever moves
past delivered spans.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from agent_otlp.core.config.secrets import redact_text
from agent_otlp.core.config.settings import Settings
from agent_otlp.core.convert.producer import routed
from agent_otlp.core.convert.records import AttrValue, SpanRecord
from agent_otlp.core.pipeline.batches import MAX_REQUEST_BYTES, BatchPreparer
from agent_otlp.core.pipeline.concurrency import Concurrency, InFlight
from agent_otlp.core.pipeline.queues import END, MemoryQueue, SpanQueue, StoredItems, StoreQueue
from agent_otlp.core.pipeline.retry import CircuitBreaker, RetryPolicy
from agent_otlp.core.pipeline.sampling import SamplingDecision, TraceBuffer, TraceSummary
from agent_otlp.core.pipeline.sending import BreakerSender, ObservedSender, RetrySender
from agent_otlp.core.pipeline.stats import DestinationStats
from agent_otlp.core.pipeline.tickets import FlushTickets
from agent_otlp.core.plugins.manager import DestinationHooks
from agent_otlp.core.wire.encode import WireEncoder
from agent_otlp.core.wire.transport import Transport

__all__ = ["MAX_REQUEST_BYTES", "Destination", "FlushResult", "Target"]

logger = logging.getLogger("agent_otlp.export")
#: Seconds per request above which a backend counts as slow: the dispatcher does not wait
#: for it (see :meth:`Destination.wait_below_high_water`).
SLOW_REQUEST: Final = 0.1


def _log_bug(message: str, *args: object) -> None:
    """Log the exception being handled with its traceback, every known secret masked (an
    exception's text may quote a header value)."""
    logger.error(message + ":\n%s", *args, redact_text(traceback.format_exc().rstrip()))


@dataclass(frozen=True, slots=True)
class FlushResult:
    """What a flush or shutdown achieved for one destination."""

    name: str
    delivered: bool
    pending: int


class Target(Protocol):
    """What the exporter asks of a destination: :class:`Destination`, or a stand-in for one
    that runs in another process (:class:`agent_otlp.store.delivery_process.RemoteDestination`)."""

    name: str
    settings: Settings
    stats: DestinationStats
    #: the writer may convert spans for it ahead (it reads the records it is handed)
    converts_ahead: bool

    @property
    def pending(self) -> int: ...

    def problem(self) -> str | None:
        """Why it cannot deliver at all right now (not a backend's failure: those are in its
        stats), else ``None``."""
        ...

    @property
    def samples_traces(self) -> bool: ...

    def wait_below_high_water(self, deadline: float) -> None: ...

    def notify_stored(self, last_seq: int, committed: Any = None) -> None: ...

    def put(self, spans: list[SpanRecord]) -> None: ...

    def end_trace(self, source_trace_id: str) -> None: ...

    def request_flush(self) -> int: ...

    def wait_flush(self, ticket: int, deadline: float) -> FlushResult: ...

    def close(self, result: FlushResult, timeout: float = 1.0) -> FlushResult: ...


class Destination:
    """Sends converted spans to one backend from a background thread.

    ``source``: with a store, spans come from the store after this destination's cursor
    instead of from :meth:`put`, and retryable failures are retried until delivered.
    ``policy``: its backoff, breaker and clock (the defaults unless a test passes others).
    """

    converts_ahead = True

    def __init__(
        self,
        settings: Settings,
        hooks: DestinationHooks,
        transport: Transport,
        resource: dict[str, AttrValue],
        *,
        sampling: bool,
        source: StoredItems | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        policy = policy or RetryPolicy()
        self.settings = settings
        self.name = settings.name
        self.stats = DestinationStats(settings.name)
        self._hooks = hooks
        self._transport = transport
        self._queue: SpanQueue = MemoryQueue() if source is None else StoreQueue(source)
        self._wake = threading.Condition(threading.Lock())
        self._stop = threading.Event()
        self._tickets = FlushTickets()
        self._ready: list[SpanRecord] = []
        self._prepare = BatchPreparer(settings, hooks, WireEncoder(resource), self.stats)
        #: Guards what sender threads share: stats, breaker, burst log, in-flight counts.
        self._lock = threading.Lock()
        self._in_flight = InFlight(self._lock)
        self._observed = ObservedSender(settings.name, settings.endpoint, settings.timeout,
                                        transport, self.stats, self._lock, policy.clock)
        self._breaker = BreakerSender(policy.breaker(), self._observed, self.stats, self._lock)
        self._retry = RetrySender(
            self._breaker, self._observed, retry_deadline=settings.retry_deadline,
            durable=self._queue.durable, stop=self._stop, stats=self.stats, lock=self._lock,
            backoff=policy.backoff, clock=policy.clock,
        )
        threads = transport.thread_safe and not self._queue.durable
        self._senders = Concurrency(settings.name, settings.max_in_flight if threads else 1,
                                    self._retry.send, self._in_flight, self._stop, self._lost_to_bug)
        self._buffer = TraceBuffer(self._decide, max_spans=settings.max_queue_size) if sampling else None
        self._thread = threading.Thread(target=self._run, name=f"agent-otlp-{settings.name}", daemon=True)
        self._thread.start()

    # --- called from the dispatcher ------------------------------------------------------

    def problem(self) -> str | None:
        return None  # it runs in this process: it is there as long as the exporter is

    @property
    def pending(self) -> int:
        """Spans accepted but not yet delivered, failed or dropped."""
        return self._taken() + self._queue.unread(exact=True)

    @property
    def high_water(self) -> int:
        """Queued spans above which the dispatcher waits for this destination to drain."""
        return min(self.settings.max_queue_size, max(10 * self.settings.batch_size, 1000))

    def wait_below_high_water(self, deadline: float) -> None:
        """Wait (until ``deadline``) while more than :attr:`high_water` spans are queued and
        the destination is delivering at full speed. Never for a failing destination, nor
        for a slow backend (last request slower than :data:`SLOW_REQUEST`): their queue
        absorbs, up to ``max_queue_size``."""
        limit = self.high_water
        observed = self._observed
        # the store's unread items counted from their seqs, without a query
        while self._taken() + self._queue.unread(exact=False) > limit:
            started = observed.request_started
            if (
                observed.last_request_s > SLOW_REQUEST
                or (started and time.monotonic() - started > SLOW_REQUEST)
                or self._breaker.breaker.state != CircuitBreaker.CLOSED
                or observed.log.failing
                or self._stop.is_set()
                or time.monotonic() >= deadline
            ):
                return
            with self._in_flight.changed:  # notified as each request is done
                self._in_flight.changed.wait(0.005)

    @property
    def samples_traces(self) -> bool:
        """Whether this destination decides whole traces (a rate below 1, or a plugin)."""
        return self._buffer is not None

    def _taken(self) -> int:
        """Spans queued in memory, ready, in flight or held for sampling."""
        held = self._buffer.held if self._buffer is not None else 0
        return self._queue.queued + len(self._ready) + self._in_flight.spans + held

    def notify_stored(self, last_seq: int, committed: Any = None) -> None:
        """New items are in the store (store mode): up to ``last_seq``, those ``committed``
        offered to the source's live tail."""
        if self._queue.durable:
            self._queue.stored(last_seq, committed)
            with self._wake:
                self._wake.notify()

    def put(self, spans: list[SpanRecord]) -> None:
        room = self.settings.max_queue_size - self.pending
        self.stats.received += len(spans)
        if room < len(spans):
            self.stats.drop("queue_full", len(spans) - max(room, 0))
            spans = spans[: max(room, 0)]
        if not spans:
            return
        with self._wake:
            self._queue.put(spans, len(spans))
            if self._queue.queued >= self.settings.batch_size:
                self._wake.notify()

    def end_trace(self, source_trace_id: str) -> None:
        if self._buffer is not None:
            with self._wake:
                self._queue.put(((END, source_trace_id),), 0)

    # --- lifecycle -----------------------------------------------------------------------

    def request_flush(self) -> int:
        """Ask the worker to send everything queued now; returns a ticket to wait on."""
        with self._wake:
            ticket = self._tickets.request(self._observed.lost)
            self._wake.notify()
            return ticket

    def flush(self, timeout: float) -> FlushResult:
        """Send everything queued now; wait at most ``timeout`` seconds."""
        return self.wait_flush(self.request_flush(), time.monotonic() + timeout)

    def wait_flush(self, ticket: int, deadline: float) -> FlushResult:
        done = self._tickets.wait(ticket, deadline, self._thread.is_alive)
        pending = self.pending
        lost = self._observed.lost
        delivered = done and pending == 0 and lost == self._tickets.lost_at(ticket, lost)
        return FlushResult(self.name, delivered, pending)

    def close(self, result: FlushResult, timeout: float = 1.0) -> FlushResult:
        """Stop the worker after a flush; what it never started sending is dropped and counted
        (or, with a store, stays there for the next exporter).

        The worker finishes the request it is sending (counted as exported or failed by
        itself) and starts no other; the rest is counted as dropped for ``shutdown``.
        """
        self._stop.set()
        with self._wake:
            self._wake.notify()
        deadline = time.monotonic() + timeout
        self._thread.join(timeout)
        self._senders.drain(deadline)
        self._senders.close()
        in_flight = self._in_flight.spans
        with self._wake:
            leftover = self._queue.queued + len(self._ready) + (self._buffer.held if self._buffer else 0)
            self._queue.drain()
            self._ready.clear()
        leftover = self._queue.abandon(leftover, self.stats)
        self.stats.queue_depth = 0
        self._transport.close()
        pending = leftover + in_flight
        return FlushResult(self.name, result.delivered and pending == 0, pending)

    # --- worker --------------------------------------------------------------------------

    def _decide(self, summary: TraceSummary) -> SamplingDecision:
        return self._hooks.sample_trace(trace=summary, settings=self.settings)

    def _map_batch(self, batch: list[SpanRecord]) -> list[SpanRecord]:
        """The attribute-mapping hooks over ``batch``, as the worker runs them."""
        return self._prepare.map(batch)

    def _take(self, flushing: bool) -> None:
        """Move queued entries into ``_ready`` (through the sampling buffer when active)."""
        queue, buffer = self._queue, self._buffer
        with self._wake:
            entries = queue.drain()
        if not queue.durable and buffer is None:  # only span records are queued then
            self._ready.extend(entries)
            return
        held = buffer.held if buffer is not None else 0
        room = min(self.settings.max_queue_size - len(self._ready) - held, self.settings.batch_size * 10)
        stored = queue.read(room)
        read = routed(stored, self.name)  # a producer's spans: to its destinations only
        if len(read) < len(stored):
            self._pass_over(read)
        if read:
            self.stats.received += sum(1 for e in read if not isinstance(e, tuple))
            entries.extend(read)
        if buffer is None:  # trace ends matter only to the sampling buffer
            self._ready.extend([entry for entry in entries if type(entry) is not tuple])
            return
        self._sample(buffer, entries, flushing)

    def _pass_over(self, read: list[Any]) -> None:
        """Spans read for other destinations only: the cursor moves past them (up to what is
        still outstanding here: ``read``, ready or held), as after a batch."""
        held = self._buffer.min_seq() if self._buffer is not None else None
        outstanding = self._ready + [e for e in read if type(e) is not tuple]
        self._queue.batch_done(outstanding, held, self.stats)

    def _sample(self, buffer: TraceBuffer, entries: Sequence[Any], flushing: bool) -> None:
        for entry in entries:
            if isinstance(entry, tuple):
                buffer.end(entry[1], self._ready)
            else:
                buffer.add(entry, self._ready)
        buffer.expire(self._ready, everything=flushing or self._stop.is_set())
        self.stats.drop("sampled_out", buffer.sampled_out)
        buffer.sampled_out = 0

    def _run(self) -> None:
        settings = self.settings
        while True:
            with self._wake:
                if (
                    not self._queue.due(settings.batch_size)
                    and self._tickets.done == self._tickets.requested
                    and not self._stop.is_set()
                ):
                    self._wake.wait(settings.schedule_delay or 0.001)
                flushing = self._tickets.requested
            try:
                if self._work(flushing > self._tickets.done):
                    continue
            except Exception as exc:  # the worker must survive any adapter bug
                _log_bug("agent-otlp: destination %s worker error", self.name)
                with self._lock:
                    self.stats.last_error = redact_text(repr(exc))
            self.stats.queue_depth = self.pending
            self._tickets.finished(flushing)
            if self._stop.is_set():
                return

    def _work(self, flushing: bool) -> bool:
        """Send what is ready: woken by a full batch, the schedule delay or a flush, all that
        is ready is due. Returns whether reading the store made more ready (send it next)."""
        self._take(flushing)
        self._send_ready()
        if flushing or self._stop.is_set():
            self._senders.drain(None)
        if not self._queue.durable or self._stop.is_set():
            return False
        self._take(flushing)
        return bool(self._ready)

    def _send_ready(self) -> None:
        senders = self._senders
        while self._ready and not self._stop.is_set():
            if senders.max_in_flight > 1 and not senders.free_slot():
                break
            size = self.settings.batch_size
            batch = self._ready[:size]
            del self._ready[:size]
            self._in_flight.taken(len(batch))
            done, handed = True, False
            try:
                done, handed = self._export(batch)
            except Exception as exc:  # an encoding or adapter bug: count, go on
                self._lost_to_bug(exc, len(batch), "batch")
            finally:
                if not handed:
                    self._in_flight.done(len(batch), 0)
            if done:
                held = self._buffer.min_seq() if self._buffer is not None else None
                self._queue.batch_done(self._ready, held, self.stats)

    def _export(self, batch: list[SpanRecord]) -> tuple[bool, bool]:
        """Prepare and send one batch, or hand its requests to sender threads.

        Returns ``(done, handed)``: ``done`` is False when the batch was neither delivered
        nor given up (store mode, stopping: its items stay after the cursor); ``handed``
        when sender threads took the requests (and account for them; the spans the hooks
        dropped are accounted here)."""
        requests = self._prepare.prepare(batch)
        if not requests:
            return True, False
        if self._senders.max_in_flight > 1:
            self._in_flight.done(len(batch) - sum(count for _, count in requests), 0)
            for body, count in requests:
                self._senders.submit(body, count)
            return True, True
        done = True
        for body, count in requests:
            done = self._retry.send(body, count) and done
        return done, False

    def _lost_to_bug(self, exc: Exception, count: int, what: str) -> None:
        """A bug (in an adapter, an encoder, a transport) lost ``count`` spans: log, count."""
        _log_bug("agent-otlp: destination %s lost a %s", self.name, what)
        with self._lock:
            self.stats.last_error = redact_text(repr(exc))
            self._observed.fail(count, "internal error")
