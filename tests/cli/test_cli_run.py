"""``agent-otlp send`` and ``agent-otlp demo``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

pytest.importorskip("agents")

from agent_otlp.cli import _register, app
from agent_otlp.testing import OTLPReceiver
from agent_otlp.workloads import write_sample_jsonl

_register()


@pytest.fixture(autouse=True)
def clean_env(cli_env: None) -> None:
    """Each test runs as on a clean machine (``cli_env``)."""


def run(*args: str, stdin: str | None = None) -> Any:
    return CliRunner().invoke(app, list(args), input=stdin, catch_exceptions=False)


def test_send_jsonl_with_invalid_lines(
    otlp_receiver: OTLPReceiver, tmp_path: Path, sdk_processors: list[Any]
) -> None:
    path = tmp_path / "traces.jsonl"
    count = write_sample_jsonl(path)
    lines = path.read_text().splitlines()
    assert count == len(lines) == 14
    bad_span = json.loads(lines[1])
    bad_span["started_at"] = "not-a-time"
    lines[1] = json.dumps(bad_span)
    lines.insert(3, "{this is not json")
    lines.insert(5, json.dumps({"object": "trace.span", "id": "s", "trace_id": "t",
                                "span_data": {"type": 7}}))
    path.write_text("\n".join(lines) + "\n")
    result = run("send", str(path), "--adapter", "otlp", "--endpoint", otlp_receiver.endpoint)
    assert result.exit_code == 3, result.output  # some items rejected, the rest delivered
    assert otlp_receiver.span_count() == 13  # 12 valid SDK spans + the workflow span
    output = result.output
    assert "started_at='not-a-time'" in output
    assert "line 4" in output and "invalid JSON" in output
    assert "span_data.type=7" in output


def test_send_json_array_from_stdin(
    otlp_receiver: OTLPReceiver, tmp_path: Path, sdk_processors: list[Any]
) -> None:
    path = tmp_path / "traces.jsonl"
    write_sample_jsonl(path)
    items = [json.loads(line) for line in path.read_text().splitlines()]
    result = run("send", "-", "--adapter", "otlp", "--endpoint", otlp_receiver.endpoint,
                 stdin=json.dumps(items))
    assert result.exit_code == 0, result.output
    assert otlp_receiver.span_count() == 14


def test_send_missing_file() -> None:
    result = run("send", "nope.jsonl", "--adapter", "otlp")
    assert result.exit_code == 2
    assert "nope.jsonl" in result.output


def test_send_to_a_dead_endpoint_exits_4(
    tmp_path: Path, sdk_processors: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "t.jsonl"
    write_sample_jsonl(path)
    monkeypatch.setenv("AGENT_OTLP_RETRY_DEADLINE", "0.1")
    result = run("send", str(path), "--adapter", "otlp", "--endpoint", "http://127.0.0.1:9",
                 "--timeout", "2")
    assert result.exit_code == 4  # some spans not delivered


def test_demo_with_console_adapter(tmp_path: Path, sdk_processors: list[Any]) -> None:
    result = run("demo")
    assert result.exit_code == 0, result.output
    assert "invoke_workflow Customer support" in result.output
    assert "Refund Agent" in result.output
    out = tmp_path / "agent-otlp-out" / "traces.jsonl"
    spans = []
    for line in out.read_text().splitlines():
        document = json.loads(line)
        for resource_spans in document["resourceSpans"]:
            for scope_spans in resource_spans["scopeSpans"]:
                spans.extend(scope_spans["spans"])
    assert len(spans) == 14
    trace_ids = {s["traceId"] for s in spans}
    assert len(trace_ids) == 1
    (trace_id,) = trace_ids
    assert len(trace_id) == 32 and int(trace_id, 16)
    assert all(len(s["spanId"]) == 16 for s in spans)
    assert trace_id in result.output
