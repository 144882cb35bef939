"""The span store's undelivered bytes: the payload after the lowest cursor, kept as a
running tally (added to on append, taken from as cursors move and items are evicted) so
that asking whether the store is full costs no query."""

from __future__ import annotations

from agent_otlp.store._handle import StoreHandle

__all__ = ["Backlog"]


class Backlog:
    """The tally of undelivered bytes of one store file."""

    def __init__(self, handle: StoreHandle) -> None:
        self._handle = handle
        #: payload bytes after the lowest cursor
        self.size = 0
        #: the lowest cursor when :attr:`size` was last brought up to date
        self._low = 0

    def measure(self) -> None:
        """Count the bytes after the lowest cursor again, noting that cursor."""
        handle = self._handle
        with handle.lock:
            low = self._low = handle.min_cursor()
            value = handle.conn.execute(
                "SELECT coalesce(sum(size), 0) FROM items WHERE seq > ?", (low,)
            ).fetchone()[0]
        self.size = int(value)

    def added(self, size: int) -> None:
        self.size += size

    def evicted(self, size: int) -> None:
        self.size -= size

    def cursors_moved(self) -> None:
        """Take off what the lowest cursor passed since it was last noted, here or by
        another process on the same file."""
        handle = self._handle
        with handle.lock:
            before, after = self._low, handle.min_cursor()
            if after > before:
                freed = handle.conn.execute(
                    "SELECT coalesce(sum(size), 0) FROM items WHERE seq > ? AND seq <= ?",
                    (before, after),
                ).fetchone()[0]
                self.size = max(0, self.size - int(freed))
                self._low = after
