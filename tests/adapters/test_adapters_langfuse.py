"""The langfuse adapter: hosts and regions, the key pair as Basic auth (secret), HTTP only,
and the attributes Langfuse reads, checked on what a real in-process receiver gets.

The content policy is covered with the phoenix adapter's
(``test_content_off_destination_gets_no_content``); the wire through a real Collector on
Langfuse's path is ``integration/test_langfuse_wire.py``.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from agent_otlp import ConfigError
from agent_otlp.core.config.secrets import Secret
from agent_otlp.factory import resolve_all
from agent_otlp.testing import OTLPReceiver
from test_adapters_support import agent_trace, clean_env, export

__all__ = ["clean_env"]

PUBLIC = "pk-lf-0f1e2d3c-public"
SECRET = "sk-lf-9a8b7c6d-secret"
KEYS = {"LANGFUSE_PUBLIC_KEY": PUBLIC, "LANGFUSE_SECRET_KEY": SECRET}


@pytest.mark.parametrize(
    ("variables", "options", "endpoint"),
    [
        ({}, {}, "https://cloud.langfuse.com/api/public/otel/v1/traces"),
        ({}, {"region": "us"}, "https://us.cloud.langfuse.com/api/public/otel/v1/traces"),
        ({}, {"region": "HIPAA"}, "https://hipaa.cloud.langfuse.com/api/public/otel/v1/traces"),
        ({"LANGFUSE_HOST": "http://localhost:3000/"}, {},
         "http://localhost:3000/api/public/otel/v1/traces"),
        ({"LANGFUSE_HOST": "https://lf.example.com"}, {"region": "us"},
         "https://lf.example.com/api/public/otel/v1/traces"),
    ],
)
def test_hosts_and_regions(
    clean_env: dict[str, str], variables: dict[str, str], options: dict[str, str], endpoint: str
) -> None:
    [(settings, _)] = resolve_all("langfuse", env={**clean_env, **KEYS, **variables},
                                  options=options)
    assert settings.endpoint == endpoint
    assert settings.protocol == "http/protobuf"


def test_keys_are_basic_auth_and_secret(clean_env: dict[str, str]) -> None:
    [(settings, _)] = resolve_all("langfuse", env={**clean_env, **KEYS})
    header = settings.headers["authorization"]
    assert isinstance(header, Secret)
    token = base64.b64encode(f"{PUBLIC}:{SECRET}".encode()).decode()
    assert header.reveal() == f"Basic {token}"
    shown = repr(settings) + str(settings.describe())
    assert SECRET not in shown and token not in shown


@pytest.mark.parametrize(
    ("variables", "protocol", "message"),
    [
        ({}, None, "LANGFUSE_PUBLIC_KEY"),
        ({"LANGFUSE_PUBLIC_KEY": PUBLIC}, None, "LANGFUSE_SECRET_KEY is not set"),
        ({"LANGFUSE_SECRET_KEY": SECRET}, None, "LANGFUSE_PUBLIC_KEY is not set"),
        ({"LANGFUSE_PUBLIC_KEY": SECRET, "LANGFUSE_SECRET_KEY": PUBLIC}, None, "swapped"),
        (KEYS, "grpc", "HTTP only"),
        ({**KEYS, "LANGFUSE_HOST": "cloud.langfuse.com"}, None, "LANGFUSE_HOST"),
    ],
)
def test_configuration_errors_name_the_variable(
    clean_env: dict[str, str], variables: dict[str, str], protocol: str | None, message: str
) -> None:
    env = {**clean_env, **variables}
    if protocol:
        env["AGENT_OTLP_PROTOCOL"] = protocol
    with pytest.raises(ConfigError, match=message) as caught:
        resolve_all("langfuse", env=env)
    assert SECRET not in str(caught.value) and "9a8b7c6d" not in str(caught.value)


def test_attributes_langfuse_reads(otlp_receiver: OTLPReceiver, clean_env: dict[str, str]) -> None:
    items = agent_trace(content="Where is my order?", metadata={"user_id": "u-7", "tier": "gold"})
    items[0]["group_id"] = "conv-9"
    export("langfuse", items, {**clean_env, **KEYS}, endpoint=otlp_receiver.endpoint,
           capture_content=True)
    [request] = otlp_receiver.requests
    assert request.headers["authorization"].startswith("Basic ")
    spans = {s.attributes["openai_agents.span_type"]: s.attributes for s in otlp_receiver.spans()}
    types = {kind: a["langfuse.observation.type"] for kind, a in spans.items()}
    assert types == {"trace": "chain", "agent": "agent", "generation": "generation",
                     "function": "tool", "custom": "chain"}
    root = spans["trace"]
    assert root["langfuse.trace.name"] == "Support"
    assert root["session.id"] == "conv-9" and root["user.id"] == "u-7"
    assert root["langfuse.trace.metadata.tier"] == "gold"
    assert root["langfuse.trace.input"] == "Where is my order?"
    assert root["langfuse.trace.output"] == "It ships today."
    generation = spans["generation"]
    assert generation["langfuse.observation.model.name"] == "gpt-4o-mini"
    assert json.loads(generation["langfuse.observation.input"])[0]["role"] == "user"
    tool = spans["function"]
    assert tool["langfuse.observation.level"] == "ERROR"
    assert tool["langfuse.observation.status_message"] == "refund service timed out"
    assert tool["langfuse.observation.input"] == '{"order": 1}'


def test_usage_and_guardrail_level(otlp_receiver: OTLPReceiver, clean_env: dict[str, str]) -> None:
    items: list[dict[str, Any]] = agent_trace()
    generation = next(i for i in items if (i.get("span_data") or {}).get("type") == "generation")
    generation["span_data"]["usage"] = {"input_tokens": 12, "output_tokens": 5}
    generation["span_data"]["model_config"] = {"temperature": 0.3}
    guard = dict(generation, id="span_" + "7" * 24,
                 span_data={"type": "guardrail", "name": "pii_filter", "triggered": True})
    items.insert(2, guard)
    export("langfuse", items, {**clean_env, **KEYS}, endpoint=otlp_receiver.endpoint)
    spans = {s.attributes["openai_agents.span_type"]: s.attributes for s in otlp_receiver.spans()}
    usage = json.loads(spans["generation"]["langfuse.observation.usage_details"])
    assert usage == {"input": 12, "output": 5, "total": 17}
    assert json.loads(spans["generation"]["langfuse.observation.model.parameters"]) == {
        "temperature": 0.3}
    assert spans["guardrail"]["langfuse.observation.type"] == "guardrail"
    assert spans["guardrail"]["langfuse.observation.level"] == "WARNING"
    assert "langfuse.observation.input" not in spans["generation"]  # content off by default


@pytest.mark.usefixtures("cli_env")
@pytest.mark.parametrize("command", ["config", "doctor"])
def test_keys_never_in_cli_output(command: str) -> None:
    from typer.testing import CliRunner

    from agent_otlp.cli import _register, app

    _register()
    env = {**KEYS, "PHOENIX_API_KEY": "px-" + SECRET, "LANGFUSE_HOST": "http://127.0.0.1:9",
           "PHOENIX_COLLECTOR_ENDPOINT": "http://127.0.0.1:9", "COLUMNS": "250"}
    result = CliRunner().invoke(app, [command, "-a", "langfuse,phoenix", "--timeout", "1"]
                                if command == "doctor" else [command, "-a", "langfuse,phoenix"],
                                env=env)
    token = base64.b64encode(f"{PUBLIC}:{SECRET}".encode()).decode()
    assert "langfuse" in result.output and "phoenix" in result.output
    for secret in (SECRET, token, "9a8b7c6d"):
        assert secret not in result.output
