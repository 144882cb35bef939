"""The sending chain of one destination: a request goes through small senders, each with one
``send`` (as the OpenTelemetry Collector's exporterhelper chains queue -> retry -> timeout ->
push)::

    Concurrency -> RetrySender -> BreakerSender -> ObservedSender -> Transport

* :class:`Concurrency`: up to ``max_in_flight`` requests at once, on sender threads started
  on demand (only without a store and with a thread-safe transport).
* :class:`RetrySender`: backoff and the retry deadline; gives a request up, or (store mode)
  keeps it for later when stopping. Returns whether the request is done with.
* :class:`BreakerSender`: the circuit breaker; answers a wait instead of sending while open.
* :class:`ObservedSender`: times the request, counts it, logs failures once per burst.

Everything the senders share (stats, breaker, burst log) is guarded by one lock, held only
between requests, never across one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from agent_otlp.core.config.secrets import redact_text
from agent_otlp.core.pipeline.retry import Backoff, CircuitBreaker
from agent_otlp.core.pipeline.stats import DestinationStats
from agent_otlp.core.wire.transport import SendResult, Transport

__all__ = ["BreakerSender", "BurstLog", "ObservedSender", "RetrySender"]

logger = logging.getLogger("agent_otlp.export")


class BurstLog:
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


class ObservedSender:
    """The transport, timed and counted; failures logged once per burst."""

    def __init__(self, name: str, endpoint: str, timeout: float, transport: Transport,
                 stats: DestinationStats, lock: threading.Lock,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._name, self._endpoint, self._timeout = name, endpoint, timeout
        self._transport = transport
        self._stats = stats
        self._lock = lock
        self._clock = clock
        self.log = BurstLog(name)
        #: Seconds the last request took, and when the one out now started (0: none).
        self.last_request_s = 0.0
        self.request_started = 0.0
        #: Spans lost to failed or rejected requests so far.
        self.lost = 0
        self._partial_logged = False  # a partial success's message is logged once

    def send(self, body: bytes, count: int) -> SendResult:
        with self._lock:
            self._stats.requests += 1
        started = self.request_started = self._clock()
        result = self._transport.send(body, self._timeout)
        self.last_request_s = self._clock() - started
        self.request_started = 0.0
        with self._lock:
            if result.ok:
                self.log.success()
                self._count_accepted(count, result)
            else:
                text = f"{result.status} {result.message}".strip()
                self._stats.last_error = redact_text(text)
                self.log.failure(f"{text} (endpoint {self._endpoint})")
        return result

    def fail(self, count: int, reason: str) -> None:
        """``count`` spans are given up (under the lock)."""
        self._stats.failed_batches += 1
        self._stats.drop("failed", count)
        self.lost += count

    def _count_accepted(self, count: int, result: SendResult) -> None:
        """An accepted request: its spans exported, but those a partial success rejected
        (dropped as ``rejected``). The receiver's message is logged once per destination."""
        rejected = min(max(result.rejected_spans, 0), count)
        self._stats.exported += count - rejected
        self._stats.drop("rejected", rejected)
        self.lost += rejected
        if not rejected and not result.message:
            return
        text = redact_text(f"receiver rejected {rejected} spans: {result.message}"
                           if rejected else f"receiver warned: {result.message}")
        self._stats.last_error = text
        if not self._partial_logged:
            self._partial_logged = True
            logger.warning("agent-otlp: export to %s partly refused: %s (logged once)",
                           self._name, text)


class BreakerSender:
    """Sends while the breaker lets requests out; otherwise answers the seconds to wait.
    Half-open, one probe request goes out at a time; the others wait for its answer."""

    def __init__(self, breaker: CircuitBreaker, next_sender: ObservedSender,
                 stats: DestinationStats, lock: threading.Lock) -> None:
        self.breaker = breaker
        self._next = next_sender
        self._stats = stats
        self._lock = lock
        self._probing = False  # a half-open breaker's probe request is out

    @property
    def open(self) -> bool:
        return self.breaker.state == CircuitBreaker.OPEN

    def send(self, body: bytes, count: int) -> SendResult | float:
        breaker, stats = self.breaker, self._stats
        with self._lock:
            wait = breaker.wait_time()
            stats.breaker = breaker.state
            probe = breaker.state == CircuitBreaker.HALF_OPEN
            if wait <= 0 and probe and self._probing:
                wait = 0.05
            if wait > 0:
                return wait
            self._probing = probe
        result = self._next.send(body, count)
        with self._lock:
            if probe:
                self._probing = False
            if result.ok:
                breaker.success()
            else:
                breaker.failure(result.retry_after)
                stats.breaker_opened = breaker.opened
            stats.breaker = breaker.state
        return result


class RetrySender:
    """Retries a request with backoff until it is delivered, refused for good, or past the
    retry deadline (``durable``: never given up, kept for later when stopping).

    While the breaker is open the request waits (the breaker keeps it: an outage costs queue
    space, not spans); after such a wait its deadline starts over."""

    def __init__(self, next_sender: BreakerSender, observed: ObservedSender, *,
                 retry_deadline: float, durable: bool, stop: threading.Event,
                 stats: DestinationStats, lock: threading.Lock,
                 backoff: Callable[[], Backoff] = Backoff,
                 clock: Callable[[], float] = time.monotonic,
                 wait: Callable[[float], object] | None = None) -> None:
        self._next = next_sender
        self._observed = observed
        self._retry_deadline = retry_deadline
        self._durable = durable
        self._stop = stop
        self._stats = stats
        self._lock = lock
        self._backoff = backoff
        self._clock = clock
        #: sleeps between attempts; returns early once ``stop`` is set (``stop.wait``)
        self._wait = wait or stop.wait

    def send(self, body: bytes, count: int) -> bool:
        """Returns False when the request was neither delivered nor given up (store mode,
        stopping: its items stay after the cursor)."""
        clock, stop, durable = self._clock, self._stop, self._durable
        deadline = clock() + self._retry_deadline
        backoff: Backoff | None = None  # seeding its Random costs more than a request
        while True:
            result = self._next.send(body, count)
            if not isinstance(result, SendResult):  # the breaker holds requests back
                if stop.is_set():
                    return self._give_up(count, "breaker open at shutdown")
                self._wait(min(result, 1.0))
                # retry_deadline counts time retrying while the breaker lets requests out;
                # after a wait the batch starts over (another request may have succeeded)
                deadline = clock() + self._retry_deadline
                backoff = None
                continue
            if result.ok:
                return True
            if not result.retryable:
                with self._lock:
                    self._observed.fail(count, result.status)
                return True
            if backoff is None:
                backoff = self._backoff()
            delay = backoff.next_delay(result.retry_after)
            if self._next.open:
                deadline = clock() + self._retry_deadline
                continue
            if stop.is_set() and durable:
                return False
            with self._lock:
                # Past the deadline a request is given up, but not before one retry: a single
                # attempt as long as the deadline (a timeout) is not a retry policy.
                late = clock() + delay > deadline and backoff.attempt > 1
                if not durable and (late or stop.is_set()):
                    self._observed.fail(count, result.status)
                    return True
                self._stats.retries += 1
            self._wait(delay)

    def _give_up(self, count: int, reason: str) -> bool:
        if self._durable:
            return False
        with self._lock:
            self._observed.fail(count, reason)
        return True
