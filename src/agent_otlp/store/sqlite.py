"""SQLite span store: the outbox every destination reads from.

* One row per agent span and per finished agent trace, appended when it ends, in the SDK's
  export format. ``seq`` orders them.
* Each destination has a cursor: every item up to it has been delivered (or given up after a
  non-retryable refusal). Delivery reads after the cursor and moves it only after the
  receiver accepted the batch, so a crash re-sends at most the batch in flight (and, while
  items are being committed, the batches whose moves wait for that commit: a move never
  waits for the store, it rides with the commit under way or announced).
* Retention: items every destination has are pruned once older than ``delivered_max_age``
  or beyond ``delivered_max_bytes``; undelivered items are kept up to
  ``undelivered_budget`` bytes, after which the oldest are evicted, counted
  (``evicted_undelivered``) and logged loudly. The bridge asks :meth:`SpanStore.is_full`
  first and answers 429 instead.

* Open traces: ``open_traces`` holds every trace whose workflow span is not stored yet (its
  trace object and the times its spans cover), written in the same transaction as its items,
  so a restarted process finishes every trace the previous one left open.
* Writes that fail (disk full, I/O errors) roll back and raise :class:`StoreWriteError`; the
  store stays usable and the next write tries again (:attr:`SpanStore.write_problem` says
  what the last write met, ``None`` once a write commits again).

WAL journal, ``synchronous=NORMAL``: a committed transaction survives the process being
killed (not a power loss; ``synchronous=FULL`` would be needed for that).

:class:`SpanStore` is the one handle callers use; it delegates to one part per concern,
all sharing the connection and its lock (``_handle``): the items and open traces
(``_items``), the cursors (``_cursors``), the tally of undelivered bytes (``_backlog``),
retention (``_retention``), counters and export jobs (``_jobs``).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from agent_otlp.store._backlog import Backlog
from agent_otlp.store._connection import connect, connect_read_only
from agent_otlp.store._cursors import Cursors, Move
from agent_otlp.store._handle import StoreHandle
from agent_otlp.store._items import ItemLog
from agent_otlp.store._jobs import Bookkeeping
from agent_otlp.store._retention import (
    DEFAULT_DELIVERED_MAX_AGE,
    DEFAULT_DELIVERED_MAX_BYTES,
    DEFAULT_UNDELIVERED_BUDGET,
    FULL_AT,
    Retention,
)
from agent_otlp.store.errors import StoreDamagedError, StoreWriteError
from agent_otlp.store.rows import (
    KIND_SPAN,
    KIND_TRACE,
    KIND_TRACE_START,
    CursorStatus,
    ItemRow,
    OpenTrace,
    StoredItem,
    time_column,
)
from agent_otlp.store.schema import check_version, migrate

__all__ = [
    "DEFAULT_DELIVERED_MAX_AGE",
    "DEFAULT_DELIVERED_MAX_BYTES",
    "DEFAULT_UNDELIVERED_BUDGET",
    "FULL_AT",
    "KIND_SPAN",
    "KIND_TRACE",
    "KIND_TRACE_START",
    "CursorStatus",
    "OpenTrace",
    "SpanStore",
    "StoreDamagedError",
    "StoreWriteError",
    "StoredItem",
    "default_store_path",
    "time_column",
]


def default_store_path(env: dict[str, str] | None = None) -> Path:
    """``$XDG_DATA_HOME/agent-otlp/spans.db`` (``~/.local/share/...`` by default)."""
    env = dict(os.environ) if env is None else env
    base = Path(env.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "agent-otlp" / "spans.db"


class SpanStore:
    """Thread-safe handle on one store file.

    :param read_only: open the file for reading only (``status``, ``show``): works on a
        read-only file or file system; the schema is not migrated. A file that does not
        exist yet is created, as without it.
    :raises StoreDamagedError: the file is damaged (or not a SQLite database).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        undelivered_budget: int = DEFAULT_UNDELIVERED_BUDGET,
        delivered_max_age: float = DEFAULT_DELIVERED_MAX_AGE,
        delivered_max_bytes: int = DEFAULT_DELIVERED_MAX_BYTES,
        read_only: bool = False,
    ) -> None:
        self.path = Path(path)
        read_only = read_only and self.path.exists()
        self.read_only = read_only
        if str(path) != ":memory:" and not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.undelivered_budget = undelivered_budget
        self.delivered_max_age = delivered_max_age
        self.delivered_max_bytes = delivered_max_bytes
        conn = connect_read_only(self.path) if read_only else connect(str(path))
        self._handle = handle = StoreHandle(self.path, conn)
        self._backlog = Backlog(handle)
        self._items = ItemLog(handle)
        self._cursors = Cursors(handle, self._backlog)
        self._jobs = Bookkeeping(handle)
        self._retention = Retention(handle, self._backlog, self._jobs, self)
        try:
            with handle.checked():
                if read_only:
                    check_version(conn)
                else:
                    migrate(conn)
                self._backlog.measure()
        except BaseException:
            conn.close()
            raise

    @property
    def write_problem(self) -> str | None:
        """What the last write met (``database or disk is full``); ``None`` once writes work."""
        return self._handle.write_problem

    # --- items ---------------------------------------------------------------------------

    def append(
        self,
        rows: Sequence[ItemRow],
        opened: Sequence[OpenTrace] = (),
        finished: Sequence[str] = (),
        *,
        more_coming: Callable[[], bool] = lambda: False,
    ) -> int:
        """Store ``(kind, trace_id, item_id, ended_ns, payload)`` rows, record the traces
        ``opened`` (or covering more) and forget those ``finished``, in one transaction
        that also writes the cursor moves noted since the last write; returns the last seq.
        Beyond the undelivered budget, the oldest items are evicted.

        ``more_coming()`` says whether another append is on its way (announced with
        :meth:`write_coming`), which will write the cursor moves noted meanwhile.

        :raises StoreWriteError: nothing was written (disk full, I/O error); the next call
            tries again.
        """
        cursors = self._cursors
        if not rows and not opened and not finished:
            cursors.write_moves()
            return self.last_seq()
        taken: dict[str, Move] = {}

        def with_moves(cur: sqlite3.Cursor) -> None:  # last in the transaction: the moves noted so far
            taken.update(cursors.take_moves(more_coming))
            cursors.write_taken(cur, taken)

        with self._handle.lock:
            written = False
            try:
                last = self._items.write(rows, opened, finished, with_moves)
                written = True
            finally:
                cursors.written(taken, written, more_coming)
            self._backlog.added(sum(len(r[4]) for r in rows))
        if self._retention.over_budget():
            self._handle.guarded_write(self._retention.enforce_budget)
        return last

    def last_seq(self) -> int:
        return self._handle.last_seq()

    def read_after(
        self,
        seq: int,
        limit: int,
        *,
        since_ns: int | None = None,
        until_ns: int | None = None,
        upto_seq: int | None = None,
    ) -> list[StoredItem]:
        """Up to ``limit`` items with a seq above ``seq``, in order, optionally by end time."""
        return self._items.read_after(seq, limit, since_ns, until_ns, upto_seq)

    def count(
        self,
        *,
        after: int = 0,
        since_ns: int | None = None,
        until_ns: int | None = None,
        deliverable: bool = False,
    ) -> int:
        """Items after ``after`` ending in the range; ``deliverable`` leaves out the trace
        objects kept only to finish open traces."""
        return self._items.count(after, since_ns, until_ns, deliverable)

    def open_traces(self) -> list[OpenTrace]:
        """Traces whose workflow span is not stored yet, delivered spans or not: (trace id,
        the trace object as first seen or None, earliest and latest time covered)."""
        return self._items.open_traces()

    def trace_items(self, trace_id: str) -> list[StoredItem]:
        return self._items.trace_items(trace_id)

    # --- cursors -------------------------------------------------------------------------

    def cursor(self, destination: str) -> int:
        """The destination's cursor; a destination seen for the first time starts now."""
        return self._cursors.position(destination)

    def advance(self, destination: str, seq: int, *, delivered: int = 0, failed: int = 0) -> None:
        """Every item up to ``seq`` is done for ``destination``: written with the append on
        its way (:meth:`write_coming`), else now. When the write fails (disk full) the
        cursor stays behind: those items may be delivered again after a restart."""
        self._cursors.advance(destination, seq, delivered, failed)

    def write_coming(self) -> None:
        """An :meth:`append` is on its way: cursor moves wait for it instead of being
        written in transactions of their own."""
        self._cursors.write_coming()

    def forget_destination(self, destination: str) -> None:
        self._cursors.forget(destination)

    def cursors(self) -> list[CursorStatus]:
        return self._cursors.statuses()

    # --- retention -----------------------------------------------------------------------

    @property
    def undelivered_bytes(self) -> int:
        return self._backlog.size

    def is_full(self) -> bool:
        """True when the undelivered budget is nearly used up (:data:`FULL_AT` of it): the
        bridge then answers 429, keeping room for requests already accepted, so that
        refusing new items comes before evicting undelivered ones."""
        return self._retention.is_full()

    def enforce_budget(self) -> int:
        """Evict the oldest undelivered items beyond the budget; returns how many."""
        return self._retention.enforce_budget()

    def prune(self, now_ns: int | None = None) -> int:
        """Remove delivered items older than the age limit or beyond the size limit (none
        when the store cannot write)."""
        return int(self._handle.guarded_write(self._retention.prune, now_ns) or 0)

    # --- counters and jobs ---------------------------------------------------------------

    def counter(self, name: str) -> int:
        return self._jobs.counter(name)

    def job_position(self, job: str) -> tuple[int, int, bool]:
        """(position, sent, done) of a historical export job; zeros when new."""
        return self._jobs.job_position(job)

    def save_job(self, job: str, position: int, sent: int, done: bool = False) -> None:
        self._jobs.save_job(job, position, sent, done)

    def execute(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement under the store's lock (used by the destinations table)."""
        return self._handle.execute(sql, params)

    def close(self) -> None:
        if not self.read_only:
            self._cursors.write_moves()
        self._handle.close()
