"""Per-stage cost of agent-otlp's pipeline on live SDK span objects, no network.

    python bench/stages.py [--traces 3000] [--adapter otlp|jaeger]

Records the benchmark workload's live SDK span objects once, then times, in microseconds
per span: reading them (``sdk_span_record``), converting (``convert_span``), the
destination's attribute-mapping hooks (``Destination._map_batch``) and the wire encoding
(``WireEncoder.encode``) in batches of the default batch size. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import time


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--traces", type=int, default=3000)
    parser.add_argument("--adapter", default="otlp")
    args = parser.parse_args(argv)

    from agents.tracing import set_trace_processors

    from agent_otlp.core.convert import ConvertOptions, convert_span
    from agent_otlp.core.destination import Destination
    from agent_otlp.core.encode import WireEncoder
    from agent_otlp.core.exporter import sdk_span_record
    from agent_otlp.core.factory import resolve_all, resource_for
    from agent_otlp.core.transport import HandlerTransport
    from agent_otlp.workloads import RecordingProcessor, produce_benchmark_traces

    keep = RecordingProcessor()
    set_trace_processors([keep])  # type: ignore[list-item]
    produce_benchmark_traces(args.traces)
    set_trace_processors([])
    spans = keep.spans
    settings, hooks = resolve_all(args.adapter, endpoint="http://127.0.0.1:1", env={})[0]
    resource = resource_for(settings, hooks)
    destination = Destination(settings, hooks, HandlerTransport(lambda r: None), resource, sampling=False)
    options = ConvertOptions()
    n = len(spans)
    t0 = time.perf_counter()
    parsed = [sdk_span_record(s, False) for s in spans]
    t1 = time.perf_counter()
    records = [convert_span(p, options) for p in parsed]
    t2 = time.perf_counter()
    size = settings.batch_size
    batches = [records[i : i + size] for i in range(0, n, size)]
    for batch in batches:
        destination._map_batch(batch)
    t3 = time.perf_counter()
    encoder = WireEncoder(resource)
    total = sum(len(encoder.encode(batch)) for batch in batches)
    t4 = time.perf_counter()
    destination.close(destination.flush(1.0))
    print(json.dumps({
        "spans": n,
        "read_us": round((t1 - t0) / n * 1e6, 2),
        "convert_us": round((t2 - t1) / n * 1e6, 2),
        "map_us": round((t3 - t2) / n * 1e6, 2),
        "encode_us": round((t4 - t3) / n * 1e6, 2),
        "total_us": round((t4 - t0) / n * 1e6, 2),
        "bytes_per_span": round(total / n, 1),
    }))


if __name__ == "__main__":
    main()
