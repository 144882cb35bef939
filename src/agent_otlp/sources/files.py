"""Agent items from JSON and JSON Lines files and pipes: the one reader behind
``agent-otlp send`` and the historical export of files (``agent-otlp export --from-file``).

* :func:`read_items` gives each item of a text stream in order, or an
  :class:`~agent_otlp.core.config.errors.InputError` in the place of an unreadable one.
  JSON Lines are streamed (a pipe that stays open is read as it is written, one line held at
  a time); a line holding an array or ``{"data": [...]}`` gives its items. When the first line
  is not a whole JSON value, the input is one document (an object, a list or
  ``{"data": [...]}`` over several lines) and is read whole. RAAF's local formats (the lines
  of its ``FileSpanProcessor``, the document of ``SpanTracer#export_spans``) are recognised
  and given as the SDK's items (:mod:`agent_otlp.sources.raaf.local`).
* :class:`FileSource` turns the items of files into span records for a historical export,
  numbered from 1 across the files, in constant memory per span.

Files are read as UTF-8; bytes that are not become U+FFFD.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from agent_otlp.core.config.errors import InputError
from agent_otlp.core.convert.records import AgentSpan, AgentTrace, SpanRecord, parse_item
from agent_otlp.core.convert.repair import TraceLinks
from agent_otlp.core.convert.spans import ConvertOptions, convert_span, convert_trace
from agent_otlp.sources.jsonitems import data_array_start, loads_item, split_array
from agent_otlp.sources.raaf.local import local_items
from agent_otlp.sources.trace_ranges import note_range

__all__ = ["FileSource", "files_source", "iter_items", "opened", "read_items"]


@contextmanager
def opened(path: Path) -> Iterator[TextIO]:
    """``path`` open for reading as UTF-8 text (bad bytes replaced); ``-`` is stdin, left open."""
    if str(path) == "-":
        stdin = sys.stdin
        if isinstance(stdin, io.TextIOWrapper):
            stdin.reconfigure(errors="replace")  # like files: bad bytes become U+FFFD
        yield stdin
        return
    with path.open(encoding="utf-8", errors="replace") as handle:
        yield handle


def read_items(stream: TextIO) -> Iterator[Any]:
    """Each item of ``stream`` in order, an :class:`InputError` (naming the line) in the place
    of each item that cannot be read. RAAF's local formats (its file span processor's events,
    its span export) come as the SDK's items (:mod:`.raaf.local`)."""
    return local_items(_stream_items(stream))


def _stream_items(stream: TextIO) -> Iterator[Any]:
    first = True
    for number, line in enumerate(stream, 1):
        if not line.strip():
            continue
        item, problem = loads_item(line)
        if problem is None:
            yield from _items_of(item)
        elif first:  # "[" or "{" alone, say: a document over several lines
            yield from _document("\n" * (number - 1) + line + stream.read())
            return
        else:
            yield InputError(f"line {number}", line[:80], problem)
        first = False


def iter_items(stream: TextIO, errors: list[InputError]) -> Iterator[Any]:
    """The readable items of ``stream`` (:func:`read_items`); each unreadable one is appended
    to ``errors`` as it is met."""
    for entry in read_items(stream):
        if isinstance(entry, InputError):
            errors.append(entry)
        else:
            yield entry


def _items_of(value: Any) -> list[Any]:
    """The items of one JSON value: a list's elements, ``{"data": [...]}``'s, or itself."""
    if isinstance(value, list):
        return value
    data = value.get("data") if isinstance(value, dict) else None
    return data if isinstance(data, list) else [value]


def _document(text: str) -> Iterator[Any]:
    """Items of a whole document. One that does not parse as a whole (cut short, or one
    item nested too deeply) is read item by item: only the unreadable items are lost, each
    reported with its line."""
    stripped = text.lstrip()
    if stripped.startswith(("[", "{")):
        whole, reason = loads_item(text)
        if reason is None:
            yield from _items_of(whole)
            return
        if "Extra data" not in reason:  # not JSON Lines: one document, damaged
            open_at = (text.index("[") if stripped.startswith("[")
                       else data_array_start(text, ("data", "spans")))
            if open_at is not None:
                elements, end = split_array(text, open_at)
                if end is None or not text[end:].strip().strip("}").strip():
                    for offset, element in elements:
                        item, problem = loads_item(element)
                        if problem is None:
                            yield item
                        else:
                            at = text.count("\n", 0, offset + len(element) - len(element.lstrip())) + 1
                            yield InputError(f"line {at}", element.strip()[:80], problem)
                    return
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        item, problem = loads_item(line)
        yield item if problem is None else InputError(f"line {number}", line[:80], problem)


def files_source(paths: Sequence[Path]) -> str:
    """The source part of a historical export job's key for files."""
    return "files:" + "\n".join(str(Path(p).resolve()) for p in paths)


def in_range(end_ns: int | None, since_ns: int | None, until_ns: int | None) -> bool:
    """Whether an item ending at ``end_ns`` is in ``[since_ns, until_ns)`` (open ends: no bound)."""
    if end_ns is None:
        return since_ns is None and until_ns is None
    return (since_ns is None or end_ns >= since_ns) and (until_ns is None or end_ns < until_ns)


def _parse(entry: Any) -> AgentSpan | AgentTrace | None:
    if isinstance(entry, InputError):
        return None
    try:
        return parse_item(entry)
    except Exception:  # invalid items are counted and skipped
        return None


class FileSource:
    """Span records from the items of files, numbered from 1 across the files in order.

    A first pass keeps, per trace, only its time range and whether its trace object was
    seen (a few numbers per trace, never the spans), so each trace object can be exported as
    its workflow span covering its spans; traces without a trace object get a synthesized
    workflow span after the last item.
    """

    def __init__(self, paths: Sequence[Path], options: ConvertOptions) -> None:
        self.paths = list(paths)
        self.options = options
        self.ranges: dict[str, list[int]] = {}
        self.has_trace: set[str] = set()
        self.items = 0
        self.invalid = 0
        for _, parsed in self._parsed():
            note_range(self.ranges, self.has_trace, parsed)
        self.orphans = sorted(t for t in self.ranges if t not in self.has_trace)

    @property
    def key(self) -> str:
        return files_source(self.paths)

    def _parsed(self) -> Iterator[tuple[int, AgentSpan | AgentTrace | None]]:
        number = 0
        for path in self.paths:
            with path.open(encoding="utf-8", errors="replace") as handle:
                for entry in read_items(handle):
                    number += 1
                    yield number, _parse(entry)
        self.items = number

    def records(self, after: int, since_ns: int | None, until_ns: int | None
                ) -> Iterator[tuple[int, SpanRecord | None]]:
        """``(position, record)`` after ``after``; ``None`` records for skipped items."""
        self.invalid = 0
        links: dict[str, TraceLinks] = {}
        for number, parsed in self._parsed():
            if isinstance(parsed, AgentSpan):  # every span, so that a resumed run repairs alike
                trace_links = links.get(parsed.trace_id)
                if trace_links is None:
                    trace_links = links[parsed.trace_id] = TraceLinks()
                trace_links.check(parsed)
            if number <= after:
                continue
            if parsed is None:
                self.invalid += 1
                yield number, None
            elif isinstance(parsed, AgentTrace):
                span = self.ranges.get(parsed.id) or [0, 0]
                yield number, (convert_trace(parsed, span[0], span[1])
                               if in_range(span[1], since_ns, until_ns) else None)
            elif in_range(parsed.ended_ns or parsed.started_ns, since_ns, until_ns):
                yield number, convert_span(parsed, self.options)
            else:
                yield number, None
        for index, trace_id in enumerate(self.orphans, self.items + 1):
            span = self.ranges[trace_id] or [0, 0]
            if index <= after or not in_range(span[1], since_ns, until_ns):
                continue
            record = convert_trace(AgentTrace(id=trace_id, workflow_name="Agent workflow"), span[0], span[1])
            record.attributes["agent_otlp.workflow.synthesized"] = True
            yield index, record

    def count(self, since_ns: int | None, until_ns: int | None, after: int = 0) -> int:
        """Items that would go (spans and traces in the range) after ``after``."""
        return sum(1 for _, r in self.records(after, since_ns, until_ns) if r is not None)

    def pages(self, after: int, since_ns: int | None, until_ns: int | None, batch_size: int
              ) -> Iterator[tuple[int, list[SpanRecord]]]:
        """``(position, records)`` of up to ``batch_size`` records after ``after``; the last
        page may be empty, to record the position of skipped items at the end."""
        records: list[SpanRecord] = []
        position = after
        for position, record in self.records(after, since_ns, until_ns):
            if record is not None:
                records.append(record)
            if len(records) >= batch_size:
                yield position, records
                records = []
        if records or position > after:
            yield position, records
