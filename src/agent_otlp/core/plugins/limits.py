"""The core's size and count limits for one span's attributes, and its content policy.

Run for every span of every destination (the core's own ``map_attributes`` hook), so it is
kept free of hook plumbing and compiled with the other per-span modules in the binary wheels.
"""

from __future__ import annotations

from typing import Final

from agent_otlp.core.config.settings import Settings
from agent_otlp.core.convert.attributes import CONTENT_ATTRIBUTES, NAMESPACE
from agent_otlp.core.convert.content import (
    place_content,
    truncate_json_text,
    truncate_text,
    utf8_len,
)
from agent_otlp.core.convert.records import SpanRecord

__all__ = ["TRUNCATED", "apply_limits"]

_KEPT: Final = frozenset(
    {f"{NAMESPACE}.span_id", f"{NAMESPACE}.trace_id", f"{NAMESPACE}.parent_id", f"{NAMESPACE}.span_type"}
)
#: Attribute listing the attributes that were cut to a size limit.
TRUNCATED: Final = "agent_otlp.truncated"
_JSON_CONTENT: Final = CONTENT_ATTRIBUTES - {f"{NAMESPACE}.speech.input", f"{NAMESPACE}.transcription.output"}


def _cut(key: str, value: str, limit: int) -> str:
    if key in _JSON_CONTENT:
        return truncate_json_text(value, limit)[0]
    return truncate_text(value, limit)


def apply_limits(span: SpanRecord, settings: Settings) -> None:
    """Content policy and size/count limits of ``settings``, applied to ``span`` in place."""
    attrs = span.attributes
    cut: list[str] = []
    value_limit = settings.attribute_value_limit
    # Without a value limit only the content attributes need a look (usually there are none).
    if value_limit is not None:
        keys = list(attrs)
    elif CONTENT_ATTRIBUTES.isdisjoint(attrs):
        keys = []
    else:
        keys = [key for key in attrs if key in CONTENT_ATTRIBUTES]
    for key in keys:
        value = attrs[key]
        if key in CONTENT_ATTRIBUTES:
            if not settings.capture_content:
                del attrs[key]
                continue
            limit = min(settings.content_limit, value_limit or settings.content_limit)
        elif value_limit is None:
            continue
        else:
            limit = value_limit
        if isinstance(value, str) and utf8_len(value) > limit:
            attrs[key] = _cut(key, value, limit)
            cut.append(key)
        elif (
            isinstance(value, list)
            and all(isinstance(v, str) for v in value)
            and any(utf8_len(v) > limit for v in value)  # type: ignore[arg-type, unused-ignore]
        ):
            attrs[key] = [truncate_text(v, limit) for v in value]  # type: ignore[arg-type, unused-ignore]
            cut.append(key)
    place_content(span, settings.content_mode)  # after the cuts: events carry the cut text
    if cut:
        previous = attrs.get(TRUNCATED)
        attrs[TRUNCATED] = [*(previous if isinstance(previous, list) else []), *cut]  # type: ignore[list-item, unused-ignore]
    count_limit = settings.attribute_count_limit
    if count_limit is not None and len(attrs) > count_limit:
        # Dropped first: agent data under the namespace, then other keys, then the agent
        # ids, gen_ai.* last; within each group the latest added goes first.
        order = sorted(
            reversed(list(attrs)),
            key=lambda k: (k.startswith("gen_ai."), k in _KEPT, not k.startswith(NAMESPACE)),
        )
        for key in order[: len(attrs) - count_limit]:
            del attrs[key]
            span.dropped_attributes_count += 1
