"""The exporter's intake: a bounded queue from the agent's threads to the dispatcher.

Callers append ``(kind, payload, unix_ns)`` entries and return. When the intake is full a
caller waits for room for at most :data:`INTAKE_WAIT` seconds (:class:`Room`); if there is
still none the entry is dropped (the caller counts it) and, for :data:`INTAKE_COOLDOWN`
seconds, further entries are dropped at once: a stalled pipeline costs the agent at most one
bounded wait per cool-down. Barriers let :meth:`Intake.drain` wait until the dispatcher has
handled everything queued before it.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Final

__all__ = [
    "INGEST_END_ALL",
    "INGEST_END_TRACE",
    "INGEST_ITEM",
    "INGEST_TRACE_END",
    "INGEST_TRACE_START",
    "INTAKE_COOLDOWN",
    "INTAKE_WAIT",
    "MAX_INTAKE",
    "Intake",
    "Room",
]

#: Default intake size (live SDK span objects waiting for the dispatcher).
MAX_INTAKE: Final = 1024
#: Longest a caller waits for room in a full intake, in seconds.
INTAKE_WAIT: Final = 1.0
#: After a wait that found no room, seconds during which full-intake items drop at once.
INTAKE_COOLDOWN: Final = 1.0
#: Entries queued before the dispatcher is woken (it also looks every 50 ms).
WAKE_AT: Final = 256

# intake entry kinds
SDK_SPAN: Final = 0
SDK_TRACE_START: Final = 1
SDK_TRACE_END: Final = 2
ITEM: Final = 3
END_TRACE: Final = 4
END_ALL: Final = 5
BARRIER: Final = 6

#: Entry kinds for ``AgentExporter.ingest``: a parsed ``AgentSpan`` or ``AgentTrace``; an
#: SDK trace object (anything with ``export()``) starting or ending; a trace id to finish;
#: finish every open trace (payload ``None``).
INGEST_ITEM: Final = ITEM
INGEST_TRACE_START: Final = SDK_TRACE_START
INGEST_TRACE_END: Final = SDK_TRACE_END
INGEST_END_TRACE: Final = END_TRACE
INGEST_END_ALL: Final = END_ALL

Entry = tuple[int, Any, int]


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


class Intake:
    """The bounded intake (see the module doc). ``closed`` refuses new entries; ``consumer``
    is the dispatcher thread, which never waits for room (it is the one making it)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.entries: deque[Entry] = deque()
        self.wake = threading.Event()
        self.room = Room()
        self.closed = False
        self.consumer: threading.Thread | None = None
        self._barrier_done = threading.Condition()
        self._barriers_seen = 0
        self._barriers_sent = 0

    def __len__(self) -> int:
        return len(self.entries)

    def put(self, kind: int, payload: Any) -> bool:
        """Queue an entry; ``False`` when it was dropped (full, or closed)."""
        entries = self.entries
        if (len(entries) >= self.size and not self._wait_for_room()) or self.closed:
            return False
        entries.append((kind, payload, time.time_ns()))
        # Trace starts and ends ride with the spans: the dispatcher's own 50 ms timer picks
        # them up; waking it for each would hand it the GIL for tiny batches.
        if (len(entries) >= WAKE_AT or kind >= END_TRACE) and not self.wake.is_set():
            self.wake.set()
        return True

    def _wait_for_room(self) -> bool:
        """Bounded wait for the dispatcher to make room in the intake (see module doc)."""
        if self.closed or threading.current_thread() is self.consumer:
            return False
        low = self.size * 3 // 4
        room = self.room.wait(lambda: len(self.entries) <= low or self.closed, self.wake.set)
        return room and not self.closed

    def drain(self, deadline: float) -> None:
        """Wait (until ``deadline``, monotonic) for the dispatcher to reach a barrier queued
        now, i.e. to have handled every entry queued before this call."""
        with self._barrier_done:
            self._barriers_sent += 1
            ticket = self._barriers_sent
        self.entries.append((BARRIER, ticket, 0))
        self.wake.set()
        consumer = self.consumer
        with self._barrier_done:
            while self._barriers_seen < ticket and consumer is not None and consumer.is_alive():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                self._barrier_done.wait(remaining)

    def passed(self, ticket: int) -> None:
        """The dispatcher reached barrier ``ticket``."""
        with self._barrier_done:
            self._barriers_seen = max(self._barriers_seen, ticket)
            self._barrier_done.notify_all()
