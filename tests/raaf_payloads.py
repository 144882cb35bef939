"""Items shaped as RAAF (github.com/raaf-ai/raaf, the Ruby port of the Agents SDK) posts them
to ``/v1/traces/ingest``. Each field cites where RAAF builds it; ``processor.rb`` is
``tracing/lib/raaf/tracing/openai_processor.rb``, ``spans.rb`` is
``tracing/lib/raaf/tracing/spans.rb``."""

from __future__ import annotations

import secrets
from typing import Any

WORKFLOW = "openai-agents-ruby"  # processor.rb:89, the default workflow_name


def span_id() -> str:
    return f"span_{secrets.token_hex(16)}"  # spans.rb:101: "span_" + SecureRandom.hex(16)


def trace_id() -> str:
    return f"trace_{secrets.token_hex(16)}"  # spans.rb:102: "trace_" + SecureRandom.hex(16)


def at(second: int) -> str:
    return f"2025-03-01T10:00:{second:02d}.000000+00:00"  # processor.rb:868 (%6N, +00:00)


def trace_object(trace: str) -> dict[str, Any]:
    """The trace object that opens every POST (processor.rb:728-735): no times, null
    ``group_id`` and ``metadata``; ``id`` is ``@current_trace_id``, set by the first span
    that ever ended in the process and never reset (processor.rb:200)."""
    return {"object": "trace", "id": trace, "workflow_name": WORKFLOW, "group_id": None,
            "metadata": None}


def span(trace: str, sid: str, parent: str | None, span_data: dict[str, Any],
         start: int = 1, end: int = 2, error: Any = None) -> dict[str, Any]:
    """One span as ``transform_span`` builds it (processor.rb:257-266)."""
    return {
        "object": "trace.span",
        "id": sid,  # processor.rb:259, spans.rb:101
        "trace_id": trace,  # processor.rb:260
        "parent_id": parent,  # processor.rb:261, the last span on SpanContext's stack (spans.rb:320)
        "started_at": at(start),  # processor.rb:262
        "ended_at": at(end),  # processor.rb:263
        "span_data": span_data,  # processor.rb:264, create_span_data
        "error": error,  # processor.rb:265: attributes["error"] as it is, or nil
    }


def agent_data(name: str) -> dict[str, Any]:
    # processor.rb:290-296 (nils compacted at processor.rb:400)
    return {"type": "agent", "name": name, "handoffs": [], "tools": [], "output_type": "str"}


def generation_data(model: str, base_url: str | None = None) -> dict[str, Any]:
    return {
        "type": "generation",  # processor.rb:318
        "input": [{"role": "user", "content": "hi"}],  # processor.rb:305-319, llm.request.messages
        "output": [{"content": "hello", "refusal": None, "role": "assistant", "annotations": [],
                    "audio": None, "function_call": None, "tool_calls": None}],  # processor.rb:472-480
        "model": model,  # processor.rb:321, llm.request.model
        "model_config": {  # processor.rb:413-431, nils left in (not compacted)
            "temperature": 0.2, "top_p": None, "frequency_penalty": None, "presence_penalty": None,
            "tool_choice": None, "parallel_tool_calls": None, "truncation": None, "max_tokens": None,
            "reasoning": None, "metadata": None, "store": None, "include_usage": None,
            "extra_query": None, "extra_body": None, "extra_headers": None, "extra_args": None,
            # processor.rb:430: llm.request.base_url, else OpenAI's URL whatever the model
            "base_url": base_url or "https://api.openai.com/v1/",
        },
        "usage": {"input_tokens": 12, "output_tokens": 5},  # processor.rb:452-455
    }


def response_data() -> dict[str, Any]:
    # processor.rb:363-366: {type, response_id}.compact; response_span (spans.rb:822-824)
    # sets "response.format", not "response_id", so usually only the type is left
    return {"type": "response"}


def custom_data(name: str, attributes: dict[str, Any]) -> dict[str, Any]:
    """A pipeline, job or other span of a kind without a type of its own (processor.rb:391-396):
    every attribute stringified by ``flatten_attributes`` (processor.rb:493-543)."""
    data = {key: value if isinstance(value, str) else _ruby_to_s(value)
            for key, value in attributes.items()}
    return {"type": "custom", "name": name, "data": data}


def _ruby_to_s(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return ""
    return str(value)


def oversized_marker(kind: str, size: int, name: str | None = None) -> dict[str, Any]:
    """What a span over 9,000 bytes of JSON becomes (processor.rb:553, 653-667)."""
    return {"type": kind, "name": name or "unknown", "data": {"truncated": True, "original_size": size}}
