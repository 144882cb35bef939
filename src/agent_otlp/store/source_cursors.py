"""Where a historical export from a source plugin resumes: the source's own cursor text per
job, beside the job's ``export_jobs`` row (position and count). The table is created on first
use, in the store file the jobs are kept in."""

from __future__ import annotations

import time

from agent_otlp.store.sqlite import SpanStore

__all__ = ["load_cursor", "save_cursor"]

_TABLE = (
    "CREATE TABLE IF NOT EXISTS source_cursors ("
    " job TEXT PRIMARY KEY,"  # the export job (see agent_otlp.historical.job_key)
    " cursor TEXT,"  # the source's cursor after the last delivered page
    " updated_ns INTEGER NOT NULL)"
)


def load_cursor(store: SpanStore, job: str) -> str | None:
    """The cursor saved for ``job``, ``None`` when it never saved one."""
    store.execute(_TABLE)
    rows = store.execute("SELECT cursor FROM source_cursors WHERE job = ?", (job,))
    return str(rows[0][0]) if rows and rows[0][0] is not None else None


def save_cursor(store: SpanStore, job: str, cursor: str | None) -> None:
    store.execute(_TABLE)
    store.execute(
        "INSERT INTO source_cursors (job, cursor, updated_ns) VALUES (?, ?, ?) "
        "ON CONFLICT(job) DO UPDATE SET cursor = excluded.cursor, updated_ns = excluded.updated_ns",
        (job, cursor, time.time_ns()),
    )
