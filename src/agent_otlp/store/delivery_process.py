"""Delivery from the span store in a process of its own, as the writer process sees it.

The writer (``agent-otlp serve --store`` with ``AGENT_OTLP_DELIVERY=process``) only reads,
validates, assembles traces and commits; a delivery process (:mod:`agent_otlp.store.
delivery_child`: the same Python, started with :mod:`subprocess`, never forked) runs the
destinations from their cursors: reads the store, converts, encodes, sends. The two share
the work of two cores, where one process shares one interpreter lock.

:class:`DeliveryProcess` starts it, wakes it after each commit (a line on its stdin holding
the last committed seq; it also looks at the store every few tenths of a second), writes the
cursor moves it reports (with the next commit: the store keeps one writer), starts it again
when it dies (logged, and said in each destination's ``last_error``) and stops it with the
exporter. :class:`RemoteDestination` stands for one of its destinations in the writer's
exporter: its counters, breaker state and queue depth are the delivery process's, reported
every :data:`~agent_otlp.store.delivery_child.STATS_EVERY` seconds, so ``/healthz``,
``/metrics`` and ``agent-otlp status`` report what the delivery process does.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pickle
import struct
import subprocess
import sys
import threading
import time
from typing import IO, Any, Final

from agent_otlp.core.config.errors import ConfigError
from agent_otlp.core.config.settings import Settings
from agent_otlp.core.pipeline.destination import SLOW_REQUEST, FlushResult
from agent_otlp.core.pipeline.stats import DestinationStats
from agent_otlp.store.delivery_child import DeliveryConfig
from agent_otlp.store.sqlite import SpanStore

__all__ = ["DeliveryProcess", "RemoteDestination"]

logger = logging.getLogger("agent_otlp.store")

_CHILD_CODE = "import sys; from agent_otlp.store.delivery_child import main; main(sys.argv[1:])"
#: Seconds the delivery process may take to build its destinations and say it is ready.
START_TIMEOUT: Final = 60.0
#: Longest pause before starting a delivery process that died again, in seconds.
MAX_RESTART_DELAY: Final = 5.0
_COUNTERS: Final = ("received", "exported", "retries", "failed_batches", "requests", "breaker_opened")


class DeliveryProcess:
    """The delivery process of one store (see the module doc).

    :param build: ``module:function`` the delivery process builds its destinations with,
        from ``config`` and its own handle on the store.
    """

    def __init__(self, store: SpanStore, config: DeliveryConfig, build: str) -> None:
        self.store = store
        self.config = config
        self.build = build
        self.destinations: dict[str, RemoteDestination] = {}
        #: times the delivery process was started again after it died
        self.restarts = 0
        #: notified on every report (progress, flushes, the end of the process)
        self.changed = threading.Condition()
        self.alive = False
        self.pid = 0
        self._ready = False
        self._error: str | None = None
        self._stopping = False
        self._closed: dict[str, int] | None = None
        self._flushes: dict[tuple[int, int], tuple[bool, int]] = {}
        self._popen: subprocess.Popen[bytes] | None = None
        self._fd = -1
        self._reader: threading.Thread | None = None

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Start the delivery process and wait until its destinations are built.

        :raises ConfigError: it could not start, or could not build its destinations."""
        self._spawn()
        deadline = time.monotonic() + START_TIMEOUT
        with self.changed:
            while not self._ready and self._error is None and self.alive and time.monotonic() < deadline:
                self.changed.wait(0.1)
            ready, error = self._ready, self._error
        if not ready:
            self.stop(1.0)
            raise ConfigError("delivery", "process", error or "the delivery process did not start")

    def _spawn(self) -> None:
        read_fd, write_fd = os.pipe()
        try:
            popen = subprocess.Popen(
                [sys.executable, "-c", _CHILD_CODE, str(write_fd), self.build],
                stdin=subprocess.PIPE, pass_fds=(write_fd,), close_fds=True,
            )
        except OSError as exc:
            os.close(read_fd)
            raise ConfigError("delivery", "process", f"cannot start the delivery process: {exc}") from None
        finally:
            os.close(write_fd)
        assert popen.stdin is not None
        config = pickle.dumps(self.config)
        popen.stdin.write(struct.pack(">Q", len(config)) + config)
        popen.stdin.flush()
        self._fd = popen.stdin.fileno()
        os.set_blocking(self._fd, False)  # a wake never blocks a commit
        with self.changed:
            self._popen, self.pid, self.alive, self._ready = popen, popen.pid, True, False
        replies = os.fdopen(read_fd, "rb")
        self._reader = threading.Thread(target=self._read_loop, args=(popen, replies),
                                        name="agent-otlp-delivery-reader", daemon=True)
        self._reader.start()

    def stop(self, timeout: float) -> dict[str, int]:
        """Stop the delivery process (its destinations finish the request they are sending)
        and write its last cursor moves; returns the spans each destination left in the
        store. Idempotent."""
        with self.changed:
            self._stopping = True
            closed, popen = self._closed, self._popen
        if closed is not None or popen is None:
            return closed or {}
        self._command(b"q\n", time.monotonic() + 1.0)
        reader = self._reader
        if reader is not None:
            reader.join(timeout + 6.0)
        if popen.poll() is None:
            popen.kill()
            popen.wait(5.0)
        with contextlib.suppress(OSError):
            assert popen.stdin is not None
            popen.stdin.close()
        with self.changed:
            self._closed = self._closed if self._closed is not None else {}
            return self._closed

    # --- the writer's side ---------------------------------------------------------------

    def wake(self, last_seq: int) -> None:
        """Items are committed up to ``last_seq`` (never blocks: a full pipe is skipped, the
        delivery process looks at the store anyway)."""
        with contextlib.suppress(OSError):
            os.write(self._fd, b"w %d\n" % last_seq)

    def request_flush(self, ticket: int, index: int) -> None:
        self._command(b"f %d %d\n" % (ticket, index), time.monotonic() + 1.0)

    def flush_result(self, ticket: int, index: int, deadline: float) -> tuple[bool, int] | None:
        """``(delivered, pending)`` of flush ``ticket`` of destination ``index``, or
        ``None`` when it did not end by ``deadline`` (or the process died)."""
        with self.changed:
            while (ticket, index) not in self._flushes:
                left = deadline - time.monotonic()
                if left <= 0 or not self.alive:
                    return None
                self.changed.wait(min(left, 0.1))
            return self._flushes.pop((ticket, index))

    def _command(self, line: bytes, deadline: float) -> None:
        while True:
            try:
                os.write(self._fd, line)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return
                time.sleep(0.001)
            except OSError:  # the process is gone: nothing to tell
                return

    # --- reports -------------------------------------------------------------------------

    def _read_loop(self, popen: subprocess.Popen[bytes], replies: IO[bytes]) -> None:
        with replies:
            for line in replies:
                try:
                    self._handle(json.loads(line))
                except Exception:  # a bad report must not stop the reader
                    logger.exception("agent-otlp: bad report from the delivery process")
        popen.wait()
        with self.changed:
            self.alive = False
            stopping = self._stopping
            self.changed.notify_all()
        if not stopping:
            self._died(popen)

    def _handle(self, message: dict[str, Any]) -> None:
        if "m" in message:
            name, seq, delivered, failed = message["m"]
            self.store.advance(name, seq, delivered=delivered, failed=failed)
            remote = self.destinations.get(name)
            if remote is None or not remote.moved(seq):
                return  # nobody waiting for it can go on yet
        elif "s" in message:
            for name, data in message["s"].items():
                remote = self.destinations.get(name)
                if remote is not None:
                    remote.update(data)
        elif "f" in message:
            ticket, index, delivered, pending = message["f"]
            self._flushes[(ticket, index)] = (bool(delivered), int(pending))
        elif "c" in message:
            self._closed = {str(k): int(v) for k, v in message["c"].items()}
        elif "ready" in message:
            self._ready = True
        elif "error" in message:
            self._error = str(message["error"])
            logger.error("agent-otlp: delivery process: %s", self._error)
        with self.changed:
            self.changed.notify_all()

    def _died(self, popen: subprocess.Popen[bytes]) -> None:
        """The delivery process ended while not asked to: say so, start it again."""
        self.restarts += 1
        note = (f"the delivery process (pid {popen.pid}) ended with exit status "
                f"{popen.returncode}; started again ({self.restarts} restarts)")
        logger.error("agent-otlp: %s", note)
        for remote in self.destinations.values():
            remote.child_died(note)
        delay = min(0.1 * 2 ** min(self.restarts, 8), MAX_RESTART_DELAY)
        deadline = time.monotonic() + delay
        with self.changed:
            while not self._stopping and time.monotonic() < deadline:
                self.changed.wait(0.05)
            if self._stopping:
                return
        try:
            self._spawn()
        except ConfigError as exc:
            logger.error("agent-otlp: %s", exc)


class RemoteDestination:
    """One destination of the delivery process, in the writer's exporter: what the
    exporter asks of a destination (:class:`~agent_otlp.core.pipeline.destination.Target`),
    answered from the delivery process's reports."""

    #: records converted by the writer would not reach the delivery process
    converts_ahead = False

    def __init__(self, settings: Settings, process: DeliveryProcess, index: int, *,
                 samples_traces: bool) -> None:
        self.settings = settings
        self.name = settings.name
        self.stats = DestinationStats(settings.name)
        self.samples_traces = samples_traces
        self._process = process
        self._index = index
        store = process.store
        #: created now when new: nothing the writer commits from now on is skipped
        self.cursor = store.cursor(self.name)
        self.latest = max(store.last_seq(), self.cursor)
        self._moved_at = time.monotonic()
        self._base: dict[str, Any] = {}
        #: drops counted here (the writer could not store them), and the drops last shown
        self._writer_dropped: dict[str, int] = {}
        self._shown_dropped: dict[str, int] = {}
        self._note = ""
        self._ticket = 0
        process.destinations[self.name] = self

    @property
    def pending(self) -> int:
        """Spans committed and not delivered yet (after the delivery process's cursor)."""
        if self.latest <= self.cursor:
            return 0
        return self._process.store.count(after=self.cursor, deliverable=True)

    @property
    def high_water(self) -> int:
        """Higher than a destination's in the writer's process (at least 10,000 rows): the
        delivery process reads the file whether it is behind or not, so the mark only bounds
        how far behind it may be."""
        return min(self.settings.max_queue_size, max(10 * self.settings.batch_size, 10_000))

    def wait_below_high_water(self, deadline: float) -> None:
        """Wait (until ``deadline``) while more than :attr:`high_water` items are after the
        cursor and the delivery process delivers at full speed: never while its breaker is
        not closed, nor when its cursor did not move for :data:`SLOW_REQUEST` seconds."""
        limit = self.high_water
        process = self._process
        with process.changed:
            while self.latest - self.cursor > limit:
                now = time.monotonic()
                if (not process.alive or self.stats.breaker != "closed" or now >= deadline
                        or now - self._moved_at > SLOW_REQUEST):
                    return
                process.changed.wait(0.005)

    def notify_stored(self, last_seq: int, committed: Any = None) -> None:
        """Items are committed up to ``last_seq`` (the process is woken once their writers
        are answered: :meth:`DeliveryProcess.wake`, called by the store's committer)."""
        self.latest = max(self.latest, last_seq)

    @property
    def process(self) -> DeliveryProcess:
        return self._process

    def put(self, spans: list[Any]) -> None:
        """Not used: the delivery process reads the store."""
        self.stats.drop("queue_full", len(spans))

    def end_trace(self, source_trace_id: str) -> None:
        return None

    def request_flush(self) -> int:
        self._ticket += 1
        self._process.request_flush(self._ticket, self._index)
        return self._ticket

    def wait_flush(self, ticket: int, deadline: float) -> FlushResult:
        result = self._process.flush_result(ticket, self._index, deadline)
        if result is None:
            return FlushResult(self.name, False, self.pending)
        return FlushResult(self.name, result[0], result[1])

    def flush(self, timeout: float) -> FlushResult:
        return self.wait_flush(self.request_flush(), time.monotonic() + timeout)

    def close(self, result: FlushResult, timeout: float = 1.0) -> FlushResult:
        left = self._process.stop(timeout)
        pending = left.get(self.name, self.pending)
        self.stats.queue_depth = 0
        return FlushResult(self.name, result.delivered and pending == 0, pending)

    # --- reports of the delivery process -------------------------------------------------

    def moved(self, seq: int) -> bool:
        """The cursor moved to ``seq``; returns whether it is below the high-water mark now
        (the writers waiting for it may go on)."""
        if seq > self.cursor:
            self.cursor = seq
        self._moved_at = time.monotonic()
        return self.latest - self.cursor <= self.high_water

    def update(self, data: dict[str, Any]) -> None:
        """The delivery process's counters (added to those of processes before a restart)."""
        stats, base = self.stats, self._base
        for key in _COUNTERS:
            setattr(stats, key, base.get(key, 0) + int(data.get(key, 0)))
        writer = self._writer_dropped
        for reason, count in stats.dropped.items():  # counted by the writer since the last report
            writer[reason] = writer.get(reason, 0) + count - self._shown_dropped.get(reason, 0)
        dropped = dict(writer)
        for source in (base.get("dropped", {}), data.get("dropped", {})):
            for reason, count in source.items():
                dropped[reason] = dropped.get(reason, 0) + int(count)
        stats.dropped, self._shown_dropped = dropped, dict(dropped)
        stats.queue_depth = int(data.get("queue_depth", 0))
        stats.breaker = str(data.get("breaker", "closed"))
        stats.last_error = str(data.get("last_error") or self._note)

    def problem(self) -> str | None:
        process = self._process
        if process.alive:
            return None
        return f"the delivery process is not running ({process.restarts} restarts)"

    def child_died(self, note: str) -> None:
        """The delivery process died: its counters so far become the base of the next one's."""
        stats = self.stats
        self._base = {key: getattr(stats, key) for key in _COUNTERS}
        writer = self._writer_dropped
        self._base["dropped"] = {reason: count - writer.get(reason, 0) for reason, count in stats.dropped.items()}
        self._note = stats.last_error = note
