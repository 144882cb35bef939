"""Repair of broken span ids and parent links, per trace (``docs/conversion.md``).

OpenTelemetry needs each trace to be a tree: unique span ids, no span its own parent, no
loop of parents. Agent input does not always keep to it. :class:`TraceLinks` sees the spans
of one trace as they arrive (the exporter keeps one per open trace) and changes a span in
place before it is converted or stored:

* a span id seen before in the trace, on a span with another parent or other times, gets a
  derived id, ``<id>#2`` (then ``#3``...), and keeps the original as
  ``agent_otlp.original_span_id``; the same span delivered again (a retried request) keeps
  its id;
* a span whose parent is itself, or whose parent link would close a loop (its parent
  descends from it), is re-parented to the trace's workflow span and keeps its parent id
  as ``agent_otlp.original_parent_id``.

``agent_otlp.repair`` says which (``duplicate_span_id``, ``self_parent``, ``parent_cycle``).
Loops are found with a union-find over the trace's span ids: near-constant work per span,
a few dictionary entries per span, for at most :data:`MAX_CHECKED` spans of a trace.

It also keeps the parent ids named but not (yet) seen, with the times their children cover:
when the trace finishes, :meth:`TraceLinks.missing` lists the parents that never came, and
:func:`stand_in` makes the span that takes each one's place under the workflow span
(``agent_otlp.repair=missing_parent``). A child is sent as it arrives, naming its parent; a
parent that arrives later, before the trace finishes, is simply sent too.
"""

from __future__ import annotations

from typing import Final

from agent_otlp.core.convert.records import AgentSpan

__all__ = [
    "CYCLE",
    "DUPLICATE",
    "MAX_CHECKED",
    "MISSING_PARENT",
    "ORIGINAL_PARENT_ID",
    "ORIGINAL_SPAN_ID",
    "REPAIR",
    "SELF_PARENT",
    "STAND_IN_TYPE",
    "TraceLinks",
    "renamed_after_stand_in",
    "reparent",
    "stand_in",
]

REPAIR: Final = "agent_otlp.repair"
ORIGINAL_PARENT_ID: Final = "agent_otlp.original_parent_id"
ORIGINAL_SPAN_ID: Final = "agent_otlp.original_span_id"
DUPLICATE: Final = "duplicate_span_id"
SELF_PARENT: Final = "self_parent"
CYCLE: Final = "parent_cycle"
MISSING_PARENT: Final = "missing_parent"
#: ``span_data.type`` of the span that stands in for a parent that never arrived.
STAND_IN_TYPE: Final = "missing_parent"
#: Spans per trace checked for duplicates and loops; later ones only for self-parents.
MAX_CHECKED: Final = 65_536


def _note(span: AgentSpan, key: str, value: str, kind: str) -> None:
    notes = span.repairs
    if notes is None:
        notes = span.repairs = {}
    notes[key] = value
    previous = notes.get(REPAIR)
    notes[REPAIR] = kind if previous is None or previous == kind else f"{previous},{kind}"


def reparent(span: AgentSpan, kind: str) -> None:
    """Hang ``span`` under its trace's workflow span, noting its parent id and why."""
    if span.parent_id is not None:
        _note(span, ORIGINAL_PARENT_ID, span.parent_id, kind)
    span.parent_id = None


def _fingerprint(span: AgentSpan) -> int:
    """What tells a span delivered again (same id, same parent and times) from another span
    that has the same id."""
    return hash((span.parent_id, span.started_ns, span.ended_ns))


class TraceLinks:
    """The span ids of one trace seen so far and which of them are linked (union-find).

    A span that arrives again unchanged (a client retrying a request) is not a duplicate:
    it keeps its id, and gets the same repair as the first time, if any.
    """

    __slots__ = ("_complete", "_repaired", "_seen", "_up", "_wanted")

    def __init__(self, complete: bool = True) -> None:
        #: span id -> fingerprint of the span that has it
        self._seen: dict[str, int] = {}
        #: union-find: id -> an id of the same linked group (itself at the group's top)
        self._up: dict[str, str] = {}
        #: span id -> (parent id, notes) of the spans repaired, for their repeats
        self._repaired: dict[str, tuple[str | None, dict[str, str]]] = {}
        #: parent ids named but not seen -> (earliest start, latest end) of their children
        self._wanted: dict[str, tuple[int | None, int | None]] = {}
        #: every span of the trace went through :meth:`check` (not a trace reopened after a
        #: restart, not over :data:`MAX_CHECKED`): only then is a parent not seen missing
        self._complete = complete

    def missing(self) -> list[tuple[str, int | None, int | None]]:
        """The parents named by spans of the trace that never arrived, with the times their
        children cover; none when the trace was not seen whole."""
        if not self._complete:
            return []
        return [(parent, start, end) for parent, (start, end) in self._wanted.items()]

    def check(self, span: AgentSpan) -> None:
        """Repair ``span`` in place if its id repeats or its parent link is invalid."""
        seen = self._seen
        if len(seen) >= MAX_CHECKED:
            self._complete = False
            if span.parent_id == span.id:
                reparent(span, SELF_PARENT)
            return
        mark = _fingerprint(span)
        span_id = span.id
        known = seen.get(span_id)
        if known is not None:
            span_id = self._free_id(span_id, mark)
            if seen.get(span_id) == mark:  # delivered again: as the first time
                self._repeat(span, span_id)
                return
            _note(span, ORIGINAL_SPAN_ID, span.id, DUPLICATE)
            span.id = span_id
        seen[span_id] = mark
        self._link(span, span_id)
        if span.repairs:
            self._repaired[span_id] = (span.parent_id, dict(span.repairs))
        self._want(span, span_id)

    def _want(self, span: AgentSpan, span_id: str) -> None:
        """Note ``span``'s parent as wanted until it is seen; ``span`` is not wanted now."""
        wanted = self._wanted
        if wanted:
            wanted.pop(span_id, None)
        parent = span.parent_id
        if parent is None or parent in self._seen:
            return
        start, end = span.started_ns, span.ended_ns
        start = start if start is not None else end
        end = end if end is not None else start
        known = wanted.get(parent)
        if known is not None:
            first, last = known
            start = first if start is None or (first is not None and first < start) else start
            end = last if end is None or (last is not None and last > end) else end
        wanted[parent] = (start, end)

    def _link(self, span: AgentSpan, span_id: str) -> None:
        parent = span.parent_id
        if parent is None:
            return
        if parent == span_id:
            reparent(span, SELF_PARENT)
            return
        top, parent_top = self._find(span_id), self._find(parent)
        if top == parent_top:  # the parent descends from this span: a loop
            reparent(span, CYCLE)
        else:
            self._up[top] = parent_top

    def _free_id(self, span_id: str, mark: int) -> str:
        """``span_id`` itself when ``mark`` is the span seen with it, else the first derived
        id not taken by another span (or taken by this same span before)."""
        if self._seen.get(span_id) == mark:
            return span_id
        number = 2
        while True:
            candidate = f"{span_id}#{number}"
            known = self._seen.get(candidate)
            if known is None or known == mark:
                return candidate
            number += 1

    def _repeat(self, span: AgentSpan, span_id: str) -> None:
        span.id = span_id
        repaired = self._repaired.get(span_id)
        if repaired is not None:
            span.parent_id, notes = repaired
            span.repairs = dict(notes)

    def _find(self, span_id: str) -> str:
        up = self._up
        node = span_id
        above = up.get(node, node)
        while above != node:
            higher = up.get(above, above)
            up[node] = higher  # path halving
            node, above = higher, up.get(higher, higher)
        return node


def renamed_after_stand_in(span: AgentSpan) -> None:
    """``span`` arrived after a stand-in took its id (its trace had finished): it gets the
    derived id ``<id>#2``, noted as for a duplicate id, so no two spans share one id."""
    _note(span, ORIGINAL_SPAN_ID, span.id, DUPLICATE)
    span.id = f"{span.id}#2"


def stand_in(trace_id: str, parent_id: str, start: int | None, end: int | None) -> AgentSpan:
    """The span that takes the place of ``parent_id``, a parent that never arrived: the id
    its children name, under the workflow span, covering them."""
    return AgentSpan(
        id=parent_id,
        trace_id=trace_id,
        parent_id=None,
        started_ns=start,
        ended_ns=end,
        data={"type": STAND_IN_TYPE, "name": "missing parent"},
        repairs={REPAIR: MISSING_PARENT},
    )
