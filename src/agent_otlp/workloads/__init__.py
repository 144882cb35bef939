"""Sample agent workloads produced with the OpenAI Agents SDK tracing API.

Everything here drives the SDK's real tracing objects (``agents.tracing``): traces and spans are
created, started and finished exactly as the SDK's runner would, but no model is called and
nothing touches the network. The spans go to whatever processors the caller installed with
``agents.tracing.set_trace_processors``.

* :func:`run_demo_workflow` produces one realistic multi-agent customer-support trace and
  returns a description of the span tree it produced (:class:`DemoResult`).
* :func:`produce_benchmark_traces` is the performance workload: traces of exactly ten spans
  each, built as cheaply as the SDK allows.
* :func:`record_demo_items` and :func:`write_sample_jsonl` capture the demo in the SDK's own
  export format (``trace.export()`` / ``span.export()``), temporarily replacing the installed
  processors so that nothing is uploaded anywhere.

One module each: ``demo``, ``benchmark`` (which imports nothing of agent-otlp, so that the
benchmarks can run it without agent-otlp installed) and ``recording``.
"""

from __future__ import annotations

from agent_otlp.workloads.benchmark import SPANS_PER_BENCHMARK_TRACE, produce_benchmark_traces
from agent_otlp.workloads.demo import (
    DEMO_MODEL,
    DEMO_SPAN_COUNT,
    DEMO_TREE,
    WORK_MS,
    DemoResult,
    ExpectedSpan,
    run_demo_workflow,
)
from agent_otlp.workloads.recording import (
    RecordingProcessor,
    record_demo_items,
    recording_processors,
    write_sample_jsonl,
)

__all__ = [
    "DEMO_MODEL",
    "DEMO_SPAN_COUNT",
    "DEMO_TREE",
    "SPANS_PER_BENCHMARK_TRACE",
    "WORK_MS",
    "DemoResult",
    "ExpectedSpan",
    "RecordingProcessor",
    "produce_benchmark_traces",
    "record_demo_items",
    "recording_processors",
    "run_demo_workflow",
    "write_sample_jsonl",
]
