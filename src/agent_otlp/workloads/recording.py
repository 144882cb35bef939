"""The demo recorded in the OpenAI Agents SDK's own export format (``trace.export()`` /
``span.export()``), with the installed processors temporarily replaced so that nothing is
uploaded anywhere: for tests, samples (``write_sample_jsonl``) and the benchmarks."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from agents.tracing import TracingProcessor, get_trace_provider, set_trace_processors

from agent_otlp.workloads.demo import DemoResult, run_demo_workflow

__all__ = ["RecordingProcessor", "record_demo_items", "recording_processors", "write_sample_jsonl"]

class RecordingProcessor(TracingProcessor):
    """Collects the SDK's export dicts: ``trace.export()`` on trace start and
    ``span.export()`` on span end, in the order they happen; ``spans`` keeps the ended span
    objects themselves."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.items: list[dict[str, Any]] = []
        self.spans: list[Any] = []

    def _add(self, item: dict[str, Any] | None) -> None:
        if item is not None:
            with self._lock:
                self.items.append(item)

    def on_trace_start(self, trace: Any) -> None:
        self._add(trace.export())

    def on_trace_end(self, trace: Any) -> None:
        return None

    def on_span_start(self, span: Any) -> None:
        return None

    def on_span_end(self, span: Any) -> None:
        self._add(span.export())
        with self._lock:
            self.spans.append(span)

    def shutdown(self) -> None:
        return None

    def force_flush(self) -> None:
        return None


# Serialises temporary processor swaps so that concurrent recorders restore correctly.
_SWAP_LOCK = threading.Lock()


@contextmanager
def recording_processors(processors: Sequence[Any]) -> Iterator[None]:
    """Install ``processors`` as the SDK's only trace processors, restoring the previous ones
    on exit (including the SDK's default uploading processor, which is thus never used)."""
    provider = get_trace_provider()
    multi = getattr(provider, "_multi_processor", None)
    if multi is None or not hasattr(multi, "_processors"):
        raise TypeError(
            f"cannot temporarily replace the processors of {type(provider).__name__}: "
            "it does not expose its current processors"
        )
    with _SWAP_LOCK:
        previous = list(multi._processors)
        set_trace_processors(list(processors))
        try:
            yield
        finally:
            set_trace_processors(previous)


def record_demo_items(n_traces: int = 1) -> list[dict[str, Any]]:
    """Run the demo workflow ``n_traces`` times and return the SDK export dicts.

    For each trace the ``"object": "trace"`` dict comes first, followed by its
    ``"object": "trace.span"`` dicts in the order the spans ended. Only the recorder sees the
    demo; the previously installed processors are restored afterwards.
    """
    recorder = RecordingProcessor()
    results: list[DemoResult] = []
    with recording_processors([recorder]):
        for index in range(n_traces):
            group = "conv_demo_0001" if n_traces == 1 else f"conv_demo_{index + 1:04d}"
            results.append(run_demo_workflow(group_id=group))

    items: list[dict[str, Any]] = []
    for result in results:
        mine = [item for item in recorder.items if item.get("trace_id") == result.trace_id]
        head = [
            item
            for item in recorder.items
            if item.get("object") == "trace" and item.get("id") == result.trace_id
        ]
        items.extend(head)
        items.extend(mine)
    return items


def write_sample_jsonl(path: str | os.PathLike[str], n_traces: int = 1) -> int:
    """Write the demo workflow in the SDK export format as JSON Lines; return the line count.

    One JSON object per line; each trace object precedes its spans.
    """
    items = record_demo_items(n_traces)
    with open(path, "w", encoding="utf-8") as fh:
        for item in items:
            fh.write(json.dumps(item, ensure_ascii=False, default=str))
            fh.write("\n")
    return len(items)
