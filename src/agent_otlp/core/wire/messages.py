"""Span records as ``opentelemetry-proto`` message objects, and OTLP/JSON.

:func:`encode_request` builds the messages (OTLP/JSON, the console adapter, tests and tools;
destinations send :class:`agent_otlp.core.wire.encode.WireEncoder` bytes instead). OTLP/JSON
follows the specification: hex ids, integer enums, decimal-string 64-bit integers.
:func:`decode_export_response` reads a receiver's answer (protobuf or OTLP/JSON).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import (
    AnyValue,
    ArrayValue,
    InstrumentationScope,
    KeyValue,
)
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from agent_otlp._version import __version__
from agent_otlp.core.convert.records import AttrValue, SpanRecord
from agent_otlp.core.wire.encode import SCHEMA_URL, SCOPE_NAME

__all__ = [
    "decode_export_response",
    "encode_request",
    "from_any_value",
    "request_to_json",
    "to_any_value",
]

_SCOPE: Final = InstrumentationScope(name=SCOPE_NAME, version=__version__)


def to_any_value(value: AttrValue) -> AnyValue:
    if isinstance(value, str):
        return AnyValue(string_value=value)
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    return AnyValue(array_value=ArrayValue(values=[to_any_value(v) for v in value]))


def from_any_value(value: AnyValue) -> Any:
    """The Python value of an OTLP ``AnyValue`` (a key-value list becomes a dict)."""
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [from_any_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: from_any_value(kv.value) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return bytes(value.bytes_value)
    return getattr(value, kind) if kind else None


def _key_values(attributes: Mapping[str, AttrValue]) -> list[KeyValue]:
    return [KeyValue(key=k, value=to_any_value(v)) for k, v in attributes.items()]


def _span(record: SpanRecord) -> Span:
    span = Span(
        trace_id=record.trace_id,
        span_id=record.span_id,
        parent_span_id=record.parent_span_id,
        name=record.name,
        kind=record.kind,  # type: ignore[arg-type]
        start_time_unix_nano=record.start_ns,
        end_time_unix_nano=record.end_ns,
        attributes=_key_values(record.attributes),
        dropped_attributes_count=record.dropped_attributes_count,
        flags=0x100,  # SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK; parent is never remote
    )
    for event in record.events:
        span.events.add(
            time_unix_nano=event.time_ns,
            name=event.name,
            attributes=_key_values(event.attributes),
        )
    if record.status_code:
        span.status.CopyFrom(Status(code=record.status_code, message=record.status_message))  # type: ignore[arg-type]
    return span


def encode_request(
    records: Iterable[SpanRecord], resource: Mapping[str, AttrValue]
) -> ExportTraceServiceRequest:
    """One export request holding ``records`` under one resource and scope."""
    return ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource=Resource(attributes=_key_values(resource)),
                scope_spans=[ScopeSpans(scope=_SCOPE, spans=[_span(r) for r in records],
                                        schema_url=SCHEMA_URL)],
                schema_url=SCHEMA_URL,
            )
        ]
    )


_ID_FIELDS: Final = frozenset({"traceId", "spanId", "parentSpanId"})


def _hex_ids(node: Any) -> Any:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _ID_FIELDS and isinstance(value, str):
                node[key] = _b64_to_hex(value)
            else:
                _hex_ids(value)
    elif isinstance(node, list):
        for item in node:
            _hex_ids(item)
    return node


def _b64_to_hex(value: str) -> str:
    import base64

    return base64.b64decode(value).hex()


def request_to_json(requests: Sequence[ExportTraceServiceRequest], *, indent: int | None = None) -> str:
    """OTLP/JSON text of the requests, merged into one ``resourceSpans`` list."""
    merged: list[Any] = []
    for request in requests:
        as_dict = json_format.MessageToDict(request, use_integers_for_enums=True)
        merged.extend(as_dict.get("resourceSpans", []))
    return json.dumps(_hex_ids({"resourceSpans": merged}), indent=indent, ensure_ascii=False)


def decode_export_response(body: bytes, json_body: bool) -> tuple[int, str]:
    """``(rejected_spans, error_message)`` of an ``ExportTraceServiceResponse`` in ``body``,
    protobuf or (``json_body``) OTLP/JSON.

    Raises :class:`ValueError` when ``body`` is not such a message: a JSON field the message
    does not have counts as not OTLP (an answer from some other service), while unknown
    protobuf fields are accepted, as the protobuf rules for newer message versions ask.
    """
    try:
        if json_body:
            response = json_format.Parse(body, ExportTraceServiceResponse())
        else:
            response = ExportTraceServiceResponse.FromString(body)
    except Exception as exc:  # DecodeError, ParseError, UnicodeDecodeError...
        raise ValueError(f"not an ExportTraceServiceResponse: {type(exc).__name__}") from None
    partial = response.partial_success
    return int(partial.rejected_spans), str(partial.error_message)
