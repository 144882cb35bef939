"""The span store's cursors: per destination, the seq up to which every item is delivered
(or given up), with the counts delivered and failed."""

from __future__ import annotations

import time

from agent_otlp.store._backlog import Backlog
from agent_otlp.store._handle import StoreHandle
from agent_otlp.store.rows import KIND_TRACE_START, CursorStatus

__all__ = ["Cursors"]


class Cursors:
    """The ``cursors`` table of one store file; moving a cursor updates the backlog."""

    def __init__(self, handle: StoreHandle, backlog: Backlog) -> None:
        self._handle = handle
        self._backlog = backlog

    def position(self, destination: str) -> int:
        """The destination's cursor; a destination seen for the first time starts now."""
        handle = self._handle
        with handle.lock:
            row = handle.conn.execute(
                "SELECT seq FROM cursors WHERE destination = ?", (destination,)
            ).fetchone()
            if row is not None:
                return int(row[0])
            start = handle.last_seq()
            handle.guarded_write(
                handle.conn.execute,
                "INSERT INTO cursors (destination, seq, updated_ns) VALUES (?, ?, ?)",
                (destination, start, time.time_ns()),
            )
            self._backlog.measure()
            return start

    def advance(self, destination: str, seq: int, delivered: int, failed: int) -> None:
        """Move the cursor forward (never back) and add to its counts; when the write
        fails the cursor stays behind."""
        handle = self._handle
        with handle.lock:
            moved = handle.guarded_write(
                handle.conn.execute,
                "INSERT INTO cursors (destination, seq, delivered, failed, updated_ns) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT(destination) DO UPDATE SET "
                "seq = max(seq, excluded.seq), delivered = delivered + excluded.delivered, "
                "failed = failed + excluded.failed, updated_ns = excluded.updated_ns",
                (destination, seq, delivered, failed, time.time_ns()),
            )
            if moved is not None:
                self._backlog.cursors_moved()

    def forget(self, destination: str) -> None:
        handle = self._handle
        with handle.lock, handle.checked(write=True):
            handle.conn.execute("DELETE FROM cursors WHERE destination = ?", (destination,))
            self._backlog.measure()

    def statuses(self) -> list[CursorStatus]:
        conn = self._handle.conn
        with self._handle.lock:
            rows = conn.execute(
                "SELECT destination, seq, delivered, failed FROM cursors ORDER BY destination"
            ).fetchall()
            out = []
            for name, seq, delivered, failed in rows:
                queued, oldest = conn.execute(
                    "SELECT count(*), min(stored_ns) FROM items WHERE seq > ? AND kind != ?",
                    (seq, KIND_TRACE_START),
                ).fetchone()
                out.append(CursorStatus(name, seq, int(queued), delivered, failed, oldest))
        return out
