"""An exporter whose pipeline runs in one child process: the agent thread turns each call into
an entry (:mod:`agent_otlp.offload.entries`), the :class:`FrameWriter` sends them, and flush,
stats and shutdown are round trips answered by the child.

When the child dies (broken pipe, or the end of its reply pipe) the lane logs once, counts,
and calls ``on_lost``, which returns the exporter that takes over (or ``None``): frames
still queued here are fed to it. Spans the child had received but not delivered are lost;
their upper bound is counted as ``possibly_lost_in_child`` (spans sent since the last flush
the child confirmed).
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final

from agent_otlp.core.config.errors import InputError
from agent_otlp.core.convert.records import parse_item
from agent_otlp.core.pipeline.api import Exporter, IngestEntry
from agent_otlp.core.pipeline.exporter import FlushReport
from agent_otlp.core.pipeline.stats import ExporterStats
from agent_otlp.offload.entries import feed, ingest_entries, span_entry
from agent_otlp.offload.frames import (
    END_ALL,
    END_TRACE,
    FLUSH,
    GRACE,
    IDLE,
    ITEM,
    SHUTDOWN,
    STATS,
    TRACE_END,
    TRACE_START,
    OffloadConfig,
    load_entries,
)
from agent_otlp.offload.process import ChildProcess
from agent_otlp.offload.writer import FrameWriter

__all__ = ["STATS_TIMEOUT", "ChildLane", "LaneCounters"]

logger = logging.getLogger("agent_otlp.offload")

#: Seconds a stats or pending request waits for the child's answer.
STATS_TIMEOUT: Final = 5.0

_EMPTY_SNAPSHOT: Final[dict[str, Any]] = {
    "received_items": 0, "converted_spans": 0, "invalid_items": 0, "dropped_intake_full": 0,
    "last_input_error": "", "destinations": {},
}


@dataclass
class LaneCounters(ExporterStats):
    """What the agent process counts itself (``dropped_intake_full``, ``invalid_items``:
    drops here) and the offload counters."""

    sent_spans: int = 0
    possibly_lost_in_child: int = 0
    child_lost: bool = False
    child_maxrss_kb: int = 0


class ChildLane:
    """The :class:`~agent_otlp.core.pipeline.api.Exporter` calls as entries to one child,
    whose exporter ``build`` (``module:function``) makes from ``config``.

    Raises what :class:`ChildProcess` raises when the child cannot start.
    """

    def __init__(
        self, config: OffloadConfig, build: str, counters: LaneCounters,
        on_lost: Callable[[], Exporter | None],
        *, capture_content: bool, max_pending_bytes: int, start_timeout: float,
    ) -> None:
        self.stats = counters
        self._capture = capture_content
        self._on_lost = on_lost
        self._lost_lock = threading.Lock()
        self._takeover: Exporter | None = None
        self._tickets = itertools.count(1)
        self._confirmed = 0
        self.last_snapshot: dict[str, Any] = dict(_EMPTY_SNAPSHOT)
        self.last_pending = 0
        self.child_pid: int | None = None
        self.writer = FrameWriter(self._send, max_pending_bytes)
        try:
            self.process = ChildProcess(config, build, self._lost, start_timeout)
        except BaseException:
            self.writer.finish()
            raise
        self.child_pid = self.process.pid

    # --- agent thread: cheap, never raise ----------------------------------------------------

    def _enqueue(self, entry: tuple[Any, ...]) -> None:
        if not self.writer.append(entry):
            self.stats.dropped_intake_full += 1

    def on_sdk_span_end(self, span: Any) -> None:
        try:
            entry = span_entry(span, self._capture)
        except Exception:  # a hostile span object: counted, never raised
            self.stats.invalid_items += 1
            return
        self._enqueue(entry)

    def on_sdk_trace_start(self, trace: Any) -> None:
        self._trace(TRACE_START, trace)

    def on_sdk_trace_end(self, trace: Any) -> None:
        self._trace(TRACE_END, trace)

    def _trace(self, kind: int, trace: Any) -> None:
        try:
            entry = (kind, trace.export(), time.time_ns())
        except Exception:
            self.stats.invalid_items += 1
            return
        self._enqueue(entry)

    def submit_items(self, items: Iterable[Any]) -> list[InputError]:
        """Validate items (here, for the returned errors) and send the valid ones to the
        child, which validates them again."""
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
            self._enqueue((ITEM, item))
        return errors

    def ingest(self, entries: Iterable[IngestEntry]) -> None:
        """Parsed entries, sent to the child in the export format (it validates them again)."""
        try:
            wire = ingest_entries(entries)
        except Exception:  # a payload that is not what ``ingest`` takes
            self.stats.invalid_items += 1
            return
        for entry in wire:
            self._enqueue(entry)

    def end_trace(self, trace_id: str) -> None:
        self._enqueue((END_TRACE, trace_id))

    def end_all_traces(self) -> None:
        self._enqueue((END_ALL,))

    def set_trace_idle_timeout(self, seconds: float) -> None:
        self._enqueue((IDLE, seconds))

    def set_trace_end_grace(self, seconds: float) -> None:
        self._enqueue((GRACE, seconds))

    def is_full(self) -> bool:
        return self.writer.is_full()

    def queued(self) -> int:
        return self.writer.queued()

    def pending(self) -> int:
        """Entries queued here plus the child's backlog (a round trip; the last known value
        when the child does not answer within :data:`STATS_TIMEOUT`)."""
        self.child_snapshot()
        return self.queued() + self.last_pending

    # --- round trips -------------------------------------------------------------------------

    def _request(self, kind: int, argument: float | None, deadline: float) -> Any:
        ticket = next(self._tickets)
        sealed = self.writer.request((kind, ticket) if argument is None else (kind, ticket, argument))
        answer = self.process.wait_reply(ticket, deadline)
        if answer is not None:  # the child read everything sealed before the request
            self.writer.seen(sealed)
        mark = self.writer.flush_marks.pop(ticket, None)
        if answer is not None and mark is not None and getattr(answer, "delivered", False):
            self._confirmed = max(self._confirmed, mark)
        return answer

    def child_snapshot(self) -> dict[str, Any]:
        """The child's statistics (the last known ones once it is closed or gone)."""
        if self.writer.closed or self.stats.child_lost:
            return self.last_snapshot
        answer = self._request(STATS, None, time.monotonic() + STATS_TIMEOUT)
        if answer is not None:
            self.last_snapshot, self.last_pending, self.stats.child_maxrss_kb = answer
        return self.last_snapshot

    def flush_child(self, timeout: float, deadline: float) -> FlushReport | None:
        """The child's flush report; ``None`` when it did not answer."""
        answer = self._request(FLUSH, _child_timeout(timeout), deadline)
        return answer if isinstance(answer, FlushReport) else None

    def shutdown_child(self, timeout: float, deadline: float) -> FlushReport | None:
        """Stop taking entries, ask the child to deliver and stop; its report, or ``None``.
        The writer thread is joined; :meth:`close` reaps the child."""
        self.process.expected = True
        self.writer.close()
        report: FlushReport | None = None
        if not self.stats.child_lost:
            answer = self._request(SHUTDOWN, _child_timeout(timeout), deadline)
            if answer is not None:
                report, self.last_snapshot, self.stats.child_maxrss_kb = answer
                self.last_pending = report.pending
        self.writer.finish()
        self.writer.join(max(1.0, deadline - time.monotonic()))
        return report

    def close(self) -> None:
        """Reap the child and wake anything still waiting for room."""
        self.process.stop()
        self.writer.release()

    # --- writer thread -----------------------------------------------------------------------

    def _send(self, frame: bytes, spans: int) -> None:
        if not self.stats.child_lost:
            try:
                self.process.write(frame)
            except OSError:  # broken pipe: the child died; this frame goes to the takeover
                self._lost(self.process)
            else:
                self.stats.sent_spans += spans
                return
        with self._lost_lock:  # the takeover may be under construction
            takeover = self._takeover
        data = [entry for entry in load_entries(frame) if entry[0] < FLUSH]
        if takeover is None:
            self.stats.dropped_intake_full += len(data)
            return
        feed(takeover, data)

    def _lost(self, process: ChildProcess) -> None:
        """The child died: log once, count, hand over to ``on_lost``'s exporter."""
        with self._lost_lock:
            if self.stats.child_lost:
                return
            self.stats.child_lost = True
            self.stats.possibly_lost_in_child = self.stats.sent_spans - self._confirmed
            logger.warning(
                "agent-otlp: the export process (pid %s) ended unexpectedly (exit code %s); "
                "up to %d spans it had received are lost; exporting in-process from now on",
                process.pid, process.exit_code(), self.stats.possibly_lost_in_child,
            )
            self._takeover = self._on_lost()
        process.mark_ended()
        self.writer.wake()


def _child_timeout(timeout: float) -> float:
    """The child's share of ``timeout``: it must answer before the agent process gives up."""
    return max(0.0, timeout - min(0.5, timeout * 0.1))
