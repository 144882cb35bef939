"""Requests in flight for one destination: the head of its sending chain.

:class:`InFlight` counts spans taken from the queue and requests out, not yet delivered or
failed. :class:`Concurrency` hands encoded requests to sender threads, started on demand,
up to ``max_in_flight`` at once; with ``max_in_flight`` 1 the worker sends itself.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable

__all__ = ["Concurrency", "InFlight"]


class InFlight:
    """Spans and requests taken and not done with; waiters are notified as each is."""

    def __init__(self, lock: threading.Lock) -> None:
        self.changed = threading.Condition(lock)
        self.spans = 0
        self.requests = 0

    def taken(self, spans: int) -> None:
        with self.changed:
            self.spans += spans

    def done(self, spans: int, requests: int) -> None:
        with self.changed:
            self.spans -= spans
            self.requests -= requests
            self.changed.notify_all()


class Concurrency:
    """Up to ``max_in_flight`` requests at once, each sent by ``send`` on a sender thread."""

    def __init__(self, name: str, max_in_flight: int, send: Callable[[bytes, int], object],
                 in_flight: InFlight, stop: threading.Event,
                 on_bug: Callable[[Exception, int, str], None]) -> None:
        self.max_in_flight = max_in_flight
        self._name = name
        self._send = send
        self._in_flight = in_flight
        self._stop = stop
        self._on_bug = on_bug
        self._outbox: queue.SimpleQueue[tuple[bytes, int] | None] = queue.SimpleQueue()
        self._senders: list[threading.Thread] = []

    def free_slot(self) -> bool:
        """Wait until fewer than ``max_in_flight`` requests are in flight; False if stopping."""
        in_flight = self._in_flight
        with in_flight.changed:
            while in_flight.requests >= self.max_in_flight:
                if self._stop.is_set():
                    return False
                in_flight.changed.wait(0.5)
            return not self._stop.is_set()

    def drain(self, deadline: float | None) -> None:
        """Wait until no request is in flight (or ``deadline``, a ``time.monotonic()``)."""
        in_flight = self._in_flight
        with in_flight.changed:
            while in_flight.requests or (in_flight.spans and self.max_in_flight > 1):
                remaining = 0.5 if deadline is None else deadline - time.monotonic()
                if remaining <= 0:
                    return
                in_flight.changed.wait(min(remaining, 0.5))

    def submit(self, body: bytes, count: int) -> None:
        """Hand an encoded request to a sender thread (one more is started while all the
        running ones are busy, up to ``max_in_flight``)."""
        with self._in_flight.changed:
            self._in_flight.requests += 1
            start = len(self._senders) < self._in_flight.requests
        if start:
            thread = threading.Thread(
                target=self._sender, name=f"agent-otlp-{self._name}-send-{len(self._senders)}",
                daemon=True,
            )
            self._senders.append(thread)
            thread.start()
        self._outbox.put((body, count))

    def close(self) -> None:
        """Let every sender thread end once the requests handed to it are sent."""
        for _ in self._senders:
            self._outbox.put(None)

    def _sender(self) -> None:
        while True:
            item = self._outbox.get()
            if item is None:
                return
            body, count = item
            try:
                self._send(body, count)
            except Exception as exc:  # a transport bug must not kill the sender
                self._on_bug(exc, count, "request")
            finally:
                self._in_flight.done(count, 1)
