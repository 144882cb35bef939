"""The agent process's side of the pipe: an open batch of entries, sealed into frames of at
most :data:`FRAME` entries (one ``marshal.dumps`` each), and a writer thread handing the
frames to a ``send`` callable (the pipe, or the in-process exporter once the child is gone).

Backpressure (same policy as the in-process intake, ``docs/performance.md``): frames waiting
hold at most ``max_bytes`` plus one open batch; beyond that the caller waits for room at
most :data:`~agent_otlp.core.pipeline.intake.INTAKE_WAIT` seconds, then the entry is dropped (the
caller counts it), and for :data:`~agent_otlp.core.pipeline.intake.INTAKE_COOLDOWN` seconds
entries are dropped at once without waiting.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Final

from agent_otlp.core.pipeline.intake import Room
from agent_otlp.offload.frames import FLUSH, HEADER, SPAN_ITEM, dump_entries, pack_frame

__all__ = ["FRAME", "FrameWriter"]

#: Entries per frame.
FRAME: Final = 256
#: Seconds the writer waits for a full batch before it frames a partial one.
_QUIET: Final = 0.05


class FrameWriter:
    """Batches entries into frames and writes them on its own thread.

    :param send: ``send(frame, spans)`` writes one frame (header included) holding
        ``spans`` spans; called on the writer thread (and by :meth:`send_remaining`).
    """

    def __init__(self, send: Callable[[bytes, int], None], max_bytes: int) -> None:
        self._send = send
        self.max_bytes = max_bytes
        self._entries: list[Any] = []  # the open batch
        self._lock = threading.Lock()
        #: frames to write: (bytes with header, spans, data entries, data entries sealed so
        #: far including this frame's)
        self._frames: deque[tuple[bytes, int, int, int]] = deque()
        self._sealed_entries = 0
        self._sealed_spans = 0
        #: Data entries sealed before the last request the child answered: the child has
        #: read them (a frame the writer has not yet let go of no longer counts as queued).
        self._entries_seen = 0
        #: per flush ticket: the spans sealed up to it (confirmed when the flush succeeds)
        self.flush_marks: dict[int, int] = {}
        self.pending_bytes = 0
        self.closed = False
        self._stopping = False
        self._wake = threading.Event()
        self._room = Room()
        self._thread = threading.Thread(target=self._loop, name="agent-otlp-offload-writer",
                                        daemon=True)
        self._thread.start()

    # --- callers' side ---------------------------------------------------------------------

    def append(self, entry: tuple[Any, ...]) -> bool:
        """Queue ``entry``; ``False`` when it was dropped (closed, or full after the wait)."""
        if self.closed or (self.pending_bytes >= self.max_bytes and not self._wait_for_room()):
            return False
        with self._lock:
            entries = self._entries
            entries.append(entry)
            if len(entries) >= FRAME:
                self._seal()
        return True

    def request(self, entry: tuple[Any, ...]) -> int:
        """Queue a control entry and seal the batch at once; returns the data entries sealed
        so far (pass it to :meth:`seen` once the child answered)."""
        with self._lock:
            self._entries.append(entry)
            self._seal()
            return self._sealed_entries

    def seen(self, sealed: int) -> None:
        """The child answered a request made after ``sealed`` data entries: it read them."""
        self._entries_seen = max(self._entries_seen, sealed)

    def is_full(self) -> bool:
        return self.pending_bytes >= self.max_bytes or self.closed

    def queued(self) -> int:
        """Data entries not yet read by the child (as far as this process knows)."""
        seen = self._entries_seen
        waiting = sum(f[2] for f in list(self._frames) if f[3] > seen)
        return sum(1 for e in list(self._entries) if e[0] < FLUSH) + waiting

    def drain(self, deadline: float) -> None:
        """Wait until the writer has sent everything queued (at most until ``deadline``)."""
        room = self._room
        with room.cond:
            room.waiting += 1
            try:
                while ((self._frames or self._entries) and self._thread.is_alive()
                       and time.monotonic() < deadline):
                    self._wake.set()
                    room.cond.wait(min(_QUIET, max(0.0, deadline - time.monotonic())))
            finally:
                room.waiting -= 1

    def close(self) -> None:
        """Accept no more entries (:meth:`request` still queues control entries)."""
        self.closed = True

    def finish(self) -> None:
        """Stop the writer thread once everything queued is sent (after :meth:`close`)."""
        self.closed = self._stopping = True
        self._wake.set()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def send_remaining(self) -> None:
        """Send here what the writer did not finish in time (after :meth:`finish`)."""
        with self._lock:
            self._seal()
        while self._frames:
            frame, spans, _, _ = self._frames.popleft()
            self._send(frame, spans)

    def release(self) -> None:
        """Wake every caller waiting for room (after :meth:`finish`)."""
        with self._room.cond:
            self._room.cond.notify_all()

    def wake(self) -> None:
        """Have the writer look at its frames now."""
        self._wake.set()

    # --- writer thread -----------------------------------------------------------------------

    def _seal(self) -> None:
        """The open batch becomes a frame (caller holds ``_lock``)."""
        entries = self._entries
        if not entries:
            return
        self._entries = []
        body = dump_entries(entries)
        spans = data = 0
        flushes: list[int] = []
        for entry in entries:  # one pass: spans, data entries, flush requests
            kind = entry[0]
            if kind < FLUSH:
                data += 1
                spans += kind <= SPAN_ITEM
            elif kind == FLUSH:
                flushes.append(entry[1])
        self._sealed_spans += spans
        self._sealed_entries += data
        for ticket in flushes:
            self.flush_marks[ticket] = self._sealed_spans
        self._frames.append((pack_frame(body), spans, data, self._sealed_entries))
        self.pending_bytes += len(body)
        self._wake.set()

    def _loop(self) -> None:
        frames = self._frames
        while True:
            if not self._wake.wait(_QUIET) or self._stopping:  # a quiet moment: partial batch
                with self._lock:
                    self._seal()
            self._wake.clear()
            while frames:
                frame, spans, _, _ = frames[0]
                self._send(frame, spans)
                with self._lock:
                    frames.popleft()
                    self.pending_bytes -= len(frame) - HEADER.size
                self._room.notify()
            self._room.notify()
            if self._stopping and not frames and not self._entries:
                return

    def _wait_for_room(self) -> bool:
        if self.closed or threading.current_thread() is self._thread:
            return False
        low = self.max_bytes * 3 // 4
        room = self._room.wait(lambda: self.pending_bytes <= low or self.closed, self._wake.set)
        return room and not self.closed
