"""``gen_ai.provider.name``, ``server.address`` and ``server.port`` from what a span says: the
table of docs/conversion.md ("Provider and server"), one case per row."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.semconv._incubating.attributes.gen_ai_attributes import GenAiProviderNameValues

import raaf_payloads as raaf
from agent_otlp.core.convert.provider import Endpoint, endpoint_for
from agent_otlp.core.convert.records import AgentSpan, SpanKind, parse_item
from agent_otlp.core.convert.spans import ConvertOptions, convert_span

ROWS: list[tuple[str | None, str | None, Endpoint]] = [
    # a provider's own API: the host decides
    ("https://api.openai.com/v1/", "gpt-4o", Endpoint("openai", "api.openai.com", 443)),
    ("https://user:sk-not-a-key@api.openai.com:8443/v1", "gpt-4o", Endpoint("openai", "api.openai.com", 8443)),
    ("https://api.anthropic.com/v1/", "claude-sonnet-4-5", Endpoint("anthropic", "api.anthropic.com", 443)),
    ("https://generativelanguage.googleapis.com/v1beta/openai/", "gemini-2.5-flash",
     Endpoint("gcp.gemini", "generativelanguage.googleapis.com", 443)),
    ("https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/us-central1/endpoints/openapi",
     "google/gemini-2.0-flash", Endpoint("gcp.vertex_ai", "us-central1-aiplatform.googleapis.com", 443)),
    ("https://aiplatform.googleapis.com/v1/projects/p/locations/global/endpoints/openapi",
     "claude-opus-4", Endpoint("gcp.vertex_ai", "aiplatform.googleapis.com", 443)),
    ("https://contoso.openai.azure.com/openai/deployments/gpt4o", "gpt-4o",
     Endpoint("azure.ai.openai", "contoso.openai.azure.com", 443)),
    ("https://contoso.cognitiveservices.azure.com/openai/v1/", "gpt-4.1",
     Endpoint("azure.ai.openai", "contoso.cognitiveservices.azure.com", 443)),
    ("https://contoso.services.ai.azure.com/models", "mistral-large-2411",
     Endpoint("azure.ai.inference", "contoso.services.ai.azure.com", 443)),
    ("https://models.inference.ai.azure.com", "Phi-4",
     Endpoint("azure.ai.inference", "models.inference.ai.azure.com", 443)),
    ("https://bedrock-runtime.us-east-1.amazonaws.com/openai/v1", "anthropic.claude-3-5-sonnet-20240620-v1:0",
     Endpoint("aws.bedrock", "bedrock-runtime.us-east-1.amazonaws.com", 443)),
    ("https://api.mistral.ai/v1", "mistral-large-latest", Endpoint("mistral_ai", "api.mistral.ai", 443)),
    ("https://api.groq.com/openai/v1", "llama-3.3-70b-versatile", Endpoint("groq", "api.groq.com", 443)),
    ("https://api.deepseek.com", "deepseek-chat", Endpoint("deepseek", "api.deepseek.com", 443)),
    ("https://api.x.ai/v1", "grok-4", Endpoint("x_ai", "api.x.ai", 443)),
    ("https://api.perplexity.ai", "sonar-pro", Endpoint("perplexity", "api.perplexity.ai", 443)),
    ("https://api.cohere.com/compatibility/v1", "command-a-03-2025", Endpoint("cohere", "api.cohere.com", 443)),
    ("https://us-south.ml.cloud.ibm.com", "ibm/granite-3-8b-instruct",
     Endpoint("ibm.watsonx.ai", "us-south.ml.cloud.ibm.com", 443)),
    # a proxy, a gateway or a local server: the model may say who serves it
    ("http://localhost:4000", "claude-3-5-haiku-latest", Endpoint("anthropic", "localhost", 4000)),
    ("http://litellm.internal:4000/v1", "groq/llama-3.1-8b-instant", Endpoint("groq", "litellm.internal", 4000)),
    ("https://openrouter.ai/api/v1", "anthropic/claude-sonnet-4", Endpoint("anthropic", "openrouter.ai", 443)),
    ("https://openrouter.ai/api/v1", "meta-llama/llama-3.3-70b-instruct", Endpoint(None, "openrouter.ai", 443)),
    ("https://gateway.example.com/openai", "gpt-4o-mini", Endpoint("openai", "gateway.example.com", 443)),
    ("http://10.0.0.5:8000/v1", "Qwen/Qwen2.5-7B-Instruct", Endpoint(None, "10.0.0.5", 8000)),
    # a server that runs the model itself (Ollama): no provider, whatever the model
    ("http://localhost:11434/v1", "deepseek-r1:7b", Endpoint(None, "localhost", 11434)),
    ("http://ollama:8080/v1", "gemma3", Endpoint(None, "ollama", 8080)),
    # RAAF's stand-in URL (openai_processor.rb:430) for another provider's model: not believed
    ("https://api.openai.com/v1/", "claude-3-5-sonnet-20241022", Endpoint("anthropic")),
    ("https://api.openai.com/v1/", "gemini-2.0-flash", Endpoint("gcp.gemini")),
    # no URL: the model's name alone
    (None, "gpt-4o-mini", Endpoint("openai")),
    (None, "o3-mini", Endpoint("openai")),
    (None, "claude-opus-4-1", Endpoint("anthropic")),
    (None, "mistral-small-latest", Endpoint("mistral_ai")),
    (None, "grok-3", Endpoint("x_ai")),
    (None, "deepseek-reasoner", Endpoint("deepseek")),
    ("", "gemini-2.5-pro", Endpoint("gcp.gemini")),
    # nothing says it: nothing guessed
    (None, "gpt-oss-120b", Endpoint()),
    (None, "llama-3.1-8b", Endpoint()),
    (None, None, Endpoint()),
    ("not a url", None, Endpoint()),
]


@pytest.mark.parametrize(("base_url", "model", "expected"), ROWS,
                         ids=[f"{u or '-'} {m or '-'}" for u, m, _ in ROWS])
def test_provider_and_server(base_url: str | None, model: str | None, expected: Endpoint) -> None:
    config = {} if base_url is None else {"base_url": base_url}
    assert endpoint_for(model, config) == expected


def test_every_provider_is_a_value_of_the_conventions() -> None:
    listed = {v.value for v in GenAiProviderNameValues}
    assert {e.provider for _, _, e in ROWS if e.provider} <= listed


def _generation(model: str, base_url: str | None) -> AgentSpan:
    trace = raaf.trace_id()
    item = raaf.span(trace, raaf.span_id(), None, raaf.generation_data(model, base_url))
    span = parse_item(item)
    assert isinstance(span, AgentSpan)
    return span


@pytest.mark.parametrize(
    ("model", "base_url", "attributes"),
    [
        ("claude-3-5-sonnet-20241022", None, {"gen_ai.provider.name": "anthropic"}),
        ("gemini-2.0-flash", "https://generativelanguage.googleapis.com/v1beta/openai/",
         {"gen_ai.provider.name": "gcp.gemini", "server.address": "generativelanguage.googleapis.com",
          "server.port": 443}),
        ("gpt-4o", None, {"gen_ai.provider.name": "openai", "server.address": "api.openai.com",
                          "server.port": 443}),
    ],
)
def test_a_raaf_generation_names_its_provider(model: str, base_url: str | None,
                                              attributes: dict[str, Any]) -> None:
    record = convert_span(_generation(model, base_url), ConvertOptions())
    assert record.kind == SpanKind.CLIENT
    assert {k: record.attributes.get(k) for k in attributes} == attributes
    if "server.address" not in attributes:  # RAAF's stand-in URL names no server
        assert "server.address" not in record.attributes


def test_an_agent_span_names_no_provider() -> None:
    item = raaf.span(raaf.trace_id(), raaf.span_id(), None, raaf.agent_data("Writer"))
    span = parse_item(item)
    assert isinstance(span, AgentSpan)
    assert "gen_ai.provider.name" not in convert_span(span, ConvertOptions()).attributes


@pytest.mark.parametrize(
    ("base_url", "exported"),
    [
        ("https://user:s3cret-pass@proxy.internal:8443/v1?key=AIzaSecret#frag",
         "https://proxy.internal:8443/v1"),
        ("https://generativelanguage.googleapis.com/v1beta/openai/?key=AIzaSecret",
         "https://generativelanguage.googleapis.com/v1beta/openai/"),
        ("http://[::1]:11434/v1", "http://[::1]:11434/v1"),
        ("https://api.openai.com/v1/", "https://api.openai.com/v1/"),
    ],
)
def test_the_base_url_is_exported_without_credentials(base_url: str, exported: str) -> None:
    record = convert_span(_generation("gpt-4o", base_url), ConvertOptions())
    shown = record.attributes["openai_agents.span_data.model_config.base_url"]
    assert shown == exported
    assert "s3cret" not in repr(record.attributes) and "AIzaSecret" not in repr(record.attributes)
