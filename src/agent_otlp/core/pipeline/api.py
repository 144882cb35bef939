"""What callers may rely on of an exporter, whichever kind: :class:`Exporter`.

:class:`~agent_otlp.core.pipeline.exporter.AgentExporter` (in-process) and offload mode's
:class:`~agent_otlp.offload.parent.OffloadExporter` and
:class:`~agent_otlp.offload.group.OffloadGroup` all implement it; code that takes "an
exporter" (the SDK processor, the bridge, the CLI) should need nothing else, and in
particular no private attribute.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from agent_otlp.core.config.errors import InputError
    from agent_otlp.core.pipeline.exporter import FlushReport
    from agent_otlp.core.pipeline.stats import ExporterStats

__all__ = ["Exporter", "IngestEntry"]

#: ``(kind, payload, unix_ns)`` for :meth:`Exporter.ingest`; kinds are
#: :mod:`agent_otlp.core.pipeline.intake`'s ``INGEST_*`` constants.
IngestEntry = tuple[int, Any, int]


@runtime_checkable
class Exporter(Protocol):
    """Agent traces in, spans out to the destinations; no method raises into the caller
    (bad input is counted, and returned by :meth:`submit_items`)."""

    @property
    def stats(self) -> ExporterStats:
        """The counters; ``stats.snapshot()`` for all of them as plain data."""
        ...

    @property
    def closed(self) -> bool:
        """True once :meth:`shutdown` has run: new items are dropped."""
        ...

    def on_sdk_span_end(self, span: Any) -> None:
        """An OpenAI Agents SDK span ended."""

    def on_sdk_trace_start(self, trace: Any) -> None:
        """An SDK trace started."""

    def on_sdk_trace_end(self, trace: Any) -> None:
        """An SDK trace ended: its workflow span is sent."""

    def submit_items(self, items: Iterable[Any]) -> list[InputError]:
        """Validate items of the SDK's export format, queue the valid ones, return the
        errors of the others (each with its ``index``)."""
        ...

    def ingest(self, entries: Iterable[IngestEntry]) -> None:
        """Already-parsed entries, handled in order (see ``AgentExporter.ingest``)."""

    def end_trace(self, trace_id: str) -> None:
        """Trace ``trace_id`` is complete: its workflow span is sent now."""

    def end_all_traces(self) -> None:
        """Finalize every open trace."""

    def set_trace_idle_timeout(self, seconds: float) -> None:
        """Seconds a trace fed from files or the bridge may stay quiet before it is finished."""

    def set_trace_end_grace(self, seconds: float) -> None:
        """Seconds such a trace may stay quiet once its root spans ended."""

    def pending(self) -> int:
        """Items accepted and not yet delivered or dropped."""
        ...

    def is_full(self) -> bool:
        """True when new items would wait or be dropped."""
        ...

    def force_flush(self, timeout: float = 30.0) -> FlushReport:
        """Deliver everything queued so far, waiting at most ``timeout`` seconds."""
        ...

    def shutdown(self, timeout: float = 30.0) -> FlushReport:
        """Finalize open traces, deliver, stop. Idempotent."""
        ...
