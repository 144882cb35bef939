"""The dispatcher: one thread taking the intake's entries to the assembler, chunk by chunk.

It also finishes quiet traces, gives back the bookkeeping of batches the outbox could not
keep, and runs the sink's housekeeping. Every change of trace state happens under
:attr:`Dispatcher.lock` (the exporter's ``ingest`` and durable submissions take it too).

Backpressure (``docs/performance.md``): the dispatcher waits (at most :data:`DISPATCH_WAIT`
per chunk) while a destination that delivers at full speed has more than its high-water
mark queued, so memory stays small when the producer outruns delivery; a failing
destination or a slow backend is not waited for (its own queue absorbs, up to
``max_queue_size``, then drops as ``queue_full``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any, Final

from agent_otlp.core.pipeline.assembler import Assembler
from agent_otlp.core.pipeline.destination import Target
from agent_otlp.core.pipeline.intake import BARRIER, Intake
from agent_otlp.core.pipeline.sinks import Sink

__all__ = ["DISPATCH_WAIT", "Dispatcher"]

logger = logging.getLogger("agent_otlp.export")

#: Longest the dispatcher waits per chunk for a healthy destination to drain, in seconds.
DISPATCH_WAIT: Final = 0.5


class Dispatcher:
    """The dispatcher thread and the lock over trace state (see the module doc)."""

    def __init__(self, intake: Intake, assembler: Assembler, sink: Sink,
                 destinations: Sequence[Target]) -> None:
        self.intake = intake
        self.assembler = assembler
        self.sink = sink
        self.destinations = destinations
        #: Held while trace state changes: by the dispatcher thread, and by callers
        #: handling entries on their own thread.
        self.lock = threading.RLock()
        self.thread = threading.Thread(target=self._run, name="agent-otlp-dispatch", daemon=True)
        intake.consumer = self.thread

    def start(self) -> None:
        self.thread.start()

    def stop(self, timeout: float) -> None:
        """Wake the thread (the intake is closed) and wait for it to finish."""
        self.intake.wake.set()
        self.thread.join(timeout)

    def handle(self, kind: int, payload: Any, when: int) -> None:
        """Handle one entry (under :attr:`lock`); a full chunk is delivered here, then the
        dispatcher waits for destinations that are behind."""
        if self.assembler.add(kind, payload, when):
            self.sink.deliver()  # destinations copy what they keep
            self.await_destinations()

    def await_destinations(self, durable: bool = False) -> None:
        """Hold off converting while a healthy destination is behind (memory bound).

        With a store only a client waiting for its items (``durable``) holds off: a
        destination kept near the head of the store reads its live tail, where one left
        behind reads every item back from the store, which costs more than the wait."""
        if self.sink.durable and not durable:
            return
        deadline = time.monotonic() + DISPATCH_WAIT
        for destination in self.destinations:
            destination.wait_below_high_water(deadline)

    def _run(self) -> None:
        intake = self.intake
        while True:
            intake.wake.wait(0.05)
            intake.wake.clear()
            try:
                with self.lock:
                    self.sink.restore_failed()
                    self._dispatch_available()
                    self.assembler.expire_idle()
                    self.sink.maintain()
            except Exception:  # pragma: no cover - a converter bug must not kill export
                logger.exception("agent-otlp: dispatcher error")
            if intake.closed and not intake.entries:
                return

    def _dispatch_available(self) -> None:
        intake = self.intake
        entries = intake.entries
        handle = self.handle
        while entries:
            kind, payload, when = entries.popleft()
            if kind == BARRIER:
                self.sink.deliver()
                intake.passed(payload)
                continue
            handle(kind, payload, when)
            if len(entries) % 64 == 0:
                intake.room.notify()
        self.sink.deliver()
        intake.room.notify()
