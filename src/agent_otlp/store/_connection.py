"""Opening a span store file: read-write (WAL, ``synchronous=NORMAL``) or read-only, with
SQLite's corruption errors turned into :class:`~agent_otlp.store.errors.StoreDamagedError`."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from agent_otlp.store.errors import StoreDamagedError, is_damage, reason_of

__all__ = ["connect", "connect_read_only"]


def connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=10000")
    except sqlite3.DatabaseError as exc:
        conn.close()
        if is_damage(exc):
            raise StoreDamagedError(Path(path), reason_of(exc)) from None
        raise
    return conn


def connect_read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection. Where SQLite cannot create the WAL index (a read-only file
    system or directory), the file is read as immutable: what was checkpointed into it,
    without a write-ahead log left by a crash."""
    uri = path.resolve().as_uri()
    for query in ("?mode=ro", "?mode=ro&immutable=1"):
        conn = sqlite3.connect(uri + query, uri=True, check_same_thread=False, isolation_level=None)
        try:
            conn.execute("PRAGMA busy_timeout=10000")
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return conn
        except sqlite3.DatabaseError as exc:
            conn.close()
            if is_damage(exc):
                raise StoreDamagedError(path, reason_of(exc)) from None
            if query.endswith("immutable=1"):
                raise
    raise AssertionError("unreachable")  # pragma: no cover
