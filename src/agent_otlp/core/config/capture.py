"""Where captured content goes: the values of ``capture_content`` and of
``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``.

The names are OpenTelemetry's (``opentelemetry-util-genai``'s ``ContentCapturingMode``,
read case-insensitively): ``SPAN_ONLY`` puts content on the span's attributes,
``EVENT_ONLY`` in a span event, ``SPAN_AND_EVENT`` in both, ``NO_CONTENT`` nowhere. A
boolean (``true``/``false``, ``1``/``0``...) keeps its earlier meaning: content on the span
attributes, or none. Anything else is refused with a
:class:`~agent_otlp.core.config.errors.ConfigError` naming the setting and the value.
"""

from __future__ import annotations

from typing import Any, Final

from agent_otlp.core.config.errors import ConfigError

__all__ = ["CONTENT_MODES", "EVENT_ONLY", "NO_CONTENT", "SPAN_AND_EVENT", "SPAN_ONLY",
           "parse_capture"]

NO_CONTENT: Final = "no_content"
SPAN_ONLY: Final = "span_only"
EVENT_ONLY: Final = "event_only"
SPAN_AND_EVENT: Final = "span_and_event"
CONTENT_MODES: Final = (NO_CONTENT, SPAN_ONLY, EVENT_ONLY, SPAN_AND_EVENT)
_TRUE: Final = frozenset({"1", "true", "yes", "on"})
_FALSE: Final = frozenset({"0", "false", "no", "off", ""})
_ALLOWED: Final = (
    "expected SPAN_ONLY, EVENT_ONLY, SPAN_AND_EVENT, NO_CONTENT, true or false"
)


def parse_capture(raw: Any, label: str) -> str:
    """The content mode ``raw`` names (one of :data:`CONTENT_MODES`)."""
    if isinstance(raw, bool):
        return SPAN_ONLY if raw else NO_CONTENT
    text = str(raw).strip().lower()
    if text in CONTENT_MODES:
        return text
    if text in _TRUE:
        return SPAN_ONLY
    if text in _FALSE:
        return NO_CONTENT
    raise ConfigError(label, raw, _ALLOWED)
