"""SQLite span store: the outbox every destination reads from.

* One row per agent span and per finished agent trace, appended when it ends, in the SDK's
  export format. ``seq`` orders them.
* Each destination has a cursor: every item up to it has been delivered (or given up after a
  non-retryable refusal). Delivery reads after the cursor and moves it only after the
  receiver accepted the batch, so a crash re-sends at most the batch in flight.
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
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from agent_otlp.store._connection import check_version, connect, connect_read_only
from agent_otlp.store.errors import StoreDamagedError, StoreWriteError, is_damage, reason_of
from agent_otlp.store.schema import migrate

__all__ = [
    "KIND_SPAN",
    "KIND_TRACE",
    "KIND_TRACE_START",
    "OpenTrace",
    "SpanStore",
    "StoreDamagedError",
    "StoreWriteError",
    "StoredItem",
    "default_store_path",
    "time_column",
]

logger = logging.getLogger("agent_otlp.store")

KIND_SPAN: Final = 0
KIND_TRACE: Final = 1
#: The trace object when first seen (not delivered; used to finish traces after a crash).
KIND_TRACE_START: Final = 2
DEFAULT_UNDELIVERED_BUDGET: Final = 1 << 30
DEFAULT_DELIVERED_MAX_AGE: Final = 7 * 86_400.0
DEFAULT_DELIVERED_MAX_BYTES: Final = 256 << 20
#: Share of the undelivered budget at which :meth:`SpanStore.is_full` says full.
FULL_AT: Final = 0.9
_SQLITE_MAX: Final = 2**63 - 1


def default_store_path(env: dict[str, str] | None = None) -> Path:
    """``$XDG_DATA_HOME/agent-otlp/spans.db`` (``~/.local/share/...`` by default)."""
    env = dict(os.environ) if env is None else env
    base = Path(env.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "agent-otlp" / "spans.db"


@dataclass(frozen=True, slots=True)
class StoredItem:
    seq: int
    kind: int
    trace_id: str
    item_id: str
    ended_ns: int | None
    payload: bytes


#: A trace still open: (trace id, the trace object as first seen or None, earliest and
#: latest time its spans cover).
OpenTrace = tuple[str, bytes | None, int | None, int | None]


def time_column(ns: int | None) -> int | None:
    """OTLP times reach 2**64 - 1 ns; SQLite integers stop at 2**63 - 1."""
    return None if ns is None else min(ns, _SQLITE_MAX)


@dataclass(frozen=True, slots=True)
class CursorStatus:
    destination: str
    seq: int
    queued: int
    delivered: int
    failed: int
    oldest_undelivered_ns: int | None


def _where(
    after: int,
    since_ns: int | None,
    until_ns: int | None,
    *,
    upto_seq: int | None = None,
    deliverable: bool = False,
) -> tuple[str, list[Any]]:
    """The WHERE clause (and its parameters) selecting items by seq and end time."""
    clauses, params = ["seq > ?"], [after]
    for clause, value in (("seq <= ?", upto_seq), ("ended_ns >= ?", since_ns), ("ended_ns < ?", until_ns)):
        if value is not None:
            clauses.append(clause)
            params.append(value)
    if deliverable:
        clauses.append(f"kind != {KIND_TRACE_START}")
    return " AND ".join(clauses), params


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
        #: What the last write met (``database or disk is full``); ``None`` once writes work.
        self.write_problem: str | None = None
        self._lock = threading.RLock()
        #: the lowest cursor when :attr:`undelivered_bytes` was last brought up to date
        self._low = 0
        self._conn = connect_read_only(self.path) if read_only else connect(str(path))
        try:
            with self._checked():
                if read_only:
                    check_version(self._conn)
                else:
                    migrate(self._conn)
                self._undelivered_bytes = self._measure_undelivered()
        except BaseException:
            self._conn.close()
            raise

    @contextmanager
    def _checked(self, write: bool = False) -> Iterator[None]:
        """SQLite's corruption errors as :class:`StoreDamagedError` (one line, with the
        remedy); with ``write``, other failures as :class:`StoreWriteError`."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            if is_damage(exc):
                raise StoreDamagedError(self.path, reason_of(exc)) from None
            if not write:
                raise
            self._rollback()
            raise StoreWriteError(self.path, reason_of(exc)) from None

    # --- writing -------------------------------------------------------------------------

    def append(
        self,
        rows: Sequence[tuple[int, str, str, int | None, bytes]],
        opened: Sequence[OpenTrace] = (),
        finished: Sequence[str] = (),
    ) -> int:
        """Store ``(kind, trace_id, item_id, ended_ns, payload)`` rows, record the traces
        ``opened`` (or covering more) and forget those ``finished``, in one transaction;
        returns the last seq.

        :raises StoreWriteError: nothing was written (disk full, I/O error); the next call
            tries again.
        """
        if not rows and not opened and not finished:
            return self.last_seq()
        now = time.time_ns()
        with self._lock:
            try:
                last = self._write(rows, opened, finished, now)
            except sqlite3.DatabaseError as exc:
                self._rollback()
                self._note_write(reason_of(exc))
                raise StoreWriteError(self.path, reason_of(exc)) from None
            self._note_write(None)
            self._undelivered_bytes += sum(len(r[4]) for r in rows)
        if self._undelivered_bytes > self.undelivered_budget:
            self._guarded_write(self.enforce_budget)
        return last

    def _write(
        self,
        rows: Sequence[tuple[int, str, str, int | None, bytes]],
        opened: Sequence[OpenTrace],
        finished: Sequence[str],
        now: int,
    ) -> int:
        cur = self._conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        cur.executemany(
            "INSERT INTO items (kind, trace_id, item_id, ended_ns, stored_ns, size, payload) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(k, t, i, e, now, len(p), p) for k, t, i, e, p in rows],
        )
        if opened:
            cur.executemany(
                "INSERT OR REPLACE INTO open_traces (trace_id, payload, first_ns, last_ns) "
                "VALUES (?, ?, ?, ?)",
                [(t, p, time_column(first), time_column(last)) for t, p, first, last in opened],
            )
        if finished:
            cur.executemany("DELETE FROM open_traces WHERE trace_id = ?", [(t,) for t in finished])
        last = cur.execute("SELECT coalesce(max(seq), 0) FROM items").fetchone()[0]
        cur.execute("COMMIT")
        return int(last)

    def _rollback(self) -> None:
        # SQLite rolls some failed transactions back by itself (SQLITE_FULL, I/O errors)
        if self._conn.in_transaction:
            try:
                self._conn.execute("ROLLBACK")
            except sqlite3.Error:
                logger.debug("agent-otlp: rollback after a failed store write failed too")

    def _note_write(self, problem: str | None) -> None:
        """Log the change between writing and not writing, once each way."""
        if problem is not None and self.write_problem is None:
            logger.error("agent-otlp: span store %s cannot write: %s; refusing what it cannot keep "
                         "until writes work again", self.path, problem)
        elif problem is None and self.write_problem is not None:
            logger.warning("agent-otlp: span store %s writes again", self.path)
        self.write_problem = problem

    def _guarded_write(self, write: Any, *args: Any) -> Any:
        """Bookkeeping writes (cursors, retention) that may fail without losing items: the
        failure is logged (once per episode) and the next call tries again."""
        with self._lock:
            try:
                result = write(*args)
            except sqlite3.DatabaseError as exc:
                self._rollback()
                self._note_write(reason_of(exc))
                return None
            return result

    # --- reading -------------------------------------------------------------------------

    def last_seq(self) -> int:
        with self._lock:
            value = self._conn.execute("SELECT coalesce(max(seq), 0) FROM items").fetchone()[0]
        return int(value)

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
        where, params = _where(seq, since_ns, until_ns, upto_seq=upto_seq)
        # the clause is built from fixed text only; every value is a bound parameter
        query = f"SELECT seq, kind, trace_id, item_id, ended_ns, payload FROM items WHERE {where} ORDER BY seq LIMIT ?"  # noqa: S608
        with self._lock:
            rows = self._conn.execute(query, [*params, limit]).fetchall()
        return [StoredItem(*row) for row in rows]

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
        where, params = _where(after, since_ns, until_ns, deliverable=deliverable)
        with self._lock:
            query = f"SELECT count(*) FROM items WHERE {where}"  # noqa: S608 - fixed text, bound values
            return int(self._conn.execute(query, params).fetchone()[0])

    def open_traces(self) -> list[OpenTrace]:
        """Traces whose workflow span is not stored yet, delivered spans or not: (trace id,
        the trace object as first seen or None, earliest and latest time covered)."""
        with self._lock, self._checked():
            rows = self._conn.execute(
                "SELECT trace_id, payload, first_ns, last_ns FROM open_traces ORDER BY rowid"
            ).fetchall()
        return [(t, p, f, last) for t, p, f, last in rows]

    def trace_items(self, trace_id: str) -> list[StoredItem]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, kind, trace_id, item_id, ended_ns, payload FROM items "
                "WHERE trace_id = ? ORDER BY seq",
                (trace_id,),
            ).fetchall()
        return [StoredItem(*row) for row in rows]

    # --- cursors -------------------------------------------------------------------------

    def cursor(self, destination: str) -> int:
        """The destination's cursor; a destination seen for the first time starts now."""
        with self._lock:
            row = self._conn.execute(
                "SELECT seq FROM cursors WHERE destination = ?", (destination,)
            ).fetchone()
            if row is not None:
                return int(row[0])
            start = self.last_seq()
            self._guarded_write(
                self._conn.execute,
                "INSERT INTO cursors (destination, seq, updated_ns) VALUES (?, ?, ?)",
                (destination, start, time.time_ns()),
            )
            self._undelivered_bytes = self._measure_undelivered()
            return start

    def advance(self, destination: str, seq: int, *, delivered: int = 0, failed: int = 0) -> None:
        """Every item up to ``seq`` is done for ``destination``. When the write fails (disk
        full) the cursor stays behind: those items may be delivered again after a restart."""
        with self._lock:
            before = self._low  # the lowest cursor as last counted here (moved since: freed now)
            moved = self._guarded_write(
                self._conn.execute,
                "INSERT INTO cursors (destination, seq, delivered, failed, updated_ns) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT(destination) DO UPDATE SET "
                "seq = max(seq, excluded.seq), delivered = delivered + excluded.delivered, "
                "failed = failed + excluded.failed, updated_ns = excluded.updated_ns",
                (destination, seq, delivered, failed, time.time_ns()),
            )
            if moved is None:
                return
            after = self._min_cursor()
            if after > before:
                freed = self._conn.execute(
                    "SELECT coalesce(sum(size), 0) FROM items WHERE seq > ? AND seq <= ?",
                    (before, after),
                ).fetchone()[0]
                self._undelivered_bytes = max(0, self._undelivered_bytes - int(freed))
                self._low = after

    def forget_destination(self, destination: str) -> None:
        with self._lock, self._checked(write=True):
            self._conn.execute("DELETE FROM cursors WHERE destination = ?", (destination,))
            self._undelivered_bytes = self._measure_undelivered()

    def cursors(self) -> list[CursorStatus]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT destination, seq, delivered, failed FROM cursors ORDER BY destination"
            ).fetchall()
            out = []
            for name, seq, delivered, failed in rows:
                queued, oldest = self._conn.execute(
                    "SELECT count(*), min(stored_ns) FROM items WHERE seq > ? AND kind != ?",
                    (seq, KIND_TRACE_START),
                ).fetchone()
                out.append(CursorStatus(name, seq, int(queued), delivered, failed, oldest))
        return out

    def _min_cursor(self) -> int:
        value = self._conn.execute("SELECT min(seq) FROM cursors").fetchone()[0]
        return int(value) if value is not None else self.last_seq()

    def _measure_undelivered(self) -> int:
        """Payload bytes after the lowest cursor, which is noted (:meth:`advance`)."""
        with self._lock:
            low = self._low = self._min_cursor()
            value = self._conn.execute(
                "SELECT coalesce(sum(size), 0) FROM items WHERE seq > ?", (low,)
            ).fetchone()[0]
        return int(value)

    # --- retention -----------------------------------------------------------------------

    @property
    def undelivered_bytes(self) -> int:
        return self._undelivered_bytes

    def is_full(self) -> bool:
        """True when the undelivered budget is nearly used up (:data:`FULL_AT` of it): the
        bridge then answers 429, keeping room for requests already accepted, so that
        refusing new items comes before evicting undelivered ones."""
        return self._undelivered_bytes >= self.undelivered_budget * FULL_AT

    def enforce_budget(self) -> int:
        """Evict the oldest undelivered items beyond the budget; returns how many."""
        evicted = 0
        with self._lock:
            while self._undelivered_bytes > self.undelivered_budget:
                low = self._min_cursor()
                rows = self._conn.execute(
                    "SELECT seq, size FROM items WHERE seq > ? ORDER BY seq LIMIT 1000", (low,)
                ).fetchall()
                if not rows:
                    break
                excess = self._undelivered_bytes - self.undelivered_budget
                cut_seq, freed = low, 0
                for seq, size in rows:
                    cut_seq, freed = seq, freed + size
                    evicted += 1
                    if freed >= excess:
                        break
                self._conn.execute("DELETE FROM items WHERE seq > ? AND seq <= ?", (low, cut_seq))
                self._conn.execute("UPDATE cursors SET seq = max(seq, ?)", (cut_seq,))
                self._undelivered_bytes -= freed
            if evicted:
                self._bump("evicted_undelivered", evicted)
        if evicted:
            logger.error(
                "agent-otlp: span store over its undelivered budget (%d bytes): evicted %d "
                "undelivered items, %d in total so far",
                self.undelivered_budget,
                evicted,
                self.counter("evicted_undelivered"),
            )
        return evicted

    def prune(self, now_ns: int | None = None) -> int:
        """Remove delivered items older than the age limit or beyond the size limit (none
        when the store cannot write)."""
        return int(self._guarded_write(self._prune, now_ns) or 0)

    def _prune(self, now_ns: int | None) -> int:
        now_ns = time.time_ns() if now_ns is None else now_ns
        with self._lock:
            low = self._min_cursor()
            cutoff = now_ns - int(self.delivered_max_age * 1e9)
            removed = self._conn.execute(
                "DELETE FROM items WHERE seq <= ? AND stored_ns < ?", (low, cutoff)
            ).rowcount
            size = self._conn.execute(
                "SELECT coalesce(sum(size), 0) FROM items WHERE seq <= ?", (low,)
            ).fetchone()[0]
            if size > self.delivered_max_bytes:
                excess, cut = size - self.delivered_max_bytes, 0
                for seq, item_size in self._conn.execute(
                    "SELECT seq, size FROM items WHERE seq <= ? ORDER BY seq", (low,)
                ):
                    excess -= item_size
                    cut = seq
                    if excess <= 0:
                        break
                removed += self._conn.execute("DELETE FROM items WHERE seq <= ?", (cut,)).rowcount
        return int(removed)

    # --- counters and jobs ---------------------------------------------------------------

    def _bump(self, name: str, amount: int) -> None:
        self._conn.execute(
            "INSERT INTO counters (name, value) VALUES (?, ?) "
            "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
            (name, amount),
        )

    def counter(self, name: str) -> int:
        with self._lock:
            row = self._conn.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
        return int(row[0]) if row else 0

    def job_position(self, job: str) -> tuple[int, int, bool]:
        """(position, sent, done) of a historical export job; zeros when new."""
        with self._lock:
            row = self._conn.execute(
                "SELECT position, sent, done FROM export_jobs WHERE job = ?", (job,)
            ).fetchone()
        return (int(row[0]), int(row[1]), bool(row[2])) if row else (0, 0, False)

    def save_job(self, job: str, position: int, sent: int, done: bool = False) -> None:
        with self._lock, self._checked(write=True):
            self._conn.execute(
                "INSERT INTO export_jobs (job, position, sent, done, updated_ns) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(job) DO UPDATE SET position = excluded.position, sent = excluded.sent, "
                "done = excluded.done, updated_ns = excluded.updated_ns",
                (job, position, sent, int(done), time.time_ns()),
            )

    def execute(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement under the store's lock (used by the destinations table)."""
        with self._lock, self._checked(write=not sql.lstrip().upper().startswith("SELECT")):
            return self._conn.execute(sql, tuple(params)).fetchall()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

