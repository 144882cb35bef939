"""Whole-trace sampling: one decision per agent trace, taken when the trace ends.

While sampling is active (a rate below 1, or a plugin implementing
``agent_otlp_sample_trace``), a destination holds each trace's spans until the trace ends or
:data:`TRACE_TIMEOUT` passes, decides once, and sends or drops the whole trace. Spans that
arrive after the decision follow it, so a trace is never split.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from agent_otlp.core.convert.attributes import guardrail_tripped
from agent_otlp.core.convert.records import SpanRecord, StatusCode
from agent_otlp.core.plugins.sampling import (
    RATE_ATTRIBUTE,
    SamplingDecision,
    TraceSummary,
    ratio_keeps,
)

__all__ = [
    "RATE_ATTRIBUTE",
    "SamplingDecision",
    "TraceBuffer",
    "TraceSummary",
    "ratio_keeps",
]

TRACE_TIMEOUT: Final = 120.0
_REMEMBERED: Final = 100_000


@dataclass(slots=True)
class _Pending:
    summary: TraceSummary
    spans: list[SpanRecord] = field(default_factory=list)
    since: float = field(default_factory=time.monotonic)


class TraceBuffer:
    """Holds spans per trace until the trace is decided. Single-threaded (a worker's)."""

    def __init__(
        self,
        decide: Callable[[TraceSummary], SamplingDecision],
        *,
        max_spans: int,
        timeout: float = TRACE_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._decide = decide
        self._max_spans = max_spans
        self._timeout = timeout
        self._clock = clock
        self._pending: OrderedDict[str, _Pending] = OrderedDict()
        self._decided: OrderedDict[str, SamplingDecision] = OrderedDict()
        self._held = 0
        self.sampled_out = 0

    @property
    def held(self) -> int:
        return self._held

    def min_seq(self) -> int | None:
        """The smallest store position among held spans (store mode), if any."""
        seqs = [s.seq for p in self._pending.values() for s in p.spans if s.seq]
        return min(seqs) if seqs else None

    def add(self, span: SpanRecord, out: list[SpanRecord]) -> None:
        key = span.source_trace_id
        decision = self._decided.get(key)
        if decision is not None:
            self._apply(decision, [span], out)
            return
        pending = self._pending.get(key)
        if pending is None:
            pending = self._pending[key] = _Pending(TraceSummary(span.trace_id, key), since=self._clock())
        pending.spans.append(span)
        summary = pending.summary
        summary.span_count += 1
        if span.status_code == StatusCode.ERROR:
            summary.error_count += 1
        if guardrail_tripped(span.attributes):
            summary.guardrail_tripped = True
        if span.source_type == "trace":
            name = span.attributes.get("gen_ai.workflow.name")
            summary.workflow_name = name if isinstance(name, str) else None
        self._held += 1
        if self._held > self._max_spans:
            oldest = next(iter(self._pending))
            self.end(oldest, out)

    def end(self, key: str, out: list[SpanRecord]) -> None:
        pending = self._pending.pop(key, None)
        if pending is None:
            return
        decision = self._decide(pending.summary)
        self._decided[key] = decision
        if len(self._decided) > _REMEMBERED:
            self._decided.popitem(last=False)
        self._held -= len(pending.spans)
        self._apply(decision, pending.spans, out)

    def expire(self, out: list[SpanRecord], *, everything: bool = False) -> None:
        now = self._clock()
        for key in list(self._pending):
            if everything or now - self._pending[key].since >= self._timeout:
                self.end(key, out)

    def _apply(self, decision: SamplingDecision, spans: list[SpanRecord], out: list[SpanRecord]) -> None:
        if not decision.keep:
            self.sampled_out += len(spans)
            return
        if decision.sample_rate != 1:
            for span in spans:
                span.attributes[RATE_ATTRIBUTE] = decision.sample_rate
        out.extend(spans)
