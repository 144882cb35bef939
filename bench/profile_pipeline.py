"""Where agent-otlp's time goes: the agent's thread and the background threads, profiled.

    python bench/profile_pipeline.py [--traces 5000] [--adapter otlp] [--top 25]

The sink runs in its own process (``bench/sink.py``). Every thread the exporter starts is
profiled with its own ``cProfile.Profile`` (``threading.Thread.run`` is wrapped before the
exporter exists); the agent's thread is profiled around the production loop only. Also
printed, without any profiler: the agent thread's wall time and CPU time
(``time.thread_time``) per span, for no processor, for a processor that only appends to a
deque (the intrinsic cost of agent-otlp's callbacks) and for the real pipeline. Wall time
above CPU time on the agent's thread is time spent waiting, mostly for the GIL held by the
background threads.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent


def _timed(produce: Any, traces: int) -> tuple[float, float]:
    w0, c0 = time.perf_counter(), time.thread_time()
    spans = produce(traces)
    return (time.perf_counter() - w0) / spans * 1e6, (time.thread_time() - c0) / spans * 1e6


def _append_only_processor() -> Any:
    from agents.tracing import TracingProcessor

    intake: deque[tuple[int, Any, int]] = deque()

    class AppendOnly(TracingProcessor):  # type: ignore[misc]
        def on_trace_start(self, trace: Any) -> None:
            intake.append((1, trace, time.time_ns()))

        def on_trace_end(self, trace: Any) -> None:
            intake.append((2, trace, time.time_ns()))

        def on_span_start(self, span: Any) -> None:
            return None

        def on_span_end(self, span: Any) -> None:
            intake.append((0, span, time.time_ns()))

        def shutdown(self) -> None:
            return None

        def force_flush(self) -> None:
            return None

    return AppendOnly()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--traces", type=int, default=5000)
    parser.add_argument("--adapter", default="otlp")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--no-profile", action="store_true", help="only the timing lines")
    args = parser.parse_args(argv)

    sink = subprocess.Popen([sys.executable, str(BENCH / "sink.py"), "--port", "0"],
                            stdout=subprocess.PIPE, text=True)
    assert sink.stdout is not None
    url = f"http://127.0.0.1:{json.loads(sink.stdout.readline())['port']}"
    try:
        from agents.tracing import set_trace_processors

        import agent_otlp
        from agent_otlp.workloads import produce_benchmark_traces

        set_trace_processors([])
        produce_benchmark_traces(200)
        timings = {"no processor": _timed(produce_benchmark_traces, args.traces)}
        set_trace_processors([_append_only_processor()])
        timings["append-only processor"] = _timed(produce_benchmark_traces, args.traces)

        exporter = agent_otlp.create_exporter(args.adapter, endpoint=url, env={})
        set_trace_processors([agent_otlp.make_processor(exporter)])
        timings["agent-otlp pipeline"] = _timed(produce_benchmark_traces, args.traces)
        t0 = time.perf_counter()
        exporter.force_flush(120)
        timings["agent-otlp pipeline"] += ((time.perf_counter() - t0),)
        exporter.shutdown()

        print(f"agent thread, {args.traces * 10} spans, µs per span (wall / CPU of the thread):")
        for name, (wall, cpu, *rest) in timings.items():
            extra = f"; flush afterwards {rest[0]:.2f} s" if rest else ""
            print(f"  {name:24s} wall {wall:6.1f}  cpu {cpu:6.1f}{extra}")
        if args.no_profile:
            return

        profiles: dict[str, cProfile.Profile] = {}
        original_run = threading.Thread.run

        def profiled_run(self: threading.Thread) -> None:
            profile = profiles.setdefault(self.name, cProfile.Profile())
            profile.enable()
            try:
                original_run(self)
            finally:
                profile.disable()

        threading.Thread.run = profiled_run  # type: ignore[method-assign]
        exporter = agent_otlp.create_exporter(args.adapter, endpoint=url, env={})
        set_trace_processors([agent_otlp.make_processor(exporter)])
        main_profile = profiles["agent thread (production loop)"] = cProfile.Profile()
        main_profile.enable()
        produce_benchmark_traces(args.traces)
        main_profile.disable()
        exporter.shutdown()
        threading.Thread.run = original_run  # type: ignore[method-assign]

        for name, profile in profiles.items():
            for order in ("tottime", "cumulative"):
                out = io.StringIO()
                stats = pstats.Stats(profile, stream=out)
                total = stats.total_tt  # type: ignore[attr-defined]
                print(f"\n=== {name}: {total:.2f} s profiled, top {args.top} by {order} ===")
                stats.sort_stats(order).print_stats(args.top)
                body = out.getvalue()
                start = body.find("   ncalls")
                print(body[start:].rstrip() if start >= 0 else body)
    finally:
        sink.terminate()
        sink.wait(10)


if __name__ == "__main__":
    main()
