"""Live export from the OpenAI Agents SDK: a ``TracingProcessor`` that feeds the exporter.

Its callbacks only append to the exporter's intake (no conversion, no I/O, no locks on the
agent's thread) and never raise.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from agent_otlp.core.pipeline.api import Exporter

if TYPE_CHECKING:
    from agents.tracing import TracingProcessor

__all__ = ["make_processor"]

logger = logging.getLogger("agent_otlp")


def _processor_class() -> Callable[[Exporter], TracingProcessor]:
    try:
        from agents.tracing import TracingProcessor
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "agent_otlp.instrument_openai_agents needs the OpenAI Agents SDK: "
            "pip install 'agent-otlp[openai-agents]'"
        ) from exc

    class OTLPTracingProcessor(TracingProcessor):  # type: ignore[misc, unused-ignore]
        """Sends every agent trace and span to agent-otlp's exporter."""

        def __init__(self, exporter: Exporter) -> None:
            self.exporter = exporter
            self._shut = False
            self._span_end = exporter.on_sdk_span_end
            self._trace_start = exporter.on_sdk_trace_start
            self._trace_end = exporter.on_sdk_trace_end

        @property
        def closed(self) -> bool:
            """True once this processor or its exporter was shut down: instrumenting again
            then installs a new processor."""
            return self._shut or self.exporter.closed

        def on_trace_start(self, trace: Any) -> None:
            self._trace_start(trace)

        def on_trace_end(self, trace: Any) -> None:
            self._trace_end(trace)

        def on_span_start(self, span: Any) -> None:
            return None

        def on_span_end(self, span: Any) -> None:
            self._span_end(span)

        def force_flush(self) -> None:
            self.exporter.force_flush()

        def shutdown(self) -> None:
            self._shut = True
            self.exporter.shutdown()

    return OTLPTracingProcessor


def make_processor(exporter: Exporter) -> TracingProcessor:
    """A ``TracingProcessor`` feeding ``exporter``, not installed anywhere."""
    return _processor_class()(exporter)
