"""Errors of the span store, and how SQLite's errors map to them.

* :class:`StoreWriteError` -- a write did not commit (disk full, I/O error, a read-only
  file). Nothing of that write is in the store; the caller decides whether to refuse
  (the bridge answers 503) or to count what it could not keep (``dropped`` reason
  ``store_full``). The store keeps working and the next write tries again.
* :class:`StoreDamagedError` -- the file is not a readable SQLite database. A
  :class:`~agent_otlp.core.config.errors.ConfigError`, so commands print it as one line, with the
  remedy.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Final

from agent_otlp.core.config.errors import AgentOTLPError, ConfigError

__all__ = ["StoreDamagedError", "StoreWriteError", "is_damage", "reason_of"]

_SQLITE_CORRUPT: Final = 11
_SQLITE_NOTADB: Final = 26


class StoreWriteError(AgentOTLPError):
    """A write to the span store did not commit; :attr:`reason` says why."""

    path: Path
    reason: str

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"span store {path} cannot write: {reason}")


class StoreDamagedError(ConfigError):
    """The store file is damaged (corrupted pages, or not a SQLite database at all)."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(
            "span store",
            str(path),
            f"the file is damaged ({reason}); move it aside to start a new store, or salvage "
            f"its rows with: sqlite3 {path} .recover | sqlite3 {path.with_suffix('.recovered.db')}",
        )


def is_damage(exc: sqlite3.Error) -> bool:
    """True for SQLite's ``SQLITE_CORRUPT`` and ``SQLITE_NOTADB`` (extended codes included)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (_SQLITE_CORRUPT, _SQLITE_NOTADB)
    text = str(exc)
    return "malformed" in text or "not a database" in text


def reason_of(exc: BaseException) -> str:
    """SQLite's message for ``exc`` (``database or disk is full``), one line."""
    return " ".join(str(exc).split()) or type(exc).__name__
