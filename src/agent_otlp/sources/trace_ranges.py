"""The time each trace of a file covers, noted item by item: the first pass that the file
readers (:class:`agent_otlp.sources.files.FileSource` and the ``jsonl`` source) make so that
each trace object goes out covering its spans, and a synthesized one for traces without it."""

from __future__ import annotations

from agent_otlp.core.convert.records import AgentSpan, AgentTrace

__all__ = ["note_range"]


def note_range(ranges: dict[str, list[int]], has_trace: set[str],
               parsed: AgentSpan | AgentTrace | None) -> None:
    """Note one item: widen its trace's ``[first start, last end]`` in ``ranges`` (an empty
    list while no time is known) and add a trace object's id to ``has_trace``."""
    if isinstance(parsed, AgentTrace):
        has_trace.add(parsed.id)
        if parsed.started_ns is not None:
            _cover(ranges, parsed.id, parsed.started_ns, parsed.ended_ns or parsed.started_ns)
    elif isinstance(parsed, AgentSpan):
        start = parsed.started_ns if parsed.started_ns is not None else parsed.ended_ns
        end = parsed.ended_ns if parsed.ended_ns is not None else start
        if start is None or end is None:
            ranges.setdefault(parsed.trace_id, [])
        else:
            _cover(ranges, parsed.trace_id, start, max(start, end))


def _cover(ranges: dict[str, list[int]], trace_id: str, start: int, end: int) -> None:
    span = ranges.setdefault(trace_id, [])
    if span:
        span[0], span[1] = min(span[0], start), max(span[1], end)
    else:
        span.extend((start, end))
