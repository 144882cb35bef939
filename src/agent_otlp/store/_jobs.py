"""The span store's bookkeeping: named counters (``evicted_undelivered``) and the
positions of historical export jobs, so that an interrupted export resumes."""

from __future__ import annotations

import time

from agent_otlp.store._handle import StoreHandle

__all__ = ["Bookkeeping"]


class Bookkeeping:
    """The ``counters`` and ``export_jobs`` tables of one store file."""

    def __init__(self, handle: StoreHandle) -> None:
        self._handle = handle

    def bump(self, name: str, amount: int) -> None:
        """Add to a counter, inside the caller's transaction (under the lock)."""
        self._handle.conn.execute(
            "INSERT INTO counters (name, value) VALUES (?, ?) "
            "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
            (name, amount),
        )

    def counter(self, name: str) -> int:
        with self._handle.lock:
            row = self._handle.conn.execute(
                "SELECT value FROM counters WHERE name = ?", (name,)
            ).fetchone()
        return int(row[0]) if row else 0

    def job_position(self, job: str) -> tuple[int, int, bool]:
        with self._handle.lock:
            row = self._handle.conn.execute(
                "SELECT position, sent, done FROM export_jobs WHERE job = ?", (job,)
            ).fetchone()
        return (int(row[0]), int(row[1]), bool(row[2])) if row else (0, 0, False)

    def save_job(self, job: str, position: int, sent: int, done: bool) -> None:
        handle = self._handle
        with handle.lock, handle.checked(write=True):
            handle.conn.execute(
                "INSERT INTO export_jobs (job, position, sent, done, updated_ns) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(job) DO UPDATE SET position = excluded.position, sent = excluded.sent, "
                "done = excluded.done, updated_ns = excluded.updated_ns",
                (job, position, sent, int(done), time.time_ns()),
            )
