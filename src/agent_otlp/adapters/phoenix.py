"""``phoenix``: OTLP to Arize Phoenix, with OpenInference attributes beside the GenAI ones.

Phoenix reads the OpenInference conventions: without them it shows workflow, handoff,
guardrail, MCP and custom spans as kind ``UNKNOWN`` and its traces table has no input or
output. This adapter adds them (``docs/adapters.md`` has the table):

* **Kinds**: ``openinference.span.kind`` AGENT, LLM, TOOL, GUARDRAIL or CHAIN (the workflow
  root, handoffs, MCP listings, custom spans), from ``gen_ai.operation.name`` and the span
  type.
* **Models**: ``llm.model_name``, ``llm.provider``, ``llm.system``, ``llm.token_count.*``,
  ``llm.invocation_parameters``; agents get ``agent.name`` and ``graph.node.id`` (with
  ``graph.node.parent_id`` set to the agent that handed off to them); the root gets
  ``session.id`` (the group id) and ``metadata``.
* **Content**, only when the destination captures content: ``llm.input_messages.*`` and
  ``llm.output_messages.*``, ``input.value``/``output.value`` with their mime types (the
  question and the answer on the root, the messages on model calls, arguments and result on
  tools) and ``tool.parameters``.
* **Where**: ``PHOENIX_COLLECTOR_ENDPOINT`` as Phoenix's OTel helper reads it (a base URL:
  ``/v1/traces`` added for HTTP; for gRPC the same host on ``PHOENIX_GRPC_PORT``, 4317),
  else ``http://localhost:6006/v1/traces`` or ``http://localhost:4317``. Protobuf only.
* **Project**: option ``project``, else ``PHOENIX_PROJECT`` or ``PHOENIX_PROJECT_NAME``; sent
  as the resource attribute ``openinference.project.name`` and the ``x-project-name`` header.
* **Key**: ``PHOENIX_API_KEY`` as ``authorization: Bearer``, secret (a variable only: options
  are shown by ``agent-otlp config``).
* Option ``conventions``: ``both`` (default), ``openinference`` (the ``gen_ai.*`` attributes
  dropped) or ``gen_ai`` (no OpenInference attributes).
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

from agent_otlp.adapters import _genai_read as read
from agent_otlp.adapters._openinference import openinference_attributes
from agent_otlp.core.plugins import (
    AttrValue,
    ConfigError,
    Secret,
    Settings,
    SpanRecord,
    TransportDefaults,
    hookimpl,
)

__all__ = [
    "DEFAULT_GRPC_ENDPOINT",
    "DEFAULT_HTTP_ENDPOINT",
    "PROJECT_ATTRIBUTE",
    "PROJECT_HEADER",
    "endpoints_from",
]

DEFAULT_HTTP_ENDPOINT: Final = "http://localhost:6006/v1/traces"
DEFAULT_GRPC_ENDPOINT: Final = "http://localhost:4317"
COLLECTOR_ENDPOINT_ENV: Final = "PHOENIX_COLLECTOR_ENDPOINT"
GRPC_PORT_ENV: Final = "PHOENIX_GRPC_PORT"
PROJECT_ENVS: Final = ("PHOENIX_PROJECT", "PHOENIX_PROJECT_NAME")
API_KEY_ENV: Final = "PHOENIX_API_KEY"
PROJECT_ATTRIBUTE: Final = "openinference.project.name"
PROJECT_HEADER: Final = "x-project-name"
CONVENTIONS: Final = ("both", "openinference", "gen_ai")


def _grpc_port(env: Mapping[str, str]) -> int:
    raw = env.get(GRPC_PORT_ENV, "").strip()
    if not raw:
        return 4317
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ConfigError(GRPC_PORT_ENV, raw, "expected a port number")
    return int(raw)


def endpoints_from(base: str, env: Mapping[str, str]) -> dict[str, str]:
    """Both endpoints from a ``PHOENIX_COLLECTOR_ENDPOINT`` value, as Phoenix's helper makes them."""
    parts = urlsplit(base.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(COLLECTOR_ENDPOINT_ENV, base, "expected a URL such as http://localhost:6006")
    path = parts.path.rstrip("/")
    http_path = path if path.endswith("/v1/traces") else f"{path}/v1/traces"
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return {
        "http/protobuf": urlunsplit((parts.scheme, parts.netloc, http_path, "", "")),
        "grpc": f"{parts.scheme}://{host}:{_grpc_port(env)}",
    }


def _conventions(options: Mapping[str, Any]) -> str:
    raw = options.get("conventions", "both")
    value = str(raw).strip().lower().replace("-", "_")
    if value not in CONVENTIONS:
        raise ConfigError("conventions", raw, "expected both, openinference or gen_ai")
    return value


def _project(options: Mapping[str, Any], env: Mapping[str, str]) -> str | None:
    for raw in (options.get("project"), *(env.get(name) for name in PROJECT_ENVS)):
        if raw and str(raw).strip():
            return str(raw).strip()
    return None


def _api_key(env: Mapping[str, str]) -> str | None:
    return env.get(API_KEY_ENV, "").strip() or None


@hookimpl
def agent_otlp_transport_defaults(
    adapter: str, options: Mapping[str, Any], env: Mapping[str, str]
) -> TransportDefaults:
    _conventions(options)
    base = env.get(COLLECTOR_ENDPOINT_ENV, "").strip()
    endpoints = (
        endpoints_from(base, env) if base
        else {"http/protobuf": DEFAULT_HTTP_ENDPOINT,
              "grpc": f"http://localhost:{_grpc_port(env)}"}
    )
    headers: dict[str, str | Secret] = {}
    key = _api_key(env)
    if key:
        headers["authorization"] = Secret(f"Bearer {key}")
    project = _project(options, env)
    if project:
        headers[PROJECT_HEADER] = project
    return {"protocol": "http/protobuf", "endpoints": endpoints, "headers": headers}


@hookimpl
def agent_otlp_resource_attributes(settings: Settings) -> Mapping[str, AttrValue] | None:
    project = settings.options.get("project") or next(
        (v for k, v in settings.headers.items() if k.lower() == PROJECT_HEADER), None
    )
    if isinstance(project, str) and project.strip():
        return {PROJECT_ATTRIBUTE: project.strip()}
    return None


@hookimpl
def agent_otlp_map_attributes(
    span: SpanRecord, settings: Settings, state: MutableMapping[str, Any]
) -> None:
    conventions = state.get("phoenix_conventions")
    if conventions is None:
        conventions = state["phoenix_conventions"] = _conventions(settings.options)
    if conventions == "gen_ai":
        return
    content = settings.content_on_spans  # what it derives are span attributes
    notes = read.take_notes(state, span, content=content)
    added = openinference_attributes(span, notes, state, content=content)
    if conventions == "openinference":
        for key in [k for k in span.attributes if k.startswith("gen_ai.")]:
            del span.attributes[key]
    span.attributes.update(added)
