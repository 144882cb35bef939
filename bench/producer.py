"""One benchmark producer run, in a fresh process: the workload through one pipeline.

Run by ``bench/run.py`` with the interpreter of the pipeline's environment (the project's
venv, or ``bench/.venv-alt`` for the third-party instrumentations). Prints one JSON line:

* ``t0``: ``time.monotonic()`` right before the first traced span is produced;
* ``produce_s``: wall time of the production loop (the agent's cost, pipeline included);
* ``flush_s``: time of the pipeline's final flush/shutdown;
* ``spans``: SDK spans produced; ``expected``: spans the pipeline should deliver;
* ``maxrss_kb``: peak RSS (``VmHWM``); ``rss``: ``[fraction, current RSS kB, peak kB]``
  samples taken during production.

The workload is :func:`agent_otlp.workloads.produce_benchmark_traces`, loaded from its source
file (``workloads/benchmark.py``) so that environments without agent-otlp installed run the
very same code.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))


def _workload() -> Any:
    spec = importlib.util.spec_from_file_location(
        "bench_workloads", ROOT / "src" / "agent_otlp" / "workloads" / "benchmark.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_workloads"] = module
    spec.loader.exec_module(module)
    return module


def _rss_kb() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def _maxrss_kb() -> int:
    """Peak RSS: ``VmHWM`` (Linux carries ``ru_maxrss`` across ``exec`` from the parent)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


# --- pipelines: each returns (flush function, spans delivered per trace, info) --------------

Setup = tuple[Callable[[], Any], int, dict[str, Any]]


def _otel_provider(sink: str) -> tuple[Any, Any]:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": "bench"}))
    processor = BatchSpanProcessor(OTLPSpanExporter(endpoint=sink.rstrip("/") + "/v1/traces"))
    provider.add_span_processor(processor)
    return provider, processor


def _protocol(args: argparse.Namespace) -> dict[str, Any]:
    """``protocol=`` for ``create_exporter`` when ``--protocol`` was given (else the adapter's)."""
    return {"protocol": args.protocol} if args.protocol else {}


def setup_baseline(args: argparse.Namespace) -> Setup:
    from agents.tracing import set_trace_processors

    set_trace_processors([])
    return (lambda: None), 0, {}


def setup_agent_otlp(args: argparse.Namespace) -> Setup:
    from agents.tracing import set_trace_processors

    import agent_otlp

    exporter = agent_otlp.create_exporter(
        args.adapter, endpoint=args.sink, env={}, **_protocol(args)
    )
    set_trace_processors([agent_otlp.make_processor(exporter)])

    def flush() -> Any:
        report = exporter.shutdown()
        return {"delivered": report.delivered, "pending": report.pending,
                "stats": _plain(exporter.stats.snapshot())}

    return flush, 11, {"adapter": args.adapter, **_protocol(args)}


def setup_agent_otlp_offload(args: argparse.Namespace) -> Setup:
    """Offload mode: ``create_exporter(..., offload=True)``, the pipeline in a child process."""
    from agents.tracing import set_trace_processors

    import agent_otlp

    exporter = agent_otlp.create_exporter(
        args.adapter, endpoint=args.sink, env={}, offload=args.offload, **_protocol(args)
    )
    set_trace_processors([agent_otlp.make_processor(exporter)])

    def flush() -> Any:
        report = exporter.shutdown()
        stats = exporter.stats.snapshot()
        return {"delivered": report.delivered, "pending": report.pending,
                "child_maxrss_kb": stats["offload"]["child_maxrss_kb"], "stats": _plain(stats)}

    return flush, 11, {"adapter": args.adapter, "offload": args.offload, **_protocol(args)}


def setup_openinference(args: argparse.Namespace) -> Setup:
    from openinference.instrumentation.openai_agents import OpenAIAgentsInstrumentor

    provider, _ = _otel_provider(args.sink)
    # Installs an exclusive TracingProcessor (replaces the SDK's default processors).
    OpenAIAgentsInstrumentor().instrument(tracer_provider=provider)
    return provider.shutdown, 11, {}


def setup_openllmetry(args: argparse.Namespace) -> Setup:
    from opentelemetry.instrumentation.openai_agents import OpenAIAgentsInstrumentor

    provider, _ = _otel_provider(args.sink)
    OpenAIAgentsInstrumentor(replace_existing_processors=True).instrument(
        tracer_provider=provider
    )
    # It maps agent, generation, function and handoff spans (plus a workflow span per
    # trace); guardrail spans are not exported.
    return provider.shutdown, 10, {}


def setup_handwritten(args: argparse.Namespace) -> Setup:
    from agents.tracing import set_trace_processors

    import handwritten

    _, processor = _otel_provider(args.sink)
    set_trace_processors([handwritten.make_processor(processor)])
    return processor.shutdown, 11, {}


SETUPS: dict[str, Callable[[argparse.Namespace], Setup]] = {
    "baseline": setup_baseline,
    "agent-otlp": setup_agent_otlp,
    "agent-otlp-offload": setup_agent_otlp_offload,
    "openinference": setup_openinference,
    "openllmetry": setup_openllmetry,
    "handwritten": setup_handwritten,
}


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if hasattr(value, "__dict__") or hasattr(value, "__slots__"):
        try:
            from dataclasses import asdict, is_dataclass

            if is_dataclass(value):
                return _plain(asdict(value))  # type: ignore[arg-type]
        except Exception:
            pass
    return repr(value)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pipeline", choices=sorted(SETUPS), required=True)
    parser.add_argument("--adapter", default="otlp")
    parser.add_argument("--traces", type=int, default=5000)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--sink", default="http://127.0.0.1:4318")
    parser.add_argument("--protocol", choices=("http/protobuf", "grpc"), default=None,
                        help="agent-otlp pipelines: create_exporter(protocol=...); default: the "
                             "adapter's (http/protobuf); with grpc, --sink is the gRPC endpoint")
    parser.add_argument("--offload", type=int, default=1,
                        help="agent-otlp-offload: the number of child processes (offload=N)")
    parser.add_argument("--samples", default="0.1,0.5,1.0",
                        help="fractions of the run at which to sample RSS")
    args = parser.parse_args(argv)
    if args.protocol and not args.pipeline.startswith("agent-otlp"):
        parser.error("--protocol is for the agent-otlp pipelines")
    if args.offload != 1 and args.pipeline != "agent-otlp-offload":
        parser.error("--offload is for the agent-otlp-offload pipeline")

    work = _workload()
    from agents.tracing import set_trace_processors

    set_trace_processors([])
    work.produce_benchmark_traces(args.warmup)  # warm the SDK's code paths, nothing exported

    flush, per_trace, info = SETUPS[args.pipeline](args)
    marks = {max(0, round(float(f) * args.traces) - 1): float(f) for f in args.samples.split(",")}
    samples: list[list[float]] = []

    def on_trace_done(index: int) -> None:
        fraction = marks.get(index)
        if fraction is not None:
            samples.append([fraction, _rss_kb(), _maxrss_kb()])

    t0 = time.monotonic()
    c0, p0 = time.thread_time(), time.process_time()
    spans = work.produce_benchmark_traces(args.traces, on_trace_done=on_trace_done)
    t1 = time.monotonic()
    c1, p1 = time.thread_time(), time.process_time()
    flushed = flush()
    t2 = time.monotonic()
    result = {
        "pipeline": args.pipeline,
        "t0": t0,
        "produce_s": t1 - t0,
        # CPU time while producing: the agent's thread, and all the process's threads
        "produce_cpu_s": c1 - c0,
        "produce_process_cpu_s": p1 - p0,
        "flush_s": t2 - t1,
        "t_end": t2,
        "spans": spans,
        "traces": args.traces,
        "expected": per_trace * args.traces,
        "maxrss_kb": _maxrss_kb(),
        "rss": samples,
        "flush": flushed if isinstance(flushed, dict) else None,
        "compiled": _compiled(),
        **info,
    }
    print(json.dumps(result), flush=True)


def _compiled() -> list[str]:
    """agent-otlp's per-span modules this interpreter loaded compiled (none: plain Python,
    or agent-otlp not installed, as in bench/.venv-alt)."""
    try:
        from agent_otlp._compiled import compiled_modules
    except ImportError:
        return []
    return compiled_modules()


if __name__ == "__main__":
    main()
