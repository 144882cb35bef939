from __future__ import annotations

import json
import re
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("agents")

import itertools

from agents.tracing import (
    TracingProcessor,
    get_trace_provider,
    set_trace_processors,
)

from agent_otlp import workloads
from agent_otlp.workloads import (
    DEMO_SPAN_COUNT,
    SPANS_PER_BENCHMARK_TRACE,
    DemoResult,
    produce_benchmark_traces,
    record_demo_items,
    run_demo_workflow,
    write_sample_jsonl,
)

TRACE_ID = re.compile(r"^trace_[0-9a-f]{32}$")
SPAN_ID = re.compile(r"^span_[0-9a-f]{24}$")


class Recorder(TracingProcessor):
    """Keeps the SDK objects it is handed, in call order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.events: list[tuple[str, Any]] = []
        self.traces: list[Any] = []
        self.ended_traces: list[Any] = []
        self.spans: list[Any] = []

    def on_trace_start(self, trace: Any) -> None:
        with self._lock:
            self.events.append(("trace_start", trace))
            self.traces.append(trace)

    def on_trace_end(self, trace: Any) -> None:
        with self._lock:
            self.events.append(("trace_end", trace))
            self.ended_traces.append(trace)

    def on_span_start(self, span: Any) -> None:
        with self._lock:
            self.events.append(("span_start", span))

    def on_span_end(self, span: Any) -> None:
        with self._lock:
            self.events.append(("span_end", span))
            self.spans.append(span)

    def shutdown(self) -> None:
        pass

    def force_flush(self) -> None:
        pass


def _installed() -> tuple[Any, ...]:
    provider: Any = get_trace_provider()
    return tuple(provider._multi_processor._processors)


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    previous = _installed()
    rec = Recorder()
    set_trace_processors([rec])
    try:
        yield rec
    finally:
        set_trace_processors(list(previous))


def _ts(value: str | None) -> datetime:
    assert value is not None
    return datetime.fromisoformat(value)


# --- demo workflow ---------------------------------------------------------------------------


@pytest.fixture
def demo(recorder: Recorder) -> tuple[DemoResult, Recorder]:
    return run_demo_workflow(), recorder


def test_demo_ids_and_counts(demo: tuple[DemoResult, Recorder]) -> None:
    result, rec = demo
    assert TRACE_ID.match(result.trace_id)
    assert len(rec.traces) == 1 and len(rec.ended_traces) == 1
    assert rec.traces[0].trace_id == result.trace_id
    assert result.span_count == DEMO_SPAN_COUNT == len(rec.spans) == len(result.expected)
    assert set(result.span_ids) == {e.key for e in result.expected}
    assert len(set(result.span_ids.values())) == result.span_count
    for span in rec.spans:
        assert SPAN_ID.match(span.span_id)
        assert span.trace_id == result.trace_id
    # The trace is started before every span and ended after every span.
    kinds = [kind for kind, _ in rec.events]
    assert kinds[0] == "trace_start" and kinds[-1] == "trace_end"


def test_demo_trace_attributes(recorder: Recorder) -> None:
    result = run_demo_workflow(
        workflow_name="Support flow", group_id="conv_x", metadata={"tenant": "acme"}
    )
    exported = recorder.traces[0].export()
    assert exported["object"] == "trace"
    assert exported["id"] == result.trace_id
    assert exported["workflow_name"] == "Support flow"
    assert exported["group_id"] == "conv_x"
    assert exported["metadata"]["tenant"] == "acme"
    assert "channel" in exported["metadata"]


def test_demo_tree_matches_expected(demo: tuple[DemoResult, Recorder]) -> None:
    result, rec = demo
    by_id = {span.span_id: span for span in rec.spans}
    for expected in result.expected:
        span = by_id[result.span_ids[expected.key]]
        assert span.span_data.type == expected.sdk_type, expected.key
        if expected.parent_key is None:
            assert span.parent_id is None, expected.key
        else:
            assert span.parent_id == result.span_ids[expected.parent_key], expected.key
        exported = span.export()
        assert expected.name_hint in json.dumps(exported["span_data"]), expected.key
        assert (span.error is not None) == expected.error, expected.key


def test_demo_exact_tree_shape(demo: tuple[DemoResult, Recorder]) -> None:
    result, _ = demo
    shape = [(e.key, e.sdk_type, e.parent_key) for e in result.expected]
    assert shape == [
        ("triage_agent", "agent", None),
        ("mcp_list", "mcp_tools", "triage_agent"),
        ("passed_guardrail", "guardrail", "triage_agent"),
        ("gen_1", "generation", "triage_agent"),
        ("lookup_tool", "function", "triage_agent"),
        ("gen_2", "generation", "triage_agent"),
        ("handoff", "handoff", "triage_agent"),
        ("refund_agent", "agent", None),
        ("gen_3", "generation", "refund_agent"),
        ("failing_tool", "function", "refund_agent"),
        ("custom", "custom", "refund_agent"),
        ("tripped_guardrail", "guardrail", "refund_agent"),
        ("gen_4", "generation", "refund_agent"),
    ]


def test_demo_span_contents(demo: tuple[DemoResult, Recorder]) -> None:
    result, rec = demo
    by_key = {
        key: next(s for s in rec.spans if s.span_id == sid) for key, sid in result.span_ids.items()
    }
    triage = by_key["triage_agent"].span_data
    assert triage.name == "Triage Agent"
    assert triage.tools == ["lookup_order"]
    assert triage.handoffs == ["Refund Agent"]
    assert triage.output_type == "str"
    assert by_key["refund_agent"].span_data.tools == ["issue_refund", "get_policy"]

    failing = by_key["failing_tool"]
    assert failing.span_data.name == "issue_refund"
    assert failing.error == {
        "message": "Payment gateway timeout",
        "data": {"order_id": "A-1001", "retry": False},
    }
    assert failing.export()["error"]["message"] == "Payment gateway timeout"
    assert [s for s in rec.spans if s.error is not None] == [failing]

    guardrails = {
        s.span_data.name: s.span_data.triggered
        for s in rec.spans
        if s.span_data.type == "guardrail"
    }
    assert guardrails == {"jailbreak_check": False, "pii_filter": True}

    mcp = by_key["mcp_list"].span_data
    assert mcp.server == "orders-mcp"
    assert mcp.result == ["lookup_order", "cancel_order"]

    custom = by_key["custom"].span_data
    assert custom.name == "refund_policy_lookup"
    assert custom.data == {"policy": "30-day", "eligible": True}

    handoff = by_key["handoff"].span_data
    assert (handoff.from_agent, handoff.to_agent) == ("Triage Agent", "Refund Agent")

    lookup = by_key["lookup_tool"].span_data
    assert json.loads(lookup.input)["order_id"] == "A-1001"
    assert json.loads(lookup.output)["status"] == "delivered"

    gen_1 = by_key["gen_1"].span_data
    assert gen_1.model == "gpt-4o-mini"
    assert gen_1.model_config == {"temperature": 0.2, "max_tokens": 512, "top_p": 1.0}
    assert gen_1.usage == {"input_tokens": 120, "output_tokens": 18}
    assert [m["role"] for m in gen_1.input] == ["system", "user"]
    assert gen_1.output[0]["tool_calls"][0]["function"]["name"] == "lookup_order"

    generations = [s for s in rec.spans if s.span_data.type == "generation"]
    assert len(generations) == 4
    for gen in generations:
        usage = gen.span_data.usage
        assert usage["input_tokens"] > 0 and usage["output_tokens"] > 0
        assert gen.span_data.input and gen.span_data.output


def test_demo_times_nested_and_increasing(demo: tuple[DemoResult, Recorder]) -> None:
    result, rec = demo
    by_id = {s.span_id: s for s in rec.spans}
    # Every start/end event happens strictly after the previous one.
    stamps = []
    for kind, obj in rec.events:
        if kind == "span_start":
            stamps.append(_ts(obj.started_at))
        elif kind == "span_end":
            stamps.append(_ts(obj.ended_at))
    assert len(stamps) == 2 * DEMO_SPAN_COUNT
    assert all(a < b for a, b in itertools.pairwise(stamps))
    for span in rec.spans:
        assert _ts(span.started_at) < _ts(span.ended_at)
        if span.parent_id is not None:
            parent = by_id[span.parent_id]
            assert _ts(parent.started_at) < _ts(span.started_at)
            assert _ts(span.ended_at) < _ts(parent.ended_at)
    # The refund agent runs after the triage agent.
    triage = by_id[result.span_ids["triage_agent"]]
    refund = by_id[result.span_ids["refund_agent"]]
    assert _ts(triage.ended_at) < _ts(refund.started_at)


def test_demo_twice_gives_distinct_ids(recorder: Recorder) -> None:
    first = run_demo_workflow()
    second = run_demo_workflow()
    assert first.trace_id != second.trace_id
    assert not set(first.span_ids.values()) & set(second.span_ids.values())
    assert len(recorder.spans) == 2 * DEMO_SPAN_COUNT


# --- benchmark workload ----------------------------------------------------------------------


def test_benchmark_shape(recorder: Recorder) -> None:
    done: list[int] = []
    total = produce_benchmark_traces(5, on_trace_done=done.append)
    assert total == 5 * SPANS_PER_BENCHMARK_TRACE == len(recorder.spans)
    assert done == [0, 1, 2, 3, 4]
    assert len(recorder.traces) == 5 and len(recorder.ended_traces) == 5

    per_trace: dict[str, list[Any]] = {}
    for span in recorder.spans:
        per_trace.setdefault(span.trace_id, []).append(span)
    assert set(per_trace) == {t.trace_id for t in recorder.traces}
    for trace_id, spans in per_trace.items():
        assert TRACE_ID.match(trace_id)
        assert len(spans) == 10
        counts = Counter(s.span_data.type for s in spans)
        assert counts == {
            "agent": 1,
            "generation": 3,
            "function": 4,
            "handoff": 1,
            "guardrail": 1,
        }
        (agent,) = [s for s in spans if s.span_data.type == "agent"]
        assert agent.parent_id is None
        for span in spans:
            assert SPAN_ID.match(span.span_id)
            if span is not agent:
                assert span.parent_id == agent.span_id
        for span in spans:
            if span.span_data.type == "generation":
                data = span.span_data
                assert len(data.input) == 2 and len(data.output) == 1
                assert data.usage["input_tokens"] > 0 and data.usage["output_tokens"] > 0
                assert data.model


def test_benchmark_zero_traces(recorder: Recorder) -> None:
    assert produce_benchmark_traces(0) == 0
    assert recorder.spans == [] and recorder.traces == []


def test_benchmark_leaves_no_current_trace(recorder: Recorder) -> None:
    from agents.tracing import get_current_span, get_current_trace

    produce_benchmark_traces(2)
    assert get_current_trace() is None
    assert get_current_span() is None


# --- recording in the SDK export format ------------------------------------------------------


def test_record_demo_items_restores_processors(recorder: Recorder) -> None:
    before = _installed()
    items = record_demo_items()
    assert _installed() == before
    # The demo went only to the temporary recorder.
    assert recorder.spans == [] and recorder.traces == []
    assert len(items) == 1 + DEMO_SPAN_COUNT
    assert items[0]["object"] == "trace"
    assert TRACE_ID.match(items[0]["id"])
    assert all(i["object"] == "trace.span" for i in items[1:])
    assert all(i["trace_id"] == items[0]["id"] for i in items[1:])
    errors = [i for i in items[1:] if i["error"] is not None]
    assert len(errors) == 1
    assert errors[0]["span_data"] == {
        "type": "function",
        "name": "issue_refund",
        "input": errors[0]["span_data"]["input"],
        "output": None,
        "mcp_data": None,
    }


def test_record_restores_processors_on_failure(
    recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _installed()

    def boom(**_: Any) -> DemoResult:
        raise RuntimeError("boom")

    monkeypatch.setattr(workloads.recording, "run_demo_workflow", boom)
    with pytest.raises(RuntimeError):
        record_demo_items()
    assert _installed() == before


def test_write_sample_jsonl(recorder: Recorder, tmp_path: Path) -> None:
    before = _installed()
    path = tmp_path / "sample.jsonl"
    lines = write_sample_jsonl(path)
    assert _installed() == before
    text = path.read_text(encoding="utf-8").splitlines()
    assert lines == len(text) == 1 + DEMO_SPAN_COUNT
    objects = [json.loads(line) for line in text]
    assert objects[0]["object"] == "trace"
    assert objects[0]["workflow_name"] == "Customer support"
    assert objects[0]["group_id"] == "conv_demo_0001"
    span_types = Counter(o["span_data"]["type"] for o in objects[1:])
    assert span_types == {
        "agent": 2,
        "generation": 4,
        "function": 2,
        "guardrail": 2,
        "mcp_tools": 1,
        "handoff": 1,
        "custom": 1,
    }
    ids = {o["id"] for o in objects[1:]}
    for obj in objects[1:]:
        assert SPAN_ID.match(obj["id"])
        assert obj["parent_id"] is None or obj["parent_id"] in ids
        assert obj["started_at"] and obj["ended_at"]


def test_write_sample_jsonl_several_traces(recorder: Recorder, tmp_path: Path) -> None:
    path = tmp_path / "many.jsonl"
    lines = write_sample_jsonl(str(path), n_traces=3)
    assert lines == 3 * (1 + DEMO_SPAN_COUNT)
    objects = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    current = None
    traces = []
    for obj in objects:
        if obj["object"] == "trace":
            current = obj["id"]
            traces.append(obj)
        else:
            assert obj["trace_id"] == current
    assert len(traces) == 3
    assert len({t["group_id"] for t in traces}) == 3


def test_benchmark_runs_from_its_file_without_agent_otlp(tmp_path: Path) -> None:
    """``bench/producer.py`` loads the benchmark workload from its file, in environments where
    agent-otlp is not installed: the module must run with agent_otlp unimportable."""
    import subprocess
    import sys

    from agent_otlp.workloads import benchmark

    script = tmp_path / "run_benchmark.py"
    script.write_text(
        "import importlib.abc, importlib.util, sys\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'agent_otlp':\n"
        "            raise ImportError('agent_otlp is blocked')\n"
        "        return None\n"
        "sys.meta_path.insert(0, Block())\n"
        "from agents.tracing import TracingProcessor, set_trace_processors\n"
        "class Count(TracingProcessor):\n"
        "    spans = 0\n"
        "    def on_trace_start(self, trace): pass\n"
        "    def on_trace_end(self, trace): pass\n"
        "    def on_span_start(self, span): pass\n"
        "    def on_span_end(self, span): Count.spans += 1\n"
        "    def shutdown(self): pass\n"
        "    def force_flush(self): pass\n"
        "set_trace_processors([Count()])\n"
        f"spec = importlib.util.spec_from_file_location('bench_workloads', {benchmark.__file__!r})\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        "print(module.produce_benchmark_traces(3), Count.spans)\n",
        encoding="utf-8",
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(3 * SPANS_PER_BENCHMARK_TRACE)] * 2
