"""What a followed source already delivered, per job: the keys of its items (``span:<id>``,
``trace:<id>``), so that a source reading a lookback window again gives nothing twice. The
table is created on first use, in the store file the jobs are kept in; keys older than the
horizon given to :func:`forget_delivered` are removed."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from agent_otlp.store.sqlite import SpanStore

__all__ = ["delivered_keys", "forget_delivered", "mark_delivered"]

_TABLE = (
    "CREATE TABLE IF NOT EXISTS delivered_items ("
    " job TEXT NOT NULL,"  # the follow job (see agent_otlp.historical.job_key)
    " key TEXT NOT NULL,"  # the source's key of the item
    " delivered_ns INTEGER NOT NULL,"
    " PRIMARY KEY (job, key)) WITHOUT ROWID"
)
_CHUNK = 300  # keys per statement, under SQLite's limit on bound parameters


def delivered_keys(store: SpanStore, job: str, keys: Sequence[str]) -> set[str]:
    """Those of ``keys`` recorded as delivered for ``job``."""
    store.execute(_TABLE)
    found: set[str] = set()
    for at in range(0, len(keys), _CHUNK):
        chunk = list(keys[at:at + _CHUNK])
        marks = ", ".join("?" * len(chunk))
        rows = store.execute(f"SELECT key FROM delivered_items WHERE job = ? AND key IN ({marks})",  # noqa: S608
                             (job, *chunk))
        found.update(str(row[0]) for row in rows)
    return found


def mark_delivered(store: SpanStore, job: str, keys: Iterable[str]) -> None:
    store.execute(_TABLE)
    now = time.time_ns()
    listed = list(keys)
    for at in range(0, len(listed), _CHUNK):
        chunk = listed[at:at + _CHUNK]
        rows = ", ".join(["(?, ?, ?)"] * len(chunk))
        values = [value for key in chunk for value in (job, key, now)]
        store.execute(f"INSERT OR REPLACE INTO delivered_items (job, key, delivered_ns) VALUES {rows}",  # noqa: S608
                      values)


def forget_delivered(store: SpanStore, job: str, older_than_s: float) -> None:
    """Remove the keys delivered more than ``older_than_s`` seconds ago."""
    store.execute(_TABLE)
    horizon = time.time_ns() - int(older_than_s * 1e9)
    store.execute("DELETE FROM delivered_items WHERE job = ? AND delivered_ns < ?", (job, horizon))
