"""Span records to the OTLP protobuf wire format, written directly.

:class:`WireEncoder` writes the protobuf wire format of ``ExportTraceServiceRequest``
directly (varints, length-delimited fields), with the encodings of attribute keys,
recurring ``(key, value)`` pairs and the resource and scope blocks cached. It is what
destinations send: building message objects costs several times more per span (see
``docs/performance.md``). Its bytes decode to exactly the message
:func:`agent_otlp.core.wire.messages.encode_request` builds (``tests/core/wire/test_perf_encode.py``).
This module does not import protobuf: a process that only sends (the offload child, an
agent) does not load it.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping
from typing import Final

from agent_otlp._version import __version__
from agent_otlp.core.convert.producer import Producer
from agent_otlp.core.convert.records import AttrValue, SpanRecord

__all__ = ["SCHEMA_URL", "SCOPE_NAME", "WireEncoder"]

SCOPE_NAME: Final = "agent_otlp"
#: The semantic-conventions version the conversion follows (the GenAI conventions build on
#: it), sent as the ``schema_url`` of the resource and of the scope.
SCHEMA_URL: Final = "https://opentelemetry.io/schemas/1.44.0"
_SCHEMA_FIELD: Final = b"\x1a" + bytes((len(SCHEMA_URL),)) + SCHEMA_URL.encode("ascii")


# --- protobuf wire format, written directly ----------------------------------------------

_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1
_pack_double = struct.Struct("<d").pack
_pack_times = struct.Struct("<BQBQ").pack  # Span fields 7 and 8 (fixed64)
_pack_event_time = struct.Struct("<BQ").pack  # Span.Event field 1 (fixed64)
_FLAGS: Final = b"\x85\x01" + struct.pack("<I", 0x100)  # Span field 16 (fixed32)
_SMALL: Final = tuple(bytes((i,)) for i in range(128))
#: Values cached per attribute key; a full cache is emptied and fills again, so a key whose
#: values repeat only within a trace (its id, a parent's id) still hits.
_VALUES_PER_KEY: Final = 64
#: Longer strings are encoded every time (content, JSON): caching them would hold memory.
_CACHED_STRING_MAX: Final = 256
#: Span names cached (``chat gpt-4o``, ``execute_tool get_order``...), emptied when full.
_NAMES_MAX: Final = 1024
#: Producers' resource blocks cached, emptied when full.
_PRODUCERS_MAX: Final = 256


def _varint(value: int) -> bytes:
    if 0 <= value < 128:
        return _SMALL[value]
    if 0 < value < 16384:  # two bytes: the length of most spans
        return bytes(((value & 0x7F) | 0x80, value >> 7))
    if value < 0:
        value += 1 << 64
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: what clean_str would have made of them
        from agent_otlp.core.convert.flatten import clean_str

        return clean_str(text).encode("utf-8")


def _field(tag: bytes, payload: bytes) -> bytes:
    n = len(payload)
    return tag + (_SMALL[n] if n < 128 else _varint(n)) + payload


def _any_value(value: AttrValue) -> bytes:
    """An ``AnyValue`` message body (the oneof is always written, defaults included)."""
    if isinstance(value, str):
        return _field(b"\x0a", _utf8(value))
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, int):
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise ValueError(f"integer attribute out of int64 range: {value}")
        return b"\x18" + _varint(value)
    if isinstance(value, float):
        return b"\x21" + _pack_double(value)
    if isinstance(value, list | tuple):
        return _field(b"\x2a", b"".join([_field(b"\x0a", _any_value(v)) for v in value]))
    raise TypeError(f"unsupported attribute value type: {type(value).__name__}")


class WireEncoder:
    """``ExportTraceServiceRequest`` bytes for span records under one resource and scope.

    One instance per destination (not thread-safe; the destination's worker owns it). The
    caches are bounded: at most :data:`_VALUES_PER_KEY` values per key (short strings,
    numbers, booleans, lists of strings), :data:`_NAMES_MAX` span names, and the key table
    is reset when it grows past ``max_keys``.
    """

    def __init__(self, resource: Mapping[str, AttrValue], *, max_keys: int = 4096) -> None:
        self._max_keys = max_keys
        self._keys: dict[str, bytes] = {}
        #: Per key: value (a string, or a tuple of the value's type and the value, or of
        #: ``list`` and the items) -> the whole span attribute field (tag 9, KeyValue).
        self._values: dict[str, dict[object, bytes]] = {}
        self._names: dict[str, bytes] = {}
        resource_block = _field(b"\x0a", self._attributes(resource, b"\x0a"))
        scope = _field(b"\x0a", _field(b"\x0a", _utf8(SCOPE_NAME)) + _field(b"\x12", _utf8(__version__)))
        self._resource = resource_block
        self._scope = scope
        self._base_resource = dict(resource)
        #: resource blocks of producers (spans posted through the bridge under their own token)
        self._producer_blocks: dict[Producer, bytes] = {}

    def _key(self, key: str) -> bytes:
        prefix = self._keys.get(key)
        if prefix is None:
            if len(self._keys) >= self._max_keys:
                self._keys.clear()
                self._values.clear()
            prefix = self._keys[key] = _field(b"\x0a", _utf8(key))
        return prefix

    def _attributes(self, attributes: Mapping[str, AttrValue], tag: bytes) -> bytes:
        key = self._key
        return b"".join([_field(tag, key(k) + _field(b"\x12", _any_value(v))) for k, v in attributes.items()])

    def _span_attributes(self, attributes: Mapping[str, AttrValue]) -> list[bytes]:
        caches = self._values
        keys = self._keys
        parts: list[bytes] = []
        append = parts.append
        for k, v in attributes.items():
            kind = type(v)
            if kind is str:
                token: object = v
            elif kind is bool or kind is int or (kind is float and v):  # 0.0 == -0.0: not cached
                token = (kind, v)
            elif kind is list and v and all([type(x) is str for x in v]):  # type: ignore[union-attr]
                token = (list, *v)  # type: ignore[misc]
            else:
                prefix = keys.get(k) or self._key(k)
                append(_field(b"\x4a", prefix + _field(b"\x12", _any_value(v))))
                continue
            cache = caches.get(k)
            if cache is not None:
                hit = cache.get(token)
                if hit is not None:
                    append(hit)
                    continue
            if kind is str and len(v) > _CACHED_STRING_MAX:  # type: ignore[arg-type]
                prefix = keys.get(k) or self._key(k)
                append(_field(b"\x4a", prefix + _field(b"\x12", _field(b"\x0a", _utf8(v)))))  # type: ignore[arg-type]
                continue
            if cache is None:
                cache = caches[k] = {}
            elif len(cache) >= _VALUES_PER_KEY:
                cache.clear()
            prefix = keys.get(k) or self._key(k)
            if kind is str:
                text = _utf8(v)  # type: ignore[arg-type]
                n = len(text)
                size = len(prefix) + n + 4  # KeyValue: key field, value field (2 + AnyValue)
                if size < 128:  # every length fits in one byte: one concatenation
                    encoded = b"".join((b"\x4a", _SMALL[size], prefix, b"\x12", _SMALL[n + 2],
                                        b"\x0a", _SMALL[n], text))
                else:
                    encoded = _field(b"\x4a", prefix + _field(b"\x12", _field(b"\x0a", text)))
            else:
                encoded = _field(b"\x4a", prefix + _field(b"\x12", _any_value(v)))
            cache[token] = encoded
            append(encoded)
        return parts

    def _span(self, r: SpanRecord) -> bytes:
        trace_id, span_id = r.trace_id, r.span_id
        if len(trace_id) == 16 and len(span_id) == 8:
            parts = [b"\x0a\x10", trace_id, b"\x12\x08", span_id]
        else:
            parts = [_field(b"\x0a", trace_id) if trace_id else b"", _field(b"\x12", span_id) if span_id else b""]
        parent = r.parent_span_id
        if parent:
            parts.append(b"\x22\x08" + parent if len(parent) == 8 else _field(b"\x22", parent))
        name = r.name
        if name:
            names = self._names
            encoded = names.get(name)
            if encoded is None:
                if len(names) >= _NAMES_MAX:
                    names.clear()
                encoded = names[name] = _field(b"\x2a", _utf8(name))
            parts.append(encoded)
        if r.kind:
            parts.append(b"\x30" + _varint(r.kind))
        parts.append(_pack_times(0x39, r.start_ns, 0x41, r.end_ns))
        parts += self._span_attributes(r.attributes)
        if r.dropped_attributes_count:
            parts.append(b"\x50" + _varint(r.dropped_attributes_count))
        for event in r.events:
            body = _pack_event_time(0x09, event.time_ns)
            if event.name:
                body += _field(b"\x12", _utf8(event.name))
            body += self._attributes(event.attributes, b"\x1a")
            parts.append(_field(b"\x5a", body))
        if r.status_code:
            status = _field(b"\x12", _utf8(r.status_message)) if r.status_message else b""
            parts.append(_field(b"\x7a", status + b"\x18" + _varint(r.status_code)))
        parts.append(_FLAGS)
        return b"".join(parts)

    def encode(self, records: Iterable[SpanRecord]) -> bytes:
        """The serialized request; same content as ``encode_request(records, resource)``.

        Spans of a producer (:attr:`SpanRecord.producer`) go in a ``ResourceSpans`` of their
        own, under that producer's resource (see :meth:`producer_resource`)."""
        span = self._span
        records = records if isinstance(records, list) else list(records)
        if any([r.producer is not None for r in records]):
            return self._encode_producers(records)
        spans = b"".join([_field(b"\x12", span(r)) for r in records])
        scope_spans = _field(b"\x12", self._scope + spans + _SCHEMA_FIELD)
        return _field(b"\x0a", self._resource + scope_spans + _SCHEMA_FIELD)

    def producer_resource(self, producer: Producer) -> dict[str, AttrValue]:
        """A producer's resource: this encoder's, without what describes the process
        exporting (``service.*``, ``process.*``), under the producer's own attributes."""
        resource: dict[str, AttrValue] = {
            k: v for k, v in self._base_resource.items() if not k.startswith(("service.", "process."))
        }
        resource.update(producer.attributes())
        return resource

    def _encode_producers(self, records: list[SpanRecord]) -> bytes:
        groups: dict[Producer | None, list[bytes]] = {}
        for r in records:
            groups.setdefault(r.producer, []).append(_field(b"\x12", self._span(r)))
        parts = []
        for producer, spans in groups.items():
            block = self._resource if producer is None else self._producer_block(producer)
            scope_spans = _field(b"\x12", self._scope + b"".join(spans) + _SCHEMA_FIELD)
            parts.append(_field(b"\x0a", block + scope_spans + _SCHEMA_FIELD))
        return b"".join(parts)

    def _producer_block(self, producer: Producer) -> bytes:
        block = self._producer_blocks.get(producer)
        if block is None:
            if len(self._producer_blocks) >= _PRODUCERS_MAX:
                self._producer_blocks.clear()
            resource = self.producer_resource(producer)
            block = self._producer_blocks[producer] = _field(b"\x0a", self._attributes(resource, b"\x0a"))
        return block
