"""The console adapter's transport: trees in the terminal, OTLP/JSON lines in a file.

Its own module so that loading the adapters (every process that exports does) does not load
rich and the protobuf message classes; they load when a console destination is made.
"""

from __future__ import annotations

import sys
import threading
from collections import defaultdict
from pathlib import Path
from typing import TextIO

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from rich.console import Console

from agent_otlp.adapters.console_tree import TreeSpan, render_tree, spans_from_request
from agent_otlp.core.plugins import SendResult, Transport, request_to_json

__all__ = ["ConsoleTransport"]


class ConsoleTransport(Transport):
    """Writes OTLP/JSON lines to a file and prints each finished trace as a tree."""

    def __init__(self, output: Path, *, tree: bool, stream: TextIO | None = None) -> None:
        self.output = output
        self._tree = tree
        self._console = Console(file=stream or sys.stdout, highlight=False, soft_wrap=False)
        self._spans: dict[str, list[TreeSpan]] = defaultdict(list)
        self._lock = threading.Lock()
        output.parent.mkdir(parents=True, exist_ok=True)

    def send(self, body: bytes, timeout: float) -> SendResult:
        try:
            request = ExportTraceServiceRequest.FromString(body)
            with self._lock, self.output.open("a", encoding="utf-8") as handle:
                handle.write(request_to_json([request]) + "\n")
            if self._tree:
                self._print_finished(request)
        except OSError as exc:
            return SendResult(False, False, None, "io-error", str(exc))
        return SendResult(True, status="written")

    def _print_finished(self, request: ExportTraceServiceRequest) -> None:
        finished: list[tuple[str, str]] = []
        for resource_spans in request.resource_spans:
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    if not span.parent_span_id:
                        name = next(
                            (kv.value.string_value for kv in span.attributes
                             if kv.key == "openai_agents.trace_id"),
                            "",
                        )
                        finished.append((span.trace_id.hex(), name))
        for tree_span, trace_id in _with_trace_ids(request):
            self._spans[trace_id].append(tree_span)
        for trace_id, agent_id in finished:
            spans = self._spans.pop(trace_id, [])
            title = f"trace {agent_id or trace_id}  (OTel trace id {trace_id})"
            self._console.print(render_tree(spans, title))

    def close(self) -> None:
        if self._tree and self._spans:
            for trace_id, spans in self._spans.items():
                self._console.print(render_tree(spans, f"trace {trace_id} (incomplete)"))
            self._spans.clear()


def _with_trace_ids(request: ExportTraceServiceRequest) -> list[tuple[TreeSpan, str]]:
    trees = spans_from_request(request)
    ids = [
        span.trace_id.hex()
        for resource_spans in request.resource_spans
        for scope_spans in resource_spans.scope_spans
        for span in scope_spans.spans
    ]
    return list(zip(trees, ids, strict=True))
