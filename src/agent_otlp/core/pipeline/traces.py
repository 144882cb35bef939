"""The traces the exporter has open: what each covers, its roots, its links; which ended.

Pure bookkeeping for :mod:`agent_otlp.core.pipeline.assembler`: no I/O, no threads (the
dispatch lock guards it).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Final

from agent_otlp.core.convert.producer import Producer
from agent_otlp.core.convert.records import AgentTrace
from agent_otlp.core.convert.repair import TraceLinks

__all__ = ["TRACE_END_GRACE", "TRACE_IDLE_TIMEOUT", "TRACE_MAX_OPEN", "OpenTrace", "TraceTable"]

_monotonic = time.monotonic

#: Seconds a trace fed from files or the bridge may stay quiet before it is finalized.
TRACE_IDLE_TIMEOUT: Final = 30.0
#: Seconds such a trace may stay quiet once every root span (no parent) it has had ended.
TRACE_END_GRACE: Final = 5.0
#: Seconds a live trace (started through the SDK) may stay open at most.
TRACE_MAX_OPEN: Final = 3600.0
#: Ended trace ids remembered (late spans of these are ignored); bounded for memory.
REMEMBERED_ENDED: Final = 4096


@dataclass(slots=True)
class OpenTrace:
    trace: AgentTrace | None = None
    start_ns: int | None = None
    end_ns: int | None = None
    live: bool = False
    touched: float = field(default_factory=time.monotonic)
    #: ``trace`` as stored in the open-traces record (computed once per trace object)
    payload: bytes | None = None
    payload_of: AgentTrace | None = None
    #: root spans (no parent) seen ended, and those seen not yet ended
    roots_ended: int = 0
    roots_open: set[str] = field(default_factory=set)
    #: span ids seen, to repair duplicates and parent loops (docs/conversion.md)
    links: TraceLinks = field(default_factory=TraceLinks)
    #: whose trace it is (its first span's producer), for a workflow span synthesized
    producer: Producer | None = None

    def note_root(self, span_id: str, *, ended: bool) -> None:
        if ended:
            self.roots_open.discard(span_id)
            self.roots_ended += 1
        else:
            self.roots_open.add(span_id)

    def start_payload(self, encode: Callable[[AgentTrace], bytes]) -> bytes | None:
        """The trace object as its open-traces record stores it (``encode``d once)."""
        trace = self.trace
        if trace is not None and trace is not self.payload_of:
            self.payload, self.payload_of = encode(trace), trace
        return self.payload if trace is not None else None

    def cover(self, start: int, end: int) -> None:
        first = self.start_ns
        if first is None or start < first:
            self.start_ns = start
        last = self.end_ns
        if last is None or end > last:
            self.end_ns = end
        self.touched = _monotonic()


class TraceTable:
    """Open traces by id, and the ids of recently ended ones (their late spans are ignored)."""

    def __init__(self) -> None:
        self.open: dict[str, OpenTrace] = {}
        self.ended: OrderedDict[str, None] = OrderedDict()
        self.idle_timeout = TRACE_IDLE_TIMEOUT
        self.end_grace = TRACE_END_GRACE
        self._next_scan = 0.0  # monotonic time before which expired() looks at nothing

    def pop(self, trace_id: str) -> OpenTrace | None:
        """Take an open trace out, remembering it ended."""
        state = self.open.pop(trace_id, None)
        if state is not None:
            ended = self.ended
            ended[trace_id] = None
            if len(ended) > REMEMBERED_ENDED:
                ended.popitem(last=False)
        return state

    def reopen(self, trace_id: str, state: OpenTrace) -> None:
        """Open again a trace whose finishing was not kept (a failed store write)."""
        if trace_id not in self.open:
            self.ended.pop(trace_id, None)
            state.touched = _monotonic()
            self.open[trace_id] = state

    def expired(self, now: float) -> Iterator[str]:
        """Ids of the open traces quiet for longer than their limit allows. The traces are
        looked over at most every tenth of the shortest limit (at most every 0.5 s): a
        bridge keeps thousands open, and the dispatcher asks twenty times a second."""
        idle, grace = self.idle_timeout, self.end_grace
        if now < self._next_scan:
            return
        self._next_scan = now + min(idle / 10, grace / 10, 0.5)
        for trace_id, state in list(self.open.items()):
            if state.live:
                limit = TRACE_MAX_OPEN
            elif state.roots_ended and not state.roots_open:  # its agents are done
                limit = min(grace, idle)
            else:
                limit = idle
            if now - state.touched >= limit:
                yield trace_id
