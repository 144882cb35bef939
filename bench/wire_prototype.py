"""Prototype: OTLP protobuf bytes written directly from span records, no message objects.

Not used by agent-otlp; it measures what ``agent_otlp.core.wire.messages.encode_request`` +
``SerializeToString`` could cost if the encoder wrote the protobuf wire format itself,
with the encoding of every attribute key and of recurring ``(key, value)`` pairs cached.

    python bench/wire_prototype.py [--traces 5000]

checks that the bytes decode to exactly the message ``encode_request`` builds, then prints
microseconds per span for both.
"""

from __future__ import annotations

import argparse
import struct
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

_pack_fixed64 = struct.Struct("<Q").pack
_pack_fixed32 = struct.Struct("<I").pack
_pack_double = struct.Struct("<d").pack


def _varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64
    if value < 0x80:
        return bytes((value,))
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(tag: bytes, payload: bytes) -> bytes:
    return tag + _varint(len(payload)) + payload


def _any(value: Any) -> bytes:
    if isinstance(value, str):
        return _field(b"\x0a", value.encode("utf-8", "surrogatepass"))
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, int):
        return b"\x18" + _varint(value)
    if isinstance(value, float):
        return b"\x21" + _pack_double(value)
    return _field(b"\x2a", b"".join(_field(b"\x0a", _any(v)) for v in value))


class WireEncoder:
    """Writes ``ExportTraceServiceRequest`` bytes for a list of span records."""

    def __init__(self, resource: Mapping[str, Any], scope_name: str, scope_version: str,
                 cache_limit: int = 8192) -> None:
        self._keys: dict[str, bytes] = {}
        self._pairs: dict[tuple[str, Any], bytes] = {}
        self._limit = cache_limit
        self._resource = _field(b"\x0a", self._attributes(resource, b"\x0a"))
        self._scope = _field(
            b"\x0a", _field(b"\x0a", scope_name.encode()) + _field(b"\x12", scope_version.encode())
        )

    def _key_value(self, key: str, value: Any) -> bytes:
        """One ``KeyValue`` message body."""
        cacheable = not isinstance(value, list)
        if cacheable:
            hit = self._pairs.get((key, value, type(value)))  # type: ignore[arg-type]
            if hit is not None:
                return hit
        prefix = self._keys.get(key)
        if prefix is None:
            prefix = self._keys[key] = _field(b"\x0a", key.encode("utf-8", "surrogatepass"))
        body = prefix + _field(b"\x12", _any(value))
        if cacheable:
            if len(self._pairs) >= self._limit:
                self._pairs.clear()
            self._pairs[(key, value, type(value))] = body  # type: ignore[index]
        return body

    def _attributes(self, attributes: Mapping[str, Any], tag: bytes) -> bytes:
        kv = self._key_value
        return b"".join([_field(tag, kv(k, v)) for k, v in attributes.items()])

    def _span(self, r: Any) -> bytes:
        parts = [
            b"\x0a\x10", r.trace_id, b"\x12\x08", r.span_id,
        ]
        if r.parent_span_id:
            parts += (b"\x22\x08", r.parent_span_id)
        parts.append(_field(b"\x2a", r.name.encode("utf-8", "surrogatepass")))
        if r.kind:
            parts += (b"\x30", _varint(r.kind))
        parts += (b"\x39", _pack_fixed64(r.start_ns), b"\x41", _pack_fixed64(r.end_ns))
        parts.append(self._attributes(r.attributes, b"\x4a"))
        if r.dropped_attributes_count:
            parts += (b"\x50", _varint(r.dropped_attributes_count))
        for event in r.events:
            body = b"\x09" + _pack_fixed64(event.time_ns)
            body += _field(b"\x12", event.name.encode("utf-8", "surrogatepass"))
            body += self._attributes(event.attributes, b"\x1a")
            parts.append(_field(b"\x5a", body))
        if r.status_code:
            status = b""
            if r.status_message:
                status += _field(b"\x12", r.status_message.encode("utf-8", "surrogatepass"))
            status += b"\x18" + _varint(r.status_code)
            parts.append(_field(b"\x7a", status))
        parts += (b"\x85\x01", _pack_fixed32(0x100))
        return b"".join(parts)

    def encode(self, records: list[Any]) -> bytes:
        spans = b"".join([_field(b"\x12", self._span(r)) for r in records])
        resource_spans = self._resource + _field(b"\x12", self._scope + spans)
        return _field(b"\x0a", resource_spans)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--traces", type=int, default=5000)
    args = parser.parse_args(argv)

    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    import encode as bench_encode
    from agent_otlp._version import __version__
    from agent_otlp.core.convert.records import AgentTrace, parse_item
    from agent_otlp.core.convert.spans import ConvertOptions, convert_span, convert_trace
    from agent_otlp.core.wire.encode import SCOPE_NAME
    from agent_otlp.core.wire.messages import encode_request

    items = bench_encode.record(args.traces)
    now = time.time_ns()
    records = [
        convert_trace(p, now, now) if isinstance(p, AgentTrace) else convert_span(p, ConvertOptions())
        for p in map(parse_item, items)
    ]
    resource = {"service.name": "bench", "telemetry.sdk.name": "agent-otlp"}
    batches = [records[i : i + 100] for i in range(0, len(records), 100)]
    wire = WireEncoder(resource, SCOPE_NAME, __version__)
    for batch in batches[:20]:
        expected = encode_request(batch, resource)
        got = ExportTraceServiceRequest.FromString(wire.encode(batch))
        assert got == expected, "wire encoding differs from encode_request"

    timings = {}
    for name, fn in (
        ("encode_request + SerializeToString", lambda b: encode_request(b, resource).SerializeToString()),
        ("wire prototype", wire.encode),
    ):
        t0 = time.perf_counter()
        for batch in batches:
            fn(batch)
        timings[name] = (time.perf_counter() - t0) / len(records) * 1e6
    for name, us in timings.items():
        print(f"{name:38s} {us:6.1f} µs/span")


if __name__ == "__main__":
    main()
