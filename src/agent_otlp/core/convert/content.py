"""Size limits on attribute values that keep JSON valid, and where captured content goes.

Message content and tool arguments travel as JSON text. When a backend limits attribute
size, the text is shortened *inside* the JSON (long strings first, then long lists), so
what arrives still parses; only when the structure itself is too large does it become a
JSON string holding the cut text. Every cut is marked with :data:`MARK`.

:func:`place_content` moves or copies a span's content attributes into a span event, as
the destination's content mode (``core.config.capture``) asks.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as ga

from agent_otlp.core.convert.attributes import CONTENT_ATTRIBUTES, CONTENT_EVENT, NAMESPACE
from agent_otlp.core.convert.flatten import clean_str, safe_json
from agent_otlp.core.convert.records import Attributes, EventRecord, SpanRecord

__all__ = ["CONTENT_EVENT", "MARK", "OTHER_CONTENT_EVENT", "place_content", "truncate_json_text",
           "truncate_text", "utf8_len"]

MARK: Final = "...[truncated]"
#: The event holding the content of a span that is not an inference (a tool, speech...).
OTHER_CONTENT_EVENT: Final = f"{NAMESPACE}.content"
_INFERENCE: Final = frozenset({"chat", "text_completion", "generate_content"})


def place_content(span: SpanRecord, mode: str) -> None:
    """The content attributes of ``span`` kept on it (``span_only``), moved to a span event
    (``event_only``) or copied there (``span_and_event``)."""
    if mode not in ("event_only", "span_and_event"):
        return
    attrs = span.attributes
    content: Attributes = {k: v for k, v in attrs.items() if k in CONTENT_ATTRIBUTES}
    if not content:
        return
    inference = attrs.get(ga.GEN_AI_OPERATION_NAME) in _INFERENCE
    span.events.append(
        EventRecord(CONTENT_EVENT if inference else OTHER_CONTENT_EVENT, span.end_ns, content)
    )
    if mode == "event_only":
        for key in content:
            del attrs[key]


def utf8_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def truncate_text(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes, ending with :data:`MARK` when cut."""
    if utf8_len(text) <= limit:
        return text
    room = max(limit - len(MARK), 0)
    cut = text.encode("utf-8", "surrogatepass")[:room].decode("utf-8", "ignore")
    return (cut + MARK)[: max(limit, 0)] if limit < len(MARK) else cut + MARK


def _shrink(value: Any, max_chars: int, max_items: int) -> Any:
    if isinstance(value, str):
        return value if len(value) <= max_chars else value[:max_chars] + MARK
    if isinstance(value, Mapping):
        return {k: _shrink(v, max_chars, max_items) for k, v in value.items()}
    if isinstance(value, list | tuple):
        items = [_shrink(v, max_chars, max_items) for v in value[:max_items]]
        if len(value) > max_items:
            items.append(f"{MARK} {len(value) - max_items} more items")
        return items
    return value


def _longest(value: Any) -> tuple[int, int]:
    """(longest string, longest list) inside ``value``."""
    if isinstance(value, str):
        return len(value), 0
    if isinstance(value, Mapping):
        parts = [_longest(v) for v in value.values()]
    elif isinstance(value, list | tuple):
        parts = [_longest(v) for v in value]
        parts.append((0, len(value)))
    else:
        return 0, 0
    return max((p[0] for p in parts), default=0), max((p[1] for p in parts), default=0)


def truncate_json_text(text: str, limit: int) -> tuple[str, bool]:
    """JSON ``text`` brought within ``limit`` UTF-8 bytes, still valid JSON.

    Returns the text and whether it was cut.
    """
    if utf8_len(text) <= limit:
        return text, False
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return _as_json_string(text, limit), True
    longest_str, longest_list = _longest(value)
    # Largest string cap that fits, lists untouched; then the largest list cap.
    for items_cap in (longest_list, 16, 4, 1):
        low, high, best = 0, longest_str, None
        while low <= high:
            mid = (low + high) // 2
            candidate = safe_json(_shrink(value, mid, items_cap))
            if utf8_len(candidate) <= limit:
                best, low = candidate, mid + 1
            else:
                high = mid - 1
        if best is not None:
            return best, True
    # The structure alone is over the limit: keep a JSON string of the cut text.
    return _as_json_string(text, limit), True


def _as_json_string(text: str, limit: int) -> str:
    """The longest prefix of ``text`` plus :data:`MARK`, as a JSON string within ``limit``."""
    low, high, best = 0, min(len(text), max(limit, 0)), None
    while low <= high:
        mid = (low + high) // 2
        candidate = json.dumps(clean_str(text[:mid]) + MARK, ensure_ascii=False)
        if utf8_len(candidate) <= limit:
            best, low = candidate, mid + 1
        else:
            high = mid - 1
    return best if best is not None else '""'
