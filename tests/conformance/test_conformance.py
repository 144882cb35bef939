"""Every span agent-otlp exports, checked against the GenAI semantic conventions' rules
(``rules.py``) and the message JSON schemas (``schemas.py``): the demo workflow and real
Agents SDK runs (Chat Completions and Responses, streamed and not, content on and off)
through the in-process OTLP receiver."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

agents_tracing = pytest.importorskip("agents.tracing")

import agent_otlp  # noqa: E402
from agent_otlp.core.wire.encode import SCHEMA_URL  # noqa: E402
from agent_otlp.testing import OTLPReceiver, ReceivedSpan  # noqa: E402
from agent_otlp.workloads import run_demo_workflow  # noqa: E402
from conformance.openai_peer import ANSWERING_MODEL, MODEL, openai_peer, run_agent  # noqa: E402
from conformance.rules import CONTENT_EVENT, violations  # noqa: E402

pytestmark = pytest.mark.usefixtures("sdk_processors")
CONTENT_KEYS = ("gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions")


@pytest.fixture(scope="module")
def peer() -> Iterator[str]:
    with openai_peer() as url:
        yield url


def _export(receiver: OTLPReceiver, run: Any, **settings: Any) -> list[ReceivedSpan]:
    exporter = agent_otlp.create_exporter(
        "otlp", endpoint=receiver.endpoint, schedule_delay=0.02, **{"env": {}, **settings}
    )
    processor = agent_otlp.instrument_openai_agents(exporter, replace_openai_exporter=True)
    run()
    processor.force_flush()
    assert exporter.shutdown(10).delivered, exporter.stats.snapshot()
    return receiver.spans()


def _assert_conforms(spans: list[ReceivedSpan], *, legacy: bool = False) -> None:
    assert spans
    problems = [p for span in spans for p in violations(span, legacy=legacy)]
    assert problems == []


@pytest.mark.parametrize("content", [False, True])
def test_demo_workflow_conforms(otlp_receiver: OTLPReceiver, content: bool) -> None:
    spans = _export(otlp_receiver, run_demo_workflow, capture_content=content)
    _assert_conforms(spans)
    names = {s.name for s in spans}
    assert "tools/list" in names  # the MCP method, not "tools/list <server>"
    assert any(k in s.attributes for s in spans for k in CONTENT_KEYS) is content


@pytest.mark.parametrize("transport", ["native", "otel-sdk"])
def test_schema_url_on_resource_and_scope(otlp_receiver: OTLPReceiver, transport: str) -> None:
    _export(otlp_receiver, run_demo_workflow, transport=transport)
    assert otlp_receiver.requests
    for request in otlp_receiver.requests:
        for resource_spans in request.message.resource_spans:
            assert resource_spans.schema_url == SCHEMA_URL
            assert {s.schema_url for s in resource_spans.scope_spans} == {SCHEMA_URL}


def test_demo_workflow_with_deprecated_names_conforms(otlp_receiver: OTLPReceiver) -> None:
    spans = _export(otlp_receiver, run_demo_workflow, legacy_attributes=True)
    _assert_conforms(spans, legacy=True)
    chat = next(s for s in spans if s.attributes.get("gen_ai.operation.name") == "chat")
    assert chat.attributes["gen_ai.system"] == chat.attributes["gen_ai.provider.name"]
    assert chat.attributes["gen_ai.usage.prompt_tokens"] == chat.attributes["gen_ai.usage.input_tokens"]
    with pytest.raises(AssertionError):  # without the switch they are violations
        _assert_conforms(spans, legacy=False)


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
@pytest.mark.parametrize("api", ["chat_completions", "responses"])
@pytest.mark.parametrize("content", [False, True], ids=["no-content", "content"])
def test_live_sdk_conforms(otlp_receiver: OTLPReceiver, peer: str, api: str, stream: bool,
                           content: bool) -> None:
    spans = _export(otlp_receiver, lambda: run_agent(peer, api, stream=stream, sensitive=True),
                    capture_content=content)
    _assert_conforms(spans)
    chats = [s for s in spans if s.attributes.get("gen_ai.operation.name") == "chat"]
    assert len(chats) == 2
    for chat in chats:
        a = chat.attributes
        assert a["openai.api.type"] == api
        assert a["gen_ai.request.temperature"] == 0.3
        if api == "responses":  # the Response names the model that answered
            assert a["gen_ai.response.model"] == ANSWERING_MODEL
            assert "gen_ai.request.model" not in a
            assert a["openai.response.service_tier"] == "default"
        else:  # the model asked for; the SDK does not keep the one that answered
            assert a["gen_ai.request.model"] == MODEL
            assert "gen_ai.response.model" not in a
        # neither the SDK's generation output nor a completed Response names a finish reason
        assert "gen_ai.response.finish_reasons" not in a
        assert all(k in a for k in CONTENT_KEYS[:2]) is content


@pytest.mark.parametrize(
    ("mode", "on_span", "in_event"),
    [("SPAN_ONLY", True, False), ("EVENT_ONLY", False, True), ("span_and_event", True, True),
     ("NO_CONTENT", False, False), ("true", True, False), ("false", False, False)],
)
def test_capture_modes_from_the_environment(otlp_receiver: OTLPReceiver, peer: str, mode: str,
                                            on_span: bool, in_event: bool) -> None:
    env = {"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": mode}
    spans = _export(otlp_receiver, lambda: run_agent(peer, "responses", stream=False,
                                                     sensitive=True), env=env)
    _assert_conforms(spans)
    chats = [s for s in spans if s.attributes.get("gen_ai.operation.name") == "chat"]
    for chat in chats:
        events = [e for e in chat.events if e.name == CONTENT_EVENT]
        assert ("gen_ai.output.messages" in chat.attributes) is on_span
        assert bool(events) is in_event
        for event in events:
            assert json.loads(event.attributes["gen_ai.output.messages"])[0]["role"] == "assistant"
    tool = next(s for s in spans if s.attributes.get("gen_ai.operation.name") == "execute_tool")
    assert ("gen_ai.tool.call.arguments" in tool.attributes) is on_span
    assert any(e.name == "openai_agents.content" for e in tool.events) is in_event
