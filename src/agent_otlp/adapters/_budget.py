"""Size helpers shared by the built-in adapters: span size estimates, shedding content,
cutting values, and loopback detection.

The estimate follows the protobuf encoding closely (keys, values and a few bytes of framing
per field) without encoding the span, so budgets can be checked for every span cheaply.
"""

from __future__ import annotations

import ipaddress
from typing import Final

from agent_otlp.core.plugins import (
    CONTENT_ATTRIBUTES,
    MARK,
    NAMESPACE,
    TRUNCATED,
    AttrValue,
    EventRecord,
    SpanRecord,
    truncate_json_text,
    truncate_text,
    utf8_len,
)

__all__ = [
    "CONTENT_EVENT",
    "SHED",
    "attr_bytes",
    "cut_value",
    "is_loopback",
    "limit_tag_values",
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


def limit_tag_values(span: SpanRecord, limit: int, capture_content: bool, content_limit: int) -> None:
    """Cut every string attribute (and list of strings) that is not message content to
    ``limit`` characters, and move message content, cut to ``content_limit`` bytes, into one
    :data:`CONTENT_EVENT` span event; the keys cut are listed by :func:`mark_truncated`."""
    attrs = span.attributes
    # One cheap pass finds the few attributes that need work (usually none): long strings
    # and lists of strings, and (only when content is captured) the content attributes.
    todo: list[str] = []
    for key, value in attrs.items():
        if type(value) is str:
            if len(value) > limit:
                todo.append(key)
        elif type(value) is list:
            if value and isinstance(value[0], str):
                todo.append(key)
        elif isinstance(value, str) and len(value) > limit:  # a str subclass from a hook
            todo.append(key)
    if capture_content and not CONTENT_ATTRIBUTES.isdisjoint(attrs):
        todo = [key for key in attrs if key in CONTENT_ATTRIBUTES or key in todo]
    if not todo:
        return
    cut: list[str] = []
    content: dict[str, AttrValue] = {}
    for key in todo:
        value = attrs[key]
        if key in CONTENT_ATTRIBUTES:
            if capture_content and isinstance(value, str):
                shortened = cut_value(key, value, content_limit)
                if shortened != value:
                    cut.append(key)
                content[key] = shortened
                del attrs[key]
            continue  # with capture off the core removes it
        if isinstance(value, str) and len(value) > limit:
            attrs[key] = _cut_chars(value, limit)
            cut.append(key)
        elif (
            isinstance(value, list)
            and value
            and isinstance(value[0], str)
            and any(len(str(v)) > limit for v in value)
        ):
            attrs[key] = [_cut_chars(str(v), limit) for v in value]
            cut.append(key)
    if content:
        span.events.append(EventRecord(CONTENT_EVENT, span.end_ns, content))
    mark_truncated(span, cut)


def _cut_chars(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - len(MARK)] + MARK


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
