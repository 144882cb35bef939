"""Encoding alone, no network: the benchmark workload recorded once, then encoded.

* ``agent-otlp``: agent-otlp's path from an SDK export dict to OTLP bytes: ``parse_item`` +
  ``convert_span`` (``convert_trace`` for the workflow span) + the destination's attribute
  mapping hooks (limits, called as ``Destination._map_batch`` calls them) + the direct wire
  encoder (``WireEncoder.encode``, what destinations send), in batches of the default batch
  size (100). Items are dicts here (files, the bridge), so this includes ``parse_item``; live
  SDK spans skip it (``bench/stages.py``).
* ``sdk``: the OpenTelemetry SDK's OTLP encoder on ``ReadableSpan`` objects built beforehand
  (``bench/handwritten.py``; not timed): ``encode_spans(batch).SerializeToString()``, same
  batch size. The JSON also gives the time to build the ``ReadableSpan`` objects.

Prints one JSON line with microseconds per span for each stage.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))


def record(n_traces: int) -> list[dict[str, Any]]:
    from agent_otlp.workloads import (
        RecordingProcessor,
        produce_benchmark_traces,
        recording_processors,
    )

    recorder = RecordingProcessor()
    with recording_processors([recorder]):
        produce_benchmark_traces(n_traces)
    return recorder.items


def _batches(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def agent_otlp_path(
    items: list[dict[str, Any]], batch_size: int, adapter: str = "otlp"
) -> dict[str, float]:
    from agent_otlp.core.convert.records import AgentTrace, parse_item
    from agent_otlp.core.convert.spans import ConvertOptions, convert_span, convert_trace
    from agent_otlp.core.pipeline.destination import Destination
    from agent_otlp.core.wire.encode import WireEncoder
    from agent_otlp.core.wire.transport import HandlerTransport
    from agent_otlp.factory import resolve_all, resource_for

    settings, hooks = resolve_all(adapter, endpoint="http://127.0.0.1:1", env={})[0]
    resource = resource_for(settings, hooks)
    options = ConvertOptions()
    t0 = time.perf_counter()
    parsed = [parse_item(item) for item in items]
    t1 = time.perf_counter()
    now = time.time_ns()
    records = [
        convert_trace(p, now, now) if isinstance(p, AgentTrace) else convert_span(p, options)
        for p in parsed
    ]
    t2 = time.perf_counter()
    destination = Destination(settings, hooks, HandlerTransport(lambda r: None), resource,
                              sampling=False)
    batches = _batches(records, batch_size)
    for batch in batches:
        destination._map_batch(batch)  # the hooks as the destination calls them
    t3 = time.perf_counter()
    encoder = WireEncoder(resource)
    bodies = [encoder.encode(batch) for batch in batches]  # bytes: no separate serialize
    t4 = time.perf_counter()
    size = sum(len(b) for b in bodies)
    t5 = time.perf_counter()
    destination.close(destination.flush(1.0))
    n = len(records)
    return {
        "spans": n,
        "parse_us": (t1 - t0) / n * 1e6,
        "convert_us": (t2 - t1) / n * 1e6,
        "map_us": (t3 - t2) / n * 1e6,
        "encode_us": (t4 - t3) / n * 1e6,
        "serialize_us": (t5 - t4) / n * 1e6,
        "total_us": (t5 - t0) / n * 1e6,
        "bytes_per_span": size / n,
    }


def sdk_path(items: list[dict[str, Any]], batch_size: int) -> dict[str, float]:
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    import handwritten

    t0 = time.perf_counter()
    now = time.time_ns()
    spans = [
        handwritten.workflow_span(item, now, now)
        if item.get("object") == "trace"
        else handwritten.span_from_export(item)
        for item in items
    ]
    t1 = time.perf_counter()
    messages = [encode_spans(batch) for batch in _batches(spans, batch_size)]
    t2 = time.perf_counter()
    size = sum(len(m.SerializeToString()) for m in messages)
    t3 = time.perf_counter()
    n = len(spans)
    return {
        "spans": n,
        "build_readable_us": (t1 - t0) / n * 1e6,
        "encode_us": (t2 - t1) / n * 1e6,
        "serialize_us": (t3 - t2) / n * 1e6,
        "total_us": (t3 - t1) / n * 1e6,
        "bytes_per_span": size / n,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--which", choices=("agent-otlp", "sdk"), required=True)
    parser.add_argument("--traces", type=int, default=5000)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--adapter", default="otlp", help="agent-otlp adapter (its limits)")
    args = parser.parse_args(argv)
    items = record(args.traces)

    def run(some: list[dict[str, Any]]) -> dict[str, float]:
        if args.which == "agent-otlp":
            return agent_otlp_path(some, args.batch_size, args.adapter)
        return sdk_path(some, args.batch_size)

    run(items[: min(len(items), 2000)])  # warm up
    print(json.dumps({"which": args.which, **run(items)}), flush=True)


if __name__ == "__main__":
    main()
