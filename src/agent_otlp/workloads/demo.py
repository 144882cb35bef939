"""The demo workload: one realistic multi-agent customer-support trace produced with the
OpenAI Agents SDK's real tracing objects (``agents.tracing``), no model called, no network.

:func:`run_demo_workflow` produces it and returns a description of the span tree it produced
(:class:`DemoResult`); the spans go to whatever processors the caller installed with
``agents.tracing.set_trace_processors``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from agents.tracing import (
    SpanError,
    agent_span,
    custom_span,
    function_span,
    generation_span,
    guardrail_span,
    handoff_span,
    mcp_tools_span,
    trace,
)

__all__ = [
    "DEMO_MODEL",
    "DEMO_SPAN_COUNT",
    "DEMO_TREE",
    "WORK_MS",
    "DemoResult",
    "ExpectedSpan",
    "run_demo_workflow",
]

DEMO_MODEL = "gpt-4o-mini"
DEMO_SPAN_COUNT = 13


@dataclass(frozen=True, slots=True)
class ExpectedSpan:
    """One span of the demo tree.

    ``sdk_type`` is the SDK span data type (``span.span_data.type``: "agent", "generation",
    "function", "handoff", "guardrail", "mcp_tools", "custom"). ``parent_key`` is the key of the
    parent span, or ``None`` when the span hangs directly off the trace. ``name_hint`` is the
    identifying name carried by the span data: the agent, function, guardrail or custom span
    name, the MCP server, the model of a generation, or the target agent of a handoff.
    ``error`` tells whether the span carries an SDK ``SpanError``.
    """

    key: str
    sdk_type: str
    parent_key: str | None
    name_hint: str
    error: bool = False


@dataclass(frozen=True, slots=True)
class DemoResult:
    """What :func:`run_demo_workflow` produced.

    ``span_ids`` maps every key of ``expected`` to the SDK span id (``span_<24 hex>``);
    ``span_count`` counts SDK spans, not the trace itself.
    """

    trace_id: str
    span_ids: dict[str, str]
    expected: list[ExpectedSpan]
    span_count: int
    workflow_name: str = "Customer support"
    group_id: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)


# The exact tree produced by run_demo_workflow, in start order.
DEMO_TREE: tuple[ExpectedSpan, ...] = (
    ExpectedSpan("triage_agent", "agent", None, "Triage Agent"),
    ExpectedSpan("mcp_list", "mcp_tools", "triage_agent", "orders-mcp"),
    ExpectedSpan("passed_guardrail", "guardrail", "triage_agent", "jailbreak_check"),
    ExpectedSpan("gen_1", "generation", "triage_agent", DEMO_MODEL),
    ExpectedSpan("lookup_tool", "function", "triage_agent", "lookup_order"),
    ExpectedSpan("gen_2", "generation", "triage_agent", DEMO_MODEL),
    ExpectedSpan("handoff", "handoff", "triage_agent", "Refund Agent"),
    ExpectedSpan("refund_agent", "agent", None, "Refund Agent"),
    ExpectedSpan("gen_3", "generation", "refund_agent", DEMO_MODEL),
    ExpectedSpan("failing_tool", "function", "refund_agent", "issue_refund", error=True),
    ExpectedSpan("custom", "custom", "refund_agent", "refund_policy_lookup"),
    ExpectedSpan("tripped_guardrail", "guardrail", "refund_agent", "pii_filter"),
    ExpectedSpan("gen_4", "generation", "refund_agent", DEMO_MODEL),
)

_DEMO_MODEL_CONFIG: dict[str, Any] = {"temperature": 0.2, "max_tokens": 512, "top_p": 1.0}
_DEFAULT_METADATA: dict[str, str] = {
    "channel": "web_chat",
    "customer_tier": "gold",
    "app_version": "2.3.1",
}

_TRIAGE_SYSTEM = {
    "role": "system",
    "content": (
        "You are the triage agent for Acme Store support. Look up orders with the "
        "lookup_order tool and hand refund requests to the Refund Agent."
    ),
}
_REFUND_SYSTEM = {
    "role": "system",
    "content": (
        "You are the refund agent for Acme Store. Refunds are allowed within 30 days of "
        "delivery. Use issue_refund to refund an order and never ask for card numbers."
    ),
}
_USER_TURN_1 = {
    "role": "user",
    "content": "Hi, my order A-1001 arrived with a cracked screen. Can I get my money back?",
}
_USER_TURN_2 = {
    "role": "user",
    "content": "Can you just refund it to my card 4111 1111 1111 1111 instead?",
}
_LOOKUP_ARGS = '{"order_id": "A-1001"}'
_LOOKUP_RESULT = (
    '{"order_id": "A-1001", "status": "delivered", "delivered_at": "2024-05-02", '
    '"total": 249.0, "currency": "USD", "item": "Acme Tab 10"}'
)
_REFUND_ARGS = '{"order_id": "A-1001", "amount": 249.0, "reason": "damaged_on_arrival"}'


def _tool_call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": arguments},
    }


def _advance_past(stamp: str | None) -> None:
    """Wait (a few microseconds at most) until the wall clock is past ``stamp``.

    The SDK stamps spans with ``datetime.now()`` at microsecond resolution, so two spans started
    back to back can share a timestamp. The demo waits for the clock to tick between
    consecutive events so that its start/end times are strictly increasing.
    """
    if stamp is None:
        return
    last = datetime.fromisoformat(stamp)
    while datetime.now(UTC) <= last:
        pass


#: Simulated work per demo span, in milliseconds at ``latency=1.0``: model calls take
#: hundreds of milliseconds, tools and the MCP listing tens, guardrails a few (0.87 s in all).
WORK_MS: dict[str, float] = {
    "mcp_list": 30, "passed_guardrail": 5, "gen_1": 190, "lookup_tool": 25, "gen_2": 140,
    "gen_3": 210, "failing_tool": 18, "custom": 3, "tripped_guardrail": 8, "gen_4": 240,
}


class _Clock:
    """Remembers the latest SDK timestamp seen in the demo and waits for the next tick;
    simulates each span's work (:data:`WORK_MS` times ``latency``)."""

    __slots__ = ("last", "latency")

    def __init__(self, latency: float = 0.0) -> None:
        self.last: str | None = None
        self.latency = latency

    def work(self, key: str) -> None:
        seconds = WORK_MS.get(key, 0.0) * self.latency / 1000
        if seconds > 0:
            time.sleep(seconds)

    def tick(self) -> None:
        _advance_past(self.last)

    def saw(self, stamp: str | None) -> None:
        if stamp is not None:
            self.last = stamp


@contextmanager
def _timed(clock: _Clock, span: Any, key: str = "") -> Iterator[Any]:
    """Run ``span`` as the current span with strictly increasing start/end times, lasting
    the simulated work of demo span ``key``."""
    clock.tick()
    with span as entered:
        clock.saw(entered.started_at)
        yield entered
        clock.work(key)
        clock.tick()
    clock.saw(span.ended_at)


def run_demo_workflow(
    *,
    workflow_name: str = "Customer support",
    group_id: str | None = "conv_demo_0001",
    metadata: dict[str, str] | None = None,
    latency: float = 0.0,
) -> DemoResult:
    """Produce one realistic multi-agent customer-support trace with the SDK tracing API.

    A customer reports a damaged order. The "Triage Agent" lists the tools of the ``orders-mcp``
    server, passes the ``jailbreak_check`` input guardrail, asks the model, calls
    ``lookup_order``, asks the model again and hands off to the "Refund Agent". The refund
    agent asks the model, calls ``issue_refund``, which fails with a payment gateway timeout
    (an SDK ``SpanError``), checks the refund policy (a custom span), then the customer's
    second message trips the ``pii_filter`` input guardrail because it contains a card number,
    and a final generation answers. See :data:`DEMO_TREE` for the exact tree.

    ``latency`` scales the simulated work of each span (:data:`WORK_MS`): ``1.0`` gives the
    durations of a real run (0.87 s in all, what ``agent-otlp demo`` uses), ``0``
    (the default) runs as fast as the clock allows.
    """
    trace_metadata = dict(_DEFAULT_METADATA)
    if metadata:
        trace_metadata.update(metadata)

    ids: dict[str, str] = {}
    clock = _Clock(latency)

    with trace(workflow_name, group_id=group_id, metadata=trace_metadata) as current_trace:
        # --- Triage agent -------------------------------------------------------------------
        with _timed(
            clock,
            agent_span(
                name="Triage Agent",
                handoffs=["Refund Agent"],
                tools=["lookup_order"],
                output_type="str",
            ),
        ) as triage:
            ids["triage_agent"] = triage.span_id

            with _timed(
                clock, mcp_tools_span(server="orders-mcp", result=["lookup_order", "cancel_order"]),
                "mcp_list",
            ) as span:
                ids["mcp_list"] = span.span_id

            with _timed(
                clock, guardrail_span(name="jailbreak_check", triggered=False), "passed_guardrail"
            ) as span:
                ids["passed_guardrail"] = span.span_id

            lookup_call = _tool_call("call_lookup_01", "lookup_order", _LOOKUP_ARGS)
            with _timed(
                clock,
                generation_span(
                    input=[_TRIAGE_SYSTEM, _USER_TURN_1],
                    output=[{"role": "assistant", "content": None, "tool_calls": [lookup_call]}],
                    model=DEMO_MODEL,
                    model_config=_DEMO_MODEL_CONFIG,
                    usage={"input_tokens": 120, "output_tokens": 18},
                ),
                "gen_1",
            ) as span:
                ids["gen_1"] = span.span_id

            with _timed(
                clock, function_span(name="lookup_order", input=_LOOKUP_ARGS, output=_LOOKUP_RESULT),
                "lookup_tool",
            ) as span:
                ids["lookup_tool"] = span.span_id

            handoff_call = _tool_call("call_handoff_01", "transfer_to_refund_agent", "{}")
            with _timed(
                clock,
                generation_span(
                    input=[
                        _TRIAGE_SYSTEM,
                        _USER_TURN_1,
                        {"role": "assistant", "content": None, "tool_calls": [lookup_call]},
                        {
                            "role": "tool",
                            "tool_call_id": "call_lookup_01",
                            "content": _LOOKUP_RESULT,
                        },
                    ],
                    output=[{"role": "assistant", "content": None, "tool_calls": [handoff_call]}],
                    model=DEMO_MODEL,
                    model_config=_DEMO_MODEL_CONFIG,
                    usage={"input_tokens": 196, "output_tokens": 14},
                ),
                "gen_2",
            ) as span:
                ids["gen_2"] = span.span_id

            with _timed(
                clock, handoff_span(from_agent="Triage Agent", to_agent="Refund Agent"),
                "handoff",
            ) as span:
                ids["handoff"] = span.span_id

        # --- Refund agent -------------------------------------------------------------------
        with _timed(
            clock,
            agent_span(
                name="Refund Agent",
                handoffs=[],
                tools=["issue_refund", "get_policy"],
                output_type="str",
            ),
        ) as refund:
            ids["refund_agent"] = refund.span_id

            refund_call = _tool_call("call_refund_01", "issue_refund", _REFUND_ARGS)
            with _timed(
                clock,
                generation_span(
                    input=[
                        _REFUND_SYSTEM,
                        _USER_TURN_1,
                        {
                            "role": "assistant",
                            "content": "Order A-1001 was delivered on 2024-05-02 for $249.00.",
                        },
                    ],
                    output=[{"role": "assistant", "content": None, "tool_calls": [refund_call]}],
                    model=DEMO_MODEL,
                    model_config=_DEMO_MODEL_CONFIG,
                    usage={"input_tokens": 164, "output_tokens": 31},
                ),
                "gen_3",
            ) as span:
                ids["gen_3"] = span.span_id

            with _timed(
                clock, function_span(name="issue_refund", input=_REFUND_ARGS), "failing_tool"
            ) as span:
                ids["failing_tool"] = span.span_id
                span.set_error(
                    SpanError(
                        message="Payment gateway timeout",
                        data={"order_id": "A-1001", "retry": False},
                    )
                )

            with _timed(
                clock,
                custom_span(
                    name="refund_policy_lookup", data={"policy": "30-day", "eligible": True}
                ),
                "custom",
            ) as span:
                ids["custom"] = span.span_id

            # The customer's second turn carries a card number: the input guardrail trips.
            with _timed(
                clock, guardrail_span(name="pii_filter", triggered=True), "tripped_guardrail"
            ) as span:
                ids["tripped_guardrail"] = span.span_id

            with _timed(
                clock,
                generation_span(
                    input=[
                        _REFUND_SYSTEM,
                        _USER_TURN_1,
                        {
                            "role": "assistant",
                            "content": (
                                "I'm sorry, the refund didn't go through because the payment "
                                "gateway timed out. Your order is still eligible."
                            ),
                        },
                        {"role": "user", "content": "[redacted by pii_filter]"},
                    ],
                    output=[
                        {
                            "role": "assistant",
                            "content": (
                                "For your security, please don't share card numbers here. The "
                                "refund of $249.00 for order A-1001 will go back to your "
                                "original payment method; I've queued a retry."
                            ),
                        }
                    ],
                    model=DEMO_MODEL,
                    model_config=_DEMO_MODEL_CONFIG,
                    usage={"input_tokens": 231, "output_tokens": 42},
                ),
                "gen_4",
            ) as span:
                ids["gen_4"] = span.span_id

        trace_id: str = current_trace.trace_id

    return DemoResult(
        trace_id=trace_id,
        span_ids=ids,
        expected=list(DEMO_TREE),
        span_count=len(ids),
        workflow_name=workflow_name,
        group_id=group_id,
        metadata=trace_metadata,
    )
