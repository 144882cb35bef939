"""``console``: the embedded default that needs no server.

Each trace is printed as a tree in the terminal when its workflow span arrives, and every
export request is appended as one OTLP/JSON document per line (the format of the
OpenTelemetry Collector's file exporter) to the ``output`` option
(default ``agent-otlp-out/traces.jsonl``).

Options (``[destination.console]`` in the config file, or ``AGENT_OTLP_CONSOLE_<OPTION>``):
``output`` (file path) and ``tree`` (``false`` to print nothing).
"""

from __future__ import annotations

import sys
import threading
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, TextIO

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from rich.console import Console

from agent_otlp.core.encode import request_to_json
from agent_otlp.core.hookspecs import hookimpl
from agent_otlp.core.settings import Settings, TransportDefaults
from agent_otlp.core.transport import SendResult, Transport
from agent_otlp.render import TreeSpan, render_tree, spans_from_request

DEFAULT_OUTPUT: Final = "agent-otlp-out/traces.jsonl"


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


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() not in ("0", "false", "no", "off")


@hookimpl
def agent_otlp_transport_defaults(
    adapter: str, options: Mapping[str, Any], env: Mapping[str, str]
) -> TransportDefaults:
    return {"protocol": "http/protobuf", "endpoints": {"http/protobuf": "http://localhost"}}


@hookimpl
def agent_otlp_make_transport(settings: Settings) -> Transport:
    options = settings.options
    output = options.get("output") or DEFAULT_OUTPUT
    return ConsoleTransport(Path(str(output)).expanduser(), tree=_truthy(options.get("tree", True)))

