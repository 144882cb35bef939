"""Flatten OTLP-JSON trace documents into plain span dicts.

Accepts what the backends return: the collector file exporter's lines
(``{"resourceSpans": [...]}``), Jaeger's ``/api/v3/traces/{id}``
(``{"result": {"resourceSpans": [...]}}``) and Tempo's trace API
(``{"batches": [...]}`` or ``{"trace": {"resourceSpans": [...]}}``).

Each span becomes a dict::

    {
        "trace_id": "32 hex chars", "span_id": "16 hex", "parent_span_id": "16 hex" or "",
        "name": str, "kind": "INTERNAL" | "SERVER" | "CLIENT" | "PRODUCER" | "CONSUMER"
                      | "UNSPECIFIED",
        "status_code": "UNSET" | "OK" | "ERROR", "status_message": str,
        "start_time_unix_nano": int, "end_time_unix_nano": int,
        "attributes": {key: value}, "dropped_attributes_count": int,
        "resource": {key: value},
        "scope_name": str, "scope_version": str,
        "events": [{"name": str, "time_unix_nano": int, "attributes": {...}}],
        "links": [{"trace_id": str, "span_id": str, "attributes": {...}}],
    }

Attribute values are decoded to Python types (str, int, float, bool, bytes,
list, dict).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from typing import Any

SPAN_KINDS = ("UNSPECIFIED", "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER")
STATUS_CODES = ("UNSET", "OK", "ERROR")


def _get(obj: dict[str, Any], *names: str, default: Any = None) -> Any:
    """First present key among camelCase / snake_case spellings."""
    for name in names:
        if name in obj:
            return obj[name]
    return default


def id_to_hex(value: Any, nbytes: int) -> str:
    """Normalise a trace/span id (hex string, base64 string, int or bytes) to lower hex."""
    if value in (None, "", b""):
        return ""
    if isinstance(value, int):
        return format(value, f"0{nbytes * 2}x")
    if isinstance(value, bytes):
        return value.hex()
    text = str(value)
    if len(text) == nbytes * 2:
        try:
            int(text, 16)
        except ValueError:
            pass
        else:
            return text.lower()
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return text.lower()
    return raw.hex() if len(raw) == nbytes else text.lower()


def any_value(value: dict[str, Any] | None) -> Any:
    """Decode an OTLP-JSON ``AnyValue``."""
    if not value:
        return None
    if "stringValue" in value or "string_value" in value:
        return _get(value, "stringValue", "string_value")
    if "boolValue" in value or "bool_value" in value:
        return bool(_get(value, "boolValue", "bool_value"))
    if "intValue" in value or "int_value" in value:
        return int(_get(value, "intValue", "int_value"))
    if "doubleValue" in value or "double_value" in value:
        return float(_get(value, "doubleValue", "double_value"))
    if "bytesValue" in value or "bytes_value" in value:
        return base64.b64decode(_get(value, "bytesValue", "bytes_value"))
    if "arrayValue" in value or "array_value" in value:
        arr = _get(value, "arrayValue", "array_value") or {}
        return [any_value(v) for v in arr.get("values", [])]
    if "kvlistValue" in value or "kvlist_value" in value:
        kv = _get(value, "kvlistValue", "kvlist_value") or {}
        return attributes(kv.get("values", []))
    return None


def attributes(items: Iterable[dict[str, Any]] | None) -> dict[str, Any]:
    """Decode a list of OTLP-JSON ``KeyValue`` into a dict."""
    return {kv["key"]: any_value(kv.get("value")) for kv in items or ()}


def _enum(value: Any, names: tuple[str, ...], prefix: str) -> str:
    if value is None or value == "":
        return names[0]
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        idx = int(value)
        return names[idx] if 0 <= idx < len(names) else str(value)
    text = str(value)
    return text[len(prefix) :] if text.startswith(prefix) else text


def _nanos(value: Any) -> int:
    return int(value) if value not in (None, "") else 0


def flatten_span(
    span: dict[str, Any], resource: dict[str, Any], scope: dict[str, Any]
) -> dict[str, Any]:
    """One OTLP-JSON span (with its resource and scope attributes) as a flat dict."""
    status = span.get("status") or {}
    return {
        "trace_id": id_to_hex(_get(span, "traceId", "trace_id"), 16),
        "span_id": id_to_hex(_get(span, "spanId", "span_id"), 8),
        "parent_span_id": id_to_hex(_get(span, "parentSpanId", "parent_span_id"), 8),
        "name": span.get("name", ""),
        "kind": _enum(span.get("kind"), SPAN_KINDS, "SPAN_KIND_"),
        "status_code": _enum(status.get("code"), STATUS_CODES, "STATUS_CODE_"),
        "status_message": status.get("message", ""),
        "start_time_unix_nano": _nanos(_get(span, "startTimeUnixNano", "start_time_unix_nano")),
        "end_time_unix_nano": _nanos(_get(span, "endTimeUnixNano", "end_time_unix_nano")),
        "attributes": attributes(span.get("attributes")),
        "dropped_attributes_count": int(
            _get(span, "droppedAttributesCount", "dropped_attributes_count", default=0) or 0
        ),
        "resource": resource,
        "scope_name": scope.get("name", ""),
        "scope_version": scope.get("version", ""),
        "events": [
            {
                "name": ev.get("name", ""),
                "time_unix_nano": _nanos(_get(ev, "timeUnixNano", "time_unix_nano")),
                "attributes": attributes(ev.get("attributes")),
            }
            for ev in span.get("events") or ()
        ],
        "links": [
            {
                "trace_id": id_to_hex(_get(link, "traceId", "trace_id"), 16),
                "span_id": id_to_hex(_get(link, "spanId", "span_id"), 8),
                "attributes": attributes(link.get("attributes")),
            }
            for link in span.get("links") or ()
        ],
    }


def _resource_spans(doc: dict[str, Any]) -> list[dict[str, Any]]:
    for wrapper in ("result", "trace"):
        inner = doc.get(wrapper)
        if isinstance(inner, dict):
            return _resource_spans(inner)
    rs = _get(doc, "resourceSpans", "resource_spans", "batches", default=None)
    return list(rs or ())


def flatten_traces(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """All spans of one OTLP-JSON traces document, flattened (see module docstring)."""
    spans: list[dict[str, Any]] = []
    for rs in _resource_spans(doc):
        resource = attributes((rs.get("resource") or {}).get("attributes"))
        for ss in _get(rs, "scopeSpans", "scope_spans", "instrumentationLibrarySpans") or ():
            scope_obj = _get(ss, "scope", "instrumentationLibrary") or {}
            for span in ss.get("spans") or ():
                spans.append(flatten_span(span, resource, scope_obj))
    return spans
