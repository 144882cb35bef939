"""One destination: its own queue, worker thread, sampling, hooks, retries and breaker.

A slow or dead backend only fills its own queue; other destinations never wait for it.
Overflow policy: when the queue holds ``max_queue_size`` spans, new spans for this
destination are dropped and counted as ``queue_full``.

The worker maps and encodes batches one at a time (hooks see one batch at a time). Without a
store and with a thread-safe transport, up to ``max_in_flight`` encoded requests are sent at
once by sender threads started on demand, so a backend far away still receives at the rate
spans are produced; with a store the worker sends itself, one request at a time, so the
cursor only ever moves past delivered spans.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import traceback
from collections import deque
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from agent_otlp.core.config.secrets import redact_text
from agent_otlp.core.config.settings import Settings
from agent_otlp.core.convert.records import AttrValue, SpanRecord
from agent_otlp.core.pipeline.retry import Backoff, CircuitBreaker
from agent_otlp.core.pipeline.sampling import SamplingDecision, TraceBuffer, TraceSummary
from agent_otlp.core.pipeline.stats import DestinationStats
from agent_otlp.core.plugins.manager import DestinationHooks
from agent_otlp.core.wire.encode import WireEncoder
from agent_otlp.core.wire.transport import SendResult, Transport

if TYPE_CHECKING:
    from agent_otlp.store.outbox import Committed, StoreSource

__all__ = ["Destination", "FlushResult"]

logger = logging.getLogger("agent_otlp.export")
_END: Final = object()
#: Seconds per request above which a backend counts as slow: the dispatcher does not wait
#: for it (see :meth:`Destination.wait_below_high_water`).
SLOW_REQUEST: Final = 0.1
_MAP_ARGS: Final = ("span", "settings", "state")
#: Encoded bytes above which a batch is sent as several requests: under the 4 MiB message
#: size gRPC receivers (Jaeger, Tempo, the Collector) accept by default.
MAX_REQUEST_BYTES: Final = 3_670_016


def _direct_calls(caller: Any) -> list[tuple[Any, tuple[str, ...]]] | None:
    """The implementations of a pluggy hook in call order, to call without pluggy's
    per-call machinery; ``None`` when a wrapper is registered (then pluggy must run)."""
    try:
        impls = caller.get_hookimpls()
    except Exception:
        return None
    calls: list[tuple[Any, tuple[str, ...]]] = []
    for impl in reversed(impls):  # pluggy calls the last registered (and tryfirst) first
        if getattr(impl, "hookwrapper", False) or getattr(impl, "wrapper", False):
            return None
        calls.append((impl.function, tuple(impl.argnames)))
    return calls


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


class _BurstLog:
    """Log the first failure of a burst, stay quiet until a success, then say it recovered."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._failures = 0

    def failure(self, text: str) -> None:
        self._failures += 1
        if self._failures == 1:
            logger.warning("agent-otlp: export to %s failing: %s", self._name, redact_text(text))

    @property
    def failing(self) -> bool:
        return self._failures > 0

    def success(self) -> None:
        if self._failures:
            logger.warning(
                "agent-otlp: export to %s recovered after %d failed requests",
                self._name,
                self._failures,
            )
            self._failures = 0


class Destination:
    """Sends converted spans to one backend from a background thread."""

    def __init__(
        self,
        settings: Settings,
        hooks: DestinationHooks,
        transport: Transport,
        resource: dict[str, AttrValue],
        *,
        sampling: bool,
        source: StoreSource | None = None,
    ) -> None:
        self.settings = settings
        #: With a store, spans come from the store after this destination's cursor instead
        #: of from :meth:`put`, and retryable failures are retried until delivered.
        self.source = source
        self._reported = (0, 0)
        self.name = settings.name
        self.stats = DestinationStats(settings.name)
        self._hooks = hooks
        self._transport = transport
        self._resource = resource
        self._encoder = WireEncoder(resource)
        self._state: MutableMapping[str, Any] = {}
        self._queue: deque[Any] = deque()
        self._queued = 0
        self._wake = threading.Condition(threading.Lock())
        self._stop = threading.Event()
        self._flush_requested = 0
        self._flush_done = 0
        self._idle = threading.Condition(threading.Lock())
        self._breaker = CircuitBreaker()
        self._log = _BurstLog(settings.name)
        self._ready: list[SpanRecord] = []
        #: Guards what sender threads share: stats, breaker, burst log, in-flight counts.
        self._lock = threading.Lock()
        self._sent = threading.Condition(self._lock)
        self._in_flight = 0  # spans taken from the queue, not yet delivered or failed
        self._requests_in_flight = 0
        self._probing = False  # a half-open breaker's probe request is out
        self._max_in_flight = (
            settings.max_in_flight if transport.thread_safe and source is None else 1
        )
        self._outbox: queue.SimpleQueue[tuple[bytes, int] | None] = queue.SimpleQueue()
        self._senders: list[threading.Thread] = []
        self._last_request_s = 0.0
        self._request_started = 0.0
        #: Spans lost to failed or rejected requests so far; a flush that saw some is not
        #: "delivered". ``_flush_marks`` holds the count at each flush request.
        self._lost = 0
        self._flush_marks: dict[int, int] = {}
        self._partial_logged = False  # a partial success's message is logged once
        self._buffer = (
            TraceBuffer(self._decide, max_spans=settings.max_queue_size) if sampling else None
        )
        self._thread = threading.Thread(
            target=self._run, name=f"agent-otlp-{settings.name}", daemon=True
        )
        self._thread.start()

    # --- called from the dispatcher ------------------------------------------------------

    @property
    def pending(self) -> int:
        """Spans accepted but not yet delivered, failed or dropped."""
        held = self._buffer.held if self._buffer is not None else 0
        unread = self.source.unread() if self.source is not None else 0
        return self._queued + len(self._ready) + self._in_flight + held + unread

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
        while self._backlog() > limit:
            if (
                self._last_request_s > SLOW_REQUEST
                or (self._request_started and time.monotonic() - self._request_started > SLOW_REQUEST)
                or self._breaker.state != CircuitBreaker.CLOSED
                or self._log.failing
                or self._stop.is_set()
                or time.monotonic() >= deadline
            ):
                return
            with self._sent:  # notified as each request is done (a bound, if it was just now)
                self._sent.wait(0.005)

    def _backlog(self) -> int:
        """:attr:`pending`, the store's unread items counted from their seqs without a
        query (evicted ones included: never less than :attr:`pending`)."""
        held = self._buffer.held if self._buffer is not None else 0
        source = self.source
        unread = max(source.latest - source.read_seq, 0) if source is not None else 0
        return self._queued + len(self._ready) + self._in_flight + held + unread

    def notify_stored(self, last_seq: int, committed: Committed | None = None) -> None:
        """New items are in the store (store mode): up to ``last_seq``, those ``committed``
        offered to the source's live tail."""
        if self.source is not None:
            if committed is not None:
                self.source.offer(committed)
            self.source.notify(last_seq)
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
            self._queue.extend(spans)
            self._queued += len(spans)
            if self._queued >= self.settings.batch_size:
                self._wake.notify()

    def end_trace(self, source_trace_id: str) -> None:
        if self._buffer is not None:
            with self._wake:
                self._queue.append((_END, source_trace_id))

    # --- lifecycle -----------------------------------------------------------------------

    def request_flush(self) -> int:
        """Ask the worker to send everything queued now; returns a ticket to wait on."""
        with self._wake:
            self._flush_requested += 1
            self._flush_marks[self._flush_requested] = self._lost
            self._wake.notify()
            return self._flush_requested

    def flush(self, timeout: float) -> FlushResult:
        """Send everything queued now; wait at most ``timeout`` seconds."""
        return self.wait_flush(self.request_flush(), time.monotonic() + timeout)

    def wait_flush(self, ticket: int, deadline: float) -> FlushResult:
        with self._idle:
            while self._flush_done < ticket and self._thread.is_alive():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._idle.wait(remaining)
        pending = self.pending
        lost_before = self._flush_marks.pop(ticket, self._lost)
        delivered = self._flush_done >= ticket and pending == 0 and self._lost == lost_before
        return FlushResult(self.name, delivered, pending)

    def close(self, result: FlushResult, timeout: float = 1.0) -> FlushResult:
        """Stop the worker after a flush; what it never started sending is dropped and counted.

        The worker finishes the request it is sending (counted as exported or failed by
        itself) and starts no other; the rest is counted as dropped for ``shutdown``.
        """
        self._stop.set()
        with self._wake:
            self._wake.notify()
        deadline = time.monotonic() + timeout
        self._thread.join(timeout)
        self._drain(deadline)
        for _ in self._senders:
            self._outbox.put(None)
        in_flight = self._in_flight
        with self._wake:
            leftover = self._queued + len(self._ready) + (self._buffer.held if self._buffer else 0)
            self._queue.clear()
            self._queued = 0
            self._ready.clear()
        if self.source is None:
            self.stats.drop("shutdown", leftover)
        else:  # still in the store: delivered by the next exporter on this store
            leftover += self.source.unread()
        self.stats.queue_depth = 0
        self._transport.close()
        pending = leftover + in_flight
        return FlushResult(self.name, result.delivered and pending == 0, pending)

    # --- worker --------------------------------------------------------------------------

    def _decide(self, summary: TraceSummary) -> SamplingDecision:
        return self._hooks.sample_trace(trace=summary, settings=self.settings)

    def _take(self, flushing: bool) -> None:
        """Move queued entries into ``_ready`` (through the sampling buffer when active)."""
        with self._wake:
            entries = list(self._queue)
            self._queue.clear()
            self._queued = 0
        source = self.source
        if source is None and self._buffer is None:  # only span records are queued then
            self._ready.extend(entries)
            return
        if source is not None and source.has_unread():
            held = self._buffer.held if self._buffer is not None else 0
            room = min(self.settings.max_queue_size - len(self._ready) - held, self.settings.batch_size * 10)
            if room > 0:
                entries.extend(source.read(room))
                self.stats.received += sum(1 for e in entries if not isinstance(e, tuple))
        if self._buffer is None:  # trace ends matter only to the sampling buffer
            self._ready.extend([entry for entry in entries if type(entry) is not tuple])
            return
        for entry in entries:
            if isinstance(entry, tuple):
                if self._buffer is not None:
                    self._buffer.end(entry[1], self._ready)
            elif self._buffer is not None:
                self._buffer.add(entry, self._ready)
            else:
                self._ready.append(entry)
        if self._buffer is not None:
            self._buffer.expire(self._ready, everything=flushing or self._stop.is_set())
            self.stats.drop("sampled_out", self._buffer.sampled_out)
            self._buffer.sampled_out = 0

    def _run(self) -> None:
        settings = self.settings
        while True:
            with self._wake:
                if (
                    self._queued < settings.batch_size
                    and self._flush_done == self._flush_requested
                    and not self._stop.is_set()
                    and not (self.source is not None and self._source_due())
                ):
                    self._wake.wait(settings.schedule_delay or 0.001)
                flushing = self._flush_requested
            try:
                self._take(flushing > self._flush_done)
                # Woken by a full batch, the schedule delay or a flush: all that is ready is due.
                while self._ready and not self._stop.is_set():
                    if self._max_in_flight > 1 and not self._free_slot():
                        break
                    size = settings.batch_size
                    batch = self._ready[:size]
                    del self._ready[:size]
                    with self._lock:
                        self._in_flight += len(batch)
                    done, handed = True, False
                    try:
                        done, handed = self._export(batch)
                    except Exception as exc:  # an encoding or adapter bug: count, go on
                        self._lost_to_bug(exc, len(batch), "batch")
                    finally:
                        if not handed:
                            self._sent_one(len(batch), 0)
                    if self.source is not None and done:
                        self._advance_cursor()
                if flushing > self._flush_done or self._stop.is_set():
                    self._drain(None)
                if self.source is not None and not self._stop.is_set():
                    self._take(flushing > self._flush_done)
                    if self._ready:
                        continue
            except Exception as exc:  # the worker must survive any adapter bug
                _log_bug("agent-otlp: destination %s worker error", self.name)
                with self._lock:
                    self.stats.last_error = redact_text(repr(exc))
            self.stats.queue_depth = self.pending
            with self._idle:
                self._flush_done = max(self._flush_done, flushing)
                self._idle.notify_all()
            if self._stop.is_set():
                return

    # --- requests in flight ----------------------------------------------------------------

    def _free_slot(self) -> bool:
        """Wait until fewer than ``max_in_flight`` requests are in flight; False if stopping."""
        with self._sent:
            while self._requests_in_flight >= self._max_in_flight:
                if self._stop.is_set():
                    return False
                self._sent.wait(0.5)
            return not self._stop.is_set()

    def _drain(self, deadline: float | None) -> None:
        """Wait until no request is in flight (or ``deadline``, a ``time.monotonic()``)."""
        with self._sent:
            while self._requests_in_flight or (self._in_flight and self._max_in_flight > 1):
                remaining = 0.5 if deadline is None else deadline - time.monotonic()
                if remaining <= 0:
                    return
                self._sent.wait(min(remaining, 0.5))

    def _sent_one(self, spans: int, requests: int) -> None:
        with self._sent:
            self._in_flight -= spans
            self._requests_in_flight -= requests
            self._sent.notify_all()

    def _submit(self, body: bytes, count: int) -> None:
        """Hand an encoded request to a sender thread (one more is started while all the
        running ones are busy, up to ``max_in_flight``)."""
        with self._lock:
            self._requests_in_flight += 1
            start = len(self._senders) < self._requests_in_flight
        if start:
            thread = threading.Thread(
                target=self._sender, name=f"agent-otlp-{self.name}-send-{len(self._senders)}",
                daemon=True,
            )
            self._senders.append(thread)
            thread.start()
        self._outbox.put((body, count))

    def _sender(self) -> None:
        while True:
            item = self._outbox.get()
            if item is None:
                return
            body, count = item
            try:
                self._send(body, count)
            except Exception as exc:  # a transport bug must not kill the sender
                self._lost_to_bug(exc, count, "request")
            finally:
                self._sent_one(count, 1)

    def _lost_to_bug(self, exc: Exception, count: int, what: str) -> None:
        """A bug (in an adapter, an encoder, a transport) lost ``count`` spans: log, count."""
        _log_bug("agent-otlp: destination %s lost a %s", self.name, what)
        with self._lock:
            self.stats.last_error = redact_text(repr(exc))
            self._fail(count, "internal error")

    def _source_due(self) -> bool:
        """Store mode: a full batch is unread, or the oldest unread waited long enough."""
        source = self.source
        assert source is not None
        return source.latest - source.read_seq >= self.settings.batch_size

    def _advance_cursor(self) -> None:
        source = self.source
        assert source is not None
        seqs = [r.seq for r in self._ready]
        if self._buffer is not None:
            held = self._buffer.min_seq()
            if held is not None:
                seqs.append(held)
        exported = self.stats.exported
        failed = self.stats.dropped.get("failed", 0)
        delivered_delta = exported - self._reported[0]
        failed_delta = failed - self._reported[1]
        self._reported = (exported, failed)
        source.advance(min(seqs) if seqs else None, delivered_delta, failed_delta)

    def _export(self, batch: list[SpanRecord]) -> tuple[bool, bool]:
        """Map, encode and send one batch, or hand it to a sender thread.

        Returns ``(done, handed)``: ``done`` is False when the batch was neither delivered
        nor given up (store mode, stopping: its items stay after the cursor); ``handed``
        when a sender thread took the request (and accounts for it; the spans the hooks
        dropped are accounted here)."""
        mapped = self._map_batch(batch)
        before = len(mapped)
        try:
            self._hooks.process_batch(spans=mapped, settings=self.settings, state=self._state)
        except Exception as exc:
            self.stats.last_error = redact_text(f"{self._hooks.adapter} process_batch: {exc!r}")
        self.stats.drop("adapter", before - len(mapped))
        if not mapped:
            return True, False
        requests = self._encode(mapped)
        if self._max_in_flight > 1:
            self._sent_one(len(batch) - len(mapped), 0)
            for body, count in requests:
                self._submit(body, count)
            return True, True
        done = True
        for body, count in requests:
            done = self._send(body, count) and done
        return done, False

    def _encode(self, spans: list[SpanRecord]) -> list[tuple[bytes, int]]:
        """Request bodies for ``spans``: one, or halves until each is under
        :data:`MAX_REQUEST_BYTES` (a single span is sent whatever its size)."""
        body = self._encoder.encode(spans)
        if len(body) <= MAX_REQUEST_BYTES or len(spans) == 1:
            return [(body, len(spans))]
        half = len(spans) // 2
        return self._encode(spans[:half]) + self._encode(spans[half:])

    def _map_batch(self, batch: list[SpanRecord]) -> list[SpanRecord]:
        """Run the attribute-mapping hooks over every span of ``batch``.

        The implementations are called directly (looked up once per batch) rather than
        through pluggy per span: same order, same arguments, a fraction of the cost.
        """
        settings, state, hooks = self.settings, self._state, self._hooks
        caller = getattr(hooks, "_map", None)
        calls = _direct_calls(caller) if caller is not None else None
        # The usual signature, (span, settings, state), is called without an argument list.
        usual = None if calls is None or any(names != _MAP_ARGS for _, names in calls) else [
            function for function, _ in calls
        ]
        mapped: list[SpanRecord] = []
        for span in batch:
            try:
                if usual is not None:
                    for function in usual:
                        function(span, settings, state)
                elif calls is None:
                    hooks.map_attributes(span=span, settings=settings, state=state)
                else:
                    values = {"span": span, "settings": settings, "state": state}
                    for function, argnames in calls:
                        function(*[values[name] for name in argnames])
                mapped.append(span)
            except Exception as exc:
                self.stats.drop("adapter", 1)
                self.stats.last_error = redact_text(f"{hooks.adapter} map_attributes: {exc!r}")
        return mapped

    def _send(self, body: bytes, count: int) -> bool:
        settings = self.settings
        durable = self.source is not None
        deadline = time.monotonic() + settings.retry_deadline
        backoff: Backoff | None = None  # seeding its Random costs more than a request
        while True:
            with self._lock:
                wait = self._breaker.wait_time()
                self.stats.breaker = self._breaker.state
                probe = self._breaker.state == CircuitBreaker.HALF_OPEN
                if wait <= 0 and probe and self._probing:
                    wait = 0.05  # one probe at a time; the others wait for its answer
                if wait <= 0:
                    self.stats.requests += 1
                    self._probing = probe
                elif self._stop.is_set():
                    if durable:
                        return False
                    self._fail(count, "breaker open at shutdown")
                    return True
            if wait > 0:
                self._stop.wait(min(wait, 1.0))
                # retry_deadline counts time retrying while the breaker lets requests out;
                # after a wait the batch starts over (another request may have succeeded)
                deadline = time.monotonic() + settings.retry_deadline
                backoff = None
                continue
            started = self._request_started = time.monotonic()
            result = self._transport.send(body, settings.timeout)
            self._last_request_s = time.monotonic() - started
            self._request_started = 0.0
            with self._lock:
                if probe:
                    self._probing = False
                if result.ok:
                    self._breaker.success()
                    self.stats.breaker = self._breaker.state
                    self._log.success()
                    self._count_accepted(count, result)
                    return True
                self._breaker.failure(result.retry_after)
                self.stats.breaker = self._breaker.state
                self.stats.breaker_opened = self._breaker.opened
                self._record_failure(result)
                if not result.retryable:
                    self._fail(count, result.status)
                    return True
            if backoff is None:
                backoff = Backoff()
            delay = backoff.next_delay(result.retry_after)
            if self._breaker.state == self._breaker.OPEN:
                # The breaker keeps the batch: an outage costs queue space, not spans.
                deadline = time.monotonic() + settings.retry_deadline
                continue
            if self._stop.is_set() and durable:
                return False
            with self._lock:
                # Past the deadline a batch is given up, but not before one retry: a single
                # attempt as long as the deadline (a timeout) is not a retry policy.
                late = time.monotonic() + delay > deadline and backoff.attempt > 1
                if not durable and (late or self._stop.is_set()):
                    self._fail(count, result.status)
                    return True
                self.stats.retries += 1
            self._stop.wait(delay)

    def _count_accepted(self, count: int, result: SendResult) -> None:
        """An accepted request: its spans exported, but those a partial success rejected
        (dropped as ``rejected``). The receiver's message is logged once per destination."""
        rejected = min(max(result.rejected_spans, 0), count)
        self.stats.exported += count - rejected
        self.stats.drop("rejected", rejected)
        self._lost += rejected
        if not rejected and not result.message:
            return
        text = redact_text(f"receiver rejected {rejected} spans: {result.message}"
                           if rejected else f"receiver warned: {result.message}")
        self.stats.last_error = text
        if not self._partial_logged:
            self._partial_logged = True
            logger.warning("agent-otlp: export to %s partly refused: %s (logged once)",
                           self.name, text)

    def _record_failure(self, result: SendResult) -> None:
        text = f"{result.status} {result.message}".strip()
        self.stats.last_error = redact_text(text)
        self._log.failure(f"{text} (endpoint {self.settings.endpoint})")

    def _fail(self, count: int, reason: str) -> None:
        self.stats.failed_batches += 1
        self.stats.drop("failed", count)
        self._lost += count

