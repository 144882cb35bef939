"""The benchmark workload: traces of exactly ten OpenAI Agents SDK spans each, built as
cheaply as the SDK allows (no model called, no network).

This module imports nothing of agent-otlp: ``bench/producer.py`` loads it from its file, so
that environments without agent-otlp installed run the very same workload.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agents.tracing import (
    agent_span,
    function_span,
    generation_span,
    guardrail_span,
    handoff_span,
    trace,
)

__all__ = ["SPANS_PER_BENCHMARK_TRACE", "produce_benchmark_traces"]

SPANS_PER_BENCHMARK_TRACE = 10
#: The model the spans name (the demo's, ``DEMO_MODEL``).
_BENCH_MODEL = "gpt-4o-mini"

_BENCH_WORKFLOW = "Benchmark support agent"
_BENCH_AGENT = "Support Agent"
_BENCH_TOOLS = ["get_order", "get_customer", "check_stock", "create_ticket"]
_BENCH_HANDOFFS = ["Escalation Agent"]
_BENCH_MODEL_CONFIG: dict[str, Any] = {"temperature": 0.2, "max_tokens": 256}
_BENCH_SYSTEM = {"role": "system", "content": "You are a concise support agent for Acme Store."}


def _bench_generation(user: str, reply: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    return (
        [_BENCH_SYSTEM, {"role": "user", "content": user}],
        [{"role": "assistant", "content": reply}],
    )


# (input messages, output messages, usage) for the three generations of a benchmark trace.
# Shared by every trace on purpose: building them once keeps the workload cheap.
_Messages = list[dict[str, Any]]
_BENCH_GENERATIONS: tuple[tuple[_Messages, _Messages, dict[str, int]], ...] = (
    (
        *_bench_generation(
            "Where is my order A-1001?", "Let me look up the order and your account."
        ),
        {"input_tokens": 42, "output_tokens": 12},
    ),
    (
        *_bench_generation(
            "Is the replacement in stock?", "Checking stock and opening a ticket for you."
        ),
        {"input_tokens": 58, "output_tokens": 11},
    ),
    (
        *_bench_generation("I want to talk to a person.", "Transferring you to a specialist now."),
        {"input_tokens": 71, "output_tokens": 9},
    ),
)
# (name, input, output) for the four function calls, two after each of the first two
# generations.
_BENCH_CALLS: tuple[tuple[str, str, str], ...] = (
    ("get_order", '{"order_id": "A-1001"}', '{"status": "shipped", "eta": "2024-05-06"}'),
    ("get_customer", '{"customer_id": "C-42"}', '{"tier": "gold", "open_tickets": 0}'),
    ("check_stock", '{"sku": "TAB-10"}', '{"in_stock": 14}'),
    ("create_ticket", '{"subject": "Replacement"}', '{"ticket_id": "T-9001"}'),
)


def produce_benchmark_traces(
    n_traces: int,
    *,
    on_trace_done: Callable[[int], None] | None = None,
) -> int:
    """Produce ``n_traces`` traces of exactly :data:`SPANS_PER_BENCHMARK_TRACE` SDK spans.

    Each trace holds one agent span parenting nine others: an input guardrail, three
    generations (two input messages, one output message, usage), four function calls (two
    after each of the first two generations) and a handoff after the third generation.

    This is the benchmark's baseline, so it does as little as the SDK allows: message lists,
    usage and model config are built once and shared by every span (do not mutate them in a
    processor), parents are passed explicitly and spans are started and finished without
    touching the SDK's current-span context.

    ``on_trace_done`` is called with the 0-based index of each trace right after it finishes.
    Returns the number of SDK spans produced (``10 * n_traces``), the trace objects excluded.
    """
    (in1, out1, usage1), (in2, out2, usage2), (in3, out3, usage3) = _BENCH_GENERATIONS
    (f1, i1, o1), (f2, i2, o2), (f3, i3, o3), (f4, i4, o4) = _BENCH_CALLS
    model = _BENCH_MODEL
    config = _BENCH_MODEL_CONFIG
    tools = _BENCH_TOOLS
    handoffs = _BENCH_HANDOFFS
    to_agent = _BENCH_HANDOFFS[0]

    for index in range(n_traces):
        tr = trace(_BENCH_WORKFLOW)
        tr.start()
        agent = agent_span(
            name=_BENCH_AGENT, handoffs=handoffs, tools=tools, output_type="str", parent=tr
        )
        agent.start()

        span: Any = guardrail_span(name="input_moderation", triggered=False, parent=agent)
        span.start()
        span.finish()

        span = generation_span(
            input=in1, output=out1, model=model, model_config=config, usage=usage1, parent=agent
        )
        span.start()
        span.finish()
        span = function_span(name=f1, input=i1, output=o1, parent=agent)
        span.start()
        span.finish()
        span = function_span(name=f2, input=i2, output=o2, parent=agent)
        span.start()
        span.finish()

        span = generation_span(
            input=in2, output=out2, model=model, model_config=config, usage=usage2, parent=agent
        )
        span.start()
        span.finish()
        span = function_span(name=f3, input=i3, output=o3, parent=agent)
        span.start()
        span.finish()
        span = function_span(name=f4, input=i4, output=o4, parent=agent)
        span.start()
        span.finish()

        span = generation_span(
            input=in3, output=out3, model=model, model_config=config, usage=usage3, parent=agent
        )
        span.start()
        span.finish()
        span = handoff_span(from_agent=_BENCH_AGENT, to_agent=to_agent, parent=agent)
        span.start()
        span.finish()

        agent.finish()
        tr.finish()
        if on_trace_done is not None:
            on_trace_done(index)

    return SPANS_PER_BENCHMARK_TRACE * n_traces
