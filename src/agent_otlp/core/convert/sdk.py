"""Live OpenAI Agents SDK span objects read as :class:`~agent_otlp.core.convert.records.AgentSpan`.

One definition of the fast path, shared by every place that reads SDK spans (in-process
export, offload mode's agent process and its child): a plain span's fields are read from
the object's attributes (:func:`sdk_span_fields`) and rebuilt with
:func:`span_from_fields`, without building and re-validating the export dict. Anything
unusual (a response span, metadata, unexpected types, an empty id) takes the validated path
instead: ``parse_item(sdk_span_item(span, capture_content))``, which accepts or rejects it
exactly as it would an item from a file.

Reads attributes and calls ``export()``/``model_dump()`` of the SDK's objects; no I/O.
"""

from __future__ import annotations

from typing import Any, TypeAlias

from agent_otlp.core.config.errors import InputError
from agent_otlp.core.convert.messages import as_plain
from agent_otlp.core.convert.records import AgentSpan, parse_item, parse_timestamp, span_error
from agent_otlp.core.convert.responses import CONTENT_KEYS, KEPT_KEYS

__all__ = ["SdkSpanFields", "sdk_span_fields", "sdk_span_item", "sdk_span_record", "span_from_fields"]

#: ``(span_id, trace_id, parent_id, started_at, ended_at, span_data, error)`` of a plain SDK
#: span: ids checked, timestamps as the SDK gives them (parsed by :func:`span_from_fields`).
SdkSpanFields: TypeAlias = tuple[str, str, "str | None", Any, Any, "dict[str, Any]", "dict[str, Any] | None"]


def sdk_span_fields(span: Any) -> SdkSpanFields | None:
    """The fields of a plain SDK span, or ``None`` when the span needs the validated path
    (:func:`sdk_span_item` then ``parse_item``). Never raises."""
    try:
        span_id = span.span_id
        trace_id = span.trace_id
        parent_id = span.parent_id
        error = span.error
        if not (
            type(span_id) is str
            and span_id
            and type(trace_id) is str
            and trace_id
            and (parent_id is None or type(parent_id) is str)
            and (error is None or type(error) is dict)
            and getattr(span, "trace_metadata", None) is None
        ):
            return None
        data_object = span.span_data
        if getattr(data_object, "metadata", None) is not None:
            return None
        data = data_object.export()
        if type(data) is not dict or type(data.get("type")) is not str or data["type"] == "response":
            return None
        return (span_id, trace_id, parent_id, span.started_at, span.ended_at, data, error)
    except Exception:  # a hostile span object: the validated path reports it
        return None


def span_from_fields(
    span_id: str, trace_id: str, parent_id: str | None, started: Any, ended: Any,
    data: dict[str, Any], error: dict[str, Any] | None,
) -> AgentSpan:
    """The :class:`AgentSpan` of :func:`sdk_span_fields`' fields (raises
    :class:`~agent_otlp.core.config.errors.InputError` for a bad timestamp)."""
    return AgentSpan(
        span_id,
        trace_id,
        parent_id or None,
        parse_timestamp(started, "started_at", span_id),
        parse_timestamp(ended, "ended_at", span_id),
        data,
        span_error(error),  # as for an item: a message even when the dict has none
        None,
    )


def _response_fields(response: Any, capture_content: bool) -> dict[str, Any] | None:
    """The ``Response`` object's facts (and, with content, its output and instructions)
    under the API's field names; ``None`` when there is no readable response."""
    dumped = as_plain(response)
    if not isinstance(dumped, dict):
        return None
    keys = (*KEPT_KEYS, *CONTENT_KEYS) if capture_content else KEPT_KEYS
    return {key: dumped[key] for key in keys if dumped.get(key) is not None}


def sdk_span_item(span: Any, capture_content: bool) -> dict[str, Any]:
    """A live SDK span in the export format, plus what ``export()`` leaves out of responses:
    the ``Response`` object (``span_data.response``) and, with content, the input."""
    item: dict[str, Any] = span.export()
    data = span.span_data
    if getattr(data, "type", None) == "response":
        span_data = item["span_data"] = dict(item["span_data"])
        response = getattr(data, "response", None)
        fields = _response_fields(response, capture_content) if response is not None else None
        if fields:
            span_data["response"] = fields
            if isinstance(fields.get("model"), str):  # where files written earlier have it
                span_data["model"] = fields["model"]
        if capture_content:
            given = getattr(data, "input", None)
            span_data["input"] = [as_plain(i) for i in given] if isinstance(given, list) else given
    return item


def sdk_span_record(span: Any, capture_content: bool) -> AgentSpan:
    """A live SDK span as an :class:`AgentSpan`: the fast path for a plain span, else the
    validated path (raises :class:`~agent_otlp.core.config.errors.InputError` for an
    invalid span)."""
    fields = sdk_span_fields(span)
    if fields is not None:
        return span_from_fields(*fields)
    parsed = parse_item(sdk_span_item(span, capture_content))
    if not isinstance(parsed, AgentSpan):
        raise InputError("object", "trace", "expected 'trace.span'")
    return parsed
