"""Per-stage cost of agent-otlp's pipeline on live SDK span objects, no network.

    python bench/stages.py [--traces 3000] [--adapter otlp|jaeger]

Records the benchmark workload's live SDK span objects once, then times, in microseconds
per span: reading them (``sdk_span_record``), converting (``convert_span``), the
destination's attribute-mapping hooks (``Destination._map_batch``) and the wire encoding
(``WireEncoder.encode``) in batches of the default batch size, each stage ``--repeat`` times
with the recorded spans frozen out of the garbage collector, keeping the best run (the
least disturbed by the rest of the machine). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import gc
import json
import time
from collections.abc import Callable
from typing import Any


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--traces", type=int, default=3000)
    parser.add_argument("--adapter", default="otlp")
    parser.add_argument("--repeat", type=int, default=5, help="runs per stage; the best is kept")
    args = parser.parse_args(argv)

    from agent_otlp.core.convert.sdk import sdk_span_record
    from agent_otlp.core.convert.spans import ConvertOptions, convert_span
    from agent_otlp.core.pipeline.destination import Destination
    from agent_otlp.core.wire.encode import WireEncoder
    from agent_otlp.core.wire.transport import HandlerTransport
    from agent_otlp.factory import resolve_all, resource_for
    from agent_otlp.workloads import (
        RecordingProcessor,
        produce_benchmark_traces,
        recording_processors,
    )

    keep = RecordingProcessor()
    with recording_processors([keep]):
        produce_benchmark_traces(args.traces)
    spans = keep.spans
    settings, hooks = resolve_all(args.adapter, endpoint="http://127.0.0.1:1", env={})[0]
    resource = resource_for(settings, hooks)
    destination = Destination(settings, hooks, HandlerTransport(lambda r: None), resource, sampling=False)
    options = ConvertOptions()
    n = len(spans)
    size = settings.batch_size
    encoder = WireEncoder(resource)
    gc.collect()
    gc.freeze()  # the recorded spans are not garbage: keep full collections off them

    def best(stage: Callable[[], Any]) -> float:
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            stage()
            times.append(time.perf_counter() - t0)
        return min(times) / n * 1e6

    parsed: list[Any] = []
    records: list[Any] = []

    def read() -> None:
        parsed[:] = [sdk_span_record(s, False) for s in spans]

    def convert() -> None:
        records[:] = [convert_span(p, options) for p in parsed]

    def map_stage() -> None:  # on fresh records each time: the hooks change them in place
        convert()
        t0 = time.perf_counter()
        for i in range(0, n, size):
            destination._map_batch(records[i : i + size])
        mapped.append(time.perf_counter() - t0)

    mapped: list[float] = []
    read_us = best(read)
    convert_us = best(convert)
    for _ in range(args.repeat):
        map_stage()
    map_us = min(mapped) / n * 1e6
    batches = [records[i : i + size] for i in range(0, n, size)]
    encode_us = best(lambda: [encoder.encode(batch) for batch in batches])
    total = sum(len(encoder.encode(batch)) for batch in batches)
    destination.close(destination.flush(1.0))
    print(json.dumps({
        "spans": n,
        "batch_size": size,
        "read_us": round(read_us, 2),
        "convert_us": round(convert_us, 2),
        "map_us": round(map_us, 2),
        "encode_us": round(encode_us, 2),
        "total_us": round(read_us + convert_us + map_us + encode_us, 2),
        "bytes_per_span": round(total / n, 1),
    }))


if __name__ == "__main__":
    main()
