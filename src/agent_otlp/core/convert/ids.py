"""Deterministic mapping of agent ids to OpenTelemetry ids.

* ``trace_<32 hex>`` (the SDK's format) maps 1:1 to the 16-byte trace id: the id the SDK
  shows can be pasted into Jaeger's or Tempo's search. A bare 32-hex id maps the same way.
* ``span_<16 hex>`` or a bare 16-hex id maps 1:1 to the 8-byte span id.
* ``span_<32 hex>`` or a bare 32-hex id (RAAF's form: ``"span_" + SecureRandom.hex(16)``)
  maps to its first 8 bytes, the first 16 hex digits: the span id a backend shows is the
  start of the id the agent logged. RAAF's ids are random, so 64 bits of them are as
  unlikely to collide as 64 bits of a hash.
* Every other span id (the SDK's ``span_<24 hex>`` included) maps to the first 8 bytes of
  ``BLAKE2b(id, person="agent-otlp-span")``.
* Any other trace id maps to ``BLAKE2b(id, digest_size=16, person="agent-otlp-trace")``.
* The workflow span of a trace (the root that parents the SDK's root spans) has the span id
  ``BLAKE2b("workflow:" + trace id)``; children reach it without seeing the trace object.
* An all-zero result (invalid in OpenTelemetry) is replaced by the hash of the id.

The mapping depends on nothing but the id string, so a child exported before its parent, in
another batch or by another process points at the same parent id.
"""

from __future__ import annotations

from functools import lru_cache
from hashlib import blake2b
from typing import Final

__all__ = ["span_id_for", "trace_id_for", "workflow_span_id_for"]

_HEX: Final = frozenset("0123456789abcdefABCDEF")
_ZERO_TRACE: Final = bytes(16)
_ZERO_SPAN: Final = bytes(8)


def _is_hex(text: str, length: int) -> bool:
    return len(text) == length and _HEX.issuperset(text)


#: Hash objects with their size and personalisation set: copying one costs less than
#: building one from its parameters.
_HASHES: Final = {
    (8, b"agent-otlp-span"): blake2b(digest_size=8, person=b"agent-otlp-span"),
    (16, b"agent-otlp-trace"): blake2b(digest_size=16, person=b"agent-otlp-trace"),
}


def _digest(text: str, size: int, person: bytes) -> bytes:
    data = text.encode("utf-8", "surrogatepass")
    hasher = _HASHES[size, person].copy()
    hasher.update(data)
    out = hasher.digest()
    # All zeros is astronomically unlikely; this keeps the "never zero" promise anyway.
    if not any(out):
        out = blake2b(data + b"\x00", digest_size=size, person=person).digest()
    return out


@lru_cache(maxsize=4096)
def trace_id_for(agent_trace_id: str) -> bytes:
    """16-byte OpenTelemetry trace id for an agent trace id."""
    hex_part = agent_trace_id[6:] if agent_trace_id.startswith("trace_") else agent_trace_id
    if _is_hex(hex_part, 32):
        raw = bytes.fromhex(hex_part)
        if raw != _ZERO_TRACE:
            return raw
    return _digest(agent_trace_id, 16, b"agent-otlp-trace")


def span_id_for(agent_span_id: str) -> bytes:
    """8-byte OpenTelemetry span id for an agent span id."""
    hex_part = agent_span_id[5:] if agent_span_id.startswith("span_") else agent_span_id
    if _is_hex(hex_part, 16) or _is_hex(hex_part, 32):
        raw = bytes.fromhex(hex_part[:16])
        if raw != _ZERO_SPAN:
            return raw
    return _digest(agent_span_id, 8, b"agent-otlp-span")


@lru_cache(maxsize=4096)
def workflow_span_id_for(agent_trace_id: str) -> bytes:
    """8-byte span id of the workflow span that stands for the trace itself."""
    return _digest("workflow:" + agent_trace_id, 8, b"agent-otlp-span")
