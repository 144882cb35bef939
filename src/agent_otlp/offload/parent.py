"""Offload mode: the export pipeline in a child process (``create_exporter(offload=True)``).

In one interpreter the agent's thread pays for all of agent-otlp's background Python work
(the GIL). In offload mode the agent process does the minimum and a child process (the same
Python, started with :mod:`subprocess`, never forked) runs the normal in-process exporter:

* agent thread: the SDK callbacks copy the span's fields into a tuple (the shared fast path
  of :mod:`agent_otlp.core.convert.sdk`; response spans and anything unusual are sent in
  the SDK's export format) and append it to the open batch; every
  :data:`~agent_otlp.offload.writer.FRAME` entries, one ``marshal.dumps`` turns the batch
  into a compact frame: the same memory holds several times more spans as frames than as
  tuples, so a burst is absorbed instead of throttling the agent (measured: a version
  holding 4,096 tuples for the writer thread to marshal cost 36 µs/span in the benchmark's
  burst, 8 MB of frames 8.6 µs; ``docs/performance.md``).
* writer thread (agent process, :mod:`agent_otlp.offload.writer`): writes the frames,
  length-prefixed, to the child's stdin (the GIL is released while it writes), and frames a
  partial batch at most 50 ms old.
* child (:mod:`agent_otlp.offload.child`): reads the frames and feeds them into an
  :class:`~agent_otlp.core.pipeline.exporter.AgentExporter` built by ``create_exporter`` from the
  same arguments and the same environment snapshot. The configuration (secrets included)
  travels over the pipe, never on the command line. The child answers flush, stats and
  shutdown requests on a second pipe; its stdout and stderr are the agent's. The wire is
  :mod:`agent_otlp.offload.frames`.

Backpressure: frames waiting for the pipe hold at most ``max_pending_bytes``
(:data:`MAX_PENDING_BYTES`), see :mod:`agent_otlp.offload.writer`.

If the child dies, or cannot start, :class:`OffloadExporter` fails over: an in-process
exporter is built from the same configuration, takes every later call, and is fed
everything still queued (:mod:`agent_otlp.offload.lane`). Spans the child had received but
not delivered are lost; their upper bound is counted as ``offload.possibly_lost_in_child``.

POSIX only (the reply pipe is passed as an inherited descriptor).
"""

from __future__ import annotations

import atexit
import functools
import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from agent_otlp.core.config.errors import ConfigError, InputError
from agent_otlp.core.pipeline.api import Exporter, IngestEntry
from agent_otlp.core.pipeline.at_exit import shutdown_at_exit
from agent_otlp.core.pipeline.exporter import FlushReport
from agent_otlp.offload.entries import span_entry
from agent_otlp.offload.frames import OffloadConfig, importable_name
from agent_otlp.offload.lane import STATS_TIMEOUT, ChildLane, LaneCounters
from agent_otlp.offload.process import ChildUnavailable
from agent_otlp.offload.writer import FRAME

__all__ = [
    "FRAME", "MAX_PENDING_BYTES", "START_TIMEOUT", "STATS_TIMEOUT", "OffloadConfig",
    "OffloadExporter", "OffloadStats", "span_entry",
]

logger = logging.getLogger("agent_otlp.offload")

#: Bytes of frames that may wait for the pipe in the agent process (about 30,000 spans
#: without content); the pipe itself holds 1 MB more on Linux.
MAX_PENDING_BYTES: Final = 8_000_000
#: Seconds ``create_exporter(offload=True)`` waits for the child to be ready.
START_TIMEOUT: Final = 30.0

#: Builds the exporter from the configuration: in the child, and in the agent process when it
#: takes over from a child. A module-level function: the child imports it by name.
BuildInProcess = Callable[[OffloadConfig], Exporter]


@dataclass
class OffloadStats(LaneCounters):
    """Counters of the agent process (``dropped_intake_full``, ``invalid_items``: drops
    here); :meth:`snapshot` adds them to the child's. ``destinations`` stays empty: the
    destinations' counters are in the snapshot."""

    owner: Any = field(default=None, repr=False, compare=False)

    def snapshot(self) -> dict[str, Any]:
        """The child's statistics (a round trip, at most :data:`STATS_TIMEOUT`) with the
        agent process's drops added, and the offload counters under ``offload``."""
        owner: OffloadExporter = self.owner
        data = dict(owner._child_snapshot())
        data["dropped_intake_full"] = data.get("dropped_intake_full", 0) + self.dropped_intake_full
        data["invalid_items"] = data.get("invalid_items", 0) + self.invalid_items
        data["offload"] = {
            "mode": "child process" if owner.in_child else "in-process fallback",
            "child_pid": owner.child_pid,
            "processes": 1,
            "child_pids": [owner.child_pid],
            "queued": owner._queued(),
            "pending_bytes": owner._pending_bytes(),
            "dropped_intake_full": self.dropped_intake_full,
            "invalid_items": self.invalid_items,
            "sent_spans": self.sent_spans,
            "child_lost": self.child_lost,
            "possibly_lost_in_child": self.possibly_lost_in_child,
            "child_maxrss_kb": self.child_maxrss_kb,
        }
        return data


class OffloadExporter:
    """An :class:`~agent_otlp.core.pipeline.api.Exporter` whose pipeline runs in a child
    process, failing over to an in-process exporter when the child dies or cannot start.

    Every call goes to the active exporter: the :class:`~agent_otlp.offload.lane.ChildLane`,
    then, after a failover, the in-process one. ``destinations`` is empty and ``store`` is
    ``None`` in this process: both live in the child.
    """

    def __init__(
        self,
        config: OffloadConfig,
        build_in_process: BuildInProcess,
        *,
        capture_content: bool = False,
        max_pending_bytes: int = MAX_PENDING_BYTES,
        exit_timeout: float = 10.0,
        start_timeout: float = START_TIMEOUT,
    ) -> None:
        self.destinations: list[Any] = []
        self.store = None
        self._config = config
        self._build = build_in_process
        self._exit_timeout = exit_timeout
        self._closed = False
        self._lock = threading.Lock()
        self.stats: OffloadStats = OffloadStats(owner=self)
        self._fallback: Exporter | None = None
        self._lane: ChildLane | None = None
        try:
            build = importable_name(build_in_process)
        except ValueError as exc:
            raise ConfigError("build_in_process", build_in_process, str(exc)) from None
        try:
            self._lane = ChildLane(
                config, build, self.stats, self._take_over, capture_content=capture_content,
                max_pending_bytes=max_pending_bytes, start_timeout=start_timeout,
            )
            self._active: ChildLane | Exporter = self._lane
        except ChildUnavailable:
            self._active = self._fallback = build_in_process(config)
        self.child_pid = self._lane.child_pid if self._lane is not None else None
        self._at_exit = functools.partial(shutdown_at_exit, weakref.ref(self))
        atexit.register(self._at_exit)

    @property
    def closed(self) -> bool:
        """True once :meth:`shutdown` has run: new items are dropped."""
        return self._closed

    @property
    def in_child(self) -> bool:
        """True while the child process exports (no failover yet)."""
        return self._fallback is None

    def _take_over(self) -> Exporter | None:
        """Fail over (called once, when the child is gone): the in-process exporter."""
        try:
            fallback = self._build(self._config)
        except Exception:
            logger.exception("agent-otlp: in-process fallback failed; spans are dropped")
            return None
        self._active = self._fallback = fallback
        return fallback

    # --- calls: to the active exporter ---------------------------------------------------------

    def on_sdk_span_end(self, span: Any) -> None:
        self._active.on_sdk_span_end(span)

    def on_sdk_trace_start(self, trace: Any) -> None:
        self._active.on_sdk_trace_start(trace)

    def on_sdk_trace_end(self, trace: Any) -> None:
        self._active.on_sdk_trace_end(trace)

    def submit_items(self, items: Iterable[Any]) -> list[InputError]:
        """Validate items of the SDK's export format (here, for the returned errors) and send
        the valid ones to the child, which validates them again (files are not the path
        this mode is for; it works, at twice the validation cost)."""
        return self._active.submit_items(items)

    def ingest(self, entries: Iterable[IngestEntry]) -> None:
        """Parsed entries, in order (sent to the child in the export format)."""
        self._active.ingest(entries)

    def end_trace(self, trace_id: str) -> None:
        self._active.end_trace(trace_id)

    def end_all_traces(self) -> None:
        self._active.end_all_traces()

    def set_trace_idle_timeout(self, seconds: float) -> None:
        self._active.set_trace_idle_timeout(seconds)

    def set_trace_end_grace(self, seconds: float) -> None:
        self._active.set_trace_end_grace(seconds)

    def is_full(self) -> bool:
        """True when new entries would wait or be dropped (frames here at their limit, or
        closed)."""
        return self._active.is_full()

    def pending(self) -> int:
        """Entries queued here plus the child's backlog (a round trip; the last known value
        when the child does not answer within :data:`STATS_TIMEOUT`)."""
        if self._fallback is None and self._lane is not None:
            return self._lane.pending()
        return self._queued() + self._active.pending()

    # --- state of this process -----------------------------------------------------------------

    def _queued(self) -> int:
        return self._lane.queued() if self._lane is not None else 0

    def _pending_bytes(self) -> int:
        return self._lane.writer.pending_bytes if self._lane is not None else 0

    def _child_snapshot(self) -> dict[str, Any]:
        if self._fallback is not None:
            return self._fallback.stats.snapshot()
        assert self._lane is not None
        return self._lane.child_snapshot()

    # --- lifecycle -----------------------------------------------------------------------------

    def force_flush(self, timeout: float = 30.0) -> FlushReport:
        """Deliver everything queued so far: the child flushes and answers (at most
        ``timeout`` seconds in all)."""
        if self._closed:
            return FlushReport(True, 0)
        deadline = time.monotonic() + timeout
        lane = self._lane
        if self._fallback is None and lane is not None:
            report = lane.flush_child(timeout, deadline)
            if report is not None:
                return report
            if self._fallback is None:  # no answer, and no failover either
                return FlushReport(False, lane.queued() + lane.last_pending)
        fallback = self._fallback
        assert fallback is not None
        if lane is not None:
            lane.writer.drain(deadline)
        return self._count_lost(fallback.force_flush(max(0.0, deadline - time.monotonic())))

    def shutdown(self, timeout: float = 30.0) -> FlushReport:
        """Finalize open traces, deliver, stop the child (joined within ``timeout`` plus a
        few seconds; killed after that). Idempotent."""
        with self._lock:
            if self._closed:
                return FlushReport(True, 0)
            atexit.unregister(self._at_exit)
            deadline = time.monotonic() + timeout
            # From here the agent's entries are dropped (and counted), the writer stops after
            # the shutdown request and the child's exit is expected.
            self._closed = True
            lane = self._lane
            report = lane.shutdown_child(timeout, deadline) if lane is not None else None
            fallback = self._fallback
            if fallback is not None:
                if lane is not None:
                    lane.writer.drain(deadline)
                    lane.writer.send_remaining()  # the writer did not finish in time
                report = self._count_lost(fallback.shutdown(max(0.0, deadline - time.monotonic())))
            if lane is not None:
                lane.close()
        if report is None:
            logger.warning("agent-otlp: the export process did not confirm its shutdown")
            return FlushReport(False, self._queued() + (lane.last_pending if lane else 0))
        return report

    def _count_lost(self, report: FlushReport) -> FlushReport:
        """Not delivered when spans may have been lost in the child."""
        if self.stats.possibly_lost_in_child:
            return FlushReport(False, report.pending, report.destinations)
        return report
