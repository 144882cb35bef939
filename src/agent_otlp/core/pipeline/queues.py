"""A destination's queue, in memory or in the store, behind one interface: :class:`SpanQueue`.

:class:`MemoryQueue` holds the spans (and trace ends) the exporter puts; what it still holds
at shutdown is dropped and counted. :class:`StoreQueue` also reads the items after the
destination's cursor from the store, through a :class:`StoredItems` (the store's reading
side, :class:`agent_otlp.store.reader.StoreSource`, plugged in by the factory: core never
imports the store); what it has not sent at shutdown stays in the store for the next
exporter. The destination's worker calls :meth:`SpanQueue.drain` under its lock and
:meth:`SpanQueue.read` outside it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any, Final, Protocol

from agent_otlp.core.convert.records import SpanRecord
from agent_otlp.core.pipeline.stats import DestinationStats

__all__ = ["END", "MemoryQueue", "SpanQueue", "StoreQueue", "StoredItems"]

#: First element of a queue entry ``(END, trace_id)`` marking the end of a trace (any tuple
#: entry is a trace end; the store's reader uses its own marker).
END: Final = object()


class StoredItems(Protocol):
    """The store's reading side for one destination: items after its cursor, as queue
    entries (span records, and ``(marker, trace_id)`` after a finished trace's workflow span).

    ``read_seq`` is the seq of the last item read, ``latest`` the last one known stored."""

    latest: int
    read_seq: int

    def offer(self, committed: Any) -> bool:
        """Keep just-committed rows in memory when they follow what was read."""
        ...

    def notify(self, last_seq: int) -> None:
        """Items up to ``last_seq`` are stored."""

    def has_unread(self) -> bool:
        """Items are stored after ``read_seq``."""
        ...

    def unread(self) -> int:
        """How many items are stored after ``read_seq``."""
        ...

    def read(self, limit: int) -> list[Any]:
        """Up to ``limit`` items as queue entries."""
        ...

    def advance(self, outstanding_min: int | None, delivered: int, failed: int) -> None:
        """Move the cursor below the oldest span still outstanding (or to what was read)."""


class SpanQueue(Protocol):
    """Entries waiting for a destination's worker (spans and ``(END, trace_id)``)."""

    #: Unsent spans outlive the exporter (in the store): retried until delivered, never
    #: dropped at shutdown.
    durable: bool
    #: Spans put and not yet drained.
    queued: int

    def put(self, entries: Sequence[Any], spans: int) -> None:
        """Queue ``entries``, ``spans`` of them span records (under the worker's lock)."""

    def drain(self) -> list[Any]:
        """Everything put so far, in order (under the worker's lock)."""
        ...

    def read(self, room: int) -> list[Any]:
        """Up to ``room`` more entries from behind the queue (the store), none in memory."""
        ...

    def due(self, batch_size: int) -> bool:
        """A full batch is waiting."""
        ...

    def unread(self, exact: bool) -> int:
        """Spans behind the queue not read yet: counted (``exact``) or estimated, not less."""
        ...

    def stored(self, last_seq: int, committed: Any) -> None:
        """New items are stored up to ``last_seq`` (``committed``: those rows, or ``None``)."""

    def batch_done(self, outstanding: list[SpanRecord], held_min: int | None,
                   stats: DestinationStats) -> None:
        """A batch was delivered or given up; ``outstanding`` and ``held_min`` still are not."""

    def abandon(self, count: int, stats: DestinationStats) -> int:
        """Closing with ``count`` spans unsent: returns how many stay pending."""
        ...


class MemoryQueue:
    """Entries in memory, put by the exporter."""

    durable = False

    def __init__(self) -> None:
        self._entries: deque[Any] = deque()
        self.queued = 0

    def put(self, entries: Sequence[Any], spans: int) -> None:
        self._entries.extend(entries)
        self.queued += spans

    def drain(self) -> list[Any]:
        entries = list(self._entries)
        self._entries.clear()
        self.queued = 0
        return entries

    def read(self, room: int) -> list[Any]:
        return []

    def due(self, batch_size: int) -> bool:
        return self.queued >= batch_size

    def unread(self, exact: bool) -> int:
        return 0

    def stored(self, last_seq: int, committed: Any) -> None:
        return None

    def batch_done(self, outstanding: list[SpanRecord], held_min: int | None,
                   stats: DestinationStats) -> None:
        return None

    def abandon(self, count: int, stats: DestinationStats) -> int:
        stats.drop("shutdown", count)
        return count


class StoreQueue(MemoryQueue):
    """Entries read from the store after the destination's cursor, which moves only past
    spans delivered or given up."""

    durable = True

    def __init__(self, source: StoredItems) -> None:
        super().__init__()
        self.source = source
        self._reported = (0, 0)  # exported and failed counts the store was told of

    def read(self, room: int) -> list[Any]:
        return self.source.read(room) if room > 0 and self.source.has_unread() else []

    def due(self, batch_size: int) -> bool:
        source = self.source
        return self.queued >= batch_size or source.latest - source.read_seq >= batch_size

    def unread(self, exact: bool) -> int:
        if exact:
            return self.source.unread()
        # from the seqs, without a query (evicted ones included: never less than exact)
        return max(self.source.latest - self.source.read_seq, 0)

    def stored(self, last_seq: int, committed: Any) -> None:
        if committed is not None:
            self.source.offer(committed)
        self.source.notify(last_seq)

    def batch_done(self, outstanding: list[SpanRecord], held_min: int | None,
                   stats: DestinationStats) -> None:
        seqs = [r.seq for r in outstanding]
        if held_min is not None:
            seqs.append(held_min)
        exported = stats.exported
        failed = stats.dropped.get("failed", 0)
        delivered_delta = exported - self._reported[0]
        failed_delta = failed - self._reported[1]
        self._reported = (exported, failed)
        self.source.advance(min(seqs) if seqs else None, delivered_delta, failed_delta)

    def abandon(self, count: int, stats: DestinationStats) -> int:
        return count + self.source.unread()  # still in the store: for the next exporter
