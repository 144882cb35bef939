"""Group commit: the rows of concurrent writers go to the store in one transaction.

Writers :meth:`GroupCommitter.submit` a :class:`Batch` (in the order their items must be
stored) and then :meth:`GroupCommitter.wait` for it. The first waiter that finds no commit
in progress becomes the leader: it takes every batch submitted so far, writes them in one
transaction, and wakes the writers of that group, and the first writer of the batches
submitted meanwhile, which form the next group: no other writer is woken for nothing. No
thread of its own: a writer's wait is the time its own commit (and those of others) takes.

When a write fails (:class:`~agent_otlp.store.errors.StoreWriteError`), every batch of the
group gets the failure (:attr:`Batch.error`); nothing of it is in the store.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from agent_otlp.store.errors import StoreWriteError, reason_of
from agent_otlp.store.sqlite import KIND_SPAN, KIND_TRACE, OpenTrace, SpanStore

__all__ = ["Batch", "GroupCommitter"]

logger = logging.getLogger("agent_otlp.store")

Row = tuple[int, str, str, int | None, bytes]
#: Longest a waiter sleeps before looking again (it is woken when its batch is done, or
#: when it is first in line to write the next group).
_NAP: Final = 0.05


@dataclass(slots=True, eq=False)
class Batch:
    """One writer's rows, and the open-trace records that go with them.

    :param rows: items to store, in order.
    :param opened: traces opened, or covering more, with their current state.
    :param finished: traces whose workflow span is among ``rows``, with the writer's state
        of each (given back on failure, see :attr:`error`).
    :param answered: a client is told the outcome (the bridge): a failure is refused to it,
        not counted as dropped.
    :param parsed: for each row, the span it stores when its payload reads back to that span
        (the live tail hands it to destinations), else ``None``; empty: ``None`` for all.
    :param records: for each row, that span already converted with ``options`` (the writer
        did it while holding no lock of the store), else ``None``; empty: ``None`` for all.
    """

    rows: list[Row]
    opened: dict[str, OpenTrace] = field(default_factory=dict)
    finished: dict[str, Any] = field(default_factory=dict)
    answered: bool = False
    parsed: list[Any] = field(default_factory=list)
    records: list[Any] = field(default_factory=list)
    options: Any = None
    #: ``None`` once committed; the reason when the write failed.
    error: str | None = None
    done: bool = False
    #: set to wake the writer waiting for this batch
    wake: threading.Event = field(default_factory=threading.Event)

    def spans(self) -> int:
        """OpenTelemetry spans among the rows (agent spans and workflow spans)."""
        return sum(1 for row in self.rows if row[0] in (KIND_SPAN, KIND_TRACE))


def merge(batches: Sequence[Batch]) -> tuple[list[Row], list[OpenTrace], list[str]]:
    """The rows and open-trace changes of ``batches`` as one write, later ones winning."""
    rows: list[Row] = []
    opened: dict[str, OpenTrace] = {}
    finished: dict[str, None] = {}
    for batch in batches:
        rows.extend(batch.rows)
        for trace_id, mark in batch.opened.items():
            finished.pop(trace_id, None)
            opened[trace_id] = mark
        for trace_id in batch.finished:
            opened.pop(trace_id, None)
            finished[trace_id] = None
    return rows, list(opened.values()), list(finished)


class GroupCommitter:
    """Leader/follower group commit over one :class:`SpanStore` (see the module doc).

    :param committed: called by the leader after each group, outside the lock, with the
        group, the last stored seq (``None`` on failure) and the failure's reason.
    :param answered: called by the leader with the last stored seq once the writers of its
        group are woken (work that need not hold them up).
    """

    def __init__(
        self, store: SpanStore, committed: Callable[[list[Batch], int | None, str | None], None],
        answered: Callable[[int], None] | None = None,
    ) -> None:
        self.store = store
        self._committed = committed
        self._answered = answered
        self._lock = threading.Lock()
        self._queue: list[Batch] = []
        self._writing = False

    def submit(self, batch: Batch) -> None:
        """Queue ``batch`` behind every batch submitted before it."""
        with self._lock:
            self._queue.append(batch)
        self.store.write_coming()  # cursor moves ride with it

    def wait(self, batch: Batch) -> str | None:
        """Return once ``batch`` is committed (``None``) or failed (the reason)."""
        while True:
            with self._lock:
                if batch.done:
                    return batch.error
                lead = not self._writing and bool(self._queue)
                if lead:
                    group, self._queue = self._queue, []
                    self._writing = True
                else:
                    batch.wake.clear()
            if not lead:
                batch.wake.wait(_NAP)  # woken when done, or to lead the next group
                continue
            try:
                last = self._commit(group)
            finally:
                self._done(group, batch)
            if last is not None and self._answered is not None:
                self._answered(last)

    def _done(self, group: list[Batch], leader: Batch) -> None:
        """Wake the members of ``group`` (no other waiter: those of the next group sleep on)
        and the first waiter of the next group, which writes it."""
        with self._lock:
            self._writing = False
            for member in group:
                member.done = True
            following = self._queue[0] if self._queue else None
        for member in group:
            if member is not leader:
                member.wake.set()
        if following is not None:
            following.wake.set()

    def _more_queued(self) -> bool:
        return bool(self._queue)

    def _commit(self, group: list[Batch]) -> int | None:
        """Write ``group``; returns the last stored seq (``None`` when it failed)."""
        last: int | None = None
        error: str | None = "not written"  # stays so if the write is interrupted
        for batch in group:
            batch.error = error
        try:
            last = self.store.append(*merge(group), more_coming=self._more_queued)
            error = None
        except StoreWriteError as exc:
            error = exc.reason
        except Exception as exc:  # a closed store, a bug: refused like a full disk, not raised
            logger.exception("agent-otlp: span store write failed")
            error = reason_of(exc)
        for batch in group:
            batch.error = error
        try:
            self._committed(group, last, error)
        except Exception:  # pragma: no cover - the callback must not stop the waiters
            logger.exception("agent-otlp: error after a span store commit")
        return last
