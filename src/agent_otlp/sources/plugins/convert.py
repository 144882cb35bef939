"""Items a source gave (the SDK's export shape) to the OpenTelemetry span records the
pipeline sends: a trace item becomes its workflow span, covering ``started_at`` to
``ended_at``; a span item is converted as live spans are. An item that does not parse is
reported, never stops the rest."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from agent_otlp.core.convert.records import AgentTrace, SpanRecord, parse_item
from agent_otlp.core.convert.spans import ConvertOptions, convert_span, convert_trace

__all__ = ["item_records"]

SYNTHESIZED = "agent_otlp.workflow.synthesized"


def item_records(items: Iterable[Mapping[str, Any]], options: ConvertOptions,
                 unreadable: Callable[[str], None]) -> list[SpanRecord]:
    """The span records of ``items``; ``unreadable`` is told about each item that is not."""
    records: list[SpanRecord] = []
    for item in items:
        try:
            parsed = parse_item(item)
        except Exception as exc:  # an invalid item is skipped and reported
            unreadable(str(exc))
            continue
        if isinstance(parsed, AgentTrace):
            start = parsed.started_ns if parsed.started_ns is not None else parsed.ended_ns or 0
            record = convert_trace(parsed, start, parsed.ended_ns or start)
            if item.get("synthesized") is True:
                record.attributes[SYNTHESIZED] = True
            records.append(record)
        else:
            records.append(convert_span(parsed, options))
    return records
