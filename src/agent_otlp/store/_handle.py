"""One open span store file: the connection, the lock every part of the store takes, and
how a failed statement is met.

* Damage (a corrupted page, not a database) becomes :class:`StoreDamagedError`.
* A failed write is rolled back; writes of items raise :class:`StoreWriteError`, while
  bookkeeping writes (cursors, retention) are only logged (:meth:`StoreHandle.guarded_write`)
  and tried again by the next call. :attr:`StoreHandle.write_problem` says what the last
  write met, ``None`` once a write commits again; the change is logged once each way.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from agent_otlp.store.errors import StoreDamagedError, StoreWriteError, is_damage, reason_of

__all__ = ["StoreHandle"]

logger = logging.getLogger("agent_otlp.store")

P = ParamSpec("P")
T = TypeVar("T")


class StoreHandle:
    """The connection to one store file and the (re-entrant) lock that serializes its use."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self.conn = conn
        self.lock = threading.RLock()
        #: What the last write met (``database or disk is full``); ``None`` once writes work.
        self.write_problem: str | None = None

    @contextmanager
    def checked(self, write: bool = False) -> Iterator[None]:
        """SQLite's corruption errors as :class:`StoreDamagedError` (one line, with the
        remedy); with ``write``, other failures as :class:`StoreWriteError`."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            if is_damage(exc):
                raise StoreDamagedError(self.path, reason_of(exc)) from None
            if not write:
                raise
            self.rollback()
            raise StoreWriteError(self.path, reason_of(exc)) from None

    def rollback(self) -> None:
        # SQLite rolls some failed transactions back by itself (SQLITE_FULL, I/O errors)
        if self.conn.in_transaction:
            try:
                self.conn.execute("ROLLBACK")
            except sqlite3.Error:
                logger.debug("agent-otlp: rollback after a failed store write failed too")

    def note_write(self, problem: str | None) -> None:
        """Log the change between writing and not writing, once each way."""
        if problem is not None and self.write_problem is None:
            logger.error("agent-otlp: span store %s cannot write: %s; refusing what it cannot keep "
                         "until writes work again", self.path, problem)
        elif problem is None and self.write_problem is not None:
            logger.warning("agent-otlp: span store %s writes again", self.path)
        self.write_problem = problem

    def guarded_write(self, write: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T | None:
        """Bookkeeping writes (cursors, retention) that may fail without losing items: the
        failure is rolled back and logged (once per episode), ``None`` is returned and the
        next call tries again."""
        with self.lock:
            try:
                return write(*args, **kwargs)
            except sqlite3.DatabaseError as exc:
                self.rollback()
                self.note_write(reason_of(exc))
                return None

    def last_seq(self) -> int:
        with self.lock:
            value = self.conn.execute("SELECT coalesce(max(seq), 0) FROM items").fetchone()[0]
        return int(value)

    def min_cursor(self) -> int:
        """The lowest cursor (the last seq when no destination has one)."""
        with self.lock:
            value = self.conn.execute("SELECT min(seq) FROM cursors").fetchone()[0]
        return int(value) if value is not None else self.last_seq()

    def execute(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement under the lock; a failed write raises :class:`StoreWriteError`."""
        with self.lock, self.checked(write=not sql.lstrip().upper().startswith("SELECT")):
            return self.conn.execute(sql, tuple(params)).fetchall()

    def close(self) -> None:
        with self.lock:
            self.conn.close()
