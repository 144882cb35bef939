"""The span store's items: appending them (with the open traces they change) in one
transaction, and reading them back by seq, end time or trace."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Any, Final

from agent_otlp.store._handle import StoreHandle
from agent_otlp.store.errors import StoreWriteError, reason_of
from agent_otlp.store.rows import KIND_TRACE_START, ItemRow, OpenTrace, StoredItem, time_column

__all__ = ["ItemLog", "where"]

_COLUMNS = "seq, kind, trace_id, item_id, ended_ns, payload"
#: Rows one statement writes at most: each statement is one step of SQLite, which lets go
#: of the interpreter's lock while it runs and must get it back after (a statement per row
#: would hand the lock over once per row).
_ROWS_PER_STATEMENT: Final = 256
_INSERT_ITEMS: Final = "INSERT INTO items (kind, trace_id, item_id, ended_ns, stored_ns, size, payload) VALUES "
_OPEN_TRACES: Final = "INSERT OR REPLACE INTO open_traces (trace_id, payload, first_ns, last_ns) VALUES "
_FORGET_TRACES: Final = "DELETE FROM open_traces WHERE trace_id IN (VALUES "


def _in_statements(cur: sqlite3.Cursor, head: str, one: str, values: Sequence[Sequence[Any]],
                   tail: str = "") -> None:
    """``head``, ``one`` (a row's placeholders) for each of ``values``, ``tail``, in a few
    statements: as many rows as fit, then halves, so that a handful of statement texts
    serve every count (SQLite keeps them prepared)."""
    start, total = 0, len(values)
    while start < total:
        size = _ROWS_PER_STATEMENT
        while size > total - start:
            size //= 2
        params: list[Any] = []
        for row in values[start:start + size]:
            params += row
        cur.execute(head + ",".join((one,) * size) + tail, params)
        start += size


def _insert(cur: sqlite3.Cursor, rows: Sequence[ItemRow], now: int) -> int | None:
    """Insert ``rows``; the seq of the last (``None`` without rows)."""
    values = [(kind, trace_id, item_id, ended, now, len(payload), payload)
              for kind, trace_id, item_id, ended, payload in rows]
    _in_statements(cur, _INSERT_ITEMS, "(?,?,?,?,?,?,?)", values)
    return cur.lastrowid if rows else None  # an AUTOINCREMENT key is the rowid


def where(
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


class ItemLog:
    """The ``items`` and ``open_traces`` tables of one store file."""

    def __init__(self, handle: StoreHandle) -> None:
        self._handle = handle

    def write(self, rows: Sequence[ItemRow], opened: Sequence[OpenTrace], finished: Sequence[str],
              also: Callable[[sqlite3.Cursor], None] | None = None) -> int:
        """Store ``rows``, record ``opened`` and forget ``finished`` traces in one
        transaction (with what ``also`` writes); returns the last seq.

        :raises StoreWriteError: nothing was written; the next call tries again.
        """
        handle, now = self._handle, time.time_ns()
        with handle.lock:
            try:
                last = self._transaction(rows, opened, finished, now, also)
            except sqlite3.DatabaseError as exc:
                handle.rollback()
                handle.note_write(reason_of(exc))
                raise StoreWriteError(handle.path, reason_of(exc)) from None
            handle.note_write(None)
        return last

    def _transaction(
        self, rows: Sequence[ItemRow], opened: Sequence[OpenTrace], finished: Sequence[str], now: int,
        also: Callable[[sqlite3.Cursor], None] | None,
    ) -> int:
        cur = self._handle.conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        last = _insert(cur, rows, now)
        if opened:
            _in_statements(cur, _OPEN_TRACES, "(?,?,?,?)",
                           [(t, p, time_column(lo), time_column(hi)) for t, p, lo, hi in opened])
        if finished:
            _in_statements(cur, _FORGET_TRACES, "(?)", [(t,) for t in finished], ")")
        if also is not None:
            also(cur)
        if last is None:
            last = cur.execute("SELECT coalesce(max(seq), 0) FROM items").fetchone()[0]
        cur.execute("COMMIT")
        return int(last)

    def read_after(
        self, seq: int, limit: int, since_ns: int | None, until_ns: int | None, upto_seq: int | None
    ) -> list[StoredItem]:
        clause, params = where(seq, since_ns, until_ns, upto_seq=upto_seq)
        # the clause is built from fixed text only; every value is a bound parameter
        query = f"SELECT {_COLUMNS} FROM items WHERE {clause} ORDER BY seq LIMIT ?"  # noqa: S608
        with self._handle.lock:
            rows = self._handle.conn.execute(query, [*params, limit]).fetchall()
        return [StoredItem(*row) for row in rows]

    def count(self, after: int, since_ns: int | None, until_ns: int | None, deliverable: bool) -> int:
        clause, params = where(after, since_ns, until_ns, deliverable=deliverable)
        query = f"SELECT count(*) FROM items WHERE {clause}"  # noqa: S608 - fixed text, bound values
        with self._handle.lock:
            return int(self._handle.conn.execute(query, params).fetchone()[0])

    def open_traces(self) -> list[OpenTrace]:
        handle = self._handle
        with handle.lock, handle.checked():
            rows = handle.conn.execute(
                "SELECT trace_id, payload, first_ns, last_ns FROM open_traces ORDER BY rowid"
            ).fetchall()
        return [(t, p, f, last) for t, p, f, last in rows]

    def trace_items(self, trace_id: str) -> list[StoredItem]:
        with self._handle.lock:
            rows = self._handle.conn.execute(
                "SELECT seq, kind, trace_id, item_id, ended_ns, payload FROM items "
                "WHERE trace_id = ? ORDER BY seq",
                (trace_id,),
            ).fetchall()
        return [StoredItem(*row) for row in rows]
