"""Rows fetched ahead: a thread of its own asks the server for the next chunk of a server-side
cursor while the previous one is converted and sent (the wait for PostgreSQL releases the
GIL). At most ``depth`` chunks wait, so memory stays flat."""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any, Final

__all__ = ["prefetched"]

_END: Final = object()


def prefetched(fetch: Callable[[], list[Any]], depth: int = 2) -> Iterator[list[Any]]:
    """The chunks ``fetch`` returns until an empty one, fetched on another thread. An error
    of ``fetch`` is raised here; leaving the iterator early stops the thread before it
    returns (the cursor is then free to close)."""
    chunks: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def run() -> None:
        try:
            while not stop.is_set():
                chunk = fetch()
                chunks.put(chunk if chunk else _END)
                if not chunk:
                    return
        except BaseException as exc:  # handed to the reader
            chunks.put(exc)

    thread = threading.Thread(target=run, name="agent-otlp-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            chunk = chunks.get()
            if chunk is _END:
                return
            if isinstance(chunk, BaseException):
                raise chunk
            yield chunk
    finally:
        stop.set()
        while thread.is_alive():  # unblock a put, then wait for the fetch in progress
            with contextlib.suppress(queue.Empty):
                chunks.get(timeout=0.05)
        thread.join()
