"""``langfuse``: OTLP/HTTP to Langfuse (cloud or self-hosted), in the attributes it reads.

* **Where**: ``{host}/api/public/otel/v1/traces``, host from option ``host`` or
  ``LANGFUSE_HOST``, else the ``region`` preset (``eu``, the default:
  ``https://cloud.langfuse.com``; ``us``: ``https://us.cloud.langfuse.com``; ``hipaa``:
  ``https://hipaa.cloud.langfuse.com``). HTTP/protobuf only: Langfuse has no OTLP/gRPC.
* **Keys**: ``authorization: Basic base64(public:secret)`` from ``LANGFUSE_PUBLIC_KEY`` and
  ``LANGFUSE_SECRET_KEY`` (variables only: options are shown by ``agent-otlp config``), kept
  secret. A missing key is a configuration error naming its variable; keys given the wrong
  way round (``sk-lf-...`` as the public key) are refused before anything is sent.
* **Attributes**: the trace's name, session (group id), user and metadata on the root
  (``langfuse.trace.*``, ``session.id``, ``user.id``), ``langfuse.observation.type`` on every
  span (agent, generation, tool, guardrail, chain, embedding), the model, its parameters and
  usage on generations, and ``langfuse.observation.level`` ``ERROR`` (failed spans) or
  ``WARNING`` (tripped guardrails). Input and output (``langfuse.trace.input``/``output``,
  ``langfuse.observation.input``/``output``) come from message content and are added only
  when the destination captures content.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, MutableMapping
from typing import Any, Final

from agent_otlp.adapters import _genai_read as read
from agent_otlp.core.plugins import (
    AttrValue,
    ConfigError,
    Secret,
    Settings,
    SpanRecord,
    TransportDefaults,
    hookimpl,
)

__all__ = ["OTEL_PATH", "REGIONS", "observation_attributes"]

REGIONS: Final = {
    "eu": "https://cloud.langfuse.com",
    "us": "https://us.cloud.langfuse.com",
    "hipaa": "https://hipaa.cloud.langfuse.com",
}
OTEL_PATH: Final = "/api/public/otel/v1/traces"
HOST_ENV: Final = "LANGFUSE_HOST"
PUBLIC_KEY_ENV: Final = "LANGFUSE_PUBLIC_KEY"
SECRET_KEY_ENV: Final = "LANGFUSE_SECRET_KEY"  # noqa: S105 - a variable name
_TYPES: Final = {
    "agent": "agent",
    "llm": "generation",
    "tool": "tool",
    "guardrail": "guardrail",
    "embedding": "embedding",
    "chain": "chain",
}
_ERROR: Final = 2  # OTLP status code ERROR

Attrs = dict[str, AttrValue]


def _host(options: Mapping[str, Any], env: Mapping[str, str]) -> str:
    raw = options.get("host") or env.get(HOST_ENV)
    if raw:
        host = str(raw).strip().rstrip("/")
        if not host.startswith(("http://", "https://")):
            raise ConfigError("host" if options.get("host") else HOST_ENV, raw,
                              "expected a URL such as https://cloud.langfuse.com")
        return host.removesuffix(OTEL_PATH)
    region = str(options.get("region", "eu")).strip().lower()
    if region not in REGIONS:
        raise ConfigError("region", options.get("region"), "expected eu, us or hipaa")
    return REGIONS[region]


def _key(env: Mapping[str, str], name: str) -> str | None:
    return env.get(name, "").strip() or None


def _authorization(env: Mapping[str, str]) -> Secret | None:
    public, secret = _key(env, PUBLIC_KEY_ENV), _key(env, SECRET_KEY_ENV)
    if public is None and secret is None:
        return None
    for value, name in ((public, PUBLIC_KEY_ENV), (secret, SECRET_KEY_ENV)):
        if value is None:
            raise ConfigError(name, None, f"Langfuse needs both {PUBLIC_KEY_ENV} and "
                              f"{SECRET_KEY_ENV}; {name} is not set")
    assert public is not None and secret is not None
    if public.startswith("sk-lf-") or secret.startswith("pk-lf-"):
        raise ConfigError(PUBLIC_KEY_ENV, public, f"this looks like a secret key: "
                          f"{PUBLIC_KEY_ENV} takes pk-lf-..., {SECRET_KEY_ENV} sk-lf-... "
                          "(swapped?)", secret=True)
    token = base64.b64encode(f"{public}:{secret}".encode()).decode("ascii")
    return Secret(f"Basic {token}")


@hookimpl
def agent_otlp_transport_defaults(
    adapter: str, options: Mapping[str, Any], env: Mapping[str, str]
) -> TransportDefaults:
    host = _host(options, env)
    headers: dict[str, str | Secret] = {}
    authorization = _authorization(env)
    if authorization is not None:
        headers["authorization"] = authorization
    return {
        "protocol": "http/protobuf",
        "endpoints": {"http/protobuf": host + OTEL_PATH},
        "headers": headers,
    }


@hookimpl
def agent_otlp_validate_settings(settings: Settings) -> None:
    if settings.protocol == "grpc":
        raise ConfigError("protocol", settings.protocol,
                          "Langfuse takes OTLP over HTTP only: use http/protobuf")
    if not any(k.lower() == "authorization" for k in settings.headers):
        raise ConfigError(
            PUBLIC_KEY_ENV, None,
            f"Langfuse needs an API key pair: set {PUBLIC_KEY_ENV} and {SECRET_KEY_ENV} "
            "(project settings > API keys)",
        )


def _generation(attrs: Attrs, source: Mapping[str, AttrValue]) -> None:
    model = source.get("gen_ai.response.model") or source.get("gen_ai.request.model")
    if isinstance(model, str):
        attrs["langfuse.observation.model.name"] = model
    parameters = read.invocation_parameters(source)
    if parameters:
        attrs["langfuse.observation.model.parameters"] = read.dump(parameters)
    usage = {name: source[key] for name, key in (("input", "gen_ai.usage.input_tokens"),
                                                 ("output", "gen_ai.usage.output_tokens"))
             if isinstance(source.get(key), int)}
    if usage:
        usage["total"] = sum(int(v) for v in usage.values() if isinstance(v, int))
        attrs["langfuse.observation.usage_details"] = read.dump(usage)


def _content(attrs: Attrs, kind: str, source: Mapping[str, AttrValue]) -> None:
    if kind == "llm":
        pairs = ((read.INPUT_MESSAGES, "input"), (read.OUTPUT_MESSAGES, "output"))
    elif kind == "tool":
        pairs = (("gen_ai.tool.call.arguments", "input"), ("gen_ai.tool.call.result", "output"))
    else:
        return
    for key, side in pairs:
        value = source.get(key)
        if isinstance(value, str):
            attrs[f"langfuse.observation.{side}"] = value


def _root(attrs: Attrs, span: SpanRecord, notes: read.TraceNotes | None, content: bool) -> None:
    source = span.attributes
    read.copy_strings(attrs, source, {"gen_ai.workflow.name": "langfuse.trace.name",
                                      "gen_ai.conversation.id": "session.id"})
    for key, value in read.metadata(source).items():
        attrs[f"langfuse.trace.metadata.{key}"] = value
        if key in read.USER_KEYS and isinstance(value, str):
            attrs["user.id"] = value
    if content and notes is not None:
        for side, text in (("input", notes.question), ("output", notes.answer)):
            if text is not None:
                attrs[f"langfuse.trace.{side}"] = attrs[f"langfuse.observation.{side}"] = text


def observation_attributes(
    span: SpanRecord, notes: read.TraceNotes | None, *, content: bool
) -> Attrs:
    """The Langfuse attributes for ``span`` (``notes``: its trace's, at the root)."""
    source = span.attributes
    kind = read.step_kind(span)
    attrs: Attrs = {"langfuse.observation.type": _TYPES[kind]}
    if kind == "llm":
        _generation(attrs, source)
    if content:
        _content(attrs, kind, source)
    if span.source_type == "trace":
        _root(attrs, span, notes, content)
    if span.status_code == _ERROR:
        attrs["langfuse.observation.level"] = "ERROR"
        if span.status_message:
            attrs["langfuse.observation.status_message"] = span.status_message
    elif kind == "guardrail" and read.guardrail_triggered(span):
        attrs["langfuse.observation.level"] = "WARNING"
    return attrs


@hookimpl
def agent_otlp_map_attributes(
    span: SpanRecord, settings: Settings, state: MutableMapping[str, Any]
) -> None:
    content = settings.content_on_spans  # what it derives are span attributes
    notes = read.take_notes(state, span, content=content)
    span.attributes.update(observation_attributes(span, notes, content=content))
