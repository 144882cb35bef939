"""The built-in ``jsonl`` source: JSON and JSON Lines files of agent items (the SDK's export
format), read the way ``agent-otlp send`` reads them (:func:`agent_otlp.sources.files.read_items`).

Takes a path ending in ``.jsonl``, ``.ndjson`` or ``.json`` (or ``jsonl:PATH`` for any name).
A first pass keeps, per trace, only its time range and whether its trace object was seen, so
each trace item goes out with ``started_at``/``ended_at`` covering its spans; traces whose
object never appears get a synthesized one after the last item. Items are numbered from 1;
the cursor is the number of the last item read.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from agent_otlp.core.config.errors import ConfigError, InputError
from agent_otlp.core.convert.records import AgentSpan, AgentTrace, parse_item
from agent_otlp.sources.files import files_source, read_items
from agent_otlp.sources.plugins import (
    SourceContext,
    SourceInventory,
    SourcePage,
    TimeRange,
    hookimpl,
)
from agent_otlp.sources.trace_ranges import note_range

__all__ = ["FileItems"]

_SUFFIXES: Final = (".jsonl", ".ndjson", ".json")


@dataclass(slots=True)
class FileItems:
    """One file's traces: their time ranges (first start, last end) and which carry an object."""

    path: Path
    ranges: dict[str, list[int]] = field(default_factory=dict)
    has_trace: set[str] = field(default_factory=set)
    count: int = 0

    def scan(self) -> None:
        for _, _entry, parsed in self.entries():
            note_range(self.ranges, self.has_trace, parsed)

    def entries(self) -> Iterator[tuple[int, Any, AgentSpan | AgentTrace | None]]:
        number = 0
        with self.path.open(encoding="utf-8", errors="replace") as handle:
            for entry in read_items(handle):
                number += 1
                try:
                    parsed = None if isinstance(entry, InputError) else parse_item(entry)
                except InputError:
                    parsed = None
                yield number, entry, parsed
        self.count = number

    def end_of(self, trace_id: str) -> int | None:
        span = self.ranges.get(trace_id)
        return span[1] if span else None

    def trace_item(self, item: dict[str, Any], trace_id: str) -> dict[str, Any]:
        span = self.ranges.get(trace_id)
        if span and item.get("started_at") is None:
            item = {**item, "started_at": span[0], "ended_at": span[1]}
        return item

    def items(self, window: TimeRange) -> Iterator[tuple[int, Any]]:
        """``(number, item or None)`` of every item; ``None`` for those out of the range."""
        for number, entry, parsed in self.entries():
            if parsed is None:  # unreadable: handed on, reported by the export
                yield number, (entry if isinstance(entry, dict) else {"object": "unreadable",
                                                                       "id": str(entry)})
            elif isinstance(parsed, AgentTrace):
                inside = window.holds(self.end_of(parsed.id))
                yield number, self.trace_item(entry, parsed.id) if inside else None
            else:
                inside = window.holds(parsed.ended_ns or parsed.started_ns)
                yield number, entry if inside else None
        orphans = sorted(t for t in self.ranges if t not in self.has_trace)
        for number, trace_id in enumerate(orphans, self.count + 1):
            if window.holds(self.end_of(trace_id)):
                made = {"object": "trace", "id": trace_id, "workflow_name": "Agent workflow",
                        "synthesized": True}
                yield number, self.trace_item(made, trace_id)


@hookimpl
def agent_otlp_source_open(location: str, context: SourceContext) -> FileItems | None:
    named = location.startswith("jsonl:")
    path = Path(location.removeprefix("jsonl:")).expanduser()
    if not named and path.suffix.lower() not in _SUFFIXES:
        return None
    if not path.is_file():
        raise ConfigError("--from", location, "no such file")
    found = FileItems(path)
    found.scan()
    return found


@hookimpl
def agent_otlp_source_key(handle: FileItems) -> str:
    return files_source([handle.path]).removeprefix("files:")


@hookimpl
def agent_otlp_source_inventory(handle: FileItems, window: TimeRange) -> SourceInventory:
    traces = spans = 0
    ends: list[int] = []
    for _, item in handle.items(window):
        try:
            parsed = parse_item(item) if item is not None else None
        except InputError:  # unreadable: not counted
            continue
        if isinstance(parsed, AgentTrace):
            traces += 1
            end = handle.end_of(parsed.id)
        elif isinstance(parsed, AgentSpan):
            spans += 1
            end = parsed.ended_ns or parsed.started_ns
        else:
            continue
        if end is not None:  # two numbers kept, not a list of every end
            ends = [min([*ends[:1], end]), max([*ends[1:], end])]
    return SourceInventory(traces, spans, ends[0] if ends else None, ends[1] if ends else None)


@hookimpl
def agent_otlp_source_read(handle: FileItems, window: TimeRange, cursor: str | None,
                           batch_size: int) -> Iterator[SourcePage]:
    after = int(cursor or 0)
    page: list[dict[str, Any]] = []
    position = after
    for position, item in handle.items(window):
        if position <= after:
            continue
        if item is not None:
            page.append(item)
        if len(page) >= batch_size:
            yield SourcePage(page, str(position))
            page = []
    if page or position > after:
        yield SourcePage(page, str(position))


@hookimpl
def agent_otlp_source_close(handle: FileItems) -> None:
    """Nothing stays open between reads."""
