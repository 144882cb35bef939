"""Size helpers shared by the built-in adapters: span size estimates, shedding content,
cutting values, and loopback detection.

The estimate follows the protobuf encoding closely (keys, values and a few bytes of framing
per field) without encoding the span, so budgets can be checked for every span cheaply.
"""

from __future__ import annotations

import ipaddress
from typing import Final

from agent_otlp.core.builtin import TRUNCATED
from agent_otlp.core.content import truncate_json_text, truncate_text, utf8_len
from agent_otlp.core.convert import CONTENT_ATTRIBUTES, NAMESPACE
from agent_otlp.core.records import AttrValue, SpanRecord

__all__ = [
    "CONTENT_EVENT",
    "SHED",
    "attr_bytes",
    "cut_value",
    "is_loopback",
    "mark_truncated",
    "shed_content",
    "span_bytes",
]

#: Name of the span event that carries message content where an adapter moves it there.
CONTENT_EVENT: Final = "gen_ai.content"
#: Attribute listing the content attributes removed to respect a size budget.
SHED: Final = "agent_otlp.shed"
_TEXT_CONTENT: Final = frozenset({f"{NAMESPACE}.speech.input", f"{NAMESPACE}.transcription.output"})
_FIELD_OVERHEAD: Final = 6


def attr_bytes(key: str, value: AttrValue) -> int:
    """Approximate encoded size of one attribute (key, value and framing)."""
    size = utf8_len(key) + _FIELD_OVERHEAD
    if isinstance(value, str):
        return size + utf8_len(value)
    if isinstance(value, list):
        return size + sum(
            (utf8_len(v) if isinstance(v, str) else 9) + 2 for v in value
        )
    return size + 9


def span_bytes(span: SpanRecord) -> int:
    """Approximate encoded size of ``span``: ids, times, name, attributes and events."""
    size = 70 + utf8_len(span.name) + utf8_len(span.status_message)
    size += sum(attr_bytes(k, v) for k, v in span.attributes.items())
    for event in span.events:
        size += 16 + utf8_len(event.name)
        size += sum(attr_bytes(k, v) for k, v in event.attributes.items())
    return size


def cut_value(key: str, value: str, limit: int) -> str:
    """``value`` within ``limit`` UTF-8 bytes; JSON content stays valid JSON."""
    if key in CONTENT_ATTRIBUTES and key not in _TEXT_CONTENT:
        return truncate_json_text(value, limit)[0]
    return truncate_text(value, limit)


def mark_truncated(span: SpanRecord, keys: list[str], marker: str = TRUNCATED) -> None:
    """Add ``keys`` to the list attribute ``marker`` (``agent_otlp.truncated`` by default)."""
    if not keys:
        return
    previous = span.attributes.get(marker)
    known = [str(k) for k in previous] if isinstance(previous, list) else []
    span.attributes[marker] = [*known, *(k for k in keys if k not in known)]


def shed_content(span: SpanRecord) -> list[str]:
    """Remove message content (attributes and content events); returns what was removed."""
    removed = [k for k in span.attributes if k in CONTENT_ATTRIBUTES]
    for key in removed:
        del span.attributes[key]
    kept = [e for e in span.events if e.name != CONTENT_EVENT]
    if len(kept) != len(span.events):
        removed.append(CONTENT_EVENT)
        span.events[:] = kept
    mark_truncated(span, removed, SHED)
    return removed


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` names this machine (``localhost`` or a loopback address)."""
    if not host:
        return False
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
