"""Sending historical batches: a batch through the adapter's hooks into a request
(:func:`prepare`), a request sent with retries (:func:`transmit`), several requests in
flight with their results taken in the order they were started (:class:`InOrder`), and the
positions of what was delivered written behind (:class:`Latest`).

Historical export sends its batches this way: the next page is read and encoded while
earlier requests are on the wire, and a batch counts as delivered (its position saved) only
once it and every batch before it were answered. The position is written to the store on a
thread of its own, the newest one each time: the thread that reads and converts pages never
waits for the store (each wait for a blocking call gives the GIL away for as long as the
other threads keep it).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Generic, TypeVar

from agent_otlp.core.config.secrets import redact_text
from agent_otlp.core.config.settings import Settings
from agent_otlp.core.convert.records import SpanRecord
from agent_otlp.core.pipeline.retry import Backoff
from agent_otlp.core.plugins.manager import DestinationHooks
from agent_otlp.core.wire.encode import WireEncoder
from agent_otlp.core.wire.transport import Transport

__all__ = ["InOrder", "Latest", "Unavailable", "prepare", "transmit"]

logger = logging.getLogger("agent_otlp.historical")

T = TypeVar("T")


class InOrder(Generic[T]):
    """Run up to ``limit`` calls at once on threads of its own (``limit`` 1: in the caller's
    thread); each call's ``done`` runs in the caller's thread, in the order of :meth:`submit`.
    An exception of a call is raised by the :meth:`submit` or :meth:`drain` that takes it."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self._pool = ThreadPoolExecutor(self.limit, "agent-otlp-export") if self.limit > 1 else None
        self._waiting: deque[tuple[Future[T], Callable[[T], None]]] = deque()

    def submit(self, call: Callable[[], T], done: Callable[[T], None]) -> None:
        if self._pool is None:
            done(call())
            return
        self._waiting.append((self._pool.submit(call), done))
        while len(self._waiting) >= self.limit:
            self._take()

    def drain(self) -> None:
        while self._waiting:
            self._take()

    def _take(self) -> None:
        future, done = self._waiting.popleft()
        done(future.result())

    def close(self) -> None:
        """Forget the calls not taken (they are not delivered) and end the threads."""
        for future, _ in self._waiting:
            future.cancel()
        self._waiting.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=True)


class Latest:
    """Runs, on a thread of its own, the latest call handed to it: a call handed while an
    earlier one waits replaces it (each saves a newer position than the one before). An error
    of a call is raised by the next :meth:`hand` or :meth:`flush` (the call waiting then is
    dropped)."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._changed = threading.Condition()
        self._waiting: Callable[[], None] | None = None
        self._busy = False
        self._closed = False
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def hand(self, call: Callable[[], None]) -> None:
        with self._changed:
            self._raise()
            self._waiting = call
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            self._changed.notify_all()

    def flush(self) -> None:
        """Wait until the latest call handed ran; raise its error, or an earlier one."""
        with self._changed:
            while self._waiting is not None or self._busy:
                self._changed.wait()
            self._raise()

    def close(self) -> None:
        """Run the call waiting, if any, and end the thread (errors are left to :meth:`flush`)."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()
        if self._thread is not None:
            self._thread.join()

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _run(self) -> None:
        while True:
            with self._changed:
                while self._waiting is None and not self._closed:
                    self._changed.wait()
                call, self._waiting = self._waiting, None
                if call is None:
                    return
                self._busy = True
            error: BaseException | None = None
            try:
                call()
            except BaseException as exc:  # raised in the caller's thread
                error = exc
            with self._changed:
                self._busy = False
                if error is not None and self._error is None:
                    self._error, self._waiting = error, None
                self._changed.notify_all()


class Unavailable(Exception):
    """The destination kept failing past its retry deadline (the reason, secrets masked)."""


def transmit(transport: Transport, settings: Settings, body: bytes, count: int,
             errors: list[str]) -> tuple[int, int]:
    """Send one request of ``count`` spans with retries until ``settings.retry_deadline``:
    ``(accepted, refused)``; a refusal is added to ``errors``. Raises :class:`Unavailable`."""
    deadline = time.monotonic() + settings.retry_deadline
    backoff: Backoff | None = None  # made at the first retry: its random source costs a system call
    while True:
        outcome = transport.send(body, settings.timeout)
        if outcome.ok:
            return count - outcome.rejected_spans, outcome.rejected_spans
        text = redact_text(f"{outcome.status} {outcome.message}".strip())
        if not outcome.retryable:
            errors.append(f"batch refused: {text}")
            logger.warning("agent-otlp export: %s refused a batch: %s", settings.name, text)
            return 0, count
        if backoff is None:
            backoff = Backoff()
        delay = backoff.next_delay(outcome.retry_after)
        if time.monotonic() + delay > deadline:
            raise Unavailable(text)
        time.sleep(delay)


def _direct_map(hooks: DestinationHooks) -> list[Callable[..., Any]] | None:
    """The ``map_attributes`` implementations to call as ``(span, settings, state)``, in
    pluggy's order, as the live pipeline calls them (``core.pipeline.batches``); ``None`` when
    pluggy must call them (a wrapper, traced hook calls, other parameters)."""
    calls = hooks.map_attributes_calls()
    if calls is None or any(names != ("span", "settings", "state") for _, names in calls):
        return None
    return [function for function, _ in calls]


def prepare(hooks: DestinationHooks, settings: Settings, state: dict[str, Any], encoder: WireEncoder,
            records: list[SpanRecord], errors: list[str]) -> tuple[bytes | None, int, int]:
    """The adapter's ``map_attributes`` and ``process_batch`` hooks, then the request's bytes:
    ``(body or None when no span is left, spans in it, spans dropped)``. A hook that raises is
    reported in ``errors``."""
    mapped: list[SpanRecord] = []
    direct = _direct_map(hooks)
    for span in records:
        try:
            if direct is None:
                hooks.map_attributes(span=span, settings=settings, state=state)
            else:
                for function in direct:
                    function(span, settings, state)
            mapped.append(span)
        except Exception as exc:
            errors.append(redact_text(f"{hooks.adapter} map_attributes: {exc!r}"))
    try:
        hooks.process_batch(spans=mapped, settings=settings, state=state)
    except Exception as exc:
        errors.append(redact_text(f"{hooks.adapter} process_batch: {exc!r}"))
    return (encoder.encode(mapped) if mapped else None), len(mapped), len(records) - len(mapped)
