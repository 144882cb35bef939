"""One RAAF span, or trace, as an item of the OpenAI Agents SDK's export shape: the mapping
RAAF's own OpenAI exporter uses (``create_span_data``, ``extract_model_config``,
``extract_usage`` in ``tracing/lib/raaf/tracing/openai_processor.rb``), widened so that nothing
is lost on the way.

Both RAAF readers call it: :mod:`.local` (the ``FileSpanProcessor`` lines and
``SpanTracer#export_spans`` documents) and :mod:`agent_otlp.sources.raaf_rails` (the rows of
``raaf_tracing_spans`` and ``raaf_tracing_traces``). Each gives a :class:`RaafSpan` (and a
:class:`RaafTrace` for the trace's own ``trace``-kind span); values come as RAAF wrote them.

* The span ``kind`` picks the ``span_data.type`` (:data:`SDK_TYPES`; other kinds are
  ``custom``); the attribute keys a type reads become its fields, every other key goes to the
  span's ``metadata`` under its own dotted name, beside ``raaf.kind``.
* A span failed when its status is ``error``, its ``error`` attribute is set, or ``success``
  is ``false``; its error is always an object with a ``message``.
* RAAF writes times in whole seconds in its files: when both are whole seconds, the end is the
  start plus ``duration_ms``; a missing start or end is told by the other and the duration.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Final

__all__ = ["SDK_TYPES", "RaafSpan", "RaafTrace", "microseconds", "span_item", "span_times", "trace_item"]

SDK_TYPES: Final[Mapping[str, str]] = {
    "agent": "agent",
    "llm": "generation",
    "tool": "function",
    "handoff": "handoff",
    "guardrail": "guardrail",
    "mcp_list_tools": "mcp_tools",
    "response": "response",
    "speech_group": "speech_group",
    "speech": "speech",
    "transcription": "transcription",
}
#: ``model_config`` keys, each read from ``llm.request.<key>`` (``extract_model_config``).
_MODEL_CONFIG: Final = (
    "temperature", "top_p", "frequency_penalty", "presence_penalty", "tool_choice",
    "parallel_tool_calls", "truncation", "max_tokens", "reasoning", "metadata", "store",
    "include_usage", "extra_query", "extra_body", "extra_headers", "extra_args", "base_url",
)
_MODEL_CONFIG_ATTRIBUTES: Final = tuple((key, f"llm.request.{key}") for key in _MODEL_CONFIG)
_USAGE_KEYS: Final = ("input_tokens", "prompt_tokens", "output_tokens", "completion_tokens")
_LONGEST_MS: Final = 1e12
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
#: 10**17 ns after the epoch: the converter reads epoch numbers from there on as nanoseconds
_NUMBERS_FROM_US: Final = 10**14
#: the times a datetime holds (years 1 to 9999), in microseconds from the epoch
_FIRST_US: Final = (datetime(1, 1, 1, tzinfo=UTC) - _EPOCH) // timedelta(microseconds=1)
_LAST_US: Final = (datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC) - _EPOCH) // timedelta(microseconds=1)


@dataclass(slots=True)  # not frozen: a frozen one costs a call per field to build, per row
class RaafSpan:
    """One RAAF span (``Span#to_h``, or a ``raaf_tracing_spans`` row). ``duration_ms``,
    ``attributes``, ``events`` and the token counts are taken as RAAF wrote them, of any type."""

    span_id: str
    trace_id: str
    parent_id: str | None
    name: str
    kind: str
    status: str | None
    start: int | None  # Unix microseconds (:func:`microseconds`)
    end: int | None
    duration_ms: Any = None
    attributes: Any = None
    events: Any = None
    input_tokens: Any = None
    output_tokens: Any = None
    agent_model: str | None = None


@dataclass(slots=True)
class RaafTrace:
    """One RAAF trace: what its ``raaf_tracing_traces`` row says (``None`` where a reader has
    no row), the time it covers, and its own ``trace``-kind span (``root``), which
    ``Trace#start`` gives ``trace.workflow_name``, ``trace.group_id``, ``trace.metadata``."""

    trace_id: str
    root: RaafSpan | None = None
    workflow_name: str | None = None
    status: str | None = None
    metadata: Any = None
    group_id: str | None = None
    start: int | None = None  # Unix microseconds
    end: int | None = None


class _Attributes:
    """A span's attributes, read key by key; what is not read is left over."""

    def __init__(self, raw: Any) -> None:
        if type(raw) is dict or isinstance(raw, Mapping):
            self.left: dict[str, Any] = dict(raw)
        else:
            self.left = {} if raw is None else {"raaf.span_attributes": raw}

    def take(self, *keys: str) -> Any:
        """The first of ``keys`` with a value; all of them are consumed."""
        left = self.left
        if not left:
            return None
        if len(keys) == 1:
            return left.pop(keys[0], None)
        found = None
        for key in keys:
            value = left.pop(key, None)
            if found is None and value is not None:
                found = value
        return found


def _int(value: Any) -> int | None:
    """A count, also from a whole float or digits in text; else ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    text = value.strip() if isinstance(value, str) else ""
    return int(text) if text.isdigit() else None


def _milliseconds(value: Any) -> float | None:
    """A duration in milliseconds, when it is a plausible one."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return None
    lasted = float(value)
    return lasted if math.isfinite(lasted) and 0 <= lasted < _LONGEST_MS else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _json_text(value: Any) -> Any:
    """Text that holds JSON (RAAF stores some lists as text) as the value; other text as is."""
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _first(*values: int | None) -> int | None:
    return next((v for v in values if v is not None), None)


def _usage(attrs: _Attributes, span: RaafSpan) -> dict[str, Any] | None:
    """``llm.usage.*`` and the other keys RAAF writes counts under, else the span's own."""
    nested = attrs.take("usage")
    nested = nested if isinstance(nested, Mapping) else {}
    inp = _first(_int(attrs.take("llm.usage.input_tokens", "llm.usage.prompt_tokens",
                                 "llm.tokens.input", "input_tokens")),
                 _int(nested.get("input_tokens", nested.get("prompt_tokens"))), _int(span.input_tokens))
    out = _first(_int(attrs.take("llm.usage.output_tokens", "llm.usage.completion_tokens",
                                 "llm.tokens.output", "output_tokens")),
                 _int(nested.get("output_tokens", nested.get("completion_tokens"))),
                 _int(span.output_tokens))
    usage: dict[str, Any] = {k: v for k, v in nested.items() if k not in _USAGE_KEYS}
    if inp is not None:
        usage["input_tokens"] = inp
    if out is not None:
        usage["output_tokens"] = out
    cached = _int(attrs.take("llm.tokens.cache_read", "llm.usage.cached_tokens"))
    if cached is not None:
        usage["input_tokens_details"] = {"cached_tokens": cached}
    return usage or None


def _generation(attrs: _Attributes, span: RaafSpan) -> dict[str, Any]:
    config: dict[str, Any] = {}
    left = attrs.left
    for key, attribute in _MODEL_CONFIG_ATTRIBUTES:
        value = left.pop(attribute, None)
        if value is not None:
            config[key] = value
    content = attrs.take("llm.response.content")
    output = attrs.take("llm.response.output")
    if content is not None:
        output = [{"role": "assistant", "content": content}]
    return {
        "model": attrs.take("llm.request.model", "llm.model", "agent.model", "model") or span.agent_model,
        "model_config": config or None,
        "input": _json_text(attrs.take("llm.request.messages")),
        "output": _json_text(output),
        "usage": _usage(attrs, span),
    }


def _agent(attrs: _Attributes, span: RaafSpan) -> dict[str, Any]:
    return {"name": attrs.take("agent.name") or span.name.removeprefix("agent."),
            "handoffs": attrs.take("agent.handoffs"), "tools": attrs.take("agent.tools"),
            "output_type": attrs.take("agent.output_type")}


def _function(attrs: _Attributes, span: RaafSpan) -> dict[str, Any]:
    given = attrs.take("function.input", "tool.arguments", "tool.input")
    return {
        "name": attrs.take("function.name", "tool.name") or span.name.removeprefix("tool."),
        "input": given if given is None or isinstance(given, str) else json.dumps(given, default=str),
        "output": attrs.take("function.output", "result.tool_result", "tool.output", "tool.result",
                             "result.execution_result"),
        "call_id": attrs.take("function.call_id", "tool.call_id"),
        "mcp_data": attrs.take("function.mcp_data"),
    }


def _guardrail(attrs: _Attributes, span: RaafSpan) -> dict[str, Any]:
    triggered = attrs.take("guardrail.triggered")
    return {"name": attrs.take("guardrail.name") or span.name.removeprefix("guardrail."),
            "triggered": triggered is True or str(triggered).lower() == "true"}


def _fields(prefix: str, *names: str) -> Callable[[_Attributes, RaafSpan], dict[str, Any]]:
    def read(attrs: _Attributes, span: RaafSpan) -> dict[str, Any]:
        return {name: attrs.take(f"{prefix}.{name}") for name in names}

    return read


_DATA: Final[Mapping[str, Callable[[_Attributes, RaafSpan], dict[str, Any]]]] = {
    "agent": _agent,
    "generation": _generation,
    "function": _function,
    "handoff": lambda a, s: {"from_agent": a.take("handoff.from"), "to_agent": a.take("handoff.to")},
    "guardrail": _guardrail,
    "mcp_tools": lambda a, s: {"server": a.take("mcp.server"),
                               "result": a.take("mcp.result", "mcp.tools")},
    "response": lambda a, s: {"response_id": a.take("response_id", "response.id")},
    "speech_group": _fields("speech_group", "input"),
    "speech": _fields("speech", "input", "output", "output_format", "model", "model_config",
                      "first_content_at"),
    "transcription": _fields("transcription", "input", "input_format", "output", "model",
                             "model_config"),
}


def _events(raw: Any) -> list[Any]:
    return list(raw) if isinstance(raw, list) else ([] if raw is None else [raw])


def _failed(span: RaafSpan, attrs: _Attributes) -> bool:
    """``status`` ``error`` (``Span#set_status``, ``Traceable``'s ``fail_span``), an ``error``
    attribute RAAF's OpenAI exporter would send as the error (an object, text or ``true``), or
    ``success: false``."""
    given = attrs.left.get("error")
    return span.status == "error" or (given is not None and given is not False) \
        or attrs.left.get("success") is False


def _error_data(given: Any, kind: str | None, stack: Any) -> dict[str, Any] | None:
    data: dict[str, Any] = {}
    if isinstance(given, Mapping):
        inner = given.get("data")
        if isinstance(inner, Mapping):
            data.update(inner)
        data.update({k: v for k, v in given.items() if k not in ("message", "data")})
        if inner is not None and not isinstance(inner, Mapping):
            data["data"] = inner
    if kind is not None:
        data["type"] = kind
    if stack:
        data["stacktrace"] = stack
    return data or None


def _error(span: RaafSpan, attrs: _Attributes, events: list[Any]) -> tuple[dict[str, Any] | None, list[Any]]:
    """The SDK ``error`` of a failed span, and the events left (an ``exception`` event is
    told in the error, not repeated).

    Its message is the first of: the ``error`` attribute (an object's ``message``, or text),
    ``status.description``, ``error.message``, the event's ``exception.message``, ``"error"``.
    Its ``data.type`` is ``error.type`` or the event's ``exception.type``, ``data.stacktrace``
    the event's ``exception.stacktrace`` or ``error.backtrace``."""
    if not _failed(span, attrs):
        return None, events
    thrown = next((e for e in events if isinstance(e, Mapping) and e.get("name") == "exception"), None)
    details = thrown.get("attributes") if isinstance(thrown, Mapping) else None
    details = details if isinstance(details, Mapping) else {}
    given = attrs.take("error")
    described, told = attrs.take("status.description"), attrs.take("error.message")
    kind, backtrace = attrs.take("error.type"), attrs.take("error.backtrace")
    message = (_text(given.get("message")) if isinstance(given, Mapping) else _text(given)) \
        or _text(described) or _text(told) or _text(details.get("exception.message")) or "error"
    data = _error_data(given, _text(kind) or _text(details.get("exception.type")),
                       details.get("exception.stacktrace") or backtrace)
    return {"message": message, "data": data}, [e for e in events if e is not thrown]


def microseconds(moment: datetime) -> int:
    """Unix microseconds of an aware datetime (the times of :class:`RaafSpan`)."""
    since = moment - _EPOCH
    return (since.days * 86_400 + since.seconds) * 1_000_000 + since.microseconds


def _whole_seconds(us: int) -> bool:
    return us % 1_000_000 == 0


def _moved(us: int, milliseconds: float) -> int | None:
    moved = us + round(milliseconds * 1000)
    return moved if _FIRST_US <= moved <= _LAST_US else None  # else past the years a datetime holds


def span_times(span: RaafSpan) -> tuple[int | None, int | None]:
    """Start and end (see the module). The duration is the ``duration_ms`` attribute
    ``Span#finish`` sets, else the span's own (a Rails row's is worked out from its times)."""
    start, end = span.start, span.end
    attributes = span.attributes
    given = attributes.get("duration_ms") if type(attributes) is dict or isinstance(attributes, Mapping) \
        else None
    lasted = _milliseconds(given)
    if lasted is None:
        lasted = _milliseconds(span.duration_ms)
    if lasted is None:
        return start, end
    if start is not None and end is not None:
        if _whole_seconds(start) and _whole_seconds(end):
            moved = _moved(start, lasted)
            end = end if moved is None else moved
    elif start is not None:
        end = _moved(start, lasted)
    elif end is not None:
        start = _moved(end, -lasted)
    return start, end


def _stamp(us: int | None) -> int | str | None:
    """An item's time: Unix nanoseconds, which the converter takes as they are (no text to
    write and parse again); ISO text before 1973-03-03 (10**17 ns), where the converter would
    read a number as microseconds; ``None`` past the years a datetime holds."""
    if us is None or not _FIRST_US <= us <= _LAST_US:
        return None
    if us < _NUMBERS_FROM_US:
        return (_EPOCH + timedelta(microseconds=us)).isoformat()
    return us * 1000


def _metadata(span: RaafSpan, attrs: _Attributes, events: list[Any], sdk_type: str) -> dict[str, Any]:
    metadata: dict[str, Any] = {"raaf.kind": span.kind, **attrs.left}
    if span.status not in (None, "ok", "error"):
        metadata["raaf.status"] = span.status
    if events:
        metadata["raaf.events"] = events
    if sdk_type != "generation":  # a generation reads these as its usage and model
        for key, value in (("input_tokens", _int(span.input_tokens)),
                           ("output_tokens", _int(span.output_tokens)), ("agent.model", span.agent_model)):
            if value is not None:
                metadata.setdefault(key, value)
    return metadata


def span_item(span: RaafSpan, *, parent_is_trace: bool, end_if_open: int | None = None) -> dict[str, Any]:
    """The SDK ``trace.span`` item of a span. ``parent_is_trace``: its parent is the trace's
    own ``trace``-kind span, which the trace item stands for (so it has no parent). A span
    without an end ends at ``end_if_open`` when that is not before its start, else at its start."""
    attrs = _Attributes(span.attributes)
    sdk_type = SDK_TYPES.get(span.kind, "custom")
    read = _DATA.get(sdk_type)
    data = read(attrs, span) if read else {"name": span.name, "data": {}}
    error, events = _error(span, attrs, _events(span.events))
    start, end = span_times(span)
    attrs.take("duration_ms")  # told by the times
    if end is None:
        end = end_if_open if end_if_open is not None and start is not None and end_if_open >= start \
            else start
    return {
        "object": "trace.span",
        "id": span.span_id,
        "trace_id": span.trace_id,
        "parent_id": None if parent_is_trace else span.parent_id,
        "started_at": _stamp(start),
        "ended_at": _stamp(end),
        "span_data": {"type": sdk_type, **{k: v for k, v in data.items() if v is not None}},
        "error": error,
        "metadata": _metadata(span, attrs, events, sdk_type),
    }


def _trace_metadata(given: Any) -> dict[str, Any]:
    if isinstance(given, Mapping):
        return dict(given)
    return {} if given in (None, {}, "") else {"raaf.metadata": given}


def _root_metadata(root: RaafSpan, attrs: _Attributes) -> dict[str, Any]:
    """The trace span's id, a status other than ``ok``, its other attributes and its events."""
    metadata: dict[str, Any] = {"raaf.trace_span.id": root.span_id}
    if root.status not in (None, "ok"):
        metadata["raaf.trace_span.status"] = root.status
    metadata.update({f"raaf.trace_span.{k}": v for k, v in attrs.left.items()})
    events = _events(root.events)
    if events:
        metadata["raaf.trace_span.events"] = events
    return metadata


def trace_item(trace: RaafTrace) -> dict[str, Any]:
    """The SDK ``trace`` item of a trace, its own ``trace``-kind span folded in: the row's
    values first, else the span's ``trace.*`` attributes (the workflow name, else the span's
    name without ``trace.``, else ``Agent workflow``)."""
    root = trace.root
    attrs = _Attributes(None if root is None else root.attributes)
    named, grouped = attrs.take("trace.workflow_name"), attrs.take("trace.group_id")
    described = attrs.take("trace.metadata")
    attrs.take("trace.id", "duration_ms")
    from_name = None if root is None else _text(root.name.removeprefix("trace."))
    metadata = _trace_metadata(trace.metadata if trace.metadata not in (None, {}) else described)
    if trace.status is not None:
        metadata["raaf.status"] = trace.status
    if root is not None:
        metadata.update(_root_metadata(root, attrs))
    group = trace.group_id or grouped
    return {
        "object": "trace",
        "id": trace.trace_id,
        "workflow_name": _text(trace.workflow_name) or _text(named) or from_name or "Agent workflow",
        "group_id": group if isinstance(group, str) else None,
        "metadata": metadata or None,
        "started_at": _stamp(trace.start if trace.start is not None else trace.end),
        "ended_at": _stamp(trace.end),
    }
