"""Agent spans to OpenTelemetry spans, following the OpenTelemetry GenAI conventions.

The table of names, kinds and attributes per agent span type is in ``docs/conversion.md``.
Conversion is pure: no I/O, no globals beyond caches of the id mapping. Each span type's
``span_data`` is mapped in :mod:`~agent_otlp.core.convert.span_data`; the attribute names
agent-otlp adds are in :mod:`~agent_otlp.core.convert.attributes`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as ga
from opentelemetry.semconv.attributes import error_attributes, exception_attributes

from agent_otlp.core.convert.attributes import (
    CONTENT_ATTRIBUTES,
    GUARDRAIL_COMPONENT,
    GUARDRAIL_EVENT,
    GUARDRAIL_RESULT_TYPE,
    GUARDRAIL_RESULT_VALUE,
    INCOMPLETE,
    NAMESPACE,
    SPAN_DATA,
)
from agent_otlp.core.convert.chat_completion import response_only
from agent_otlp.core.convert.flatten import clean_str, flatten_into, safe_json
from agent_otlp.core.convert.ids import span_id_for, trace_id_for, workflow_span_id_for
from agent_otlp.core.convert.records import (
    CONVERSATION_TYPES,
    AgentSpan,
    AgentTrace,
    Attributes,
    EventRecord,
    SpanKind,
    SpanRecord,
    StatusCode,
    truncated_marker,
)
from agent_otlp.core.convert.repair import SELF_PARENT, reparent
from agent_otlp.core.convert.span_data import (
    CLIENT_TYPES,
    DEFAULT_SKIP,
    MAPPERS,
    SKIP,
    ConvertOptions,
    span_name,
)

__all__ = [
    "CONTENT_ATTRIBUTES",
    "NAMESPACE",
    "ConvertOptions",
    "convert_span",
    "convert_trace",
]

#: Recently mapped span ids: a parent's id is looked up again for each of its children.
_SPAN_IDS: dict[str, bytes] = {}
_SPAN_IDS_MAX: Final = 8192


def _span_id(agent_span_id: str) -> bytes:
    cached = _SPAN_IDS.get(agent_span_id)
    if cached is None:
        if len(_SPAN_IDS) >= _SPAN_IDS_MAX:
            _SPAN_IDS.clear()
        cached = _SPAN_IDS[agent_span_id] = span_id_for(agent_span_id)
    return cached


def _ids(span: AgentSpan) -> tuple[bytes, bytes, bytes]:
    trace_id = trace_id_for(span.trace_id)
    parent = span.parent_id
    parent_id = _span_id(parent) if parent else workflow_span_id_for(span.trace_id)
    return trace_id, _span_id(span.id), parent_id


_SPAN_ID_KEY: Final = f"{NAMESPACE}.span_id"
_TRACE_ID_KEY: Final = f"{NAMESPACE}.trace_id"
_SPAN_TYPE_KEY: Final = f"{NAMESPACE}.span_type"
_PARENT_ID_KEY: Final = f"{NAMESPACE}.parent_id"
_METADATA_KEY: Final = f"{NAMESPACE}.metadata"
#: ``openai_agents.span_data.<field>`` per field name seen (bounded).
_DATA_KEYS: dict[str, str] = {}


def _data_key(field_name: Any) -> str:
    if type(field_name) is not str:  # 1, 1.0 and True are equal dict keys: never cached
        return f"{SPAN_DATA}.{clean_str(str(field_name))}"
    key = _DATA_KEYS.get(field_name)
    if key is None:
        key = f"{SPAN_DATA}.{clean_str(field_name)}"
        if len(_DATA_KEYS) < 1024:
            _DATA_KEYS[field_name] = key
    return key


#: An ``error.type`` must be low-cardinality: a class or code name, not a sentence.
_ERROR_TYPE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_.:-]{0,127}")
#: The conventions' fallback when no such name is known.
_OTHER_ERROR: Final = "_OTHER"


def _error(record: SpanRecord, error: Mapping[str, Any]) -> None:
    message = error.get("message")
    text = clean_str(message) if isinstance(message, str) else safe_json(message)
    data = error.get("data")
    kind = data.get("type") if isinstance(data, Mapping) else None
    error_type = kind if isinstance(kind, str) and _ERROR_TYPE.fullmatch(kind) else _OTHER_ERROR
    record.status_code = StatusCode.ERROR
    record.status_message = text
    record.attributes[error_attributes.ERROR_TYPE] = error_type
    event: Attributes = {exception_attributes.EXCEPTION_MESSAGE: text}
    if error_type != _OTHER_ERROR:  # the exception's class, when the item names one
        event[exception_attributes.EXCEPTION_TYPE] = error_type
    if data is not None:
        flatten_into(event, f"{NAMESPACE}.error.data", data)
    record.events.append(EventRecord("exception", record.end_ns, event))


def convert_span(span: AgentSpan, options: ConvertOptions) -> SpanRecord:
    """One agent span as an OpenTelemetry span record.

    A span that is its own parent hangs under the workflow span (duplicate ids and parent
    loops need the whole trace: :class:`agent_otlp.core.convert.repair.TraceLinks` fixes them
    before conversion).
    """
    if span.parent_id == span.id:
        reparent(span, SELF_PARENT)
    trace_id, span_id, parent_id = _ids(span)
    data: Mapping[Any, Any] = span.data  # keys are not always str (hostile input)
    kind = data.get("type")
    if not isinstance(kind, str):
        kind = "unknown"
    source_id = span.id
    source_trace = span.trace_id
    attrs: Attributes = {
        _SPAN_ID_KEY: clean_str(source_id),
        _TRACE_ID_KEY: clean_str(source_trace),
        _SPAN_TYPE_KEY: clean_str(kind),
    }
    source_parent = span.parent_id
    if source_parent:
        attrs[_PARENT_ID_KEY] = clean_str(source_parent)
    marker = truncated_marker(data)  # RAAF's stand-in for an oversized span: not its type
    mapper = MAPPERS.get(kind) if marker is None else None
    name = mapper(attrs, data, options) if mapper else clean_str(marker or span_name(data, kind))
    skip = SKIP.get(kind, DEFAULT_SKIP) if marker is None else DEFAULT_SKIP
    called = mapper is not None and kind in CLIENT_TYPES and not (kind == "response" and response_only(data))
    if not skip.issuperset(data):  # usually every field is mapped already
        for key, value in data.items():
            if key not in skip:
                flatten_into(attrs, _data_key(key), value)
    if span.metadata:
        flatten_into(attrs, _METADATA_KEY, span.metadata)
    if span.conversation_id and kind in CONVERSATION_TYPES:
        attrs.setdefault(ga.GEN_AI_CONVERSATION_ID, clean_str(span.conversation_id))
    repairs = span.repairs
    if repairs:
        for key, note in repairs.items():
            attrs[key] = clean_str(note)
    start = span.started_ns
    end = span.ended_ns
    if start is None:
        start = end if end is not None else 0
    if end is None:
        end = start
        attrs[INCOMPLETE] = True
    elif end < start:
        end = start
    events: list[EventRecord] = []
    record = SpanRecord(
        trace_id, span_id, parent_id, name,
        SpanKind.CLIENT if called else SpanKind.INTERNAL,
        start, end, attrs, events, StatusCode.UNSET, "", source_trace, source_id, kind,
    )
    record.producer = span.producer
    if options.legacy_attributes and ga.GEN_AI_PROVIDER_NAME in attrs:
        attrs[ga.GEN_AI_SYSTEM] = attrs[ga.GEN_AI_PROVIDER_NAME]
    if kind == "guardrail":
        result: Attributes = {k: attrs[k] for k in (GUARDRAIL_COMPONENT, GUARDRAIL_RESULT_TYPE,
                                        GUARDRAIL_RESULT_VALUE) if k in attrs}
        events.append(EventRecord(GUARDRAIL_EVENT, end, result))
    if span.error is not None:
        _error(record, span.error)
    return record


def convert_trace(trace: AgentTrace, start_ns: int, end_ns: int) -> SpanRecord:
    """The workflow span standing for the trace itself: parent of the SDK's root spans."""
    attrs: Attributes = {
        ga.GEN_AI_OPERATION_NAME: "invoke_workflow",
        ga.GEN_AI_WORKFLOW_NAME: clean_str(trace.workflow_name),
        f"{NAMESPACE}.trace_id": clean_str(trace.id),
        f"{NAMESPACE}.span_type": "trace",
    }
    if trace.group_id:
        attrs[ga.GEN_AI_CONVERSATION_ID] = clean_str(trace.group_id)
    if trace.metadata:
        flatten_into(attrs, f"{NAMESPACE}.metadata", trace.metadata)
    return SpanRecord(
        trace_id_for(trace.id),
        workflow_span_id_for(trace.id),
        b"",
        f"invoke_workflow {clean_str(trace.workflow_name)}",
        SpanKind.INTERNAL,
        start_ns,
        max(end_ns, start_ns),
        attrs,
        source_trace_id=trace.id,
        source_span_id=trace.id,
        source_type="trace",
        producer=trace.producer,
    )
