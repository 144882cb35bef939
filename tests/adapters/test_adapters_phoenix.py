"""The phoenix adapter: Phoenix's endpoints and variables, the project, the key, the
OpenInference attributes, and the destination's content policy.

A real in-process OTLP receiver stands in for Phoenix here (``integration/test_phoenix.py``
runs a real Phoenix); everything the adapter decides is checked on what arrives.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

import agent_otlp
from agent_otlp import ConfigError
from agent_otlp.core.config.secrets import Secret
from agent_otlp.factory import resolve_all
from agent_otlp.testing import OTLPReceiver
from test_adapters_support import agent_trace, clean_env, export

__all__ = ["clean_env"]

API_KEY = "px-key-0123456789abcdef"
QUESTION = "Where is order SECRET-42?"


def _endpoint(env: dict[str, str], protocol: str | None = None) -> str:
    if protocol:
        env = {**env, "AGENT_OTLP_PROTOCOL": protocol}
    [(settings, _)] = resolve_all("phoenix", env=env)
    return settings.endpoint


@pytest.mark.parametrize(
    ("variables", "protocol", "endpoint"),
    [
        ({}, None, "http://localhost:6006/v1/traces"),
        ({}, "grpc", "http://localhost:4317"),
        ({"PHOENIX_COLLECTOR_ENDPOINT": "http://phoenix:6006"}, None, "http://phoenix:6006/v1/traces"),
        ({"PHOENIX_COLLECTOR_ENDPOINT": "https://app.phoenix.arize.com/s/acme/"}, None,
         "https://app.phoenix.arize.com/s/acme/v1/traces"),
        ({"PHOENIX_COLLECTOR_ENDPOINT": "http://phoenix:6006/v1/traces"}, None,
         "http://phoenix:6006/v1/traces"),
        ({"PHOENIX_COLLECTOR_ENDPOINT": "http://phoenix:6006"}, "grpc", "http://phoenix:4317"),
        ({"PHOENIX_COLLECTOR_ENDPOINT": "http://phoenix:6006", "PHOENIX_GRPC_PORT": "14317"},
         "grpc", "http://phoenix:14317"),
    ],
)
def test_endpoints_follow_phoenix_variables(
    clean_env: dict[str, str], variables: dict[str, str], protocol: str | None, endpoint: str
) -> None:
    assert _endpoint({**clean_env, **variables}, protocol) == endpoint


@pytest.mark.parametrize(
    ("variables", "options", "named"),
    [
        ({"PHOENIX_COLLECTOR_ENDPOINT": "phoenix:6006"}, {}, "PHOENIX_COLLECTOR_ENDPOINT"),
        ({"PHOENIX_GRPC_PORT": "grpc"}, {}, "PHOENIX_GRPC_PORT"),
        ({}, {"conventions": "otel"}, "conventions"),
    ],
)
def test_bad_values_are_config_errors_naming_the_setting(
    clean_env: dict[str, str], variables: dict[str, str], options: dict[str, str], named: str
) -> None:
    with pytest.raises(ConfigError, match=named):
        resolve_all("phoenix", env={**clean_env, **variables}, options=options)


def test_key_is_a_bearer_secret(clean_env: dict[str, str]) -> None:
    [(settings, _)] = resolve_all("phoenix", env={**clean_env, "PHOENIX_API_KEY": API_KEY})
    header = settings.headers["authorization"]
    assert isinstance(header, Secret) and header.reveal() == f"Bearer {API_KEY}"
    assert API_KEY not in repr(settings) + str(settings.describe())


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_project_key_and_openinference_arrive(
    otlp_receiver_factory: Any, clean_env: dict[str, str], protocol: str
) -> None:
    receiver = otlp_receiver_factory(protocol)
    env = {**clean_env, "PHOENIX_API_KEY": API_KEY, "PHOENIX_PROJECT_NAME": "support-bot"}
    export("phoenix", agent_trace(content=QUESTION, metadata={"user_id": "u-7"}), env,
           endpoint=receiver.endpoint, protocol="grpc" if protocol == "grpc" else None,
           capture_content=True)
    request = receiver.requests[0]
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.headers["x-project-name"] == "support-bot"
    spans = {s.attributes["openai_agents.span_type"]: s for s in receiver.spans()}
    assert {s.resource["openinference.project.name"] for s in receiver.spans()} == {"support-bot"}
    kinds = {kind: s.attributes["openinference.span.kind"] for kind, s in spans.items()}
    assert kinds == {"trace": "CHAIN", "agent": "AGENT", "generation": "LLM",
                     "function": "TOOL", "custom": "CHAIN"}
    root = spans["trace"].attributes
    assert root["input.value"] == QUESTION and root["output.value"] == "It ships today."
    assert json.loads(root["metadata"]) == {"user_id": "u-7"} and root["user.id"] == "u-7"
    llm = spans["generation"].attributes
    assert llm["llm.model_name"] == "gpt-4o-mini" and llm["llm.provider"] == "openai"
    assert llm["llm.input_messages.0.message.content"] == QUESTION
    assert llm["llm.output_messages.0.message.role"] == "assistant"
    tool = spans["function"].attributes
    assert tool["tool.name"] == "issue_refund" and tool["tool.parameters"] == '{"order": 1}'
    assert tool["input.mime_type"] == "application/json"
    assert llm["gen_ai.request.model"] == "gpt-4o-mini"  # both conventions by default


def _texts(receiver: OTLPReceiver) -> str:
    return json.dumps([(s.attributes, [e.attributes for e in s.events], s.resource)
                       for s in receiver.spans()], default=str)


@pytest.mark.parametrize("adapter", ["phoenix", "langfuse"])
def test_content_off_destination_gets_no_content(
    otlp_receiver_factory: Any, clean_env: dict[str, str], adapter: str
) -> None:
    """Conversion captures content for the jaeger destination; none of it, nor anything the
    adapter derives from it, reaches the content-off destination."""
    shown, hidden = otlp_receiver_factory(), otlp_receiver_factory()
    env = {**clean_env, "LANGFUSE_PUBLIC_KEY": "pk-lf-1", "LANGFUSE_SECRET_KEY": "sk-lf-2"}
    exporter = agent_otlp.create_exporter(
        f"jaeger,{adapter}", env=env,
        destinations={"jaeger": {"endpoint": shown.endpoint, "capture_content": True},
                      adapter: {"endpoint": hidden.endpoint, "capture_content": False}},
    )
    assert exporter.submit_items(agent_trace(content=QUESTION)) == []
    exporter.end_all_traces()
    assert exporter.shutdown(20).delivered
    assert QUESTION in _texts(shown)
    assert len(hidden.spans()) == 5
    leaked = _texts(hidden)
    for text in (QUESTION, "It ships today", '{"order": 1}'):
        assert text not in leaked
    if adapter == "phoenix":
        root = next(s for s in hidden.spans() if s.is_root).attributes
        assert root["openinference.span.kind"] == "CHAIN" and "input.value" not in root


@pytest.mark.parametrize("adapter", ["phoenix", "langfuse"])
def test_event_only_content_stays_off_span_attributes(
    otlp_receiver: OTLPReceiver, clean_env: dict[str, str], adapter: str
) -> None:
    """``EVENT_ONLY``: content goes to events, and the adapter derives no span attribute from it."""
    env = {**clean_env, "LANGFUSE_PUBLIC_KEY": "pk-lf-1", "LANGFUSE_SECRET_KEY": "sk-lf-2"}
    exporter = agent_otlp.create_exporter(
        adapter, env=env,
        destinations={adapter: {"endpoint": otlp_receiver.endpoint, "capture_content": "EVENT_ONLY"}},
    )
    assert exporter.submit_items(agent_trace(content=QUESTION)) == []
    exporter.end_all_traces()
    assert exporter.shutdown(20).delivered
    spans = otlp_receiver.spans()
    on_spans = json.dumps([s.attributes for s in spans], default=str)
    in_events = json.dumps([e.attributes for s in spans for e in s.events], default=str)
    assert QUESTION not in on_spans
    assert QUESTION in in_events


def test_conventions_option(otlp_receiver: OTLPReceiver, clean_env: dict[str, str]) -> None:
    export("phoenix", agent_trace(), clean_env, endpoint=otlp_receiver.endpoint,
           options={"conventions": "openinference"})
    keys = {k for s in otlp_receiver.spans() for k in s.attributes}
    assert "openinference.span.kind" in keys and "llm.model_name" in keys
    assert not {k for k in keys if k.startswith("gen_ai.")}
    otlp_receiver.clear()
    export("phoenix", agent_trace(), clean_env, endpoint=otlp_receiver.endpoint,
           options={"conventions": "gen_ai"})
    keys = {k for s in otlp_receiver.spans() for k in s.attributes}
    assert "gen_ai.operation.name" in keys and "openinference.span.kind" not in keys
