"""agent-otlp adapter for Acme Observability (a fictional vendor).

Select it with ``AGENT_OTLP_ADAPTERS=acme`` (or ``create_exporter("acme")``). It sends
OTLP/HTTP to Acme's ingest endpoint with the ``x-acme-key`` header from ``ACME_API_KEY``
(or the ``api_key`` option), and adds the attributes Acme's agent views group by.

Options (``[destination.acme]`` in the config file, ``AGENT_OTLP_ACME_<OPTION>``, or
``options={...}``): ``api_key``, ``team`` (added as ``acme.team``).
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any

from agent_otlp.core.plugins import (
    ConfigError,
    Secret,
    Settings,
    SpanRecord,
    TransportDefaults,
    hookimpl,
)

__version__ = "0.1.0"

ENDPOINT = "https://ingest.acme.example/v1/traces"
KEY_HEADER = "x-acme-key"
#: Acme's UI shows at most this many bytes of any value; the core cuts the rest.
VALUE_LIMIT = 1024


@hookimpl
def agent_otlp_transport_defaults(
    adapter: str, options: Mapping[str, Any], env: Mapping[str, str]
) -> TransportDefaults:
    """Where and how to send: runs once while the destination's settings are resolved."""
    key = options.get("api_key") or env.get("ACME_API_KEY")
    defaults: TransportDefaults = {
        "protocol": "http/protobuf",
        "endpoints": {"http/protobuf": ENDPOINT},
        "attribute_value_limit": VALUE_LIMIT,
    }
    if key:
        # A Secret never shows its value in logs, errors or `agent-otlp config`.
        defaults["headers"] = {KEY_HEADER: Secret(str(key))}
    return defaults


@hookimpl
def agent_otlp_validate_settings(settings: Settings) -> None:
    """Refuse to start without a key: Acme answers 401 to anything else."""
    if not any(name.lower() == KEY_HEADER for name in settings.headers):
        raise ConfigError("ACME_API_KEY", None, "Acme needs an API key: set ACME_API_KEY")
    if settings.protocol != "http/protobuf":
        raise ConfigError("protocol", settings.protocol, "Acme accepts OTLP/HTTP only")


@hookimpl
def agent_otlp_resource_attributes(settings: Settings) -> Mapping[str, str]:
    return {"acme.integration": "agent-otlp-acme"}


@hookimpl
def agent_otlp_map_attributes(
    span: SpanRecord, settings: Settings, state: MutableMapping[str, Any]
) -> None:
    """Runs for every span, before the core's limits (which then cut what is too long)."""
    attrs = span.attributes
    agent = attrs.get("gen_ai.agent.name")
    if isinstance(agent, str):
        attrs["acme.agent"] = agent
    kind = attrs.get("openai_agents.span_type")
    if isinstance(kind, str):
        attrs["acme.step"] = kind
    team = settings.options.get("team")
    if team:
        attrs["acme.team"] = str(team)
    state["acme_spans"] = state.get("acme_spans", 0) + 1
