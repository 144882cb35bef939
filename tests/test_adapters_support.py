"""Helpers shared by the adapter tests (agent items, export runs), and tests of the adapters'
size helpers."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import agent_otlp
from agent_otlp.adapters._budget import is_loopback, shed_content, span_bytes
from agent_otlp.core.convert.records import EventRecord, SpanRecord
from agent_otlp.core.pipeline.exporter import AgentExporter
from agent_otlp.core.wire.messages import _span


def _stamp(offset_ms: int) -> str:
    base = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    return (base + timedelta(milliseconds=offset_ms)).isoformat()


def agent_trace(
    *,
    content: str = "Where is my order?",
    metadata: dict[str, Any] | None = None,
    custom: dict[str, Any] | None = None,
    generations: int = 1,
) -> list[dict[str, Any]]:
    """One agent trace in the SDK's export format: an agent span with generation(s), a failing
    tool call and a custom span."""
    trace_id = f"trace_{uuid.uuid4().hex}"
    agent_id = f"span_{uuid.uuid4().hex[:24]}"
    items: list[dict[str, Any]] = [
        {"object": "trace", "id": trace_id, "workflow_name": "Support", "group_id": None,
         "metadata": metadata or {"channel": "web"}},
    ]
    for n in range(generations):
        items.append({
            "object": "trace.span", "id": f"span_{uuid.uuid4().hex[:24]}", "trace_id": trace_id,
            "parent_id": agent_id, "started_at": _stamp(10 + n), "ended_at": _stamp(20 + n),
            "span_data": {
                "type": "generation", "model": "gpt-4o-mini",
                "input": [{"role": "user", "content": content}],
                "output": [{"role": "assistant", "content": "It ships today."}],
            },
            "error": None,
        })
    items += [
        {
            "object": "trace.span", "id": f"span_{uuid.uuid4().hex[:24]}", "trace_id": trace_id,
            "parent_id": agent_id, "started_at": _stamp(30), "ended_at": _stamp(40),
            "span_data": {"type": "function", "name": "issue_refund", "input": '{"order": 1}',
                          "output": None},
            "error": {"message": "refund service timed out", "data": {"code": 504}},
        },
        {
            "object": "trace.span", "id": f"span_{uuid.uuid4().hex[:24]}", "trace_id": trace_id,
            "parent_id": agent_id, "started_at": _stamp(41), "ended_at": _stamp(42),
            "span_data": {"type": "custom", "name": "lookup", "data": custom or {"ok": True}},
            "error": None,
        },
        {
            "object": "trace.span", "id": agent_id, "trace_id": trace_id, "parent_id": None,
            "started_at": _stamp(0), "ended_at": _stamp(50),
            "span_data": {"type": "agent", "name": "Triage Agent", "handoffs": [], "tools": [],
                          "output_type": "str"},
            "error": None,
        },
    ]
    return items


def export(adapters: str, items: list[dict[str, Any]], env: dict[str, str], **arguments: Any) -> AgentExporter:
    """Export ``items`` through a fresh exporter and shut it down (everything flushed)."""
    exporter = agent_otlp.create_exporter(adapters, env=env, **arguments)
    assert exporter.submit_items(items) == []
    exporter.end_all_traces()
    exporter.shutdown(20)
    return exporter


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """An environment with no agent-otlp or OTel settings and no config file in reach."""
    monkeypatch.chdir(tmp_path)
    return {"XDG_CONFIG_HOME": str(tmp_path / "xdg")}


def by_type(spans: list[Any], span_type: str) -> list[Any]:
    return [s for s in spans if s.attributes.get("openai_agents.span_type") == span_type]


# --- tests of the size helpers ------------------------------------------------------------


def _record(attributes: dict[str, Any]) -> SpanRecord:
    return SpanRecord(b"\x01" * 16, b"\x02" * 8, b"\x03" * 8, "chat gpt", 1, 1, 2, attributes)


@pytest.mark.parametrize(
    "attributes",
    [
        {"gen_ai.operation.name": "chat"},
        {"gen_ai.input.messages": json.dumps([{"role": "user", "content": "x" * 5000}])},
        {f"k{i}": "v" * i for i in range(200)},
        {"n": 5, "f": 1.5, "b": True, "list": ["a", "bb", "ccc"]},
    ],
)
def test_span_bytes_tracks_the_encoded_size(attributes: dict[str, Any]) -> None:
    record = _record(attributes)
    record.events.append(EventRecord("exception", 3, {"exception.message": "boom" * 50}))
    exact = _span(record).ByteSize()
    assert 0.8 * exact <= span_bytes(record) <= 1.5 * exact + 64


def test_shed_content_removes_content_and_says_so() -> None:
    record = _record({"gen_ai.input.messages": "[]", "gen_ai.tool.call.result": "{}", "x": "y"})
    record.events.append(EventRecord("gen_ai.content", 1, {"gen_ai.output.messages": "[]"}))
    removed = shed_content(record)
    assert set(removed) == {"gen_ai.input.messages", "gen_ai.tool.call.result", "gen_ai.content"}
    assert record.attributes["x"] == "y"
    assert record.events == []
    assert set(record.attributes["agent_otlp.shed"]) == set(removed)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("localhost", True), ("127.0.0.1", True), ("::1", True), ("[::1]", True),
     ("collector.internal", False), ("10.0.0.5", False), (None, False)],
)
def test_is_loopback(host: str | None, loopback: bool) -> None:
    assert is_loopback(host) is loopback
