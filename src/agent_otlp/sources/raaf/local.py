"""RAAF's local trace formats, read as items of the SDK's export format.

RAAF (the Ruby port of the OpenAI Agents SDK) writes spans locally in two shapes, both built
from its ``Span#to_h`` (``span_id``, ``trace_id``, ``parent_id``, ``name``, ``kind``,
``start_time``, ``end_time``, ``duration_ms``, ``attributes``, ``events``, ``status`` and the
token counts):

* its ``FileSpanProcessor`` appends one JSON line per span event:
  ``{"event": "start"|"end", "timestamp": ..., "span": {...}}``;
* ``SpanTracer#export_spans`` gives one document: ``{"trace_id", "spans": [...], "summary"}``.

:func:`local_items` turns both, and bare span hashes, into ``trace`` and ``trace.span``
items with the mapping of :mod:`.spans`, so that whole trees come out: the trace's root span
(kind ``trace``) becomes the trace object, its children become the workflow's direct
children, and spans still open when the input ends are closed at the last time it mentions.
Anything else passes through unchanged. Memory: the spans started and not yet ended, and one
id per trace.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, Final

from agent_otlp.core.config.errors import InputError
from agent_otlp.sources.raaf.spans import (
    RaafSpan,
    RaafTrace,
    microseconds,
    span_item,
    span_times,
    trace_item,
)

__all__ = ["local_items", "parse_time"]

_EVENTS: Final = ("start", "end")
_SPAN_KEYS: Final = ("span_id", "trace_id", "kind")


def local_items(items: Iterable[Any]) -> Iterator[Any]:
    """``items`` with RAAF's local shapes replaced by SDK export items (see the module); an
    :class:`InputError` in the place of a RAAF span that cannot be read."""
    reader = _LocalReader()
    for item in items:
        try:
            yield from list(reader.read(item))
        except Exception as exc:  # a malformed span costs itself only
            yield InputError("span", item, f"unreadable RAAF span: {exc}")
    yield from reader.close()


def _is_span(value: object) -> bool:
    return isinstance(value, Mapping) and all(isinstance(value.get(k), str) for k in _SPAN_KEYS)


def _is_event(value: Mapping[str, Any]) -> bool:
    return value.get("event") in _EVENTS and _is_span(value.get("span"))


def _is_export(value: Mapping[str, Any]) -> bool:
    """``export_spans``' document (its ``summary`` optional: ``format: :hash`` written by hand)."""
    spans = value.get("spans")
    return "object" not in value and "trace_id" in value and isinstance(spans, list) \
        and any(_is_span(s) for s in spans)


def parse_time(value: object) -> datetime | None:
    """A time as RAAF writes it: ``Time#iso8601`` (``...T08:00:00Z``) or, for spans built by
    its ``Traceable`` module, ``Time#to_s`` (``2025-12-05 08:00:00 UTC``)."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.endswith(" UTC"):
        text = text[:-4] + "+00:00"
    text = text.replace(" +", "+").replace(" -", "-")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _us(moment: datetime | None) -> int | None:
    return None if moment is None else microseconds(moment)


def _span(value: Mapping[str, Any]) -> RaafSpan:
    """A span hash (``Span#to_h``; members of other types read as far as they go)."""
    parent, name, status = value.get("parent_id"), value.get("name"), value.get("status")
    return RaafSpan(
        span_id=value["span_id"], trace_id=value["trace_id"],
        parent_id=parent if isinstance(parent, str) else None,
        name=name if isinstance(name, str) else "", kind=value["kind"],
        status=status if isinstance(status, str) else None,
        start=_us(parse_time(value.get("start_time"))), end=_us(parse_time(value.get("end_time"))),
        duration_ms=value.get("duration_ms"), attributes=value.get("attributes"),
        events=value.get("events"), input_tokens=value.get("input_tokens"),
        output_tokens=value.get("output_tokens"))


class _LocalReader:
    """The state that links RAAF's span events into trees."""

    def __init__(self) -> None:
        self.roots: set[str] = set()  # span ids of the traces' root spans
        self.traces: set[str] = set()  # trace objects given
        self.open: dict[str, RaafSpan] = {}  # started, not ended
        self.last: int | None = None  # Unix microseconds

    def read(self, item: Any) -> Iterator[Any]:
        if not isinstance(item, Mapping):
            yield item
        elif _is_event(item):
            yield from self._event(item)
        elif _is_export(item):
            yield from self._export(item["spans"])
        elif _is_span(item):
            yield from self._finished(self._see(item), None)
        else:
            yield item

    def close(self) -> Iterator[Any]:
        """The spans started and never ended, closed at the last time seen."""
        pending, self.open = list(self.open.values()), {}
        for span in pending:
            yield from self._finished(span, self.last)

    def _event(self, event: Mapping[str, Any]) -> Iterator[Any]:
        self._note_time(_us(parse_time(event.get("timestamp"))))
        span = self._see(event["span"])
        if event["event"] == "start":
            self.open[span.span_id] = span
            if span.kind == "trace":
                yield from self._trace(span)
            return
        self.open.pop(span.span_id, None)
        yield from self._finished(span, None)

    def _export(self, values: list[Any]) -> Iterator[Any]:
        spans = [self._see(value) if _is_span(value) else value for value in values]
        for span in spans:  # anything else is given as it is, to be refused as invalid
            yield from self._finished(span, self.last) if isinstance(span, RaafSpan) else (span,)

    def _see(self, value: Mapping[str, Any]) -> RaafSpan:
        span = _span(value)
        if span.kind == "trace":
            self.roots.add(span.span_id)
        start, end = span_times(span)
        self._note_time(end or start)
        return span

    def _note_time(self, moment: int | None) -> None:
        if moment is not None and (self.last is None or moment > self.last):
            self.last = moment

    def _trace(self, root: RaafSpan) -> Iterator[Any]:
        if root.trace_id in self.traces:
            return
        self.traces.add(root.trace_id)
        start, end = span_times(root)
        yield trace_item(RaafTrace(root.trace_id, root, start=start, end=end))

    def _finished(self, span: RaafSpan, end_if_open: int | None) -> Iterator[Any]:
        if span.kind == "trace":
            yield from self._trace(span)
            return
        yield span_item(span, parent_is_trace=span.parent_id in self.roots, end_if_open=end_if_open)
