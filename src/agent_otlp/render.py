"""Agent traces as trees in the terminal (``rich``): durations, models, tokens, errors."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from rich.tree import Tree

__all__ = ["TreeSpan", "render_tree", "spans_from_request"]


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
    from agent_otlp.testing import decode_any_value

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
    text = Text(span.name, style="bold red" if span.error else "bold")
    duration_ms = (span.end_ns - span.start_ns) / 1e6
    text.append(f"  {duration_ms:.1f} ms", style="cyan")
    model = attrs.get("gen_ai.response.model") or attrs.get("gen_ai.request.model")
    if model and str(model) not in span.name:
        text.append(f"  {model}", style="magenta")
    tokens_in = attrs.get("gen_ai.usage.input_tokens")
    tokens_out = attrs.get("gen_ai.usage.output_tokens")
    if tokens_in is not None or tokens_out is not None:
        text.append(f"  tokens {tokens_in or 0} in / {tokens_out or 0} out", style="green")
    if attrs.get("gen_ai.guardrail.triggered") is True:
        text.append("  guardrail tripped", style="yellow")
    if span.error:
        text.append(f"  ERROR: {span.error}", style="red")
    return text


def render_tree(spans: Iterable[TreeSpan], title: str | None = None) -> Tree:
    """One tree per trace root; spans whose parent is missing hang under the title."""
    spans = sorted(spans, key=lambda s: (s.start_ns, s.end_ns))
    ids = {s.span_id for s in spans}
    children: dict[str, list[TreeSpan]] = defaultdict(list)
    roots: list[TreeSpan] = []
    for span in spans:
        if span.parent_id and span.parent_id in ids:
            children[span.parent_id].append(span)
        else:
            roots.append(span)
    top = Tree(Text(title or "trace", style="bold underline"))

    def add(node: Tree, span: TreeSpan) -> None:
        branch = node.add(_label(span))
        for child in children.get(span.span_id, ()):
            add(branch, child)

    for root in roots:
        add(top, root)
    return top
