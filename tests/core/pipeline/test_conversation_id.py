"""``gen_ai.conversation.id`` (the trace's ``group_id``) on the spans whose operation the
conventions require it for when available (``invoke_agent``, ``chat``), not only on the
workflow span: in memory, and through the store, where spans are converted later from stored
items."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import agent_otlp
from agent_otlp.testing import OTLPReceiver

TRACE = "trace_" + "ab" * 16
CONVERSATION = "thread-42"


def _items() -> list[dict[str, Any]]:
    def span(span_id: str, parent: str | None, data: dict[str, Any]) -> dict[str, Any]:
        return {"object": "trace.span", "id": span_id, "trace_id": TRACE, "parent_id": parent,
                "started_at": "2026-12-05T10:00:00.000000+00:00",
                "ended_at": "2026-12-05T10:00:01.000000+00:00", "span_data": data, "error": None}

    return [
        {"object": "trace", "id": TRACE, "workflow_name": "Support", "group_id": CONVERSATION,
         "metadata": None},
        span("span_" + "1" * 24, None, {"type": "agent", "name": "Triage"}),
        span("span_" + "2" * 24, "span_" + "1" * 24,
             {"type": "generation", "model": "gpt-4o", "input": [], "output": []}),
        span("span_" + "3" * 24, "span_" + "1" * 24, {"type": "response", "response_id": "resp_1"}),
        span("span_" + "4" * 24, "span_" + "1" * 24,
             {"type": "function", "name": "lookup", "input": "{}", "output": "ok"}),
    ]


@pytest.mark.parametrize("stored", [False, True], ids=["memory", "store"])
def test_agent_and_model_spans_name_the_conversation(
    otlp_receiver: OTLPReceiver, tmp_path: Path, stored: bool
) -> None:
    kwargs: dict[str, Any] = {"schedule_delay": 0.02}
    if stored:
        kwargs["store"] = str(tmp_path / "spans.db")
    exporter = agent_otlp.create_exporter("otlp", endpoint=otlp_receiver.endpoint, env={}, **kwargs)
    assert exporter.submit_items(_items()) == []
    exporter.end_trace(TRACE)
    assert exporter.shutdown(10).delivered
    by_type = {s.attributes.get("openai_agents.span_type", "trace"): s.attributes
               for s in otlp_receiver.spans()}
    assert set(by_type) == {"trace", "agent", "generation", "response", "function"}
    for kind in ("trace", "agent", "generation", "response"):
        assert by_type[kind].get("gen_ai.conversation.id") == CONVERSATION, kind
    assert "gen_ai.conversation.id" not in by_type["function"]


def test_no_conversation_without_a_group_id(otlp_receiver: OTLPReceiver) -> None:
    items = _items()
    items[0]["group_id"] = None
    exporter = agent_otlp.create_exporter("otlp", endpoint=otlp_receiver.endpoint, env={},
                                          schedule_delay=0.02)
    exporter.submit_items(items)
    exporter.end_trace(TRACE)
    assert exporter.shutdown(10).delivered
    assert all("gen_ai.conversation.id" not in s.attributes for s in otlp_receiver.spans())
