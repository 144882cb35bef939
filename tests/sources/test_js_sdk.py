"""The JavaScript Agents SDK (``@openai/agents``, pinned in ``tests/js/package-lock.json``)
through ``agent-otlp serve``: ``tests/js/drive_sdk.mjs`` runs the SDK's Runner over stub
model clients and its tracing API, and posts with the SDK's own OpenAITracingExporter to a
real bridge subprocess, which delivers to the in-process OTLP receiver.

Node.js and npm are required: without them this test fails, it does not skip."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as ga

from _paths import ROOT
from agent_otlp.core.convert.attributes import GUARDRAIL_TRIGGERED
from agent_otlp.sources.bridge import INGEST_PATH
from agent_otlp.testing import OTLPReceiver, ReceivedSpan

JS_DIR = ROOT / "tests" / "js"
API_KEY = "sk-js-sdk-check-0123456789"
ERROR = 2
CLIENT = 3


@pytest.fixture
def serve(otlp_receiver: OTLPReceiver, tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """``agent-otlp serve`` (store on, content capture on) forwarding to the receiver."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENT_OTLP_", "OTEL_"))}
    env.update(PYTHONUNBUFFERED="1", COLUMNS="200")
    command = [sys.executable, "-c", "from agent_otlp.cli import main; main()", "serve",
               "--adapter", "otlp", "--endpoint", otlp_receiver.endpoint, "--port", "0",
               "--store", str(tmp_path / "spans.db"), "--capture-content",
               "--trace-end-grace", "0.3"]
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        url = banner.split("POST ", 1)[1].split(INGEST_PATH)[0]  # printed once listening
        yield url, process
    finally:
        if process.poll() is None:
            process.terminate()
            process.communicate(timeout=30)


def _run_script(node: str, ingest_url: str) -> dict[str, Any]:
    env = dict(os.environ, NODE_ENV="test")  # the SDK disables its tracing under NODE_ENV=test
    env.pop("OPENAI_API_KEY", None)
    done = subprocess.run([node, "drive_sdk.mjs", ingest_url], cwd=JS_DIR, env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    assert "Tracing" not in done.stderr, done.stderr[-4000:]  # no failed export
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _by_trace(spans: list[ReceivedSpan]) -> dict[str, list[ReceivedSpan]]:
    traces: dict[str, list[ReceivedSpan]] = defaultdict(list)
    for span in spans:
        traces[span.trace_id].append(span)
    return traces


def _one(spans: list[ReceivedSpan], **attributes: Any) -> ReceivedSpan:
    found = [s for s in spans if all(s.attributes.get(k) == v for k, v in attributes.items())]
    assert len(found) == 1, (attributes, [s.name for s in found])
    return found[0]


def test_js_sdk_traces_arrive_whole(
    node: str, serve: tuple[str, subprocess.Popen[str]], otlp_receiver: OTLPReceiver
) -> None:
    url, process = serve
    ran = _run_script(node, url + INGEST_PATH)
    assert ran["guardrail"]["tripped"] and ran["truncated"]["failed"]
    process.terminate()  # stops cleanly: delivers what it holds, workflow spans included
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert API_KEY not in out + err

    traces = _by_trace(otlp_receiver.spans())
    names = {"support": "JS support workflow", "guardrail": "JS guardrail workflow",
             "truncated": "JS truncated workflow"}
    ids = {key: ran[key]["traceId"].removeprefix("trace_") for key in names}
    assert set(traces) == set(ids.values())  # the SDK's trace ids, kept
    for key, workflow in names.items():
        spans = traces[ids[key]]
        (root,) = [s for s in spans if s.is_root]
        assert root.name == f"invoke_workflow {workflow}"
        span_ids = {s.span_id for s in spans}
        assert len(span_ids) == len(spans)
        assert all(s.parent_span_id in span_ids for s in spans if s is not root)
        assert all(s.attributes["openai_agents.trace_id"] == ran[key]["traceId"] for s in spans)

    support = traces[ids["support"]]
    _check_support_tree(support)
    _check_tokens(support, traces[ids["truncated"]])
    _check_errors(support, traces[ids["guardrail"]], traces[ids["truncated"]])


def _check_support_tree(spans: list[ReceivedSpan]) -> None:
    types = {s.attributes["openai_agents.span_type"] for s in spans}
    assert types == {"trace", "agent", "custom", "generation", "response", "function", "handoff",
                     "guardrail", "mcp_tools", "speech_group", "speech", "transcription"}
    by_id = {s.span_id: s for s in spans}
    triage = _one(spans, **{ga.GEN_AI_OPERATION_NAME: "invoke_agent",
                            ga.GEN_AI_AGENT_NAME: "Triage Agent"})
    task = by_id[triage.parent_span_id]
    assert task.name == "task" and by_id[task.parent_span_id].is_root
    lookup = _one(spans, **{ga.GEN_AI_TOOL_NAME: "lookup_order"})
    turn = by_id[lookup.parent_span_id]
    assert turn.name == "turn" and turn.parent_span_id == triage.span_id
    handoff = _one(spans, **{"openai_agents.span_type": "handoff"})
    assert handoff.name == "handoff Refund Agent"
    speech = _one(spans, **{"openai_agents.span_type": "speech"})
    assert by_id[speech.parent_span_id].name == "speech_group"
    response = _one(spans, **{"openai_agents.span_type": "response"})
    assert response.name == "response" and ga.GEN_AI_OPERATION_NAME not in response.attributes
    assert response.attributes[ga.GEN_AI_RESPONSE_ID] == "resp_js_check_1"
    assert by_id[by_id[response.parent_span_id].parent_span_id].attributes[
        ga.GEN_AI_AGENT_NAME] == "Refund Agent"


def _check_tokens(support: list[ReceivedSpan], truncated: list[ReceivedSpan]) -> None:
    chats = sorted((s for s in support if s.name == "chat gpt-4o-mini-2024-07-18"),
                   key=lambda s: s.start_ns)
    assert [s.kind for s in chats] == [CLIENT] * 3
    assert [(s.attributes[ga.GEN_AI_USAGE_INPUT_TOKENS],
             s.attributes[ga.GEN_AI_USAGE_OUTPUT_TOKENS],
             s.attributes[ga.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS],
             s.attributes[ga.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS]) for s in chats] == [
        (120, 18, 64, 0), (180, 20, 96, 8), (240, 12, 128, 32)]
    assert [s.attributes[ga.GEN_AI_RESPONSE_ID] for s in chats] == [
        "chatcmpl-js-check-1", "chatcmpl-js-check-2", "chatcmpl-js-check-3"]
    assert all(s.attributes[ga.GEN_AI_RESPONSE_FINISH_REASONS] == ["tool_calls"] for s in chats)
    (output,) = json.loads(chats[0].attributes[ga.GEN_AI_OUTPUT_MESSAGES])
    assert output["role"] == "assistant" and output["finish_reason"] == "tool_calls"
    assert output["parts"][0]["name"] == "lookup_order"
    nano = _one(support, **{ga.GEN_AI_REQUEST_MODEL: "gpt-4.1-nano"})
    assert nano.attributes[ga.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 32
    assert nano.attributes[ga.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 4
    cut = _one(truncated, **{"openai_agents.span_type": "generation"})
    assert cut.attributes[ga.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 48
    assert cut.attributes[ga.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 64
    assert cut.attributes[ga.GEN_AI_RESPONSE_FINISH_REASONS] == ["length"]


def _check_errors(
    support: list[ReceivedSpan], guardrail: list[ReceivedSpan], truncated: list[ReceivedSpan]
) -> None:
    assert {s.name for s in support if s.status_code == ERROR} == {
        "execute_tool issue_refund", "execute_tool post_ledger"}
    ledger = _one(support, **{ga.GEN_AI_TOOL_NAME: "post_ledger"})
    assert ledger.status_message == "ledger offline"
    assert ledger.attributes["error.type"] == "LedgerError"
    check = _one(guardrail, **{"openai_agents.span_type": "guardrail"})
    assert check.attributes[GUARDRAIL_TRIGGERED] is True
    assert {s.name for s in guardrail if s.status_code == ERROR} == {
        "task", "turn", "invoke_agent Triage Agent"}
    cut = _one(truncated, **{"openai_agents.span_type": "generation"})
    assert cut.status_code == ERROR and "finish_reason='length'" in cut.status_message
