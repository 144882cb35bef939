"""What offload mode's child process costs per span, without the agent process.

    python bench/offload_child.py [--traces 5000] [--adapter jaeger] [--repeat 3]

Records the benchmark workload once as the entries the agent process sends
(``agent_otlp.offload.entries.span_entry``, marshalled in frames of 256), then, like the child,
unmarshals them and feeds them into an exporter built by ``create_exporter`` that sends to
``bench/sink.py`` (another process). Prints one JSON line per repeat: wall and CPU time of
this process per span (all its threads: feeding, dispatcher, destination worker, senders),
spans per second, and what the sink counted. The child's throughput ceiling in
``bench/run.py``'s offload row is roughly ``1e6 / cpu_us`` minus what the agent process and
the sink take from the same cores.
"""

from __future__ import annotations

import argparse
import json
import marshal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent


class _Entries:
    """A tracing processor that keeps what the offload agent side would send."""

    def __init__(self) -> None:
        from agent_otlp.offload.entries import span_entry
        from agent_otlp.offload.frames import TRACE_END, TRACE_START

        self.entries: list[Any] = []
        self._span_entry = span_entry
        self._start, self._end = TRACE_START, TRACE_END

    def on_trace_start(self, trace: Any) -> None:
        self.entries.append((self._start, trace.export(), time.time_ns()))

    def on_trace_end(self, trace: Any) -> None:
        self.entries.append((self._end, trace.export(), time.time_ns()))

    def on_span_start(self, span: Any) -> None:
        pass

    def on_span_end(self, span: Any) -> None:
        self.entries.append(self._span_entry(span, False))

    def shutdown(self) -> None:
        pass

    def force_flush(self) -> None:
        pass


def _floor(frames: list[bytes], adapter: str, endpoint: str) -> bool:
    """The same spans through the same stage functions on one thread, 512 per request."""
    from agent_otlp.core.convert.spans import ConvertOptions, convert_span
    from agent_otlp.core.pipeline.destination import Destination
    from agent_otlp.core.wire.encode import WireEncoder
    from agent_otlp.core.wire.transport import HandlerTransport, HttpTransport
    from agent_otlp.factory import resolve_all, resource_for
    from agent_otlp.offload.entries import span_record
    from agent_otlp.offload.frames import SPAN

    settings, hooks = resolve_all(adapter, endpoint=endpoint, env={})[0]
    resource = resource_for(settings, hooks)
    mapper = Destination(settings, hooks, HandlerTransport(lambda r: None), resource,
                         sampling=False)
    encoder = WireEncoder(resource)
    transport = HttpTransport(settings.endpoint, settings.headers, compression="none")
    options = ConvertOptions()
    ok = True
    batch: list[Any] = []
    for frame in frames:
        for entry in marshal.loads(frame):
            if entry[0] != SPAN:
                continue
            batch.append(convert_span(span_record(entry), options))
            if len(batch) >= settings.batch_size:
                ok = transport.send(encoder.encode(mapper._map_batch(batch)), 10).ok and ok
                batch = []
    if batch:
        ok = transport.send(encoder.encode(mapper._map_batch(batch)), 10).ok and ok
    transport.close()
    mapper.close(mapper.flush(1.0))
    return ok


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--traces", type=int, default=5000)
    parser.add_argument("--adapter", default="jaeger")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--max-in-flight", type=int, default=None)
    parser.add_argument("--floor", action="store_true",
                        help="instead of the exporter: one thread converting, mapping, encoding "
                             "and sending batches itself (no trace bookkeeping, no workflow "
                             "spans, no queues); what the exporter's machinery adds is the "
                             "difference")
    args = parser.parse_args(argv)
    extra = {} if args.max_in_flight is None else {"max_in_flight": args.max_in_flight}

    from agent_otlp.factory import create_exporter
    from agent_otlp.offload.entries import feed
    from agent_otlp.workloads import produce_benchmark_traces, recording_processors

    recorder = _Entries()
    with recording_processors([recorder]):
        produce_benchmark_traces(args.traces)
    entries = recorder.entries
    frames = [marshal.dumps(entries[i:i + 256]) for i in range(0, len(entries), 256)]
    spans = sum(1 for e in entries if e[0] < 2)
    del recorder, entries

    sink = subprocess.Popen([sys.executable, str(BENCH / "sink.py"), "--port", "0"],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert sink.stdout is not None
        port = json.loads(sink.stdout.readline())["port"]
        for _ in range(args.repeat):
            urllib.request.urlopen(urllib.request.Request(
                f"http://127.0.0.1:{port}/reset", method="POST")).read()
            endpoint = f"http://127.0.0.1:{port}"
            if args.floor:
                cpu0, wall0 = time.process_time(), time.perf_counter()
                delivered = _floor(frames, args.adapter, endpoint)
            else:
                exporter = create_exporter(args.adapter, endpoint=endpoint, env={}, **extra)
                cpu0, wall0 = time.process_time(), time.perf_counter()
                for frame in frames:
                    feed(exporter, marshal.loads(frame))
                delivered = exporter.shutdown(60).delivered
            wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
            stats = json.loads(urllib.request.urlopen(
                f"http://127.0.0.1:{port}/stats").read())
            print(json.dumps({
                "adapter": args.adapter, "floor": args.floor, "spans": spans,
                "delivered": delivered,
                "wall_us": round(wall / spans * 1e6, 2), "cpu_us": round(cpu / spans * 1e6, 2),
                "spans_per_s": round(spans / wall), "sink_requests": stats["requests"],
                "sink_unique": stats["unique"],
            }))
    finally:
        sink.terminate()
        sink.wait(5)


if __name__ == "__main__":
    main()
