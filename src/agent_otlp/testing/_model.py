"""Data model of the test receiver: replies, recorded requests and decoded spans."""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format  # type: ignore[import-untyped, unused-ignore]
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

__all__ = [
    "ReceivedEvent",
    "ReceivedLink",
    "ReceivedRequest",
    "ReceivedSpan",
    "Reply",
    "TLSConfig",
    "decode_any_value",
    "decode_attributes",
    "decode_spans",
    "parse_json_request",
]


@dataclass(frozen=True)
class TLSConfig:
    """Server certificate and key (PEM files); ``client_ca`` turns on mutual TLS."""

    certfile: str
    keyfile: str
    client_ca: str | None = None


@dataclass(frozen=True)
class Reply:
    """A scripted answer to one export request.

    ``status`` is the HTTP status code. For gRPC it is mapped to a status code
    unless ``grpc_code`` is given. ``retry_after`` (seconds, or an HTTP date
    string) is sent as ``Retry-After`` over HTTP and as ``google.rpc.RetryInfo``
    over gRPC. ``delay`` waits before answering. ``partial_rejected`` and
    ``message`` fill the OTLP partial-success response of an accepted request
    (or the error message of a rejected one).
    """

    status: int = 200
    retry_after: float | str | None = None
    grpc_code: Any = None  # grpc.StatusCode | None (grpc ships no type information)
    delay: float = 0.0
    partial_rejected: int = 0
    message: str = ""


@dataclass(frozen=True)
class ReceivedEvent:
    name: str
    time_ns: int
    attributes: dict[str, Any]


@dataclass(frozen=True)
class ReceivedLink:
    trace_id: str
    span_id: str
    attributes: dict[str, Any]
    trace_state: str = ""
    flags: int = 0


@dataclass(frozen=True)
class ReceivedSpan:
    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    kind: int
    start_ns: int
    end_ns: int
    attributes: dict[str, Any]
    events: list[ReceivedEvent]
    status_code: int
    status_message: str
    resource: dict[str, Any]
    scope_name: str
    scope_version: str
    links: list[ReceivedLink]
    dropped_attributes_count: int
    flags: int
    trace_state: str = ""
    dropped_events_count: int = 0
    dropped_links_count: int = 0

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns

    @property
    def is_root(self) -> bool:
        return self.parent_span_id == ""


@dataclass
class ReceivedRequest:
    """One request as it arrived. ``replied_status`` is ``None`` until answered.

    ``headers`` has lower-cased names; binary gRPC metadata (``*-bin``) is hex-encoded.
    For gRPC, ``body_size`` is the serialized (uncompressed) message size, ``compression``
    is ``None`` (gRPC does not expose it to the server) and ``replied_status`` is the HTTP
    equivalent of ``grpc_code``.
    """

    protocol: str
    path: str
    headers: dict[str, str]
    compression: str | None
    body_size: int
    message: ExportTraceServiceRequest
    content_type: str
    replied_status: int | None = None
    grpc_code: str | None = None
    decode_error: str | None = None
    reply: Reply | None = field(default=None, repr=False)

    @property
    def span_count(self) -> int:
        return sum(len(ss.spans) for rs in self.message.resource_spans for ss in rs.scope_spans)

    @property
    def accepted(self) -> bool:
        """Answered with success (partial success included)."""
        if self.replied_status is None or self.decode_error is not None:
            return False
        if self.protocol == "grpc":
            return self.grpc_code == "OK"
        return 200 <= self.replied_status < 300

    def spans(self) -> list[ReceivedSpan]:
        return decode_spans(self.message)


def decode_any_value(v: AnyValue) -> Any:
    """Convert an OTLP ``AnyValue`` into the matching Python value."""
    kind = v.WhichOneof("value")
    if kind == "string_value":
        return v.string_value
    if kind == "bool_value":
        return v.bool_value
    if kind == "int_value":
        return v.int_value
    if kind == "double_value":
        return v.double_value
    if kind == "bytes_value":
        return bytes(v.bytes_value)
    if kind == "array_value":
        return [decode_any_value(item) for item in v.array_value.values]
    if kind == "kvlist_value":
        return decode_attributes(v.kvlist_value.values)
    return None


def decode_attributes(kvs: Any) -> dict[str, Any]:
    """Convert a repeated ``KeyValue`` field into a dict."""
    out: dict[str, Any] = {}
    kv: KeyValue
    for kv in kvs:
        out[kv.key] = decode_any_value(kv.value)
    return out


def decode_spans(message: ExportTraceServiceRequest) -> list[ReceivedSpan]:
    """Flatten every span of an export request, with its resource and scope."""
    out: list[ReceivedSpan] = []
    for rs in message.resource_spans:
        resource = decode_attributes(rs.resource.attributes)
        for ss in rs.scope_spans:
            for s in ss.spans:
                out.append(
                    ReceivedSpan(
                        trace_id=s.trace_id.hex(),
                        span_id=s.span_id.hex(),
                        parent_span_id=s.parent_span_id.hex(),
                        name=s.name,
                        kind=int(s.kind),
                        start_ns=s.start_time_unix_nano,
                        end_ns=s.end_time_unix_nano,
                        attributes=decode_attributes(s.attributes),
                        events=[
                            ReceivedEvent(e.name, e.time_unix_nano, decode_attributes(e.attributes))
                            for e in s.events
                        ],
                        status_code=int(s.status.code),
                        status_message=s.status.message,
                        resource=resource,
                        scope_name=ss.scope.name,
                        scope_version=ss.scope.version,
                        links=[
                            ReceivedLink(
                                trace_id=lk.trace_id.hex(),
                                span_id=lk.span_id.hex(),
                                attributes=decode_attributes(lk.attributes),
                                trace_state=lk.trace_state,
                                flags=lk.flags,
                            )
                            for lk in s.links
                        ],
                        dropped_attributes_count=s.dropped_attributes_count,
                        flags=s.flags,
                        trace_state=s.trace_state,
                        dropped_events_count=s.dropped_events_count,
                        dropped_links_count=s.dropped_links_count,
                    )
                )
    return out


_ID_KEYS = frozenset({"traceId", "trace_id", "spanId", "span_id", "parentSpanId", "parent_span_id"})


def _hex_ids_to_base64(node: Any) -> Any:
    """OTLP/JSON carries ids as hex; protobuf JSON expects base64 for bytes fields."""
    if isinstance(node, list):
        return [_hex_ids_to_base64(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _ID_KEYS and isinstance(value, str) and value:
            with contextlib.suppress(ValueError):  # not hex: left for the parser to judge
                value = base64.b64encode(bytes.fromhex(value)).decode("ascii")
        elif key not in ("attributes", "stringValue", "string_value"):
            value = _hex_ids_to_base64(value)
        out[key] = value
    return out


def parse_json_request(body: bytes) -> ExportTraceServiceRequest:
    """Parse an OTLP/JSON trace export body (unknown fields are ignored)."""
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"invalid JSON: {exc}") from exc
    msg = ExportTraceServiceRequest()
    try:
        json_format.ParseDict(_hex_ids_to_base64(doc), msg, ignore_unknown_fields=True)
    except (json_format.ParseError, binascii.Error, TypeError) as exc:
        raise ValueError(f"invalid OTLP/JSON: {exc}") from exc
    return msg
