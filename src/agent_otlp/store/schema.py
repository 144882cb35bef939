"""Versioned schema of the span store. Each migration moves the schema one version up and
runs in one transaction; :data:`MIGRATIONS` is append-only."""

from __future__ import annotations

import sqlite3
from typing import Final

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "check_version", "migrate"]

MIGRATIONS: Final[tuple[str, ...]] = (
    # 1: items (the outbox), per-destination cursors, stored destinations, export jobs
    """
    CREATE TABLE items (
        seq        INTEGER PRIMARY KEY AUTOINCREMENT,
        kind       INTEGER NOT NULL,            -- 0 span, 1 trace (finalized, with times)
        trace_id   TEXT    NOT NULL,
        item_id    TEXT    NOT NULL,
        ended_ns   INTEGER,                     -- end of the span or trace, Unix ns
        stored_ns  INTEGER NOT NULL,
        size       INTEGER NOT NULL,            -- bytes of payload
        payload    BLOB    NOT NULL             -- the item in the SDK's export format (JSON)
    );
    CREATE INDEX items_ended ON items (ended_ns);
    CREATE INDEX items_trace ON items (trace_id);
    CREATE TABLE cursors (
        destination TEXT PRIMARY KEY,
        seq         INTEGER NOT NULL,           -- every item up to seq is delivered or given up
        delivered   INTEGER NOT NULL DEFAULT 0,
        failed      INTEGER NOT NULL DEFAULT 0,
        updated_ns  INTEGER NOT NULL
    );
    CREATE TABLE destinations (
        name        TEXT PRIMARY KEY,
        adapter     TEXT NOT NULL,
        endpoint    TEXT,
        protocol    TEXT,
        headers     TEXT NOT NULL DEFAULT '{}', -- {"name": {"env": "VAR"} | {"value": "..."}}
        batch_size  INTEGER,
        timeout     REAL,
        enabled     INTEGER NOT NULL DEFAULT 1,
        metadata    TEXT NOT NULL DEFAULT '{}',
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL
    );
    CREATE TABLE export_jobs (
        job         TEXT PRIMARY KEY,           -- hash of source, range and destination
        position    INTEGER NOT NULL,           -- last seq (store) or line (file) delivered
        sent        INTEGER NOT NULL DEFAULT 0,
        done        INTEGER NOT NULL DEFAULT 0,
        updated_ns  INTEGER NOT NULL
    );
    CREATE TABLE counters (
        name  TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    );
    """,
    # 2: traces open at the last commit, kept until their workflow span is stored, so that a
    # restarted process finishes every trace the previous one left open, delivered or not
    """
    CREATE TABLE open_traces (
        trace_id    TEXT PRIMARY KEY,
        payload     BLOB,                       -- the trace object as first seen, or NULL
        first_ns    INTEGER,                    -- earliest time its spans cover, Unix ns
        last_ns     INTEGER                     -- latest time its spans cover, Unix ns
    );
    INSERT INTO open_traces (trace_id, payload, first_ns, last_ns)
    SELECT s.trace_id,
           (SELECT p.payload FROM items p WHERE p.trace_id = s.trace_id AND p.kind = 2 LIMIT 1),
           min(s.ended_ns), max(s.ended_ns)
    FROM items s
    WHERE s.kind IN (0, 2)
      AND NOT EXISTS (SELECT 1 FROM items t WHERE t.trace_id = s.trace_id AND t.kind = 1)
    GROUP BY s.trace_id;
    """,
)
SCHEMA_VERSION: Final = len(MIGRATIONS)


def check_version(conn: sqlite3.Connection) -> int:
    """The schema version of the database; a RuntimeError when it is newer than this
    agent-otlp's (:data:`SCHEMA_VERSION`)."""
    found = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if found > SCHEMA_VERSION:
        raise RuntimeError(
            f"span store schema version {found} is newer than this agent-otlp ({SCHEMA_VERSION}); "
            "upgrade agent-otlp"
        )
    return found


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the database to :data:`SCHEMA_VERSION`; returns the version found before."""
    found = check_version(conn)
    for version in range(found, SCHEMA_VERSION):
        conn.executescript(f"BEGIN; {MIGRATIONS[version]}; PRAGMA user_version = {version + 1}; COMMIT;")
    return int(found)
