"""Offload mode: the export pipeline in a child process (``create_exporter(offload=True)``).

In one interpreter the agent's thread pays for all of agent-otlp's background Python work
(the GIL). In offload mode the agent process does the minimum and a child process (the same
Python, started with :mod:`subprocess`, never forked) runs the normal in-process exporter:

* agent thread: the SDK callbacks copy the span's fields into a tuple (``span_data.export()``
  included; response spans and anything unusual are sent in the SDK's export format) and
  append it to the open batch; every :data:`FRAME` entries, one ``marshal.dumps`` turns the
  batch into a compact frame: the same memory holds several times more spans as frames than
  as tuples, so a burst is absorbed instead of throttling the agent (measured: a version
  holding 4,096 tuples for the writer thread to marshal cost 36 µs/span in the benchmark's
  burst, 8 MB of frames 8.6 µs; ``docs/performance.md``).
* writer thread (agent process): writes the frames, length-prefixed, to the child's stdin
  (the GIL is released while it writes), and frames a partial batch at most 50 ms old.
* child: reads the frames and feeds them into an :class:`AgentExporter` built by
  ``create_exporter`` from the same arguments and the same environment snapshot. The
  configuration (secrets included) travels over the pipe, never on the command line. The
  child answers flush, stats and shutdown requests on a second pipe; its stdout and stderr
  are the agent's.

Backpressure (same policy as the in-process intake, ``docs/performance.md``): frames waiting
for the pipe hold at most ``max_pending_bytes`` (:data:`MAX_PENDING_BYTES`, plus one open
batch of :data:`FRAME` entries); beyond that the agent waits for room at most :data:`~agent_otlp.core.exporter.INTAKE_WAIT` seconds, then
drops and counts (``dropped_intake_full``), and for
:data:`~agent_otlp.core.exporter.INTAKE_COOLDOWN` seconds drops at once without waiting.

If the child dies, the parent notices (broken pipe or end of the reply pipe), logs once, and
falls back to in-process export for the rest of its life: an in-process exporter is built
from the same configuration and everything still queued is fed to it. Spans the child had
received but not delivered are lost; their upper bound is counted as
``offload.possibly_lost_in_child`` (spans sent since the last flush the child confirmed).

POSIX only (the reply pipe is passed as an inherited descriptor).
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import itertools
import json
import logging
import marshal
import os
import pickle
import subprocess
import sys
import threading
import time
import weakref
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from agent_otlp.core.destination import FlushResult
from agent_otlp.core.errors import ConfigError, InputError
from agent_otlp.core.exporter import (
    AgentExporter,
    FlushReport,
    Room,
    _shutdown_at_exit,
    sdk_span_item,
)
from agent_otlp.core.offload_child import (
    _END_ALL,
    _END_TRACE,
    _FLUSH,
    _IDLE,
    _ITEM,
    _SHUTDOWN,
    _SPAN,
    _SPAN_ITEM,
    _STATS,
    _TRACE_END,
    _TRACE_START,
    HEADER,
    OffloadConfig,
    feed,
    read_frame,
)
from agent_otlp.core.records import parse_item
from agent_otlp.core.retry import CircuitBreaker
from agent_otlp.core.stats import ExporterStats

__all__ = ["MAX_PENDING_BYTES", "GroupStats", "OffloadConfig", "OffloadExporter", "OffloadGroup"]

logger = logging.getLogger("agent_otlp.offload")

#: Bytes of frames that may wait for the pipe in the agent process (about 30,000 spans
#: without content); the pipe itself holds 1 MB more on Linux.
MAX_PENDING_BYTES: Final = 8_000_000
#: Entries per frame written to the child.
FRAME: Final = 256
#: Seconds ``create_exporter(offload=True)`` waits for the child to be ready.
START_TIMEOUT: Final = 30.0
#: Seconds a stats or pending request waits for the child's answer.
STATS_TIMEOUT: Final = 5.0
# --- agent side: cheap extraction --------------------------------------------------------


def span_entry(span: Any, capture_content: bool) -> tuple[Any, ...]:
    """A live SDK span as a marshal-able tuple (the fields :func:`sdk_span_record` reads)."""
    span_id = span.span_id
    trace_id = span.trace_id
    parent_id = span.parent_id
    error = span.error
    if (
        type(span_id) is str
        and type(trace_id) is str
        and (parent_id is None or type(parent_id) is str)
        and (error is None or type(error) is dict)
        and getattr(span, "trace_metadata", None) is None
    ):
        data_object = span.span_data
        if getattr(data_object, "metadata", None) is None:
            data = data_object.export()
            if type(data) is dict and type(data.get("type")) is str and data["type"] != "response":
                return (_SPAN, span_id, trace_id, parent_id, span.started_at, span.ended_at,
                        data, error)
    return (_SPAN_ITEM, sdk_span_item(span, capture_content))


def _dump(entries: list[Any]) -> bytes:
    try:
        return marshal.dumps(entries)
    except ValueError:  # an object marshal cannot write: its JSON form instead
        return marshal.dumps(json.loads(json.dumps(entries, default=str)))


# --- child side (and the in-process fallback): entries into an AgentExporter ------------


# --- agent side: the exporter facade -------------------------------------------------------


@dataclass
class OffloadStats(ExporterStats):
    """Counters of the agent process (``dropped_intake_full``, ``invalid_items``: drops
    here); :meth:`snapshot` adds them to the child's. ``destinations`` stays empty: the
    destinations' counters are in the snapshot."""

    owner: Any = field(default=None, repr=False, compare=False)
    sent_spans: int = 0
    possibly_lost_in_child: int = 0
    child_lost: bool = False
    child_maxrss_kb: int = 0

    def snapshot(self) -> dict[str, Any]:
        """The child's statistics (a round trip, at most :data:`STATS_TIMEOUT`) with the
        agent process's drops added, and the offload counters under ``offload``."""
        owner: OffloadExporter = self.owner
        base = owner._child_snapshot()
        data = dict(base)
        data["dropped_intake_full"] = data.get("dropped_intake_full", 0) + self.dropped_intake_full
        data["invalid_items"] = data.get("invalid_items", 0) + self.invalid_items
        data["offload"] = {
            "mode": "in-process fallback" if owner._fallback is not None else "child process",
            "child_pid": owner.child_pid,
            "processes": 1,
            "child_pids": [owner.child_pid],
            "queued": owner._queued(),
            "pending_bytes": owner._pending_bytes,
            "dropped_intake_full": self.dropped_intake_full,
            "invalid_items": self.invalid_items,
            "sent_spans": self.sent_spans,
            "child_lost": self.child_lost,
            "possibly_lost_in_child": self.possibly_lost_in_child,
            "child_maxrss_kb": self.child_maxrss_kb,
        }
        return data


_EMPTY_SNAPSHOT: Final[dict[str, Any]] = {
    "received_items": 0, "converted_spans": 0, "invalid_items": 0, "dropped_intake_full": 0,
    "last_input_error": "", "destinations": {},
}


class OffloadExporter(AgentExporter):
    """The agent-side face of an exporter running in a child process.

    An :class:`AgentExporter` for its callers: the SDK callbacks, ``submit_items``,
    ``end_trace``, ``end_all_traces``, ``set_trace_idle_timeout``, ``force_flush``,
    ``shutdown``, ``pending``, ``is_full`` and ``stats.snapshot()`` are overridden; the
    base class's state is never built (no dispatcher thread here). ``destinations`` is empty
    and ``store`` is ``None`` in this process: both live in the child.
    """

    def __init__(  # the base class's __init__ is deliberately not called
        self,
        config: OffloadConfig,
        *,
        capture_content: bool = False,
        max_pending_bytes: int = MAX_PENDING_BYTES,
        exit_timeout: float = 10.0,
        start_timeout: float = START_TIMEOUT,
    ) -> None:
        self.destinations = []
        self.store = None
        self._config = config
        self._capture = capture_content
        self._max_bytes = max_pending_bytes
        self._exit_timeout = exit_timeout
        self.stats: OffloadStats = OffloadStats(owner=self)
        self._entries: list[Any] = []  # the open batch
        self._batch_lock = threading.Lock()
        #: frames to write: (bytes with header, spans, data entries, data entries sealed so
        #: far including this frame's)
        self._frames: deque[tuple[bytes, int, int, int]] = deque()
        self._sealed_entries = 0
        #: Data entries sealed before the last request the child answered: the child has
        #: read them (a frame the writer has not yet let go of no longer counts as queued).
        self._entries_seen = 0
        self._pending_bytes = 0
        self._sealed_spans = 0
        self._wake = threading.Event()
        self._room = Room()
        self._closed = False
        self._stopping = False
        self._lock = threading.Lock()
        self._lost_lock = threading.Lock()
        self._fallback: AgentExporter | None = None
        self._replies: dict[int, Any] = {}
        self._reply_done = threading.Condition()
        self._reply_eof = False
        self._tickets = itertools.count(1)
        self._flush_marks: dict[int, int] = {}
        self._confirmed = 0
        self._last_snapshot: dict[str, Any] = dict(_EMPTY_SNAPSHOT)
        self._last_pending = 0
        self.child_pid: int | None = None
        self._child: subprocess.Popen[bytes] | None = None
        self._start(start_timeout)
        self._writer = threading.Thread(target=self._write_loop, name="agent-otlp-offload-writer",
                                        daemon=True)
        self._writer.start()
        self._at_exit = functools.partial(_shutdown_at_exit, weakref.ref(self))
        atexit.register(self._at_exit)

    # --- child process ---------------------------------------------------------------------

    def _start(self, timeout: float) -> None:
        read_fd, write_fd = os.pipe()
        env = dict(os.environ)
        package_root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
        code = "import sys; from agent_otlp.core.offload_child import child_main; child_main(int(sys.argv[1]))"
        try:
            child = subprocess.Popen(
                [sys.executable, "-c", code, str(write_fd)],
                stdin=subprocess.PIPE, pass_fds=(write_fd,), env=env, close_fds=True,
            )
        except OSError as exc:
            os.close(read_fd)
            logger.warning("agent-otlp: cannot start the export process (%s); exporting "
                           "in-process", exc)
            self._stopping = True
            self._fallback = self._config.create()
            return
        finally:
            os.close(write_fd)
        self._child, self.child_pid = child, child.pid
        assert child.stdin is not None
        self._fd = child.stdin.fileno()
        with contextlib.suppress(OSError, ImportError):
            import fcntl

            fcntl.fcntl(self._fd, 1031, 1 << 20)  # F_SETPIPE_SZ: 1 MB pipe buffer (Linux)
        self._replies_in = os.fdopen(read_fd, "rb")
        self._reader = threading.Thread(target=self._read_loop, name="agent-otlp-offload-reader",
                                        daemon=True)
        self._reader.start()
        config = pickle.dumps(self._config)
        with contextlib.suppress(OSError):  # the reader reports the child's end
            self._write(HEADER.pack(len(config)) + config)
        answer = self._wait_reply(0, time.monotonic() + timeout)
        if isinstance(answer, tuple) and answer[0] == "ready":
            return
        self._stopping = True
        self._kill_child()
        if isinstance(answer, tuple) and answer[0] == "error":
            raise ConfigError("offload", True, f"the export process could not start: {answer[1]}")
        logger.warning("agent-otlp: the export process did not start; exporting in-process")
        self._fallback = self._config.create()

    def _kill_child(self) -> None:
        child = self._child
        if child is None:
            return
        with contextlib.suppress(OSError):
            if child.stdin is not None:
                child.stdin.close()
        try:
            child.wait(2.0)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(2.0)

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view):]

    def _read_loop(self) -> None:
        stream = self._replies_in
        while True:
            try:
                frame = read_frame(stream)
                if frame is None:
                    break
                ticket, payload = pickle.loads(frame)  # noqa: S301 - from our child
            except Exception:  # a broken reply pipe counts as the child's end
                break
            with self._reply_done:
                self._replies[ticket] = payload
                self._reply_done.notify_all()
        with self._reply_done:
            self._reply_eof = True
            self._reply_done.notify_all()
        if not self._stopping:
            self._child_lost()

    def _wait_reply(self, ticket: int, deadline: float) -> Any:
        with self._reply_done:
            self._reply_done.wait_for(
                lambda: ticket in self._replies or self._reply_eof,
                max(0.0, deadline - time.monotonic()),
            )
            return self._replies.pop(ticket, None)

    def _child_lost(self) -> None:
        """The child died: log once, count, and export in-process from now on."""
        with self._lost_lock:
            if self._fallback is not None or self.stats.child_lost:
                return
            self.stats.child_lost = True
            self.stats.possibly_lost_in_child = self.stats.sent_spans - self._confirmed
            code = self._child.poll() if self._child is not None else None
            logger.warning(
                "agent-otlp: the export process (pid %s) ended unexpectedly (exit code %s); "
                "up to %d spans it had received are lost; exporting in-process from now on",
                self.child_pid, code, self.stats.possibly_lost_in_child,
            )
            try:
                self._fallback = self._config.create()
            except Exception:
                logger.exception("agent-otlp: in-process fallback failed; spans are dropped")
        with self._reply_done:
            self._reply_eof = True
            self._reply_done.notify_all()
        self._wake.set()

    # --- writer thread -----------------------------------------------------------------------

    def _seal(self) -> None:
        """The open batch becomes a frame (caller holds ``_batch_lock``)."""
        entries = self._entries
        if not entries:
            return
        self._entries = []
        frame = _dump(entries)
        spans = data = 0
        flushes: list[int] = []
        for entry in entries:  # one pass: spans, data entries, flush requests
            kind = entry[0]
            if kind < _FLUSH:
                data += 1
                spans += kind <= _SPAN_ITEM
            elif kind == _FLUSH:
                flushes.append(entry[1])
        self._sealed_spans += spans
        self._sealed_entries += data
        for ticket in flushes:  # spans this flush covers: confirmed when it succeeds
            self._flush_marks[ticket] = self._sealed_spans
        self._frames.append((HEADER.pack(len(frame)) + frame, spans, data, self._sealed_entries))
        self._pending_bytes += len(frame)
        self._wake.set()

    def _queued(self) -> int:
        """Data entries not yet read by the child (as far as this process knows)."""
        seen = self._entries_seen
        waiting = sum(f[2] for f in list(self._frames) if f[3] > seen)
        return sum(1 for e in list(self._entries) if e[0] < _FLUSH) + waiting

    def _write_loop(self) -> None:
        frames = self._frames
        while True:
            if not self._wake.wait(0.05) or self._stopping:  # a quiet moment: partial batch
                with self._batch_lock:
                    self._seal()
            self._wake.clear()
            while frames:
                frame, spans, _, _ = frames[0]
                self._send(frame, spans)
                with self._batch_lock:
                    frames.popleft()
                    self._pending_bytes -= len(frame) - HEADER.size
                self._room.notify()
            self._room.notify()
            if self._stopping and not frames and not self._entries:
                return

    def _send(self, frame: bytes, spans: int) -> None:
        if self._fallback is None and not self.stats.child_lost:
            try:
                self._write(frame)
            except OSError:  # broken pipe: the child died; this frame goes to the fallback
                self._child_lost()
            else:
                self.stats.sent_spans += spans
                return
        with self._lost_lock:  # the fallback may be under construction
            fallback = self._fallback
        entries = marshal.loads(memoryview(frame)[HEADER.size:])  # noqa: S302 - our own
        if fallback is None:
            self.stats.dropped_intake_full += sum(1 for e in entries if e[0] < _FLUSH)
            return
        feed(fallback, [entry for entry in entries if entry[0] < _FLUSH])

    # --- agent thread: cheap, never raise --------------------------------------------------

    def _enqueue(self, entry: tuple[Any, ...]) -> None:
        if self._closed or (self._pending_bytes >= self._max_bytes and not self._wait_for_room()):
            self.stats.dropped_intake_full += 1
            return
        with self._batch_lock:
            entries = self._entries
            entries.append(entry)
            if len(entries) >= FRAME:
                self._seal()

    def _wait_for_room(self) -> bool:
        if self._closed or threading.current_thread() is self._writer:
            return False
        low = self._max_bytes * 3 // 4
        room = self._room.wait(lambda: self._pending_bytes <= low or self._closed, self._wake.set)
        return room and not self._closed

    def on_sdk_span_end(self, span: Any) -> None:
        fallback = self._fallback
        if fallback is not None:
            fallback.on_sdk_span_end(span)
            return
        try:
            entry = span_entry(span, self._capture)
        except Exception:  # a hostile span object: counted, never raised
            self.stats.invalid_items += 1
            return
        self._enqueue(entry)

    def on_sdk_trace_start(self, trace: Any) -> None:
        self._trace(_TRACE_START, trace)

    def on_sdk_trace_end(self, trace: Any) -> None:
        self._trace(_TRACE_END, trace)

    def _trace(self, kind: int, trace: Any) -> None:
        fallback = self._fallback
        if fallback is not None:
            (fallback.on_sdk_trace_start if kind == _TRACE_START else fallback.on_sdk_trace_end)(trace)
            return
        try:
            entry = (kind, trace.export(), time.time_ns())
        except Exception:
            self.stats.invalid_items += 1
            return
        self._enqueue(entry)

    def submit_items(self, items: Iterable[Any]) -> list[InputError]:
        """Validate items of the SDK's export format (here, for the returned errors) and send
        the valid ones to the child, which validates them again (files are not the path
        this mode is for; it works, at twice the validation cost)."""
        if self._fallback is not None:
            return self._fallback.submit_items(items)
        errors: list[InputError] = []
        for index, item in enumerate(items):
            try:
                parse_item(item)
            except Exception as exc:
                error = exc if isinstance(exc, InputError) else InputError(
                    "item", type(item).__name__, f"unreadable: {exc!r}")
                error.index = index  # type: ignore[attr-defined]
                errors.append(error)
                self.stats.invalid_items += 1
                continue
            self._enqueue((_ITEM, item))
        return errors

    def end_trace(self, trace_id: str) -> None:
        if self._fallback is not None:
            self._fallback.end_trace(trace_id)
        else:
            self._enqueue((_END_TRACE, trace_id))

    def end_all_traces(self) -> None:
        if self._fallback is not None:
            self._fallback.end_all_traces()
        else:
            self._enqueue((_END_ALL,))

    def set_trace_idle_timeout(self, seconds: float) -> None:
        if self._fallback is not None:
            self._fallback.set_trace_idle_timeout(seconds)
        else:
            self._enqueue((_IDLE, seconds))

    def pending(self) -> int:
        """Entries queued here plus the child's backlog (a round trip; the last known value
        when the child does not answer within :data:`STATS_TIMEOUT`)."""
        if self._fallback is not None:
            return self._queued() + self._fallback.pending()
        self._child_snapshot()
        return self._queued() + self._last_pending

    def is_full(self) -> bool:
        """True when new entries would wait or be dropped (frames here at their limit, or
        closed)."""
        if self._fallback is not None:
            return self._fallback.is_full()
        return self._pending_bytes >= self._max_bytes or self._closed

    # --- round trips ---------------------------------------------------------------------------

    def _request(self, kind: int, argument: float | None, deadline: float) -> Any:
        ticket = next(self._tickets)
        with self._batch_lock:
            self._entries.append((kind, ticket) if argument is None else (kind, ticket, argument))
            self._seal()
            sealed = self._sealed_entries
        answer = self._wait_reply(ticket, deadline)
        if answer is not None:  # the child read everything sealed before the request
            self._entries_seen = max(self._entries_seen, sealed)
        mark = self._flush_marks.pop(ticket, None)
        if answer is not None and mark is not None and getattr(answer, "delivered", False):
            self._confirmed = max(self._confirmed, mark)
        return answer

    def _child_snapshot(self) -> dict[str, Any]:
        if self._fallback is not None:
            return self._fallback.stats.snapshot()
        if self._closed or self.stats.child_lost:
            return self._last_snapshot
        answer = self._request(_STATS, None, time.monotonic() + STATS_TIMEOUT)
        if answer is not None:
            self._last_snapshot, self._last_pending, self.stats.child_maxrss_kb = answer
        return self._last_snapshot

    def _drain_fallback(self, deadline: float) -> None:
        """Wait until the writer has handed everything queued to the fallback."""
        room = self._room
        with room.cond:
            room.waiting += 1
            try:
                while (self._frames or self._entries) and time.monotonic() < deadline:
                    self._wake.set()
                    room.cond.wait(min(0.05, max(0.0, deadline - time.monotonic())))
            finally:
                room.waiting -= 1

    def force_flush(self, timeout: float = 30.0) -> FlushReport:
        """Deliver everything queued so far: the child flushes and answers (at most
        ``timeout`` seconds in all)."""
        if self._closed:
            return FlushReport(True, 0)
        deadline = time.monotonic() + timeout
        if self._fallback is None:
            answer = self._request(_FLUSH, _child_timeout(timeout), deadline)
            if isinstance(answer, FlushReport):
                return answer
            if self._fallback is None:
                return FlushReport(False, self._queued() + self._last_pending)
        self._drain_fallback(deadline)
        report = self._fallback.force_flush(max(0.0, deadline - time.monotonic()))
        lost = self.stats.possibly_lost_in_child
        return FlushReport(report.delivered and not lost, report.pending, report.destinations)

    def shutdown(self, timeout: float = 30.0) -> FlushReport:
        """Finalize open traces, deliver, stop the child (joined within ``timeout`` plus a
        few seconds; killed after that). Idempotent."""
        with self._lock:
            if self._closed:
                return FlushReport(True, 0)
            atexit.unregister(self._at_exit)
            deadline = time.monotonic() + timeout
            report: FlushReport | None = None
            # From here the agent's entries are dropped (and counted), the writer stops after
            # the shutdown request and the child's exit is expected.
            self._closed = self._stopping = True
            if self._fallback is None:
                answer = self._request(_SHUTDOWN, _child_timeout(timeout), deadline)
                if answer is not None:
                    report, self._last_snapshot, self.stats.child_maxrss_kb = answer
                    self._last_pending = report.pending
            self._wake.set()
            self._writer.join(max(1.0, deadline - time.monotonic()))
            if self._fallback is not None:
                self._drain_fallback(deadline)
                with self._batch_lock:
                    self._seal()
                while self._frames:  # the writer did not finish in time: feed them here
                    frame, spans, _, _ = self._frames.popleft()
                    self._send(frame, spans)
                report = self._fallback.shutdown(max(0.0, deadline - time.monotonic()))
                if self.stats.possibly_lost_in_child:
                    report = FlushReport(False, report.pending, report.destinations)
            self._kill_child()
            self._reader.join(1.0)
            with self._room.cond:
                self._room.cond.notify_all()
        if report is None:
            logger.warning("agent-otlp: the export process did not confirm its shutdown")
            return FlushReport(False, self._queued() + self._last_pending)
        return report


def _child_timeout(timeout: float) -> float:
    """The child's share of ``timeout``: it must answer before the agent process gives up."""
    return max(0.0, timeout - min(0.5, timeout * 0.1))


# --- several child processes -------------------------------------------------------------


_BREAKER_ORDER: Final = (CircuitBreaker.CLOSED, CircuitBreaker.HALF_OPEN, CircuitBreaker.OPEN)


def _merged(values: list[Any], key: str = "") -> Any:
    """Several children's statistics as one: counts added, the worst breaker state, the
    first error text, mappings merged key by key."""
    first = values[0]
    if isinstance(first, bool):
        return any(values)
    if isinstance(first, int | float):
        return sum(values)
    if isinstance(first, dict):
        keys = dict.fromkeys(k for value in values for k in value)
        return {k: _merged([v[k] for v in values if k in v], k) for k in keys}
    if key == "breaker":
        return max(values, key=lambda v: _BREAKER_ORDER.index(v) if v in _BREAKER_ORDER else 0)
    if isinstance(first, str):
        return next((v for v in values if v), first)
    return first


def _merged_reports(reports: list[FlushReport]) -> FlushReport:
    by_name: dict[str, list[FlushResult]] = {}
    for report in reports:
        for result in report.destinations:
            by_name.setdefault(result.name, []).append(result)
    return FlushReport(
        all(r.delivered for r in reports),
        sum(r.pending for r in reports),
        tuple(
            FlushResult(name, all(r.delivered for r in results), sum(r.pending for r in results))
            for name, results in by_name.items()
        ),
    )


@dataclass
class GroupStats(ExporterStats):
    """The statistics of an :class:`OffloadGroup`: :meth:`snapshot` merges its children's
    (counts added); ``offload`` lists every child's pid and adds their peak memory."""

    owner: Any = field(default=None, repr=False, compare=False)

    def snapshot(self) -> dict[str, Any]:
        lanes: list[OffloadExporter] = self.owner.lanes
        snapshots = [lane.stats.snapshot() for lane in lanes]
        data: dict[str, Any] = _merged(snapshots)
        modes = {s["offload"]["mode"] for s in snapshots}
        data["offload"].update(
            mode="child process" if modes == {"child process"} else "in-process fallback",
            processes=len(lanes),
            child_pid=lanes[0].child_pid,
            child_pids=[lane.child_pid for lane in lanes],
        )
        return data


class OffloadGroup(AgentExporter):
    """Offload mode over several child processes (``create_exporter(offload=N)``).

    Each trace belongs to one child, chosen by its id, so every child sees whole traces
    (its workflow span, its open-trace bookkeeping) and the children need nothing from each
    other. Each child is an :class:`OffloadExporter` with its own pipe and writer thread;
    flush and shutdown go to all of them at once and their reports are merged. More than
    one child pays off when one child's Python cannot keep up with the agent: with two
    children the export is bounded by the machine's free cores instead of one core
    (``docs/performance.md``). Not with the span store (it has one writer).
    """

    def __init__(self, lanes: list[OffloadExporter]) -> None:  # the base __init__ is not called
        self.destinations = []
        self.store = None
        self.lanes = lanes
        self._count = len(lanes)
        self._exit_timeout = max(lane._exit_timeout for lane in lanes)
        self.stats: GroupStats = GroupStats(owner=self)
        self.child_pid = lanes[0].child_pid
        # One exit callback for all: the children are stopped at once, not one after another.
        for lane in lanes:
            atexit.unregister(lane._at_exit)
        self._at_exit = functools.partial(_shutdown_at_exit, weakref.ref(self))
        atexit.register(self._at_exit)

    def _lane(self, trace_id: Any) -> OffloadExporter:
        try:
            return self.lanes[hash(trace_id) % self._count]
        except Exception:  # an unhashable id: any child reports the bad item
            return self.lanes[0]

    def _lane_of(self, sdk_object: Any) -> OffloadExporter:
        """The child for an SDK span or trace (a hostile object's child reports it)."""
        try:
            return self._lane(sdk_object.trace_id)
        except Exception:
            return self.lanes[0]

    def on_sdk_span_end(self, span: Any) -> None:
        self._lane_of(span).on_sdk_span_end(span)

    def on_sdk_trace_start(self, trace: Any) -> None:
        self._lane_of(trace).on_sdk_trace_start(trace)

    def on_sdk_trace_end(self, trace: Any) -> None:
        self._lane_of(trace).on_sdk_trace_end(trace)

    def submit_items(self, items: Iterable[Any]) -> list[InputError]:
        """Items go to the child of their trace (``trace_id``, or ``id`` for a trace item);
        the errors' ``index`` is the position in ``items``."""
        parts: dict[OffloadExporter, tuple[list[Any], list[int]]] = {}
        for index, item in enumerate(items):
            trace_id = None
            if isinstance(item, dict):
                trace_id = item.get("id") if item.get("object") == "trace" else item.get("trace_id")
            batch, positions = parts.setdefault(self._lane(trace_id), ([], []))
            batch.append(item)
            positions.append(index)
        errors: list[InputError] = []
        for lane, (batch, positions) in parts.items():
            for error in lane.submit_items(batch):
                error.index = positions[getattr(error, "index", 0)]  # type: ignore[attr-defined]
                errors.append(error)
        return sorted(errors, key=lambda e: getattr(e, "index", 0))

    def end_trace(self, trace_id: str) -> None:
        self._lane(trace_id).end_trace(trace_id)

    def end_all_traces(self) -> None:
        for lane in self.lanes:
            lane.end_all_traces()

    def set_trace_idle_timeout(self, seconds: float) -> None:
        for lane in self.lanes:
            lane.set_trace_idle_timeout(seconds)

    def pending(self) -> int:
        return sum(lane.pending() for lane in self.lanes)

    def is_full(self) -> bool:
        return any(lane.is_full() for lane in self.lanes)

    def _all(self, call: Any) -> FlushReport:
        """``call(lane)`` for every child at once (each bounded by its own timeout)."""
        reports: list[FlushReport | None] = [None] * self._count

        def run(index: int) -> None:
            try:
                reports[index] = call(self.lanes[index])
            except Exception:  # never into the agent's code; the report says not delivered
                logger.exception("agent-otlp: export process %d of %d", index + 1, self._count)

        threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(1, self._count)]
        for thread in threads:
            thread.start()
        run(0)
        for thread in threads:
            thread.join()
        return _merged_reports([r if r is not None else FlushReport(False, 0) for r in reports])

    def force_flush(self, timeout: float = 30.0) -> FlushReport:
        return self._all(lambda lane: lane.force_flush(timeout))

    def shutdown(self, timeout: float = 30.0) -> FlushReport:
        atexit.unregister(self._at_exit)
        return self._all(lambda lane: lane.shutdown(timeout))
