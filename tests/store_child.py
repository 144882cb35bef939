"""A separate exporter process for the crash tests: ``python store_child.py MODE STORE
ENDPOINT [TRACES]``.

* ``produce``: store TRACES generated traces of ten spans, print ``STORED`` once every item
  is in the store, then deliver them (the test kills it somewhere in the delivery).
* ``resume``: open the same store, deliver what is left, shut down; prints ``DONE pending=N``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from typing import Any

from agent_otlp import create_exporter

SPANS_PER_TRACE = 10
BATCH_SIZE = 500


def trace_id(index: int) -> str:
    return f"trace_{index:032x}"


def span_id(index: int, number: int) -> str:
    return f"span_{index:012x}{number:012x}"


def trace_items(index: int) -> list[dict[str, Any]]:
    """Trace ``index``: its trace object and ten spans, ending in second ``index % 3600``
    after 2024-05-01T10:00:00Z."""
    tid = trace_id(index)
    second = index % 3600
    stamp = f"2024-05-01T10:{second // 60:02d}:{second % 60:02d}"
    out: list[dict[str, Any]] = [{
        "object": "trace", "id": tid, "workflow_name": "crash test", "group_id": None,
        "metadata": {"index": str(index)},
    }]
    for number in range(SPANS_PER_TRACE):
        out.append({
            "object": "trace.span", "id": span_id(index, number), "trace_id": tid,
            "parent_id": None if number == 0 else span_id(index, 0),
            "started_at": f"{stamp}.000100+00:00", "ended_at": f"{stamp}.{number + 1:06d}+00:00",
            "span_data": {"type": "function", "name": f"tool_{number}", "input": "{}", "output": "ok"},
            "error": None,
        })
    return out


def items(n_traces: int) -> Iterator[dict[str, Any]]:
    for index in range(n_traces):
        yield from trace_items(index)


def main() -> None:
    mode, store, endpoint = sys.argv[1:4]
    exporter = create_exporter(
        "otlp", endpoint=endpoint, env={}, store=store, batch_size=BATCH_SIZE,
        schedule_delay=0.05, timeout=120, retry_deadline=600,
    )
    if mode == "produce":
        n_traces = int(sys.argv[4])
        submitted = 0
        chunk: list[dict[str, Any]] = []
        for item in items(n_traces):
            chunk.append(item)
            if len(chunk) == 11_000:
                exporter.submit_items(chunk)
                submitted += len(chunk)
                chunk = []
                while submitted - exporter.stats.received_items > 40_000:
                    time.sleep(0.01)
        exporter.submit_items(chunk)
        exporter.end_all_traces()
        expected = n_traces * (SPANS_PER_TRACE + 2)  # spans, trace start and finished trace rows
        assert exporter.store is not None
        while exporter.store.count() < expected:
            time.sleep(0.01)
        print("STORED", flush=True)
    report = exporter.shutdown(600)
    print(f"DONE pending={report.pending}", flush=True)


if __name__ == "__main__":
    main()
