"""The span store's retention: undelivered items are kept up to a byte budget, after which
the oldest are evicted, counted (``evicted_undelivered``) and logged loudly; items every
destination has are pruned once older than an age or beyond a size."""

from __future__ import annotations

import logging
import time
from typing import Final, Protocol

from agent_otlp.store._backlog import Backlog
from agent_otlp.store._handle import StoreHandle
from agent_otlp.store._jobs import Bookkeeping

__all__ = [
    "DEFAULT_DELIVERED_MAX_AGE",
    "DEFAULT_DELIVERED_MAX_BYTES",
    "DEFAULT_UNDELIVERED_BUDGET",
    "FULL_AT",
    "Limits",
    "Retention",
]

logger = logging.getLogger("agent_otlp.store")

DEFAULT_UNDELIVERED_BUDGET: Final = 1 << 30
DEFAULT_DELIVERED_MAX_AGE: Final = 7 * 86_400.0
DEFAULT_DELIVERED_MAX_BYTES: Final = 256 << 20
#: Share of the undelivered budget at which the store says it is full.
FULL_AT: Final = 0.9


class Limits(Protocol):
    """The retention limits, read at each use."""

    undelivered_budget: int
    delivered_max_age: float
    delivered_max_bytes: int


class Retention:
    """Keeps one store file within its :class:`Limits`."""

    def __init__(self, handle: StoreHandle, backlog: Backlog, books: Bookkeeping, limits: Limits) -> None:
        self._handle = handle
        self._backlog = backlog
        self._books = books
        self._limits = limits

    def is_full(self) -> bool:
        return self._backlog.size >= self._limits.undelivered_budget * FULL_AT

    def over_budget(self) -> bool:
        return self._backlog.size > self._limits.undelivered_budget

    def enforce_budget(self) -> int:
        """Evict the oldest undelivered items beyond the budget; returns how many."""
        evicted, budget = 0, self._limits.undelivered_budget
        with self._handle.lock:
            while self.over_budget():
                removed = self._evict_some(self._backlog.size - budget)
                if not removed:
                    break
                evicted += removed
            if evicted:
                self._books.bump("evicted_undelivered", evicted)
        if evicted:
            logger.error(
                "agent-otlp: span store over its undelivered budget (%d bytes): evicted %d "
                "undelivered items, %d in total so far",
                budget,
                evicted,
                self._books.counter("evicted_undelivered"),
            )
        return evicted

    def _evict_some(self, excess: int) -> int:
        """Evict the oldest undelivered items (up to 1000) freeing ``excess`` bytes, moving
        the cursors past them; returns how many."""
        conn, low = self._handle.conn, self._handle.min_cursor()
        rows = conn.execute(
            "SELECT seq, size FROM items WHERE seq > ? ORDER BY seq LIMIT 1000", (low,)
        ).fetchall()
        cut_seq, freed, evicted = low, 0, 0
        for seq, size in rows:
            cut_seq, freed = seq, freed + size
            evicted += 1
            if freed >= excess:
                break
        if evicted:
            conn.execute("DELETE FROM items WHERE seq > ? AND seq <= ?", (low, cut_seq))
            conn.execute("UPDATE cursors SET seq = max(seq, ?)", (cut_seq,))
            self._backlog.evicted(freed)
        return evicted

    def prune(self, now_ns: int | None) -> int:
        """Remove delivered items older than the age limit or beyond the size limit."""
        now_ns = time.time_ns() if now_ns is None else now_ns
        conn = self._handle.conn
        with self._handle.lock:
            low = self._handle.min_cursor()
            cutoff = now_ns - int(self._limits.delivered_max_age * 1e9)
            removed = conn.execute(
                "DELETE FROM items WHERE seq <= ? AND stored_ns < ?", (low, cutoff)
            ).rowcount
            size = conn.execute(
                "SELECT coalesce(sum(size), 0) FROM items WHERE seq <= ?", (low,)
            ).fetchone()[0]
            if size > self._limits.delivered_max_bytes:
                removed += self._cut_delivered(low, size - self._limits.delivered_max_bytes)
        return int(removed)

    def _cut_delivered(self, low: int, excess: int) -> int:
        """Remove the oldest delivered items (up to ``low``) adding up to ``excess`` bytes."""
        conn, cut = self._handle.conn, 0
        for seq, item_size in conn.execute("SELECT seq, size FROM items WHERE seq <= ? ORDER BY seq", (low,)):
            excess -= item_size
            cut = seq
            if excess <= 0:
                break
        return int(conn.execute("DELETE FROM items WHERE seq <= ?", (cut,)).rowcount)
