"""Offload mode over several child processes (``create_exporter(offload=N)``): a wrapper
sharding calls over N :class:`~agent_otlp.offload.parent.OffloadExporter`, by trace."""

from __future__ import annotations

import atexit
import functools
import logging
import threading
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from agent_otlp.core.config.errors import InputError
from agent_otlp.core.convert.records import AgentTrace
from agent_otlp.core.pipeline.api import IngestEntry
from agent_otlp.core.pipeline.at_exit import shutdown_at_exit
from agent_otlp.core.pipeline.destination import FlushResult
from agent_otlp.core.pipeline.exporter import FlushReport
from agent_otlp.core.pipeline.intake import INGEST_END_ALL, INGEST_END_TRACE
from agent_otlp.core.pipeline.retry import CircuitBreaker
from agent_otlp.core.pipeline.stats import ExporterStats
from agent_otlp.offload.parent import OffloadExporter

__all__ = ["GroupStats", "OffloadGroup", "merged", "merged_reports"]

logger = logging.getLogger("agent_otlp.offload")

_BREAKER_ORDER: Final = (CircuitBreaker.CLOSED, CircuitBreaker.HALF_OPEN, CircuitBreaker.OPEN)


def _trace_of(entry: IngestEntry) -> Any:
    """The trace id an ``ingest`` entry belongs to (``None`` when it has none)."""
    kind, payload, _ = entry
    if kind == INGEST_END_TRACE:
        return payload
    if isinstance(payload, AgentTrace):
        return payload.id
    try:
        return payload.trace_id
    except Exception:  # a hostile or odd payload: any child reports it
        return None


def merged(values: list[Any], key: str = "") -> Any:
    """Several children's statistics as one: counts added, the worst breaker state, the
    first error text, mappings merged key by key."""
    first = values[0]
    if isinstance(first, bool):
        return any(values)
    if isinstance(first, int | float):
        return sum(values)
    if isinstance(first, dict):
        keys = dict.fromkeys(k for value in values for k in value)
        return {k: merged([v[k] for v in values if k in v], k) for k in keys}
    if key == "breaker":
        return max(values, key=lambda v: _BREAKER_ORDER.index(v) if v in _BREAKER_ORDER else 0)
    if isinstance(first, str):
        return next((v for v in values if v), first)
    return first


def merged_reports(reports: list[FlushReport]) -> FlushReport:
    """Several flush reports as one: delivered when all are, pending added, per name."""
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
        data: dict[str, Any] = merged(snapshots)
        modes = {s["offload"]["mode"] for s in snapshots}
        data["offload"].update(
            mode="child process" if modes == {"child process"} else "in-process fallback",
            processes=len(lanes),
            child_pid=lanes[0].child_pid,
            child_pids=[lane.child_pid for lane in lanes],
        )
        return data


class OffloadGroup:
    """Offload mode over several child processes, an
    :class:`~agent_otlp.core.pipeline.api.Exporter`.

    Each trace belongs to one child, chosen by its id, so every child sees whole traces
    (its workflow span, its open-trace bookkeeping) and the children need nothing from each
    other. Each child is an :class:`OffloadExporter` with its own pipe and writer thread;
    flush and shutdown go to all of them at once and their reports are merged. More than
    one child pays off when one child's Python cannot keep up with the agent: with two
    children the export is bounded by the machine's free cores instead of one core
    (``docs/performance.md``). Not with the span store (it has one writer).
    """

    def __init__(self, lanes: list[OffloadExporter]) -> None:
        self.destinations: list[Any] = []
        self.store = None
        self.lanes = lanes
        self._count = len(lanes)
        self._exit_timeout = max(lane._exit_timeout for lane in lanes)
        self.stats: GroupStats = GroupStats(owner=self)
        self.child_pid = lanes[0].child_pid
        # One exit callback for all: the children are stopped at once, not one after another.
        for lane in lanes:
            atexit.unregister(lane._at_exit)
        self._at_exit = functools.partial(shutdown_at_exit, weakref.ref(self))
        atexit.register(self._at_exit)

    @property
    def closed(self) -> bool:
        """True once every child's lane was shut down."""
        return all(lane.closed for lane in self.lanes)

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

    def ingest(self, entries: Iterable[IngestEntry]) -> None:
        """Entries go to the child of their trace, in order; finishing every open trace
        goes to all."""
        parts: dict[OffloadExporter, list[IngestEntry]] = {}
        for entry in entries:
            if entry[0] == INGEST_END_ALL:
                for lane in self.lanes:
                    parts.setdefault(lane, []).append(entry)
            else:
                parts.setdefault(self._lane(_trace_of(entry)), []).append(entry)
        for lane, part in parts.items():
            lane.ingest(part)

    def end_trace(self, trace_id: str) -> None:
        self._lane(trace_id).end_trace(trace_id)

    def end_all_traces(self) -> None:
        for lane in self.lanes:
            lane.end_all_traces()

    def set_trace_idle_timeout(self, seconds: float) -> None:
        for lane in self.lanes:
            lane.set_trace_idle_timeout(seconds)

    def set_trace_end_grace(self, seconds: float) -> None:
        for lane in self.lanes:
            lane.set_trace_end_grace(seconds)

    def pending(self) -> int:
        return sum(lane.pending() for lane in self.lanes)

    def is_full(self) -> bool:
        return any(lane.is_full() for lane in self.lanes)

    def _all(self, call: Callable[[OffloadExporter], FlushReport]) -> FlushReport:
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
        return merged_reports([r if r is not None else FlushReport(False, 0) for r in reports])

    def force_flush(self, timeout: float = 30.0) -> FlushReport:
        return self._all(lambda lane: lane.force_flush(timeout))

    def shutdown(self, timeout: float = 30.0) -> FlushReport:
        atexit.unregister(self._at_exit)
        return self._all(lambda lane: lane.shutdown(timeout))
