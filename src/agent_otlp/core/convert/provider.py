"""Which GenAI provider served a model call, and which server it was sent to, from what the
span itself says (``docs/conversion.md`` has the table).

* ``model_config.base_url`` names the server: ``server.address`` and ``server.port`` (the
  URL's port, else the scheme's default), and, when its host is a provider's own API, the
  provider (``api.anthropic.com`` -> ``anthropic``, ``*.openai.azure.com`` ->
  ``azure.ai.openai``, ``bedrock-runtime.*.amazonaws.com`` -> ``aws.bedrock``...).
* Any other host (a LiteLLM or other proxy, a gateway, localhost) names no provider: the
  model's name may (``claude-*`` -> ``anthropic``, ``gemini-*`` -> ``gcp.gemini``, a LiteLLM
  ``groq/...`` prefix -> ``groq``...). A host running models itself (Ollama) names none.
* ``https://api.openai.com/v1/`` with a model of another provider is not believed: RAAF
  writes that URL into every generation it does not know the URL of
  (``extract_model_config`` in ``tracing/lib/raaf/tracing/openai_processor.rb``), so the
  model's provider is used and no server is named.
* Nothing said, nothing written: ``openai`` only for OpenAI's host or one of its model names.

Values are those the GenAI semantic conventions list for ``gen_ai.provider.name``. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as ga
from opentelemetry.semconv.attributes import server_attributes as server

from agent_otlp.core.convert.flatten import clean_str
from agent_otlp.core.convert.records import Attributes

__all__ = ["Endpoint", "endpoint_for", "provider_into"]

_P = ga.GenAiProviderNameValues
OPENAI: Final = _P.OPENAI.value

#: Hosts that are one provider's own API.
_HOSTS: Final[dict[str, str]] = {
    "api.openai.com": OPENAI,
    "api.anthropic.com": _P.ANTHROPIC.value,
    "generativelanguage.googleapis.com": _P.GCP_GEMINI.value,
    "aiplatform.googleapis.com": _P.GCP_VERTEX_AI.value,
    "api.mistral.ai": _P.MISTRAL_AI.value,
    "api.groq.com": _P.GROQ.value,
    "api.deepseek.com": _P.DEEPSEEK.value,
    "api.x.ai": _P.X_AI.value,
    "api.perplexity.ai": _P.PERPLEXITY.value,
    "api.cohere.com": _P.COHERE.value,
    "api.cohere.ai": _P.COHERE.value,
}
#: Host endings of a provider's regional or per-resource endpoints.
_HOST_SUFFIXES: Final[tuple[tuple[str, str], ...]] = (
    ("-aiplatform.googleapis.com", _P.GCP_VERTEX_AI.value),
    (".openai.azure.com", _P.AZURE_AI_OPENAI.value),
    (".cognitiveservices.azure.com", _P.AZURE_AI_OPENAI.value),
    (".services.ai.azure.com", _P.AZURE_AI_INFERENCE.value),
    (".inference.ai.azure.com", _P.AZURE_AI_INFERENCE.value),
    (".models.ai.azure.com", _P.AZURE_AI_INFERENCE.value),
    (".ml.cloud.ibm.com", _P.IBM_WATSONX_AI.value),
)
_BEDROCK: Final = re.compile(r"bedrock-runtime(-fips)?\.[a-z0-9-]+\.amazonaws\.com(\.cn)?")
#: Ollama's default port: a server that runs open models itself, no provider.
_OLLAMA_PORT: Final = 11434

#: Model-name prefixes of LiteLLM and similar routers that name the provider.
_MODEL_PREFIXES: Final[dict[str, str | None]] = {
    "anthropic": _P.ANTHROPIC.value,
    "gemini": _P.GCP_GEMINI.value,
    "vertex_ai": _P.GCP_VERTEX_AI.value,
    "bedrock": _P.AWS_BEDROCK.value,
    "azure": _P.AZURE_AI_OPENAI.value,
    "azure_ai": _P.AZURE_AI_INFERENCE.value,
    "mistral": _P.MISTRAL_AI.value,
    "groq": _P.GROQ.value,
    "deepseek": _P.DEEPSEEK.value,
    "xai": _P.X_AI.value,
    "perplexity": _P.PERPLEXITY.value,
    "cohere": _P.COHERE.value,
    "watsonx": _P.IBM_WATSONX_AI.value,
    "ollama": None,
    "ollama_chat": None,
}
#: Model names and the provider whose models they are.
_MODEL_NAMES: Final[tuple[tuple[re.Pattern[str], str], ...]] = (
    (re.compile(r"claude-"), _P.ANTHROPIC.value),
    (re.compile(r"gemini-"), _P.GCP_GEMINI.value),
    (re.compile(r"(mistral|mixtral|codestral|ministral|magistral|pixtral|devstral|open-mistral)-"),
     _P.MISTRAL_AI.value),
    (re.compile(r"grok-"), _P.X_AI.value),
    (re.compile(r"deepseek-"), _P.DEEPSEEK.value),
    (re.compile(r"command-"), _P.COHERE.value),
    (re.compile(r"sonar(-|$)"), _P.PERPLEXITY.value),
    (re.compile(r"(gpt-(?!oss)|chatgpt-|o[134](-|$)|text-embedding-|dall-e-|whisper-|tts-"
                r"|omni-moderation-|computer-use-preview|codex-)"), OPENAI),
)
_DEFAULT_PORTS: Final = {"https": 443, "http": 80}


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Who served a model call and where: each ``None`` when the span does not say."""

    provider: str | None = None
    address: str | None = None
    port: int | None = None


_NOTHING: Final = Endpoint()


def _host_provider(host: str) -> str | None:
    known = _HOSTS.get(host)
    if known is not None:
        return known
    for suffix, provider in _HOST_SUFFIXES:
        if host.endswith(suffix):
            return provider
    return _P.AWS_BEDROCK.value if _BEDROCK.fullmatch(host) else None


def model_provider(model: object) -> str | None:
    """The provider a model's name says, or ``None``."""
    if not isinstance(model, str) or not model:
        return None
    name = model.strip().lower()
    if "/" in name:
        prefix, _, rest = name.partition("/")
        if prefix in _MODEL_PREFIXES:
            return _MODEL_PREFIXES[prefix]
        name = rest.rpartition("/")[2]  # an OpenRouter-style "vendor/model": the model decides
    for pattern, provider in _MODEL_NAMES:
        if pattern.match(name):
            return provider
    return None


def _url(base_url: object) -> tuple[str, int | None] | None:
    """Host and port of a base URL, or ``None`` when it is not a URL with a host."""
    if not isinstance(base_url, str) or not base_url.strip():
        return None
    try:
        parts = urlsplit(base_url.strip())
        host, port = parts.hostname, parts.port
    except ValueError:  # a port out of range, a broken IPv6 address
        return None
    if not host:
        return None
    return host.rstrip("."), port if port is not None else _DEFAULT_PORTS.get(parts.scheme.lower())


def public_url(url: str) -> str:
    """``url`` fit to be exported: without the credentials a URL may carry (``user:password@``,
    a query such as ``?key=...``, a fragment)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return url.split("?", 1)[0].split("#", 1)[0].rpartition("@")[2]
    if not parts.netloc:
        return urlunsplit((parts.scheme, "", parts.path, "", ""))
    netloc = host or ""
    if ":" in netloc:  # an IPv6 address
        netloc = f"[{netloc}]"
    if port is not None:
        netloc = f"{netloc}:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def endpoint_for(model: object, model_config: object) -> Endpoint:
    """Provider, server address and port of a model call (see the module doc)."""
    base_url = model_config.get("base_url") if isinstance(model_config, Mapping) else None
    return _endpoint(model if isinstance(model, str) else None,
                     base_url if isinstance(base_url, str) else None)


@lru_cache(maxsize=512)
def _endpoint(model: str | None, base_url: str | None) -> Endpoint:
    """:func:`endpoint_for` of one model and URL (a process sees few of them)."""
    url = _url(base_url)
    by_model = model_provider(model)
    if url is None:
        return Endpoint(by_model) if by_model is not None else _NOTHING
    host, port = url
    by_host = _host_provider(host)
    if by_host == OPENAI and by_model not in (None, OPENAI):
        return Endpoint(by_model)  # RAAF's stand-in URL for a call it knows nothing of
    if by_host is None and (port == _OLLAMA_PORT or "ollama" in host):
        by_model = None
    return Endpoint(by_host or by_model, clean_str(host), port)


def provider_into(attrs: Attributes, model: object, model_config: Any) -> None:
    """Write ``gen_ai.provider.name``, ``server.address`` and ``server.port`` when known."""
    endpoint = endpoint_for(model, model_config)
    if endpoint.provider is not None:
        attrs[ga.GEN_AI_PROVIDER_NAME] = endpoint.provider
    if endpoint.address is not None:
        attrs[server.SERVER_ADDRESS] = endpoint.address
    if endpoint.port is not None:
        attrs[server.SERVER_PORT] = endpoint.port
