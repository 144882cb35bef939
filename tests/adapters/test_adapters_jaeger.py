"""The jaeger adapter, checked at a real in-process OTLP receiver (Jaeger's OTLP ports speak
the same protocol)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agent_otlp import ConfigError
from agent_otlp.adapters.jaeger import DEFAULT_SERVICE_NAME
from agent_otlp.factory import resolve_all
from agent_otlp.testing import OTLPReceiver
from test_adapters_support import agent_trace, by_type, clean_env, export

__all__ = ["clean_env"]

CONTENT_KEYS = {"gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.tool.call.arguments"}


def test_defaults_are_local_otlp(clean_env: dict[str, str]) -> None:
    [(settings, _)] = resolve_all("jaeger", env=clean_env)
    assert settings.endpoint == "http://localhost:4318/v1/traces"
    assert settings.protocol == "http/protobuf"
    assert settings.content_limit == 4096
    [(grpc, _)] = resolve_all("jaeger", env={**clean_env, "AGENT_OTLP_PROTOCOL": "grpc"})
    assert grpc.endpoint == "http://localhost:4317"


def test_service_name_tags_content_and_errors(
    otlp_receiver: OTLPReceiver, clean_env: dict[str, str]
) -> None:
    long_value = "v" * 1000
    items = agent_trace(content="hello " * 2000, metadata={"ticket": long_value})
    export("jaeger", items, clean_env, endpoint=otlp_receiver.endpoint, capture_content=True)
    spans = otlp_receiver.spans()
    assert len(spans) == 5
    assert otlp_receiver.requests[0].path == "/v1/traces"
    assert otlp_receiver.requests[0].compression is None  # the OTel default: none
    assert {s.resource["service.name"] for s in spans} == {DEFAULT_SERVICE_NAME}

    # every non-content string value is within 256 characters, cuts are listed
    for span in spans:
        for key, value in span.attributes.items():
            assert key not in CONTENT_KEYS, f"content left in tags: {key}"
            if isinstance(value, str):
                assert len(value) <= 256, key
    [root] = [s for s in spans if s.attributes.get("openai_agents.span_type") == "trace"]
    assert root.attributes["openai_agents.metadata.ticket"].endswith("...[truncated]")
    assert "openai_agents.metadata.ticket" in root.attributes["agent_otlp.truncated"]

    # content moved to one gen_ai.content event, within content_limit, still valid JSON
    [generation] = by_type(spans, "generation")
    [event] = [e for e in generation.events if e.name == "gen_ai.content"]
    assert event.time_ns == generation.end_ns
    assert set(event.attributes) == {"gen_ai.input.messages", "gen_ai.output.messages"}
    for value in event.attributes.values():
        assert len(value.encode()) <= 4096
        json.loads(value)
    assert "...[truncated]" in event.attributes["gen_ai.input.messages"]
    assert "gen_ai.input.messages" in generation.attributes["agent_otlp.truncated"]

    # errors: OTLP status ERROR with the message; Jaeger derives error=true from it
    [tool] = by_type(spans, "function")
    assert tool.status_code == 2
    assert tool.status_message == "refund service timed out"
    assert "error" not in tool.attributes
    assert tool.attributes["error.type"]


def test_content_stays_out_when_capture_is_off(
    otlp_receiver: OTLPReceiver, clean_env: dict[str, str]
) -> None:
    export("jaeger", agent_trace(), clean_env, endpoint=otlp_receiver.endpoint)
    for span in otlp_receiver.spans():
        assert not CONTENT_KEYS & set(span.attributes)
        assert not [e for e in span.events if e.name == "gen_ai.content"]


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"service_name": "support-bot"}, "support-bot"),
        ({"resource": {"service.name": "from-resource"}}, "from-resource"),
    ],
)
def test_user_service_name_wins(
    otlp_receiver: OTLPReceiver, clean_env: dict[str, str], extra: dict[str, Any], expected: str
) -> None:
    export("jaeger", agent_trace(), clean_env, endpoint=otlp_receiver.endpoint, **extra)
    assert {s.resource["service.name"] for s in otlp_receiver.spans()} == {expected}


def test_otel_env_service_name_wins(otlp_receiver: OTLPReceiver, clean_env: dict[str, str]) -> None:
    env = {**clean_env, "OTEL_RESOURCE_ATTRIBUTES": "service.name=from-env,team=a"}
    export("jaeger", agent_trace(), env, endpoint=otlp_receiver.endpoint)
    assert {s.resource["service.name"] for s in otlp_receiver.spans()} == {"from-env"}


def test_grpc_and_configurable_limits(
    otlp_grpc_receiver: OTLPReceiver, clean_env: dict[str, str]
) -> None:
    items = agent_trace(metadata={"ticket": "t" * 500}, content="x" * 3000)
    export(
        "jaeger", items, clean_env, endpoint=otlp_grpc_receiver.endpoint, protocol="grpc",
        capture_content=True, content_limit=1024, options={"tag_value_limit": 100},
    )
    spans = otlp_grpc_receiver.spans()
    assert otlp_grpc_receiver.requests[0].protocol == "grpc"
    [root] = [s for s in spans if s.attributes.get("openai_agents.span_type") == "trace"]
    assert len(root.attributes["openai_agents.metadata.ticket"]) == 100
    [generation] = by_type(spans, "generation")
    [event] = [e for e in generation.events if e.name == "gen_ai.content"]
    assert all(len(v.encode()) <= 1024 for v in event.attributes.values())


def test_bad_tag_value_limit_is_a_config_error(clean_env: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="tag_value_limit"):
        resolve_all("jaeger", env={**clean_env, "AGENT_OTLP_JAEGER_TAG_VALUE_LIMIT": "x"})
