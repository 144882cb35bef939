"""Agent traces as trees in the terminal (``rich``): durations, models, tokens, errors.

The console adapter prints each finished trace with it, and ``agent-otlp store show`` the
stored ones. :func:`printable` makes text from data safe to print: the CLI uses it for all
such text."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from rich.text import Text
from rich.tree import Tree

__all__ = ["TreeSpan", "printable", "render_tree", "spans_from_request"]

#: Control characters (C0 but tab and line feed, DEL, C1) and bidirectional overrides, shown
#: as escapes: text from data never moves the cursor, recolours or links in the terminal.
_ESCAPES: Final = {
    code: f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    for code in (*range(0x20), *range(0x7F, 0xA0), *range(0x202A, 0x202F), *range(0x2066, 0x206A))
    if code not in (0x09, 0x0A)
}


def printable(value: object) -> str:
    """``value`` as text for the terminal: control characters shown as ``\\x1b``. Print it as
    plain text (a :class:`~rich.text.Text`, or a console with markup off), never as markup."""
    return str(value).translate(_ESCAPES)


@dataclass(frozen=True, slots=True)
class TreeSpan:
    """The few things the tree shows of a span."""

    span_id: str
    parent_id: str
    name: str
    start_ns: int
    end_ns: int
    attributes: Mapping[str, Any]
    error: str | None
    events: tuple[str, ...] = ()


def spans_from_request(request: Any) -> list[TreeSpan]:
    """Tree spans from a decoded ``ExportTraceServiceRequest``."""
    from agent_otlp.core.plugins import decode_any_value  # protobuf: only when needed

    out: list[TreeSpan] = []
    for resource_spans in request.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                attrs = {kv.key: decode_any_value(kv.value) for kv in span.attributes}
                error = span.status.message or "error" if span.status.code == 2 else None
                events = tuple(e.name for e in span.events)
                out.append(
                    TreeSpan(
                        span.span_id.hex(),
                        span.parent_span_id.hex(),
                        span.name,
                        span.start_time_unix_nano,
                        span.end_time_unix_nano,
                        attrs,
                        error,
                        events,
                    )
                )
    return out


def _label(span: TreeSpan) -> Text:
    attrs = span.attributes
    text = Text(printable(span.name), style="bold red" if span.error else "bold")
    duration_ms = (span.end_ns - span.start_ns) / 1e6
    text.append(f"  {duration_ms:.1f} ms", style="cyan")
    model = attrs.get("gen_ai.response.model") or attrs.get("gen_ai.request.model")
    if model and str(model) not in span.name:
        text.append(f"  {printable(model)}", style="magenta")
    tokens_in = attrs.get("gen_ai.usage.input_tokens")
    tokens_out = attrs.get("gen_ai.usage.output_tokens")
    if tokens_in is not None or tokens_out is not None:
        text.append(f"  tokens {tokens_in or 0} in / {tokens_out or 0} out", style="green")
    if attrs.get("gen_ai.guardrail.result.value") == "true":
        text.append("  guardrail tripped", style="yellow")
    if span.error:
        text.append(f"  ERROR: {printable(span.error)}", style="red")
    return text


#: Tree levels drawn as indentation; deeper spans are drawn at this level, marked with their
#: depth (a terminal cannot show 1,000 levels of indentation).
MAX_DEPTH = 16


def _children(spans: list[TreeSpan]) -> tuple[list[int], dict[str, list[int]]]:
    """Indexes of the spans whose parent is absent (roots) and of each span id's children."""
    ids = {s.span_id for s in spans}
    children: dict[str, list[int]] = defaultdict(list)
    roots: list[int] = []
    for index, span in enumerate(spans):
        if span.parent_id and span.parent_id in ids and span.parent_id != span.span_id:
            children[span.parent_id].append(index)
        else:
            roots.append(index)
    return roots, children


def _add_subtree(top: Tree, spans: list[TreeSpan], first: int, children: dict[str, list[int]],
                 seen: set[int], note: str = "") -> None:
    """Add span ``first`` and its descendants under ``top`` without recursion; a span is
    drawn once even when parent links loop."""
    seen.add(first)
    stack: list[tuple[Tree, int, int]] = [(top, first, 1)]
    while stack:
        parent, index, depth = stack.pop()
        span = spans[index]
        label = _label(span)
        if index == first and note:
            label.append(note, style="yellow")
        if depth <= MAX_DEPTH:
            node = parent.add(label)
        else:  # drawn beside its parent, at the deepest level
            parent.add(Text(f"[depth {depth}] ", style="dim") + label)
            node = parent
        pending = [c for c in children.get(span.span_id, ()) if c not in seen]
        seen.update(pending)
        for child in reversed(pending):  # popped in start order
            stack.append((node, child, depth + 1))


def render_tree(spans: Iterable[TreeSpan], title: str | None = None) -> Tree:
    """One tree per trace root; spans whose parent is missing hang under the title.

    Every span is shown once: spans nested deeper than :data:`MAX_DEPTH` are drawn at that
    level with their depth, and spans whose parent links form a cycle (so no root reaches
    them) hang under the title, the first of each cycle marked.
    """
    ordered = sorted(spans, key=lambda s: (s.start_ns, s.end_ns))
    roots, children = _children(ordered)
    top = Tree(Text(printable(title or "trace"), style="bold underline"))
    seen: set[int] = set()
    for root in roots:
        if root not in seen:
            _add_subtree(top, ordered, root, children, seen)
    for index, span in enumerate(ordered):
        if index not in seen:  # a parent cycle: no root leads here
            _add_subtree(top, ordered, index, children, seen,
                         f"  (parent cycle: parent {span.parent_id})")
    return top
