"""A hand-written OpenAI Agents SDK ``TracingProcessor`` on top of the OpenTelemetry SDK.

What a team would write in an afternoon: every SDK span becomes an SDK ``ReadableSpan`` on the
agent's thread (ids from the SDK's ids, a few GenAI attributes, the remaining ``span_data``
fields as ``openai_agents.*`` attributes) and goes to a ``BatchSpanProcessor``; each trace gets
a workflow root span when it ends. Used as benchmark row ``handwritten`` and to build the
``ReadableSpan`` list for the SDK-encoder row.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_SCOPE = InstrumentationScope("bench.handwritten", "0.1")
_RESOURCE = Resource.create({"service.name": "bench"})
_CLIENT = frozenset({"generation", "response", "mcp_tools"})
_OPERATIONS = {
    "agent": "invoke_agent",
    "generation": "chat",
    "response": "chat",
    "function": "execute_tool",
}


def _trace_int(trace_id: str) -> int:
    return int(trace_id[-32:], 16)


def _span_int(span_id: str) -> int:
    return int(span_id[-16:], 16) or 1


def _workflow_int(trace_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(trace_id.encode(), digest_size=8).digest(), "big") or 1


def _ns(stamp: str | None) -> int | None:
    return None if stamp is None else int(datetime.fromisoformat(stamp).timestamp() * 1e9)


def _scalar(value: Any) -> Any:
    if isinstance(value, str | bool | int | float):
        return value
    return json.dumps(value, default=str)


def span_from_export(item: dict[str, Any]) -> ReadableSpan:
    """An SDK ``span.export()`` dict as an OpenTelemetry ``ReadableSpan``."""
    trace_id = item["trace_id"]
    trace_int = _trace_int(trace_id)
    data = item.get("span_data") or {}
    kind = data.get("type", "custom")
    parent = item.get("parent_id")
    parent_int = _span_int(parent) if parent else _workflow_int(trace_id)
    attributes: dict[str, Any] = {
        "openai_agents.span_id": item["id"],
        "openai_agents.trace_id": trace_id,
        "openai_agents.span_type": kind,
    }
    if kind in _OPERATIONS:
        attributes["gen_ai.operation.name"] = _OPERATIONS[kind]
    name = data.get("name") or data.get("model") or data.get("to_agent") or kind
    if kind == "generation":
        usage = data.get("usage") or {}
        attributes["gen_ai.request.model"] = data.get("model") or ""
        attributes["gen_ai.usage.input_tokens"] = usage.get("input_tokens", 0)
        attributes["gen_ai.usage.output_tokens"] = usage.get("output_tokens", 0)
    for key, value in data.items():
        if key not in ("type", "input", "output", "usage") and value is not None:
            attributes[f"openai_agents.span_data.{key}"] = _scalar(value)
    error = item.get("error")
    status = Status(StatusCode.ERROR, str(error.get("message"))) if error else Status()
    start = _ns(item.get("started_at")) or 0
    end = _ns(item.get("ended_at")) or start
    events: list[Event] = []
    if kind == "guardrail":
        events.append(Event("gen_ai.guardrail.result", {"triggered": bool(data.get("triggered"))}, end))
    return ReadableSpan(
        name=f"{_OPERATIONS.get(kind, kind)} {name}",
        context=SpanContext(trace_int, _span_int(item["id"]), False, _SAMPLED),
        parent=SpanContext(trace_int, parent_int, False, _SAMPLED),
        resource=_RESOURCE,
        attributes=attributes,
        events=events,
        kind=SpanKind.CLIENT if kind in _CLIENT else SpanKind.INTERNAL,
        status=status,
        start_time=start,
        end_time=end,
        instrumentation_scope=_SCOPE,
    )


def workflow_span(item: dict[str, Any], start_ns: int, end_ns: int) -> ReadableSpan:
    """The root span of an SDK ``trace.export()`` dict."""
    trace_id = item["id"]
    trace_int = _trace_int(trace_id)
    name = item.get("workflow_name") or "workflow"
    return ReadableSpan(
        name=f"invoke_workflow {name}",
        context=SpanContext(trace_int, _workflow_int(trace_id), False, _SAMPLED),
        parent=None,
        resource=_RESOURCE,
        attributes={
            "gen_ai.operation.name": "invoke_workflow",
            "gen_ai.workflow.name": name,
            "openai_agents.trace_id": trace_id,
        },
        kind=SpanKind.INTERNAL,
        start_time=start_ns,
        end_time=end_ns,
        instrumentation_scope=_SCOPE,
    )


def make_processor(span_processor: Any) -> Any:
    """A ``TracingProcessor`` converting on the agent's thread into ``span_processor``."""
    import time

    from agents.tracing import TracingProcessor

    class HandWrittenProcessor(TracingProcessor):  # type: ignore[misc]
        def __init__(self) -> None:
            self._starts: dict[str, int] = {}

        def on_trace_start(self, trace: Any) -> None:
            self._starts[trace.trace_id] = time.time_ns()

        def on_trace_end(self, trace: Any) -> None:
            start = self._starts.pop(trace.trace_id, None) or time.time_ns()
            exported = trace.export()
            if exported is not None:
                span_processor.on_end(workflow_span(exported, start, time.time_ns()))

        def on_span_start(self, span: Any) -> None:
            return None

        def on_span_end(self, span: Any) -> None:
            exported = span.export()
            if exported is not None:
                span_processor.on_end(span_from_export(exported))

        def shutdown(self) -> None:
            span_processor.shutdown()

        def force_flush(self) -> None:
            span_processor.force_flush()

    return HandWrittenProcessor()
