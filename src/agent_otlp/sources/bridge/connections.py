"""The ingest bridge's connections: a deadline for each whole request, and which connections
to close when there are too many.

Slow clients (a byte every few seconds: "slowloris") must not hold the bridge. Two rules:

* :class:`DeadlineReader`: a request's head and body must arrive within ``request_timeout``
  seconds of its first byte, whatever the pace of the bytes; a connection waits at most
  ``read_timeout`` seconds for the first byte of a request (and for any single read).
* :class:`ConnectionTable`: when more than ``limit`` connections are open, the oldest one
  that is not being answered (still sending its request, or idle between requests) is
  closed to make room, so a new client is always read.
"""

from __future__ import annotations

import contextlib
import io
import socket
import time
from typing import Final

__all__ = ["ConnectionTable", "DeadlineReader", "close_read"]

_NEW: Final = 0  # no complete request yet
_IDLE: Final = 1  # answered at least one request, waiting for the next
_BUSY: Final = 2  # request head read, being handled
_EVICTED: Final = 3  # shut down to make room, its thread ending


class DeadlineReader(io.RawIOBase):
    """Socket reads bounded by a per-request deadline (wrap in :class:`io.BufferedReader`)."""

    def __init__(self, sock: socket.socket, read_timeout: float, request_timeout: float) -> None:
        super().__init__()
        self._sock = sock
        self.read_timeout = read_timeout
        self.request_timeout = request_timeout
        self._deadline: float | None = None
        self._wait_until = time.monotonic() + read_timeout

    def readable(self) -> bool:
        return True

    def next_request(self) -> None:
        """Start waiting for a new request: up to ``read_timeout`` for its first byte."""
        self._deadline = None
        self._wait_until = time.monotonic() + self.read_timeout

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        limit = self._deadline if self._deadline is not None else self._wait_until
        remaining = min(limit - time.monotonic(), self.read_timeout)
        if remaining <= 0:
            raise TimeoutError("request deadline passed")
        self._sock.settimeout(remaining)
        count = self._sock.recv_into(buffer)
        if self._deadline is None and count:
            self._deadline = time.monotonic() + self.request_timeout
        return count


class ConnectionTable:
    """State of each open connection; not thread-safe (the bridge holds its lock)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._state: dict[socket.socket, int] = {}  # insertion order: oldest first

    def __len__(self) -> int:
        return len(self._state)

    def opened(self, conn: socket.socket) -> socket.socket | None:
        """Record ``conn``; the connection to close to make room, if any."""
        self._state[conn] = _NEW
        live = sum(1 for state in self._state.values() if state != _EVICTED)
        if live <= self.limit:
            return None
        victim = next((c for c, s in self._state.items() if s == _NEW and c is not conn), None)
        if victim is None:
            victim = next((c for c, s in self._state.items() if s == _IDLE), None)
        if victim is not None:
            self._state[victim] = _EVICTED
        return victim

    def closed(self, conn: socket.socket) -> None:
        self._state.pop(conn, None)

    def busy(self, conn: socket.socket) -> int:
        """Mark ``conn`` as being answered; how many are now."""
        if conn in self._state:
            self._state[conn] = _BUSY
        return sum(1 for state in self._state.values() if state == _BUSY)

    def done(self, conn: socket.socket) -> None:
        if self._state.get(conn) == _BUSY:
            self._state[conn] = _IDLE

    def waiting(self) -> list[socket.socket]:
        """Connections not being answered (to close at shutdown)."""
        return [c for c, s in self._state.items() if s != _BUSY]


def close_read(conn: socket.socket) -> None:
    """Wake the thread reading ``conn`` (its read returns end of file); errors ignored.

    The socket's own ``shutdown`` is bypassed: on a TLS socket it would also drop the TLS
    layer, and the thread's answer would then go out as plain text."""
    with contextlib.suppress(OSError):
        socket.socket.shutdown(conn, socket.SHUT_RD)
