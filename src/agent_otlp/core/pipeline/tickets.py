"""Flush tickets of one destination's worker: each flush request gets the next ticket, and a
ticket is done once the worker went round after it (sending everything queued by then)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["FlushTickets"]


class FlushTickets:
    """Flush requests, how far the worker got, and the lost-span count at each request (a
    flush that saw spans lost is not "delivered")."""

    def __init__(self) -> None:
        self.requested = 0
        self.done = 0
        self._marks: dict[int, int] = {}
        self._idle = threading.Condition(threading.Lock())

    def request(self, lost: int) -> int:
        """A new ticket (under the worker's lock), ``lost`` the spans lost so far."""
        self.requested += 1
        self._marks[self.requested] = lost
        return self.requested

    def finished(self, upto: int) -> None:
        """The worker went round: tickets up to ``upto`` are done."""
        with self._idle:
            self.done = max(self.done, upto)
            self._idle.notify_all()

    def wait(self, ticket: int, deadline: float, alive: Callable[[], bool]) -> bool:
        """Wait until ``ticket`` is done (while the worker is ``alive``, until ``deadline``,
        a ``time.monotonic()``); returns whether it is."""
        with self._idle:
            while self.done < ticket and alive():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._idle.wait(remaining)
        return self.done >= ticket

    def lost_at(self, ticket: int, lost: int) -> int:
        """The lost count when ``ticket`` was requested (``lost`` if unknown); forgets it."""
        return self._marks.pop(ticket, lost)
