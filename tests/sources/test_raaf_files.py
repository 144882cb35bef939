"""``agent-otlp send`` reads RAAF's local trace formats (the lines of its ``FileSpanProcessor``
and the document of ``SpanTracer#export_spans``, fixtures in ``tests/fixtures/raaf/``) and
exports whole trees: one root per trace, no span whose parent is missing."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from _paths import ROOT
from agent_otlp.cli import _register, app
from agent_otlp.core.convert.records import parse_item
from agent_otlp.core.convert.spans import ConvertOptions
from agent_otlp.historical import parse_time
from agent_otlp.sources.files import FileSource, read_items
from agent_otlp.testing import OTLPReceiver
from test_bridge_ops import wait_until

_register()

FIXTURES = ROOT / "tests" / "fixtures" / "raaf"
FILE_EVENTS = FIXTURES / "file_span_processor.jsonl"
SPAN_EXPORT = FIXTURES / "span_export.json"
ERROR = 2  # OTLP status code
CLI = [sys.executable, "-c", "from agent_otlp.cli import main; main()"]


@pytest.fixture(autouse=True)
def _clean(cli_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "50")


def send(receiver: OTLPReceiver, *paths: Path) -> Any:
    return CliRunner().invoke(app, ["send", *map(str, paths), "--adapter", "otlp",
                                    "--endpoint", receiver.endpoint, "--no-store"],
                              catch_exceptions=False)


def trees(receiver: OTLPReceiver) -> dict[str, list[Any]]:
    """The received spans by trace, each trace checked to be one whole tree."""
    by_trace: dict[str, list[Any]] = defaultdict(list)
    for span in receiver.spans():
        by_trace[span.trace_id].append(span)
    for trace_id, spans in by_trace.items():
        ids = {s.span_id for s in spans}
        roots = [s.name for s in spans if s.is_root]
        assert len(roots) == 1, (trace_id, roots)
        dangling = [s.name for s in spans if not s.is_root and s.parent_span_id not in ids]
        assert dangling == [], (trace_id, dangling)
    return by_trace


def one(spans: list[Any], predicate: Any) -> Any:
    [found] = [s for s in spans if predicate(s)]
    return found


def test_file_span_processor_lines_are_sent_as_one_whole_tree(otlp_receiver: OTLPReceiver) -> None:
    result = send(otlp_receiver, FILE_EVENTS)
    assert result.exit_code == 0, result.output
    [spans] = trees(otlp_receiver).values()
    # the root span of kind "trace" is the workflow; 11 ended spans, and the LLM call whose
    # end RAAF never reported (LLMSpanWrapper) closed at the file's last time
    assert len(spans) == 13
    root = one(spans, lambda s: s.is_root)
    assert "Customer support" in root.name
    agents = {s.attributes.get("gen_ai.agent.name") for s in spans if s.parent_span_id == root.span_id}
    assert agents == {"Support"}
    refund = one(spans, lambda s: "issue_refund" in s.name)
    assert refund.status_code == ERROR and refund.status_message == "refund service unavailable"
    gpt = one(spans, lambda s: s.attributes.get("gen_ai.request.model") == "gpt-4o")
    assert (gpt.attributes["gen_ai.usage.input_tokens"], gpt.attributes["gen_ai.usage.output_tokens"]) == (120, 30)
    assert gpt.duration_ns == 1_442_000_000  # duration_ms, not the whole seconds of its times
    claude = one(spans, lambda s: s.attributes.get("gen_ai.request.model") == "claude-3-5-sonnet-20241022")
    assert (claude.attributes["gen_ai.usage.input_tokens"], claude.attributes["gen_ai.usage.output_tokens"]) == (80, 12)
    traceable = one(spans, lambda s: s.attributes.get("gen_ai.agent.name") == "SupportAgent")
    assert traceable.duration_ns == 4_180_000_000  # Time#to_s times read


def test_span_export_document_is_sent_with_every_kind_of_error(otlp_receiver: OTLPReceiver) -> None:
    result = send(otlp_receiver, SPAN_EXPORT)
    assert result.exit_code == 0, result.output
    [spans] = trees(otlp_receiver).values()
    assert len(spans) == 7
    root = one(spans, lambda s: s.is_root)
    assert "Research" in root.name
    pipeline = one(spans, lambda s: s.name.endswith("pipeline.ResearchPipeline"))
    assert pipeline.parent_span_id == root.span_id
    failed = {s.name.split(" ")[-1]: s.status_message for s in spans if s.status_code == ERROR}
    assert failed == {"search": "search backend timed out",  # "error" attribute: a string
                      "topic": "error",  # true
                      "custom.summarize": "summary too long"}  # an object


def test_both_files_in_one_run_are_two_traces(otlp_receiver: OTLPReceiver) -> None:
    result = send(otlp_receiver, FILE_EVENTS, SPAN_EXPORT)
    assert result.exit_code == 0, result.output
    assert sorted(len(spans) for spans in trees(otlp_receiver).values()) == [7, 13]


def test_a_cut_span_export_keeps_its_whole_spans(otlp_receiver: OTLPReceiver, tmp_path: Path) -> None:
    text = SPAN_EXPORT.read_text()
    cut = tmp_path / "cut.json"
    cut.write_text(text[: text.index('"custom.summarize"')])  # the writer died in the last span
    result = send(otlp_receiver, cut)
    assert result.exit_code == 3, result.output  # the cut span is listed as invalid
    [spans] = trees(otlp_receiver).values()
    assert len(spans) == 6


def test_historical_export_reads_the_same_items() -> None:
    source = FileSource([FILE_EVENTS, SPAN_EXPORT], ConvertOptions())
    records = [r for _, r in source.records(0, None, None) if r is not None]
    assert source.invalid == 0
    assert len(records) == 13 + 7
    assert source.orphans == []  # both traces have their trace object


def test_file_span_processor_lines_are_exported_as_they_are_written(
    otlp_receiver: OTLPReceiver, tmp_path: Path
) -> None:
    """``tail -f traces.jsonl | agent-otlp send -``: ended spans go out before the pipe closes."""
    lines = FILE_EVENTS.read_text().splitlines(keepends=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENT_OTLP_"))}
    env.update(XDG_DATA_HOME=str(tmp_path / "data"), XDG_CONFIG_HOME=str(tmp_path / "config"),
               OTEL_BSP_SCHEDULE_DELAY="50")
    child = subprocess.Popen([*CLI, "send", "-", "--adapter", "otlp", "--endpoint", otlp_receiver.endpoint],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=env)
    assert child.stdin is not None
    try:
        child.stdin.writelines(lines[:8])  # the root, the agent, a guardrail and a generation
        child.stdin.flush()
        exported = wait_until(lambda: otlp_receiver.span_count() >= 2, 20)
        if not exported:
            child.kill()
        assert exported, "nothing exported before EOF: " + "".join(child.communicate())
        assert child.poll() is None
        out, err = child.communicate("".join(lines[8:]), timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0, out + err
    [spans] = trees(otlp_receiver).values()
    assert len(spans) == 13


def test_odd_raaf_spans_cost_only_themselves() -> None:
    """Members of unexpected types are read as far as they go; the stream goes on."""
    odd = {"span_id": "span_" + "a" * 32, "trace_id": "trace_" + "b" * 32, "parent_id": 7, "name": None,
           "kind": "tool", "start_time": 12, "end_time": "yesterday", "duration_ms": "long",
           "attributes": ["not", "a", "hash"], "events": 5, "status": "error"}
    text = "\n".join(json.dumps(line) for line in (
        {"event": "end", "timestamp": "2025-12-05T08:00:00Z", "span": odd},
        {"trace_id": "trace_" + "b" * 32, "spans": [odd, "not a span"]},
    )) + "\n" + FILE_EVENTS.read_text()
    items = list(read_items(io.StringIO(text)))
    odd_items = [i for i in items if isinstance(i, dict) and i.get("id") == odd["span_id"]]
    assert len(odd_items) == 2
    assert all(i["error"] == {"message": "error", "data": None} and i["parent_id"] is None for i in odd_items)
    assert "not a span" in items  # refused later as an invalid item, with the others
    assert sum(1 for i in items if isinstance(i, dict) and i.get("object") == "trace.span") == 2 + 12


def test_attributes_no_span_field_takes_and_error_types_are_kept(otlp_receiver: OTLPReceiver) -> None:
    """The file mapping is the Rails tables' one: unread attributes as metadata, the
    ``exception`` event's type as the error's type."""
    result = send(otlp_receiver, FILE_EVENTS)
    assert result.exit_code == 0, result.output
    [spans] = trees(otlp_receiver).values()
    response = one(spans, lambda s: s.attributes.get("gen_ai.response.id") == "resp_82f3e9c695dc6b8d1b11818d")
    assert response.attributes["openai_agents.metadata.response.format"] == "text"
    assert response.attributes["openai_agents.metadata.raaf.kind"] == "response"
    validation = one(spans, lambda s: s.name.endswith("custom.validation"))
    assert validation.attributes["openai_agents.metadata.custom.data.records"] == 3
    refund = one(spans, lambda s: "issue_refund" in s.name)
    assert refund.attributes["error.type"] == "RefundError"
    root = one(spans, lambda s: s.is_root)
    assert root.attributes["openai_agents.metadata.raaf.trace_span.id"].startswith("span_")


def test_span_times_reach_the_converter_to_the_microsecond() -> None:
    """Whatever offset RAAF wrote, and before 1973 too (where an epoch number would be read as
    microseconds, the time is handed on as text)."""
    def span(n: int, start: str, end: str) -> dict[str, Any]:
        return {"span_id": f"span_{n}", "trace_id": "trace_" + "c" * 32, "parent_id": None, "name": "tool.x",
                "kind": "tool", "start_time": start, "end_time": end, "attributes": {}, "events": []}

    document = {"trace_id": "trace_" + "c" * 32, "spans": [
        span(0, "2025-12-05T09:00:00.123456+01:00", "2025-12-05 08:00:01 UTC"),
        span(1, "1970-01-02T00:00:00.000001Z", "1973-03-03T09:46:40Z"),
    ]}
    items = [i for i in read_items(io.StringIO(json.dumps(document))) if isinstance(i, dict)]
    parsed = {i["id"]: parse_item(i) for i in items if i.get("object") == "trace.span"}
    times = {key: (span.started_ns, span.ended_ns) for key, span in parsed.items()}
    assert times == {
        "span_0": (parse_time("2025-12-05T08:00:00.123456Z"), parse_time("2025-12-05T08:00:01Z")),
        "span_1": (86_400_000_001_000, 10**17),
    }
