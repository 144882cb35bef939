"""An example agent-otlp source: span logs kept as CSV files.

Each row of ``trace_id,span_id,parent_id,kind,name,started_at,ended_at`` (ISO 8601 times) is
one agent span; ``kind`` is an SDK span type (``agent``, ``function``...). Every trace gets a
trace item covering its spans. Items are numbered from 1 and the cursor is the number of the
last item read, so an interrupted export resumes after it.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import agent_otlp
from agent_otlp.sources.plugins import SourceContext, SourceInventory, SourcePage, TimeRange

__all__ = ["CsvLog"]


def _ns(text: str) -> int:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000


@dataclass
class CsvLog:
    """One open CSV file and, per trace, the first start and last end of its spans."""

    path: Path
    traces: dict[str, list[str]] = field(default_factory=dict)

    def rows(self) -> Iterator[dict[str, str]]:
        with self.path.open(newline="", encoding="utf-8") as handle:
            yield from csv.DictReader(handle)

    def items(self, window: TimeRange) -> Iterator[tuple[int, dict[str, Any] | None]]:
        """Every item, numbered; ``None`` for those outside the window."""
        number = 0
        for row in self.rows():
            number += 1
            item = {"object": "trace.span", "id": row["span_id"], "trace_id": row["trace_id"],
                    "parent_id": row["parent_id"] or None, "started_at": row["started_at"],
                    "ended_at": row["ended_at"], "span_data": {"type": row["kind"], "name": row["name"]}}
            yield number, item if window.holds(_ns(row["ended_at"])) else None
        for trace_id, (first, last) in sorted(self.traces.items()):
            number += 1
            item = {"object": "trace", "id": trace_id, "workflow_name": self.path.stem,
                    "started_at": first, "ended_at": last}
            yield number, item if window.holds(_ns(last)) else None


@agent_otlp.hookimpl
def agent_otlp_source_open(location: str, context: SourceContext) -> CsvLog | None:
    path = Path(location)
    if path.suffix != ".csv" or not path.is_file():
        return None  # not ours: another source may take it
    log = CsvLog(path)
    for row in log.rows():
        span = log.traces.setdefault(row["trace_id"], [row["started_at"], row["ended_at"]])
        span[0] = min(span[0], row["started_at"], key=_ns)
        span[1] = max(span[1], row["ended_at"], key=_ns)
    return log


@agent_otlp.hookimpl
def agent_otlp_source_key(handle: CsvLog) -> str:
    return str(handle.path.resolve())


@agent_otlp.hookimpl
def agent_otlp_source_inventory(handle: CsvLog, window: TimeRange) -> SourceInventory:
    found = [item for _, item in handle.items(window) if item is not None]
    ends = [_ns(item["ended_at"]) for item in found]
    spans = sum(1 for item in found if item["object"] == "trace.span")
    return SourceInventory(len(found) - spans, spans, min(ends, default=None), max(ends, default=None))


@agent_otlp.hookimpl
def agent_otlp_source_read(handle: CsvLog, window: TimeRange, cursor: str | None,
                           batch_size: int) -> Iterator[SourcePage]:
    after = int(cursor or 0)
    page: list[dict[str, Any]] = []
    for number, item in handle.items(window):
        if number <= after:
            continue
        if item is not None:
            page.append(item)
        after = number
        if len(page) == batch_size:
            yield SourcePage(page, str(after))
            page = []
    if page:
        yield SourcePage(page, str(after))
