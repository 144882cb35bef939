"""The span store's cursors: per destination, the seq up to which every item is delivered
(or given up), with the counts delivered and failed.

Moving a cursor does not wait for a commit of items: the move is noted, and when a write of
items is on its way or under way (:meth:`Cursors.write_coming`, the group committer's), that
transaction writes it last, before it commits; otherwise it is written at once, in a
transaction of its own.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable

from agent_otlp.store._backlog import Backlog
from agent_otlp.store._handle import StoreHandle
from agent_otlp.store.rows import KIND_TRACE_START, CursorStatus

__all__ = ["Cursors", "Move"]

#: A noted cursor move: (seq, delivered, failed).
Move = tuple[int, int, int]

_UPSERT = (
    "INSERT INTO cursors (destination, seq, delivered, failed, updated_ns) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT(destination) DO UPDATE SET "
    "seq = max(seq, excluded.seq), delivered = delivered + excluded.delivered, "
    "failed = failed + excluded.failed, updated_ns = excluded.updated_ns"
)


class Cursors:
    """The ``cursors`` table of one store file; moving a cursor updates the backlog."""

    def __init__(self, handle: StoreHandle, backlog: Backlog) -> None:
        self._handle = handle
        self._backlog = backlog
        #: moves noted and not written yet, by destination
        self._moves: dict[str, Move] = {}
        #: a write of items will take the noted moves (see :meth:`write_coming`)
        self._coming = False
        self._moves_lock = threading.Lock()

    def position(self, destination: str) -> int:
        """The destination's cursor; a destination seen for the first time starts now."""
        handle = self._handle
        with handle.lock:
            self.write_moves()
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
        """Move the cursor forward (never back) and add to its counts: written by the write
        of items on its way, else now. When the write fails the cursor stays behind."""
        if self._note(destination, (seq, delivered, failed)):
            return
        self.write_moves()

    def write_coming(self) -> None:
        """A write of items is on its way: it takes the moves noted until it commits
        (:meth:`take_moves`), so moving a cursor need not write now."""
        with self._moves_lock:
            self._coming = True

    def take_moves(self, more_coming: Callable[[], bool]) -> dict[str, Move]:
        """The moves noted, for the caller's transaction to write (:meth:`write_taken`);
        ``more_coming()``: another write of items is on its way after this one."""
        with self._moves_lock:
            moves, self._moves = self._moves, {}
            self._coming = more_coming()
        return moves

    def write_taken(self, cur: sqlite3.Cursor, moves: dict[str, Move]) -> None:
        """Write ``moves`` inside the caller's transaction (under the lock)."""
        now = time.time_ns()
        cur.executemany(_UPSERT, [(name, seq, d, f, now) for name, (seq, d, f) in moves.items()])

    def written(self, moves: dict[str, Move], ok: bool,
                more_coming: Callable[[], bool] | None = None) -> None:
        """After the transaction that took ``moves`` (or failed before taking them): the
        backlog follows the lowest cursor; moves not written are noted again, for the next
        write (``more_coming()``: whether a write of items is still on its way)."""
        if ok:
            if moves:
                self._backlog.cursors_moved()
            return
        if more_coming is not None:
            with self._moves_lock:
                self._coming = more_coming()
        for name, move in moves.items():
            self._note(name, move)

    def write_moves(self) -> None:
        """Write the noted moves now, in a transaction of their own."""
        handle = self._handle
        with handle.lock:
            with self._moves_lock:
                moves, self._moves = self._moves, {}
            if not moves:
                return
            ok = handle.guarded_write(self._write_alone, moves) is not None
            self.written(moves, ok)

    def _write_alone(self, moves: dict[str, Move]) -> bool:
        cur = self._handle.conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        self.write_taken(cur, moves)
        cur.execute("COMMIT")
        return True

    def _note(self, destination: str, move: Move) -> bool:
        """Note a move (merged with one not written yet); whether a write of items will
        take it."""
        with self._moves_lock:
            known = self._moves.get(destination)
            if known is not None:
                move = (max(known[0], move[0]), known[1] + move[1], known[2] + move[2])
            self._moves[destination] = move
            return self._coming

    def forget(self, destination: str) -> None:
        handle = self._handle
        with handle.lock, handle.checked(write=True):
            with self._moves_lock:
                self._moves.pop(destination, None)
            handle.conn.execute("DELETE FROM cursors WHERE destination = ?", (destination,))
            self._backlog.measure()

    def statuses(self) -> list[CursorStatus]:
        conn = self._handle.conn
        with self._handle.lock:
            self.write_moves()
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
